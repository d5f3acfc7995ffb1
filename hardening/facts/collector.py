"""Build the one collector script a host runs, from the pieces each fact module ships.

Each fact area (firewall, dns, audit, appcontrol, binaries) owns a ``<area>.sh`` piece
beside its parser. The script is the header, every piece (run side by side, printed in
order), and the footer, with a fresh random nonce for the section markers. It is sent on
stdin to ``sh -s``: one exec channel, one round trip per host.

Example::

    >>> script = build_linux_script("abc123")
    >>> script.startswith("#!/bin/sh")
    True
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import resources

LINUX_PIECES = ("firewall", "dns", "audit", "appcontrol", "binaries")


@dataclass(frozen=True)
class Collector:
    """A ready-to-send script and the nonce its markers carry."""

    script: str
    nonce: str


def _piece(name: str) -> str:
    return resources.files("hardening.facts").joinpath(f"{name}.sh").read_text(encoding="ascii")


def build_linux_script(nonce: str, pieces: tuple[str, ...] = LINUX_PIECES) -> str:
    """The full POSIX sh collector for ``nonce`` (letters and digits only)."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    parts = ["#!/bin/sh", f"HN={nonce}", _piece("header")]
    parts += [_concurrent(i, _piece(p)) for i, p in enumerate(pieces)]
    if pieces:
        jobs = " ".join(f'"$_hj{i}"' for i in range(len(pieces)))
        files = " ".join(f'"$HT/piece{i}"' for i in range(len(pieces)))
        parts.append(f"wait {jobs}\ncat {files}")
    parts.append(_piece("footer"))
    return "\n".join(parts) + "\n"


def _concurrent(index: int, body: str) -> str:
    """``body`` as a background subshell writing to ``$HT/piece<index>``.

    The pieces are independent (each reads the host, none changes it), so they run at once:
    the collector takes as long as its slowest piece instead of the sum. Their outputs are
    printed in order afterwards, so the sections come out as if run one after the other.
    Each piece keeps its own stderr scratch file (``_hpiece``, see ``_h_run``). Only the pieces'
    PIDs are waited for: dd (the output buffer, see header.sh) ends after the script does.
    """
    return f'(\n_hpiece=.{index}\n{body}\n) >"$HT/piece{index}" &\n_hj{index}=$!'


def new_linux_collector() -> Collector:
    nonce = secrets.token_hex(8)
    return Collector(build_linux_script(nonce), nonce)
