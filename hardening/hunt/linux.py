"""Linux hunt: the collector script and the pure parser of its output into a :class:`Snapshot`.

The script is ``facts/header.sh`` + ``hunt/collect.sh`` + ``hunt/containers.sh`` + ``hunt/persistence.sh``
(what would start a shell again: :mod:`hardening.hunt.persistence`) + ``facts/footer.sh`` (same wire
format as the audit collector, see :mod:`hardening.facts.sections`), sent to ``sh -s``.
The parser joins ``/proc/PID/fd`` socket links to the inodes of the TCP and UDP tables of every
network namespace (the collector's own ``/proc/net/{tcp,tcp6,udp,udp6}``, the others' through
``/proc/PID/net/...`` of one process each) and names each process's container
(:mod:`hardening.hunt.containers`).

Example::

    >>> script, nonce = build_hunt_script("n1"), "n1"
    >>> "hunt.links" in script
    True
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from importlib import resources

from hardening.facts.collector import Collector
from hardening.facts.sections import FactError, Sections, iter_lines, parse_uint
from hardening.hunt import containers as ctr
from hardening.hunt.model import Container, Endpoint, Platform, Process, Snapshot, TcpSocket
from hardening.procfs import STAT_PREFIX, by_prefix, cmdlines, hex_ip

SECTION_CAP = 4194304  # must match HK in collect.sh
NS_CAP = 1048576  # bytes of one other namespace's tables: HNK in collect.sh

TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
    "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
    "0C": "NEW_SYN_RECV",
}  # fmt: skip
MAX_CHANNELS = 64  # inter-process channels kept per process
# Build strings the collector looks for in candidate executables (``_HSIG`` in collect.sh), checked
# in this order. Each is one the tool's own main program carries and programs that merely embed or
# link its library do not (measured on Debian 12: ssh and redis carry "s_client", vim and gdb
# "Py_InitializeEx", so neither is used).
SIGNATURES: tuple[tuple[str, str], ...] = (
    ("BusyBox v", "busybox"),
    ("nmap.org/ncat", "ncat"),
    ("[v1.10-", "nc.traditional"),
    ("OpenBSD netcat", "nc.openbsd"),
    ("socat by Gerhard Rieger", "socat"),
    ("pwncat", "pwncat"),
    ("Standard commands", "openssl"),
    ("GNU Awk", "gawk"),
    ("Py_BytesMain", "python"),
    ("[switches] [--] [programfile]", "perl"),
    ("ruby_run_node", "ruby"),
    ("Zend Engine v", "php"),
    ("GNU bash, version", "bash"),
)
# Machines whose /proc/net/tcp shows addresses in network byte order (big-endian CPUs).
_BIG_ENDIAN = ("s390", "ppc64 ", "ppc ", "powerpc", "sparc", "mips ", "mips64 ", "m68k", "hppa", "or1k")

_UID_LINE = re.compile(r"^/proc/(\d{1,10})/status:Uid:\s+(\d{1,10})", re.MULTILINE)
_LINK = re.compile(r"/proc/(\d{1,10})/(exe|ns/net|fd/(\d{1,10}))\t")
_NETS_LINE = re.compile(r"^/proc/(?:(\d{1,10})/(ns/net|net/(?:tcp6?|udp6?))|(ns-cap)):(.*)$", re.MULTILINE)
_NETNS = re.compile(r"net:\[\d{1,20}\]")
_SOCKET = re.compile(r"socket:\[(\d{1,20})\]")
_TCP_LINE = re.compile(
    r"^\s*\d+:\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):"
    r"([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\d+\s+(\d+)"
)
_IPC = re.compile(r"/proc/(\d{1,10})/fd/(\d{1,10})\t")
_PTMX = re.compile(r"^/proc/(\d{1,10})/fdinfo/(\d{1,10}):tty-index:\s*(\d{1,10})\s*$", re.MULTILINE)
_PIPE = re.compile(r"pipe:\[(\d{1,20})\]")
_PTS = re.compile(r"/dev/pts/(\d{1,10})")
_PIECES = (
    ("hardening.facts", "header"),
    ("hardening.hunt", "collect"),
    ("hardening.hunt", "containers"),
    ("hardening.hunt", "persistence"),
    ("hardening.facts", "footer"),
)
# With --baseline only: the files a drift baseline compares (hardening/hunt/drift.py), read once per hunt.
DRIFT_PIECE = ("hardening.hunt", "drift")


def hunt_pieces(drift: bool = False) -> tuple[tuple[str, str], ...]:
    """The collector's pieces in order; with ``drift``, ``drift.sh`` before ``containers.sh`` (which
    reads ``hunt.uptime_end`` last: the host time then counts the drift facts too)."""
    if not drift:
        return _PIECES
    at = _PIECES.index(("hardening.hunt", "containers"))
    return (*_PIECES[:at], DRIFT_PIECE, *_PIECES[at:])


def build_hunt_script(nonce: str, drift: bool = False) -> str:
    """The POSIX sh hunt collector for ``nonce`` (letters and digits only); ``drift``: with ``drift.sh``."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    parts = ["#!/bin/sh", f"HN={nonce}"]
    for package, name in hunt_pieces(drift):
        parts.append(resources.files(package).joinpath(f"{name}.sh").read_text(encoding="ascii"))
    return "\n".join(parts) + "\n"


def new_hunt_collector(drift: bool = False) -> Collector:
    nonce = secrets.token_hex(8)
    return Collector(build_hunt_script(nonce, drift), nonce)


def parse_tcp(text: str, little_endian: bool = True, proto: str = "tcp", netns: str = "") -> dict[int, TcpSocket]:
    """Sockets of one ``/proc/net/{tcp,tcp6,udp,udp6}`` table (same columns), by inode (inode 0 = no
    owner, skipped). A UDP socket's state is ``ESTABLISHED`` once ``connect()`` fixed its peer,
    ``CLOSE`` otherwise."""
    out: dict[int, TcpSocket] = {}
    for line in iter_lines(text):
        m = _TCP_LINE.match(line)
        if not m:
            continue
        inode = int(m.group(7))
        if inode == 0:
            continue
        out.setdefault(
            inode,
            TcpSocket(
                inode=inode,
                local=Endpoint(hex_ip(m.group(1), little_endian), int(m.group(2), 16)),
                remote=Endpoint(hex_ip(m.group(3), little_endian), int(m.group(4), 16)),
                state=TCP_STATES.get(m.group(5).upper(), m.group(5)),
                proto=proto,
                netns=netns,
            ),
        )
    return out


@dataclass(frozen=True)
class NetTables:
    """The other network namespaces' tables (``hunt.nets``): sockets, the namespaces read, the
    namespaces whose tables hit the per-namespace cap, and whether the namespace cap was hit."""

    sockets: dict[int, TcpSocket]
    read: frozenset[str]
    capped: tuple[str, ...]
    ns_cap: int | None


def parse_nets(text: str, little_endian: bool = True) -> NetTables:
    """Parse ``hunt.nets``: ``/proc/PID/ns/net:net:[N]`` opens a namespace read through PID, then
    ``/proc/PID/net/<table>:<line>``; a table line of a PID that opened no namespace is ignored."""
    ns_of: dict[int, str] = {}
    tables: dict[tuple[int, str], list[str]] = {}
    size: dict[int, int] = {}
    ns_cap: int | None = None
    for m in _NETS_LINE.finditer(text):
        if m.group(3):
            ns_cap = parse_uint(m.group(4))
            continue
        pid, what, rest = int(m.group(1)), m.group(2), m.group(4)
        if what == "ns/net":
            if _NETNS.fullmatch(rest) and pid not in ns_of:
                ns_of[pid] = rest
            continue
        if pid in ns_of:
            tables.setdefault((pid, what[4:]), []).append(rest)
            size[pid] = size.get(pid, 0) + len(m.group(0)) + 1
    sockets: dict[int, TcpSocket] = {}
    for (pid, table), lines in tables.items():
        proto = "udp" if table.startswith("udp") else "tcp"
        for inode, sock in parse_tcp("\n".join(lines), little_endian, proto, ns_of[pid]).items():
            sockets.setdefault(inode, sock)
    capped = tuple(sorted(ns_of[p] for p, n in size.items() if n >= NS_CAP - 256))
    return NetTables(sockets, frozenset(ns_of.values()), capped, ns_cap)


def parse_stat(line: str) -> tuple[str, int, int] | None:
    """(comm, ppid, starttime ticks) from one ``/proc/PID/stat`` line, or None when garbled.

    The comm is whatever sits between the first ``(`` and the LAST ``)``: it may itself
    hold spaces and parentheses.

    >>> parse_stat("42 (my (x) prog) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0")
    ('my (x) prog', 1, 12345)
    """
    open_, close = line.find("("), line.rfind(")")
    if open_ < 0 or close < open_:
        return None
    fields = line[close + 1 :].split()
    # fields[0] = state (field 3); ppid = field 4; starttime = field 22.
    if len(fields) < 20:
        return None
    ppid, start = parse_uint(fields[1]), parse_uint(fields[19])
    if ppid is None or start is None:
        return None
    return line[open_ + 1 : close], ppid, start


def _links(text: str) -> tuple[dict[int, str], dict[int, str], dict[int, dict[int, str]]]:
    """(exe by pid, network namespace by pid, fd -> target by pid)."""
    exes: dict[int, str] = {}
    netns: dict[int, str] = {}
    fds: dict[int, dict[int, str]] = {}
    for record in text.split("\0"):
        m = _LINK.match(record)
        if not m:
            continue
        pid, target = int(m.group(1)), record[m.end() :]
        if m.group(2) == "ns/net":
            netns.setdefault(pid, target)
        elif m.group(3) is None:
            exes.setdefault(pid, target)
        else:
            fds.setdefault(pid, {}).setdefault(int(m.group(3)), target)
    return exes, netns, fds


def parse_channels(ipc: str, ptmx: str) -> dict[int, tuple[tuple[int, str], ...]]:
    r"""fd -> channel per pid from the ``hunt.ipc`` links and the ``hunt.ptmx`` pty indexes.

    >>> parse_channels("/proc/7/fd/0\tpipe:[42]\0/proc/7/fd/4\t/dev/pts/ptmx\0/proc/7/fd/5\t/tmp/f\0",
    ...                "/proc/7/fdinfo/4:tty-index:\t3\n")
    {7: ((0, 'pipe:42'), (4, 'ptmx:3'), (5, 'fifo:/tmp/f'))}
    """
    index = {(int(m.group(1)), int(m.group(2))): m.group(3) for m in _PTMX.finditer(ptmx)}
    out: dict[int, list[tuple[int, str]]] = {}
    for record in ipc.split("\0"):
        m = _IPC.match(record)
        if not m:
            continue
        pid, fd, target = int(m.group(1)), int(m.group(2)), record[m.end() :]
        if (pipe := _PIPE.fullmatch(target)) is not None:
            channel = f"pipe:{pipe.group(1)}"
        elif (pts := _PTS.fullmatch(target)) is not None:
            channel = f"pts:{pts.group(1)}"
        elif target in ("/dev/ptmx", "/dev/pts/ptmx"):
            channel = f"ptmx:{index.get((pid, fd), '?')}"
        elif target.startswith("/") and "\n" not in target:
            channel = f"fifo:{target}"
        else:
            continue
        chans = out.setdefault(pid, [])
        if len(chans) < MAX_CHANNELS and all(f != fd for f, _ in chans):
            chans.append((fd, channel))
    return {pid: tuple(sorted(c)) for pid, c in out.items()}


def _tool(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def parse_identities(text: str) -> dict[int, str]:
    r"""pid -> what its executable is by content, from the ``hunt.exeid`` section (one pid per exe).

    The package that lists the exe's md5 (dpkg md5sums) names it first, then a well-known tool
    path of the host with the same md5, then a build string (:data:`SIGNATURES`).

    >>> parse_identities("id\t9\tab12\t100\nsig\t9\tnmap.org/ncat\nid\t10\tcd34\t5\n"
    ...                  "pkg\t/var/lib/dpkg/info/socat.md5sums:cd34  usr/bin/socat\n")
    {9: 'ncat', 10: 'socat'}
    """
    md5s: dict[int, str] = {}
    sigs: dict[int, list[str]] = {}
    owned: dict[str, str] = {}
    known: dict[str, str] = {}
    for line in iter_lines(text):
        kind, _, rest = line.partition("\t")
        if kind in ("id", "sig"):
            pid_text, _, value = rest.partition("\t")
            pid = parse_uint(pid_text)
            if pid is None:
                continue
            if kind == "id":
                md5s[pid] = value.partition("\t")[0]
            else:
                sigs.setdefault(pid, []).append(value)
        elif kind == "pkg":
            digest, _, path = rest.partition(":")[2].partition("  ")
            if digest and path:
                owned.setdefault(digest, _tool(path))
        elif kind == "known":
            digest, _, path = rest.partition("  ")
            if digest and path:
                known.setdefault(digest, _tool(path))
    out: dict[int, str] = {}
    for pid, digest in md5s.items():
        name = owned.get(digest) or known.get(digest)
        if name is None:
            found = sigs.get(pid, [])
            name = next((tool for sig, tool in SIGNATURES if any(f.startswith(sig) for f in found)), None)
        if name:
            out[pid] = name
    return out


def parse_port_range(text: str) -> tuple[int, int] | None:
    r"""``ip_local_port_range`` (``"32768\t60999"``) as (low, high), None when unreadable.

    >>> parse_port_range("32768\t60999\n"), parse_port_range("")
    ((32768, 60999), None)
    """
    parts = text.split()
    if len(parts) != 2:
        return None
    low, high = parse_uint(parts[0]), parse_uint(parts[1])
    if low is None or high is None or not 0 < low <= high < 65536:
        return None
    return low, high


def parse_users(passwd: str) -> dict[int, str]:
    """uid -> user name from ``/etc/passwd`` text (the first name of a uid wins)."""
    users: dict[int, str] = {}
    for line in iter_lines(passwd):
        parts = line.split(":")
        if len(parts) >= 3 and (uid := parse_uint(parts[2])) is not None:
            users.setdefault(uid, parts[0])
    return users


_users = parse_users  # the allowlist collector imports it under this name


def _require(sections: Sections, name: str) -> str:
    sec = sections.get(name)
    if sec is None:
        raise FactError(f"the hunt output has no {name} section (output cut short?): rerun the hunt")
    if sec.rc is None:
        raise FactError(f"the output of {name} was cut short (the section never closed): rerun the hunt")
    return sec.text


def parse_snapshot(sections: Sections) -> Snapshot:
    """The host's processes, their containers and the TCP/UDP sockets of every network namespace read,
    from the hunt collector's sections (pure).

    Raises :class:`FactError` when the process table or the collector's own TCP table is missing or cut.
    """
    warnings: list[str] = []
    for name in ("hunt.stat", "hunt.uid", "hunt.cmdline", "hunt.links", "hunt.tcp", "hunt.tcp6", "hunt.udp",
                 "hunt.udp6", "hunt.nets", "hunt.cgroup", "hunt.ctr.stores", "hunt.ctr.state", "hunt.ipc"):  # fmt: skip
        sec = sections.get(name)
        if sec is not None and len(sec.text.encode("utf-8", "surrogateescape")) >= SECTION_CAP - 1:
            warnings.append(f"{name} hit the {SECTION_CAP // 1048576} MiB cap: some processes or sockets are missing")
    stat_text = _require(sections, "hunt.stat")
    links_text = _require(sections, "hunt.links")
    tcp_text = _require(sections, "hunt.tcp")
    if sections.rc("hunt.tcp") == 127:
        raise FactError("/proc/net/tcp does not exist on the host: cannot map sockets to connections")
    self_pid = parse_uint(sections.text("hunt.self"))
    if self_pid is None:
        raise FactError("the hunt output has no collector pid (hunt.self): rerun the hunt")
    uname = sections.text("meta.uname") + " "
    little = not any(arch in uname for arch in _BIG_ENDIAN)
    own_ns = sections.text("hunt.netns").strip()
    own_ns = own_ns if _NETNS.fullmatch(own_ns) else ""
    sockets = _own_sockets(sections, tcp_text, little, own_ns)
    nets = parse_nets(sections.text("hunt.nets"), little)
    for inode, sock in nets.sockets.items():
        sockets.setdefault(inode, sock)
    channels = parse_channels(sections.text("hunt.ipc"), sections.text("hunt.ptmx"))
    ids = parse_identities(sections.text("hunt.exeid"))
    clk = parse_uint(sections.text("hunt.clk_tck")) or 100
    btime_m = re.search(r"btime (\d{1,19})", sections.text("hunt.btime"))
    btime = int(btime_m.group(1)) if btime_m else None
    uids = {int(m.group(1)): int(m.group(2)) for m in _UID_LINE.finditer(sections.text("hunt.uid"))}
    passwd = sections.text("hunt.passwd")
    users = parse_users(passwd)
    argvs = cmdlines(sections.text("hunt.cmdline"))
    exes, netns, fds = _links(links_text)
    where = _containers(sections, passwd, self_pid, warnings)
    # one pid per exe path was examined; its identity holds for the same path in the same network
    # namespace (another container's file at that path may be another binary: left unknown)
    identity_by_exe = {(exes[pid], netns.get(pid, "")): name for pid, name in ids.items() if exes.get(pid)}
    procs: dict[int, Process] = {}
    for pid, line in by_prefix(stat_text, STAT_PREFIX).items():
        parsed = parse_stat(line)
        if parsed is None:
            warnings.append(f"pid {pid}: unreadable /proc/{pid}/stat line")
            continue
        comm, ppid, start = parsed
        pfds = fds.get(pid, {})
        socks = tuple(sorted((fd, int(m.group(1))) for fd, target in pfds.items() if (m := _SOCKET.fullmatch(target))))
        uid = uids.get(pid)
        procs[pid] = Process(
            pid=pid,
            ppid=ppid,
            comm=comm,
            exe=exes.get(pid, ""),
            argv=argvs.get(pid, ()),
            uid=uid,
            user=users.get(uid, str(uid)) if uid is not None else "",
            start_time=(btime + start / clk) if btime is not None else None,
            stdio=(pfds.get(0, ""), pfds.get(1, ""), pfds.get(2, "")),
            sockets=socks,
            netns=netns.get(pid, ""),
            container=where.get(pid),
            channels=channels.get(pid, ()),
            identity=identity_by_exe.get((exes.get(pid, ""), netns.get(pid, "")), ""),
        )
    if not procs:
        raise FactError("the hunt saw no process at all (is /proc mounted?): rerun the hunt")
    is_root = sections.text("meta.id").strip() == "0"
    if not is_root:
        warnings.append("hunt ran without root: other users' fds are invisible (set ansible_become=true)")
    warnings += _namespace_warnings(procs, own_ns, nets)
    snapshot = Snapshot(
        platform=Platform.LINUX,
        processes=procs,
        sockets=sockets,
        hostname=sections.text("meta.hostname").strip(),
        is_root=is_root,
        complete=sections.complete,
        warnings=tuple(warnings),
        netns=own_ns,
        host_seconds=_host_seconds(sections),
        ephemeral=parse_port_range(sections.text("hunt.portrange")),
    )
    return _with_self(snapshot, self_pid)


def _own_sockets(sections: Sections, tcp_text: str, little: bool, own_ns: str) -> dict[int, TcpSocket]:
    """The collector's own namespace: hunt.tcp (required), tcp6, udp, udp6 when read."""
    sockets = parse_tcp(tcp_text, little, "tcp", own_ns)
    for name, proto in (("hunt.tcp6", "tcp"), ("hunt.udp", "udp"), ("hunt.udp6", "udp")):
        if sections.rc(name) == 0:
            for inode, sock in parse_tcp(sections.text(name), little, proto, own_ns).items():
                sockets.setdefault(inode, sock)
    return sockets


def _namespace_warnings(procs: dict[int, Process], own_ns: str, nets: NetTables) -> list[str]:
    """What was not resolved: namespaces over the cap, unreadable, or whose tables were cut."""
    out = []
    missing: dict[str, list[int]] = {}
    for p in procs.values():
        if p.netns and p.netns != own_ns and p.netns not in nets.read:
            missing.setdefault(p.netns, []).append(p.pid)
    if missing:
        why = f"more than {nets.ns_cap} namespaces" if nets.ns_cap is not None else "their tables could not be read"
        first = min(min(pids) for pids in missing.values())
        out.append(
            f"{len(missing)} network namespaces ({sum(map(len, missing.values()))} processes, e.g. pid {first}) "
            f"not resolved ({why}): their sockets are unknown; hunt inside them too"
        )
    if nets.capped:
        out.append(
            f"the socket tables of {len(nets.capped)} network namespaces hit the {NS_CAP // 1048576} MiB cap "
            f"(e.g. {nets.capped[0]}): some of their sockets are missing"
        )
    return out


def _containers(sections: Sections, passwd: str, self_pid: int, warnings: list[str]) -> dict[int, Container]:
    """pid -> container (hunt.cgroup and the runtimes' state); a warning when the state could not be read."""
    cgroups = ctr.parse_cgroups(sections.text("hunt.cgroup"))
    if not cgroups:
        return {}
    state = ctr.RuntimeState(
        stores=ctr.parse_stores(sections.text("hunt.ctr.stores"), ctr.homes_of(passwd)),
        states=ctr.parse_state(sections.text("hunt.ctr.state")),
        lxc=ctr.parse_lxc(sections.text("hunt.ctr.lxc")),
    )
    found = ctr.resolve(cgroups, state, self_pid, sections.text("hunt.ctr.self"))
    if found and sections.rc("hunt.ctr.state") == 127:
        warnings.append("grep -o is missing on the host: container names and images come from podman's store only")
    return found


def _host_seconds(sections: Sections) -> float | None:
    """How long the collector ran on the host: /proc/uptime at its start and its end."""
    try:
        start = float(sections.text("hunt.uptime").split()[0])
        end = float(sections.text("hunt.uptime_end").split()[0])
    except (IndexError, ValueError):
        return None
    return round(end - start, 2) if end >= start else None


def _with_self(snapshot: Snapshot, self_pid: int) -> Snapshot:
    """Mark the collector, its descendants and its ancestor chain (our own session) as ours."""
    ours = {self_pid} | {p.pid for p in snapshot.ancestors(self_pid)}
    kids = snapshot.children()
    todo = [self_pid]
    while todo:
        for child in kids.get(todo.pop(), ()):
            if child not in ours:
                ours.add(child)
                todo.append(child)
    return replace(snapshot, self_pids=frozenset(ours))
