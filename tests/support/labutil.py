"""Helpers for the tests that need a lab of their own (they change their hosts)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hardening.lab import Lab, LabError, lab_down, lab_up

#: The lab image keeps .deb files there: the roles install from them (no mirror in the lab).
DEBS = "harden_local_debs=/var/cache/harden/debs"


@contextmanager
def private_lab(
    tmp_path_factory: pytest.TempPathFactory, states: tuple[str, ...], tag: str, packages: tuple[str, ...] | None = None
) -> Iterator[Lab]:
    """A lab of ``states`` under its own prefix (``harden-<tag><pid>``), torn down afterwards.

    ``packages``: the lab image's package list (default: the plain lab image).
    Use it from a fixture that also asks for the session ``lab`` fixture first: that one checks
    root and podman and creates the shared network."""
    workdir = tmp_path_factory.mktemp(f"{tag}lab")
    prefix = f"harden-{tag}{os.getpid()}"
    try:
        up = lab_up(workdir, states, prefix=prefix, packages=packages)
    except LabError as exc:
        pytest.fail(f"lab_up failed: {exc}")
    try:
        yield up
    finally:
        lab_down(prefix=prefix)


def pexec(container: str, *argv: str, user: str | None = None, detach: bool = False) -> subprocess.CompletedProcess:
    """``podman exec`` in a lab container (bounded: 60 s)."""
    cmd = ["podman", "exec", *(["--user", user] if user else []), *(["-d"] if detach else []), container, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def harden_cli(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run this environment's ``harden`` command (bounded), output captured as text."""
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "harden"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout)
