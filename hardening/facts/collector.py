"""Build the one collector script a host runs, from the pieces each fact module ships.

Each registered fact area (:mod:`hardening.facts.areas`) owns a ``<piece>.sh`` piece
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
from functools import cache
from importlib import resources


def linux_pieces() -> tuple[str, ...]:
    """The Linux areas' collector pieces, in order (see :mod:`hardening.facts.areas`)."""
    from hardening.facts.areas import areas
    from hardening.model import Platform

    return tuple(a.piece for a in areas(Platform.LINUX) if a.piece)


@dataclass(frozen=True)
class Collector:
    """A ready-to-send script and the nonce its markers carry."""

    script: str
    nonce: str


@cache
def _piece(name: str) -> str:
    """A shipped piece's text (read once per process: every host's script is built from it)."""
    return resources.files("hardening.facts").joinpath(f"{name}.sh").read_text(encoding="ascii")


def build_linux_script(nonce: str, pieces: tuple[str, ...] | None = None) -> str:
    """The full POSIX sh collector for ``nonce`` (letters and digits only); every area's piece by default."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    names = linux_pieces() if pieces is None else pieces
    head, tail = _linux_body(names)
    return head + nonce + tail


@cache
def _linux_body(names: tuple[str, ...]) -> tuple[str, str]:
    """The script for ``names`` around its nonce line: built once per process, not per host."""
    return _split_nonce(assemble(_NONCE_SLOT, tuple(_linux_piece(p, names) for p in names)))


_NONCE_SLOT = "0"  # any alphanumeric nonce: only its line is replaced


def _split_nonce(script: str) -> tuple[str, str]:
    head, line, rest = script.partition(f"\nHN={_NONCE_SLOT}\n")
    assert line, "assemble() writes the nonce line"
    return head + "\nHN=", "\n" + rest


def _linux_piece(name: str, names: tuple[str, ...]) -> str:
    """``name``'s piece as it runs beside ``names``.

    Two pieces leave work to a piece beside them, and say so in a section of their own
    (:func:`hardening.facts.sections.marked`); the variable is always set here, never left to
    the host's environment:

    - dns leaves the TCP tables to processes (``dns.tcp_from``): each read of /proc/net/tcp or
      tcp6 walks the kernel's whole established-connection hash (~4 ms of host CPU here, more on
      a busy host); :func:`hardening.facts.dns.parse` reads processes.tcp and processes.tcp6.
    - audit leaves auditd's dpkg line to sensors (``audit.pkg_from``): each dpkg-query parses
      dpkg's whole status file; :func:`hardening.facts.audit.parse` reads sensors.packages.
    """
    body = _piece(name)
    if name == "dns":
        return ("_dns_tcp=processes\n" if "processes" in names else "_dns_tcp=\n") + body
    if name == "audit":
        return ("_ha_pkg=sensors\n" if "sensors" in names else "_ha_pkg=\n") + body
    return body


def assemble(nonce: str, pieces: tuple[str, ...]) -> str:
    """The collector around piece bodies (shell text): header, pieces side by side, footer."""
    parts = ["#!/bin/sh", f"HN={nonce}", _piece("header")]
    parts += [_concurrent(i, body) for i, body in enumerate(pieces)]
    if pieces:
        jobs = " ".join(f'"$_hj{i}"' for i in range(len(pieces)))
        files = " ".join(f'"$HT/piece{i}"' for i in range(len(pieces)))
        # A piece that did not end normally (killed, out of memory, fork failed) must not be
        # followed by the done marker: the host then counts as not fully audited.
        parts.append(
            f'_hfail=\nfor _hj in {jobs}; do\n    wait "$_hj" || _hfail="$_hfail $?"\ndone\n'
            f'cat {files} || _hfail="$_hfail cat"\n'
            'if [ -n "$_hfail" ]; then\n'
            '    echo "harden: a collector piece did not finish (status$_hfail)" >&2\n'
            "    exit 1\nfi"
        )
    parts.append(_piece("footer"))
    return "\n".join(parts) + "\n"


def _concurrent(index: int, body: str) -> str:
    """``body`` as a background subshell writing to ``$HT/piece<index>``.

    The pieces are independent (each reads the host, none changes it), so they run at once:
    the collector takes as long as its slowest piece instead of the sum. Their outputs are
    printed in order afterwards, so the sections come out as if run one after the other.
    Each piece keeps its own stderr scratch file (``_hpiece``, see ``_h_run``) and ends with
    ``exit 0``, so any other status means it was cut short. Only the pieces' PIDs are waited
    for: dd (the output buffer, see header.sh) ends after the script does.
    """
    return f'(\n_hpiece=.{index}\n{body}\nexit 0\n) >"$HT/piece{index}" &\n_hj{index}=$!'


def new_linux_collector() -> Collector:
    nonce = secrets.token_hex(8)
    return Collector(build_linux_script(nonce), nonce)
