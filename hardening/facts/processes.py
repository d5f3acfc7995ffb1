"""Process facts (Linux): every process with its uids, executable, arguments and MAC label, the
sockets it listens on, and the local accounts.

Parses the ``processes.*`` sections of ``processes.sh``. Sources are kernel interfaces,
proc(5): ``/proc/PID/stat`` (comm between the first ``(`` and the last ``)``, then state and
ppid), ``/proc/PID/status`` (``Uid:``/``Gid:`` real, effective, saved, filesystem),
``/proc/PID/cmdline`` (NUL-separated argv), ``/proc/PID/exe`` (the executable; `` (deleted)``
appended when it was replaced), ``/proc/PID/attr/current`` (the LSM label: an SELinux context,
or an AppArmor ``profile (mode)``/``unconfined``), ``/proc/PID/fd/N`` -> ``socket:[inode]``
and ``/proc/net/{tcp,tcp6,udp,udp6}`` (sockets by inode; addresses in host byte order per
32-bit word). The collector's own processes (its shell and children) are left out.

Example::

    >>> parse_stat_line("42 (my (x) prog) S 1 42 42 0 -1 4194560")
    ('my (x) prog', 1)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hardening.facts.areas import FactArea
from hardening.facts.sections import FactError, Sections, iter_lines, parse_uint, require_sections
from hardening.model import Platform
from hardening.procfs import STAT_PREFIX, by_prefix, cmdlines, hex_ip

CAP = 4194304  # must match HPK in processes.sh
SECTIONS = (
    "processes.self",
    "processes.stat",
    "processes.status",
    "processes.cmdline",
    "processes.attr",
    "processes.links",
    "processes.tcp",
    "processes.tcp6",
    "processes.udp",
    "processes.udp6",
    "processes.passwd",
)
_ID_LINE = re.compile(r"^/proc/(\d{1,10})/status:(Uid|Gid):\s+(\d{1,10})\s+(\d{1,10})", re.MULTILINE)
_ATTR_PREFIX = re.compile(r"^/proc/(\d{1,10})/attr/current:", re.MULTILINE)
_LINK = re.compile(r"/proc/(\d{1,10})/(exe|fd/(\d{1,10}))\t")
_SOCKET = re.compile(r"socket:\[(\d{1,20})\]")
_NET_LINE = re.compile(
    r"^\s*\d+:\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):"
    r"([0-9A-Fa-f]{4})\s+([0-9A-Fa-f]{2})\s+\S+\s+\S+\s+\S+\s+(\d+)\s+\d+\s+(\d+)"
)
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"  # TCP_CLOSE: a bound, unconnected UDP socket (it receives from anyone)
# Machines whose /proc/net tables show addresses in network byte order (big-endian CPUs).
_BIG_ENDIAN = ("s390", "ppc64 ", "ppc ", "powerpc", "sparc", "mips ", "mips64 ", "m68k", "hppa", "or1k")


@dataclass(frozen=True)
class Listener:
    """A socket that accepts traffic from the network: TCP in LISTEN, or a bound unconnected UDP socket."""

    proto: str  # "tcp" | "udp"
    address: str  # "0.0.0.0", "::", "198.18.0.5", "127.0.0.1" (IPv4-mapped IPv6 shown as IPv4)
    port: int
    inode: int

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback

    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto} {host}:{self.port}"


@dataclass(frozen=True)
class Proc:
    """One process. ``uid``/``euid``: real and effective uid (None when unreadable)."""

    pid: int
    ppid: int
    comm: str
    exe: str  # "" when unreadable (kernel threads, or no ptrace access)
    argv: tuple[str, ...]
    uid: int | None
    euid: int | None
    gid: int | None
    label: str  # MAC label from /proc/PID/attr/current ("" when the kernel has none to show)
    sockets: tuple[int, ...]  # socket inodes among its fds

    @property
    def exe_path(self) -> str:
        """The executable without the kernel's `` (deleted)`` suffix."""
        return self.exe.removesuffix(" (deleted)")

    @property
    def deleted(self) -> bool:
        return self.exe.endswith(" (deleted)")

    @property
    def kernel_thread(self) -> bool:
        return not self.exe and not self.argv


@dataclass(frozen=True)
class Account:
    """One /etc/passwd entry."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str


# Shells that refuse an interactive login (an account with one of these has no login shell).
NOLOGIN_SHELLS = frozenset(
    {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/true", "/usr/bin/true", ""}
)


@dataclass(frozen=True)
class ProcessFacts:
    """The process table, listening sockets and accounts of one host."""

    procs: Mapping[int, Proc]
    listeners: Mapping[int, Listener]  # by socket inode
    accounts: Mapping[int, Account]  # by uid (the first entry of a uid)
    fds_readable: bool  # the collector ran as root (other users' exe links and fds readable, given CAP_SYS_PTRACE)
    warnings: tuple[str, ...]

    @property
    def unreadable(self) -> tuple[int, ...]:
        """Processes (not kernel threads) whose executable could not be read (no ptrace access to them)."""
        return tuple(p.pid for p in self.procs.values() if not p.exe and p.argv)

    def running(self, exes: frozenset[str] | set[str]) -> tuple[Proc, ...]:
        """Processes whose executable is one of ``exes`` (absolute paths), identified by the exe link."""
        return tuple(p for p in self.procs.values() if p.exe_path in exes)

    def children(self, pid: int) -> tuple[Proc, ...]:
        return tuple(p for p in self.procs.values() if p.ppid == pid)

    def account(self, uid: int | None) -> Account | None:
        return None if uid is None else self.accounts.get(uid)

    def user(self, uid: int | None) -> str:
        acc = self.account(uid)
        return acc.name if acc else ("?" if uid is None else str(uid))


def parse_stat_line(line: str) -> tuple[str, int] | None:
    """(comm, ppid) from one ``/proc/PID/stat`` line, or None when garbled."""
    open_, close = line.find("("), line.rfind(")")
    if open_ < 0 or close < open_:
        return None
    fields = line[close + 1 :].split()
    if len(fields) < 2:
        return None
    ppid = parse_uint(fields[1])
    return None if ppid is None else (line[open_ + 1 : close], ppid)


def parse_net(text: str, proto: str, little_endian: bool = True) -> dict[int, Listener]:
    """The listening sockets of one ``/proc/net/{tcp,tcp6,udp,udp6}`` table, by inode.

    >>> t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\\n"
    >>> t += "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1\\n"
    >>> parse_net(t, "tcp")[1234].label()
    'tcp 0.0.0.0:22'
    """
    want = _TCP_LISTEN if proto == "tcp" else _UDP_UNCONNECTED
    out: dict[int, Listener] = {}
    for line in iter_lines(text):
        m = _NET_LINE.match(line)
        if not m or m.group(5).upper() != want or int(m.group(7)) == 0:
            continue
        if proto == "udp" and int(m.group(4), 16) != 0:
            continue  # connected to one peer: not listening
        inode = int(m.group(7))
        out.setdefault(inode, Listener(proto, hex_ip(m.group(1), little_endian), int(m.group(2), 16), inode))
    return out


def parse_passwd(text: str) -> dict[int, Account]:
    """/etc/passwd entries by uid (the first one of a uid wins, as getpwuid returns it).

    >>> parse_passwd("www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\\n")[33].shell
    '/usr/sbin/nologin'
    """
    out: dict[int, Account] = {}
    for line in iter_lines(text):
        parts = line.rstrip("\r").split(":")
        if len(parts) != 7 or line.startswith(("+", "-", "#")):
            continue
        uid, gid = parse_uint(parts[2]), parse_uint(parts[3])
        if uid is None or gid is None:
            continue
        out.setdefault(uid, Account(parts[0], uid, gid, parts[5], parts[6].strip()))
    return out


def _links(text: str) -> tuple[dict[int, str], dict[int, list[int]]]:
    exes: dict[int, str] = {}
    socks: dict[int, list[int]] = {}
    for record in text.split("\0"):
        m = _LINK.match(record)
        if not m:
            continue
        pid, target = int(m.group(1)), record[m.end() :]
        if m.group(3) is None:
            exes.setdefault(pid, target)
        elif s := _SOCKET.fullmatch(target):
            socks.setdefault(pid, []).append(int(s.group(1)))
    return exes, socks


def _ids(text: str) -> dict[int, dict[str, tuple[int, int]]]:
    out: dict[int, dict[str, tuple[int, int]]] = {}
    for m in _ID_LINE.finditer(text):
        out.setdefault(int(m.group(1)), {})[m.group(2)] = (int(m.group(3)), int(m.group(4)))
    return out


def _descendants(procs: Mapping[int, Proc], root: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for p in procs.values():
        kids.setdefault(p.ppid, []).append(p.pid)
    seen, todo = {root}, [root]
    while todo:
        for child in kids.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def parse(sections: Sections) -> ProcessFacts:
    """Parse the ``processes.*`` sections. Raises :class:`FactError` when they are missing or cut."""
    require_sections(sections, "processes", SECTIONS)
    for name in ("processes.self", "processes.stat", "processes.status"):
        if sections.rc(name) != 0:
            raise FactError(
                f"the collector step {name} failed (exit {sections.rc(name)}): {sections.stderr(name)[:200]}"
            )
    warnings = [
        f"{name} hit the {CAP // 1048576} MiB cap: some processes or sockets are missing"
        for name in SECTIONS
        if len(sections[name].body) >= CAP
    ]
    self_pid = parse_uint(sections.text("processes.self"))
    if self_pid is None:
        raise FactError("the collector printed no pid of its own (processes.self): rerun the audit")
    ids = _ids(sections.text("processes.status"))
    argvs = cmdlines(sections.text("processes.cmdline"))
    labels = {
        pid: t.replace("\0", "").strip() for pid, t in by_prefix(sections.text("processes.attr"), _ATTR_PREFIX).items()
    }
    exes, socks = _links(sections.text("processes.links"))
    procs: dict[int, Proc] = {}
    for pid, line in by_prefix(sections.text("processes.stat"), STAT_PREFIX).items():
        parsed = parse_stat_line(line)
        if parsed is None:
            warnings.append(f"pid {pid}: unreadable /proc/{pid}/stat line")
            continue
        uid = ids.get(pid, {}).get("Uid")
        gid = ids.get(pid, {}).get("Gid")
        procs[pid] = Proc(
            pid=pid,
            ppid=parsed[1],
            comm=parsed[0],
            exe=exes.get(pid, ""),
            argv=argvs.get(pid, ()),
            uid=uid[0] if uid else None,
            euid=uid[1] if uid else None,
            gid=gid[0] if gid else None,
            label=labels.get(pid, ""),
            sockets=tuple(socks.get(pid, ())),
        )
    if not procs:
        raise FactError("no process could be read from /proc (is /proc mounted?)")
    ours = _descendants(procs, self_pid)
    procs = {pid: p for pid, p in procs.items() if pid not in ours}
    little = not any(arch in sections.text("meta.uname") + " " for arch in _BIG_ENDIAN)
    listeners: dict[int, Listener] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        name = f"processes.{table}"
        if sections.rc(name) == 0:
            text = sections.text(name)
            if len(sections[name].body) >= CAP:  # cut: its last line may end inside the inode
                text = text[: text.rfind("\n") + 1]
            listeners.update(parse_net(text, table.rstrip("6"), little))
        elif table in ("tcp", "udp"):
            raise FactError(
                f"/proc/net/{table} could not be read (rc={sections.rc(name)}): cannot see listening sockets"
            )
    is_root = sections.text("meta.id").strip() == "0"
    if not is_root:
        warnings.append("not root: other users' executables and sockets are invisible (set ansible_become=true)")
    return ProcessFacts(procs, listeners, parse_passwd(sections.text("processes.passwd")), is_root, tuple(warnings))


AREAS = (FactArea("processes", Platform.LINUX, parse, SECTIONS, order=70, piece="processes"),)
