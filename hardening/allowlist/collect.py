"""The allowlist collector (one round trip per host) and the pure parser of its output.

The script is the audit collector's header, two pieces side by side (``config.sh``: the
files that name destinations; ``watch.sh``: ``HW`` one-second samples of the TCP tables
and of who owns each socket), and the footer. :func:`parse_evidence` turns the sections into
a :class:`HostEvidence`: the destinations the configuration names, and the outbound
connections seen, each tied to its executable and user. Only connections of programs
installed in system directories, run by system accounts, and not shells, interpreters or
netcat-likes, are proposed; the others are kept apart with the reason (:attr:`Seen.held_back`).

Example::

    >>> "HW=2" in build_allowlist_script("n1", samples=2)
    True
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hardening.allowlist import evidence as ev
from hardening.facts.collector import Collector, assemble
from hardening.facts.sections import FactError, Sections
from hardening.hunt.linux import _UID_LINE, _links, _users, parse_tcp
from hardening.hunt.model import Process
from hardening.hunt.score import kind
from hardening.procfs import by_prefix

MAX_SAMPLES = 30
MAX_SEEN = 256  # outbound connections kept per host (a host can hold tens of thousands open)
SYSTEM_UID_MAX = 1000  # UID_MIN of login.defs: below it, system accounts (and root)
SYSTEM_DIRS = ("/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/", "/usr/lib64/", "/usr/libexec/",
               "/usr/local/bin/", "/usr/local/sbin/", "/usr/local/lib/", "/opt/", "/lib/", "/lib64/")  # fmt: skip
WATCH_CAP = 4194304  # must match HK in watch.sh
_COMM_PREFIX = re.compile(r"^/proc/(\d{1,10})/comm:", re.MULTILINE)

#: section -> (parser, the path its evidence names when the section is one file)
CONFIG_SECTIONS: dict[str, tuple[Callable[[str, str], tuple[ev.Need, ...]], str]] = {
    "allow.resolv": (ev.resolv_conf, "/etc/resolv.conf"),
    "allow.resolved_upstream": (ev.resolv_conf, "/run/systemd/resolve/resolv.conf"),
    "allow.resolved": (ev.resolved_conf, "/etc/systemd/resolved.conf"),
    "allow.dnsmasq": (ev.dnsmasq_servers, "/etc/dnsmasq.conf"),
    "allow.apt": (ev.apt_sources, "/etc/apt/sources.list"),
    "allow.yum": (ev.yum_repos, "/etc/yum.repos.d"),
    "allow.ntp": (ev.ntp_servers, "/etc/chrony/chrony.conf"),
    "allow.proxy": (ev.proxies, "/etc/environment"),
    "allow.rsyslog": (ev.rsyslog_forwards, "/etc/rsyslog.conf"),
    "allow.syslog_ng": (ev.syslog_ng_forwards, "/etc/syslog-ng/syslog-ng.conf"),
    "allow.audisp": (ev.audisp_remote, "/etc/audit/audisp-remote.conf"),
    "allow.journal_upload": (ev.journal_upload, "/etc/systemd/journal-upload.conf"),
    "allow.directory": (ev.directory_servers, "/etc/sssd/sssd.conf"),
}


@dataclass(frozen=True)
class Seen:
    """An outbound TCP connection seen during the watch, with who made it."""

    address: str
    port: int
    exe: str
    comm: str
    user: str
    kind: str  # hunt's process kind: shell | interpreter | netcat | service | other
    uid: int | None = None

    @property
    def held_back(self) -> str:
        """Why this connection is not proposed ("" when it is): only programs of system accounts,
        installed in system directories, and not shells, interpreters or netcat-likes, are."""
        if self.kind in ("shell", "interpreter", "netcat"):
            return self.kind
        if self.uid is None or self.uid >= SYSTEM_UID_MAX:
            return "a user's process"
        exe = self.exe
        if not exe or exe.endswith(" (deleted)") or not exe.startswith(SYSTEM_DIRS) or "/memfd:" in exe:
            return "not a program installed in a system directory"
        return ""

    @property
    def suspicious(self) -> bool:
        return bool(self.held_back)

    def to_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "port": self.port,
            "exe": self.exe,
            "comm": self.comm,
            "user": self.user,
            "kind": self.kind,
            "uid": self.uid,
            "held_back": self.held_back,
        }


@dataclass(frozen=True)
class HostEvidence:
    needs: tuple[ev.Need, ...]  # from configuration and from connections of system programs
    suspicious: tuple[Seen, ...]  # the other connections (see Seen.held_back): never proposed
    warnings: tuple[str, ...] = ()


def build_allowlist_script(nonce: str, samples: int = 3) -> str:
    """The POSIX sh allowlist collector: configuration files and ``samples`` watch samples."""
    if not nonce.isalnum():
        raise ValueError("nonce must be alphanumeric")
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be 1..{MAX_SAMPLES}")

    def piece(name: str) -> str:
        return resources.files("hardening.allowlist").joinpath(f"{name}.sh").read_text(encoding="ascii")

    return assemble(nonce, (piece("config"), f"HW={int(samples)}\n" + piece("watch")))


def new_allowlist_collector(samples: int = 3) -> Collector:
    nonce = secrets.token_hex(8)
    return Collector(build_allowlist_script(nonce, samples), nonce)


def _sample(sections: Sections, i: int, users: dict[int, str], little: bool, listening: set[int]) -> list[Seen]:
    """The outbound connections of sample ``i`` (a connection on a listening port is inbound)."""
    tcp = parse_tcp(sections.text(f"allow.w{i}.tcp"), little)
    for inode, sock in parse_tcp(sections.text(f"allow.w{i}.tcp6"), little).items():
        tcp.setdefault(inode, sock)
    exes, _, fds = _links(sections.text(f"allow.w{i}.links"))
    uids = {int(m.group(1)): int(m.group(2)) for m in _UID_LINE.finditer(sections.text(f"allow.w{i}.uid"))}
    comms = {pid: c.rstrip("\n") for pid, c in by_prefix(sections.text(f"allow.w{i}.comm"), _COMM_PREFIX).items()}
    holders: dict[int, set[int]] = {}
    for pid, table in fds.items():
        for target in table.values():
            m = re.fullmatch(r"socket:\[(\d{1,20})\]", target)
            if m:
                holders.setdefault(int(m.group(1)), set()).add(pid)

    def seen(sock: Any, pid: int) -> Seen:
        proc = Process(pid=pid, ppid=0, comm=comms.get(pid, ""), exe=exes.get(pid, ""), uid=uids.get(pid))
        uid = uids.get(pid)
        user = users.get(uid, str(uid)) if uid is not None else ""
        return Seen(sock.remote.address, sock.remote.port, proc.exe, proc.comm, user, kind(proc), uid)

    out = []
    for inode, sock in tcp.items():
        if sock.state not in ("ESTABLISHED", "SYN_SENT") or sock.remote.loopback or sock.local.port in listening:
            continue
        # Every holder of the socket is judged: a web server's worker that hands its connection
        # to a shell (a web shell's reverse connection) is held back for the shell, whatever
        # order /proc lists them in.
        candidates = [seen(sock, pid) for pid in sorted(holders.get(inode, ()))]
        if candidates:
            out.append(next((s for s in candidates if s.held_back), candidates[0]))
    return out


def _inbound_ports(sections: Sections, samples: int, little: bool) -> set[int]:
    """Local ports the host listens on: a connection from such a port is an inbound session."""
    ports: set[int] = set()
    for i in range(1, samples + 1):
        for name in (f"allow.w{i}.tcp", f"allow.w{i}.tcp6"):
            ports |= {s.local.port for s in parse_tcp(sections.text(name), little).values() if s.listening}
    return ports


def parse_evidence(sections: Sections, samples: int) -> HostEvidence:
    """What the host's configuration and its live connections say it needs (pure)."""
    if not sections.complete:
        raise FactError("the allowlist collector's output was cut short: rerun")
    warnings: list[str] = []
    needs: list[ev.Need] = []
    for name, (parser, path) in CONFIG_SECTIONS.items():
        if name not in sections or sections.rc(name) == 127:
            continue
        if sections.rc(name) not in (0, None):
            warnings.append(f"{name}: some files could not be read (exit {sections.rc(name)})")
        for n in parser(sections.text(name), path):
            if n not in needs:
                needs.append(n)
    if sections.text("meta.id").strip() != "0":
        warnings.append("ran without root: other users' connections are invisible (set ansible_become=true)")
    uname = sections.text("meta.uname") + " "
    little = not any(a in uname for a in ("s390", "ppc64 ", "ppc ", "powerpc", "sparc", "mips"))
    users = _users(sections.text("allow.passwd"))
    listening = _inbound_ports(sections, samples, little)
    seen: dict[Seen, None] = {}
    dropped = 0
    for i in range(1, samples + 1):
        if f"allow.w{i}.tcp" not in sections:
            raise FactError(f"the watch sample {i} is missing (allow.w{i}.tcp): rerun")
        for name in (f"allow.w{i}.tcp", f"allow.w{i}.tcp6", f"allow.w{i}.links"):
            sec = sections.get(name)
            if sec is not None and len(sec.body) >= WATCH_CAP - 1:
                warnings.append(f"{name} hit the {WATCH_CAP // 1048576} MiB cap: some connections were not seen")
        for s in _sample(sections, i, users, little, listening):
            if s in seen:
                continue
            if len(seen) >= MAX_SEEN:
                dropped += 1
                continue
            seen[s] = None
    if dropped:
        warnings.append(f"more than {MAX_SEEN} outbound connections: {dropped} more were not kept (look at the host)")
    suspicious = tuple(s for s in seen if s.suspicious)
    known = {(n.host, n.port) for n in needs}
    for s in seen:
        if s.suspicious or (s.address, s.port) in known:
            continue
        who = f"{s.exe or s.comm or '?'} ({s.user or '?'})"
        needs.append(ev.Need("connection", s.address, s.port, "tcp", f"seen: {who}"[:200]))
        known.add((s.address, s.port))
    return HostEvidence(tuple(needs), suspicious, tuple(warnings))
