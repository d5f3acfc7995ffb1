"""What to act on, and the scripts that do it (pure).

The processes are the incident's members as harden listed them after a fresh hunt (shell, relay,
spawner, children), never chosen by text the host sent: a member is kept when its pid is above 1
and its start time is known (without one it could not be told apart from a reused pid). They
are ordered from the root down the process tree (a stopped parent cannot react to what happens
to its children), members outside the root's tree after, by start time.

The scripts are POSIX sh: the collector header (section markers, private temp directory), the
respond helpers (``common.sh``) and one piece (``evidence.sh``, ``act.sh``, ``undo.sh``), with
variables the controller set from validated values only (integers, normalised addresses, hex
ids, a checked cgroup path), each quoted with :func:`shlex.quote`.

Example::

    refs, left_out = process_refs(incident)
    script = act_script(nonce, Action.KILL, refs, incident.id)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

from hardening.hunt.incident import Incident, Member
from hardening.respond.model import Action, Flow, ProcessRef

EVIDENCE_ENVIRON_MAX = 256 * 1024  # bytes of /proc/PID/environ kept per process
EVIDENCE_FDS_MAX = 1024  # fd links listed per process
EXE_COPY_MAX = 8 * 1024 * 1024  # bytes: an executable above this is hashed, not copied
EXE_COPY_TOTAL = 24 * 1024 * 1024  # bytes of executable copies per response
# What a cgroup path or an undo record may hold (act.sh checks the host's side the same way).
CGROUP_DIR = re.compile(r"/sys/fs/cgroup(?:/[A-Za-z0-9_.:@+-]+)*/harden-isolate-[0-9a-f]{8}")
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 ,.:_/+@\[\]-]*")


def _start_cs(m: Member) -> int | None:
    return round(m.start_time * 100) if m.start_time is not None else None


def process_refs(incident: Incident) -> tuple[tuple[ProcessRef, ...], tuple[str, ...]]:
    """The incident's processes to act on, root first then down the tree; and the members left out
    (with why)."""
    left: list[str] = []
    members: dict[int, Member] = {}
    for m in incident.members:
        start = _start_cs(m)
        if m.pid <= 1:
            left.append(f"{m.label}: pid 1 or below is never acted on")
        elif start is None:
            left.append(f"{m.label}: start time unknown (a reused pid could not be told apart)")
        elif m.pid not in members:
            members[m.pid] = m
    kids: dict[int, list[int]] = {}
    for m in members.values():
        kids.setdefault(m.ppid, []).append(m.pid)
    order: list[int] = []
    seen: set[int] = set()
    tops = sorted(
        (p for p, m in members.items() if m.ppid not in members or m.ppid == p),
        key=lambda p: (p != incident.root.pid, members[p].start_time or 0.0, p),
    )
    for top in tops:
        level = [top]
        while level:
            nxt = []
            for pid in level:
                if pid in seen:
                    continue
                seen.add(pid)
                order.append(pid)
                nxt += sorted(kids.get(pid, ()), key=lambda c: (members[c].start_time or 0.0, c))
            level = nxt
    order += sorted((p for p in members if p not in seen), key=lambda p: (members[p].start_time or 0.0, p))
    refs = tuple(
        ProcessRef(
            pid=m.pid,
            start_cs=_start_cs(m) or 0,
            ppid=m.ppid,
            process=m.process,
            role=m.role,
            cmdline=m.cmdline,
            user=m.user,
        )
        for m in (members[p] for p in order)
    )
    return refs, tuple(left)


def _piece(name: str) -> str:
    return resources.files("hardening.respond").joinpath(f"{name}.sh").read_text(encoding="ascii")


def _fact_piece(name: str) -> str:
    return resources.files("hardening.facts").joinpath(f"{name}.sh").read_text(encoding="ascii")


def build_script(nonce: str, piece: str, variables: Mapping[str, str]) -> str:
    """``header.sh`` + ``common.sh`` + ``piece``.sh + ``footer.sh`` with ``variables`` set first (names upper-case,
    values from :data:`_SAFE_VALUE` only, each quoted)."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    lines = ["#!/bin/sh", f"HN={nonce}"]
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or not _SAFE_VALUE.fullmatch(value):
            raise ValueError(f"unsafe script variable {name}={value!r}")
        lines.append(f"{name}={shlex.quote(value)}")
    parts = [*lines, _fact_piece("header"), _piece("common"), _piece(piece), _fact_piece("footer")]
    return "\n".join(parts) + "\n"


def _rp(refs: Iterable[ProcessRef]) -> str:
    return " ".join(r.token for r in refs)


def short_id(incident_id: str) -> str:
    """The 8 hex digits of an incident id (chain and cgroup names)."""
    digits = incident_id.removeprefix("i-")
    if not re.fullmatch(r"[0-9a-f]{8}", digits):
        raise ValueError(f"bad incident id {incident_id!r}")
    return digits


def evidence_script(
    nonce: str,
    refs: Sequence[ProcessRef],
    exe_copy_max: int = EXE_COPY_MAX,
    exe_copy_total: int = EXE_COPY_TOTAL,
    environ_max: int = EVIDENCE_ENVIRON_MAX,
) -> str:
    return build_script(
        nonce,
        "evidence",
        {
            "RP": _rp(refs),
            "RXMAX": str(int(exe_copy_max)),
            "RXTOTAL": str(int(exe_copy_total)),
            "REMAX": str(int(environ_max)),
            "RFMAX": str(EVIDENCE_FDS_MAX),
        },
    )


def act_script(
    nonce: str,
    action: Action,
    refs: Sequence[ProcessRef],
    incident_id: str,
    flows: Sequence[Flow] = (),
    connections_only: bool = False,
) -> str:
    return build_script(
        nonce,
        "act",
        {
            "RP": _rp(refs),
            "RA": action.script_name,
            "RID": short_id(incident_id),
            "RF": " ".join(f.token for f in flows),
            "RCO": "1" if connections_only else "0",
        },
    )


def undo_script(nonce: str, incident_id: str, netns_inode: int, cgroup_dir: str) -> str:
    if cgroup_dir and not CGROUP_DIR.fullmatch(cgroup_dir):
        raise ValueError(f"not an isolation cgroup of harden: {cgroup_dir!r}")
    if cgroup_dir and not cgroup_dir.endswith(short_id(incident_id)):
        raise ValueError("the cgroup is not this incident's")
    if ".." in cgroup_dir.split("/"):
        raise ValueError("bad cgroup path")
    return build_script(
        nonce,
        "undo",
        {"RP": "", "RID": short_id(incident_id), "RNS": str(int(netns_inode)), "RCGD": cgroup_dir},
    )
