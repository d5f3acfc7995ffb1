"""The one exception the lab raises, and the command runner every lab module shares.

Example::

    >>> run(["true"]).returncode
    0
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence


class LabError(RuntimeError):
    """A lab operation failed; the message says what to do about it."""


def run(
    argv: Sequence[str],
    *,
    input_bytes: bytes | None = None,
    check: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell), capture text output; raise :class:`LabError` on failure.

    A missing program becomes an actionable error, e.g. ``podman not installed: run make install``.
    """
    if shutil.which(argv[0]) is None:
        raise LabError(f"{argv[0]} not installed: run `make install` (as root)")
    try:
        proc = subprocess.run(
            list(argv),
            input=input_bytes.decode() if input_bytes is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv[:3])} ... timed out after {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise LabError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {' | '.join(detail)}")
    return proc
