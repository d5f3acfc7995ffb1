"""Windows hunt: the PowerShell snapshot script and the pure parser of its JSON.

Windows has no fd view: which process owns which TCP connection comes from
``Get-NetTCPConnection`` (``OwningProcess``), so "stdio on a socket" cannot be seen; the
parent chain (``Win32_Process.ParentProcessId``), own outbound connections and exposed
service parents (w3wp, sqlservr, ...) still score. Not run on a real Windows host here:
tested over fixtures shaped like the script's output (see tests/golden/hunt/windows_*.json).

Example::

    snapshot = parse_windows_snapshot(stdout_text)
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

from hardening import hostjson
from hardening.facts.sections import FactError
from hardening.hunt.linux import _with_self
from hardening.hunt.model import Endpoint, Process, Snapshot, TcpSocket
from hardening.hunt.persistence import Persistence
from hardening.hunt.persistence import parse_windows_persistence as windows_persistence
from hardening.model import Platform

# MSFT_NetTCPConnection State names (as [string]) -> the Linux names the scorer uses.
_STATES = {
    "Listen": "LISTEN", "Established": "ESTABLISHED", "SynSent": "SYN_SENT", "SynReceived": "SYN_RECV",
    "FinWait1": "FIN_WAIT1", "FinWait2": "FIN_WAIT2", "CloseWait": "CLOSE_WAIT", "Closing": "CLOSING",
    "LastAck": "LAST_ACK", "TimeWait": "TIME_WAIT", "Closed": "CLOSE", "DeleteTCB": "CLOSE", "Bound": "BOUND",
}  # fmt: skip


def hunt_script() -> str:
    return resources.files("hardening.hunt").joinpath("windows.ps1").read_text(encoding="ascii")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str(value: Any, limit: int = 4096) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _document(text: str) -> dict[str, Any]:
    start = text.find("{")
    try:
        doc = hostjson.loads(text[start:]) if start >= 0 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("harden_collector") != "windows-hunt":
        raise FactError("the Windows hunt output is not the snapshot's JSON (cut short, or PowerShell failed)")
    return doc


def parse_windows_persistence(text: str) -> Persistence:
    """The autoruns of the script's JSON, scored (:func:`hardening.hunt.persistence.parse_windows_persistence`)."""
    return windows_persistence(_document(text))


def parse_windows_snapshot(text: str) -> Snapshot:
    """Processes and TCP connections from the script's JSON (pure; FactError when unusable)."""
    doc = _document(text)
    if doc.get("processes_error"):
        raise FactError(f"Win32_Process query failed: {_str(doc['processes_error'], 300)}")
    if doc.get("connections_error"):
        raise FactError(f"Get-NetTCPConnection failed: {_str(doc['connections_error'], 300)}")
    procs_raw = doc.get("processes") if isinstance(doc.get("processes"), list) else []
    conns_raw = doc.get("connections") if isinstance(doc.get("connections"), list) else []
    sockets: dict[int, TcpSocket] = {}
    owned: dict[int, list[tuple[int, int]]] = {}
    for i, c in enumerate(conns_raw, start=1):
        if not isinstance(c, dict) or _int(c.get("pid")) is None:
            continue
        lport, rport = _int(c.get("lport")), _int(c.get("rport"))
        if lport is None or rport is None:
            continue
        sockets[i] = TcpSocket(
            inode=i,
            local=Endpoint(_str(c.get("local"), 64).removeprefix("::ffff:"), lport),
            remote=Endpoint(_str(c.get("remote"), 64).removeprefix("::ffff:"), rport),
            state=_STATES.get(_str(c.get("state"), 32), _str(c.get("state"), 32).upper()),
        )
        owned.setdefault(int(c["pid"]), []).append((-1, i))
    procs: dict[int, Process] = {}
    for p in procs_raw:
        if not isinstance(p, dict) or _int(p.get("pid")) is None:
            continue
        pid = int(p["pid"])
        created = None
        try:
            created = datetime.fromisoformat(_str(p.get("created"), 64)).timestamp() if p.get("created") else None
        except ValueError:
            created = None
        cmd = _str(p.get("cmdline"))
        procs[pid] = Process(
            pid=pid,
            ppid=_int(p.get("ppid")) or 0,
            comm=_str(p.get("name"), 260),
            exe=_str(p.get("exe"), 1024),
            argv=tuple(cmd.split()) if cmd else (_str(p.get("name"), 260),),
            start_time=created,
            sockets=tuple(owned.get(pid, ())),
        )
    if not procs:
        raise FactError("the Windows hunt saw no process at all")
    self_pid = _int(doc.get("self_pid"))
    snap = Snapshot(
        platform=Platform.WINDOWS,
        processes=procs,
        sockets=sockets,
        hostname=_str(doc.get("hostname"), 256),
        fds_known=False,
        complete=doc.get("done") is True,
        warnings=("Windows: stdio handles are not visible; stdio-on-socket cannot be judged",),
    )
    return _with_self(snap, self_pid) if self_pid is not None else snap
