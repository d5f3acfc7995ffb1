"""The hunt's data: a host snapshot (processes, TCP/UDP sockets) and the detections scored from it.

Nothing here does I/O. A :class:`Snapshot` is what one round trip to a host saw; the
scorer (:mod:`hardening.hunt.score`) turns it into :class:`Detection` values, each with
the reasons that put it in its tier.

Example::

    >>> s = TcpSocket(inode=7, local=Endpoint("10.0.0.5", 51000), remote=Endpoint("203.0.113.9", 4444),
    ...               state="ESTABLISHED")
    >>> s.remote.loopback, s.connected
    (False, True)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hardening.model import Platform


class Tier(StrEnum):
    """How strongly a detection looks like a live reverse shell; ordered by :attr:`rank`."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return {Tier.LOW: 1, Tier.MEDIUM: 2, Tier.HIGH: 3}[self]

    def lower(self) -> Tier:
        """One tier down (low stays low)."""
        return {Tier.HIGH: Tier.MEDIUM, Tier.MEDIUM: Tier.LOW, Tier.LOW: Tier.LOW}[self]


@dataclass(frozen=True)
class Endpoint:
    """An IP address (text, IPv4-mapped IPv6 shown as IPv4) and a port."""

    address: str
    port: int

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.address)
        except ValueError:
            return None

    @property
    def loopback(self) -> bool:
        ip = self.ip
        return bool(ip is not None and ip.is_loopback)

    @property
    def unspecified(self) -> bool:
        ip = self.ip
        return bool(ip is not None and ip.is_unspecified)

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


# TCP states that carry (or are about to carry) a conversation with a peer.
CONNECTED_STATES = frozenset({"ESTABLISHED", "SYN_SENT", "SYN_RECV", "CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2"})


@dataclass(frozen=True)
class TcpSocket:
    """One TCP or UDP socket from a host's tables; ``inode`` ties it to the processes holding it.

    ``proto`` is ``tcp`` or ``udp``; ``netns`` the network namespace whose table listed it
    (``net:[N]``, "" when unknown). Socket inodes are unique host-wide, so the sockets of all
    namespaces share one map. A UDP socket has no connection: it is "connected" when
    ``connect()`` fixed its peer (a non-zero remote address and port), as ``bash
    >/dev/udp/host/port``, ``nc -u`` and socat ``UDP:`` do.

    >>> udp = TcpSocket(9, Endpoint("10.0.0.5", 40000), Endpoint("198.51.100.7", 53), "ESTABLISHED", "udp")
    >>> udp.connected, TcpSocket(9, Endpoint("0.0.0.0", 53), Endpoint("0.0.0.0", 0), "CLOSE", "udp").connected
    (True, False)
    """

    inode: int
    local: Endpoint
    remote: Endpoint
    state: str  # ESTABLISHED, LISTEN, SYN_SENT, ... (Linux names; Windows states mapped to them)
    proto: str = "tcp"  # "tcp" or "udp" (a UDP socket is ESTABLISHED once connect()ed)
    netns: str = ""

    @property
    def listening(self) -> bool:
        return self.proto == "tcp" and self.state == "LISTEN"

    @property
    def connected(self) -> bool:
        if self.proto == "udp":
            return self.remote.port != 0 and not self.remote.unspecified
        return self.state in CONNECTED_STATES


Socket = TcpSocket  # the socket of either protocol (the name TcpSocket predates UDP)


@dataclass(frozen=True)
class Container:
    """The container a process runs in, as its cgroup and the runtime's on-disk state name it.

    ``runtime``: docker, podman, containerd, cri-o, lxc, or unknown (a container id in the
    cgroup path, no runtime state found). Empty strings are what could not be read. The
    Kubernetes fields are set when the cgroup path (``pod<uid>``) or the runtime's annotations
    or labels show them.
    """

    runtime: str
    id: str = ""
    name: str = ""
    image: str = ""
    pod: str = ""
    namespace: str = ""
    k8s_container: str = ""
    pod_uid: str = ""

    @property
    def kubernetes(self) -> bool:
        return bool(self.pod or self.namespace or self.pod_uid or self.k8s_container)

    @property
    def label(self) -> str:
        """Short text for a table: ``podman:web``, ``cri-o:ns/pod/container``, ``docker:3f2a1b9c0d4e``."""
        if self.pod or self.namespace:
            who = "/".join(x for x in (self.namespace, self.pod, self.k8s_container) if x)
        else:
            who = self.name or self.id[:12]
        return f"{self.runtime}:{who}" if who else self.runtime


@dataclass(frozen=True)
class Process:
    """One process as the snapshot saw it.

    ``stdio`` holds the targets of fds 0, 1, 2 (``socket:[123]``, ``/dev/pts/0``, ``pipe:[9]``;
    "" when unknown). ``sockets`` maps fd number to socket inode for every socket fd (on
    Windows, fds are unknown: ``-1`` per owned connection). ``start_time`` is Unix time.
    ``channels`` maps fd number to the inter-process channel on it: ``pipe:N`` (anonymous pipe
    inode), ``fifo:/path`` (named fifo), ``pts:N`` (pty slave N), ``ptmx:N`` (the master of pty N;
    ``ptmx:?`` when the kernel does not tell the index). ``identity``: what the executable is by
    its content (``ncat``, ``python``, ...: package md5sums, a well-known tool's md5, or a build
    string), "" when unknown or not examined.
    """

    pid: int
    ppid: int
    comm: str
    exe: str = ""
    argv: tuple[str, ...] = ()
    uid: int | None = None
    user: str = ""
    start_time: float | None = None
    stdio: tuple[str, str, str] = ("", "", "")
    sockets: tuple[tuple[int, int], ...] = ()
    netns: str = ""  # "net:[N]" of its network namespace, "" when unknown
    container: Container | None = None
    channels: tuple[tuple[int, str], ...] = ()
    identity: str = ""

    @property
    def cmdline(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Snapshot:
    """Everything one collector run saw on one host.

    ``self_pids``: the collector and its whole ancestor chain (the management session that
    ran it), never reported. ``complete``: False when output was cut (warnings say where).
    ``fds_known``: whether fd-level data (stdio, socket fds) exists (Linux yes, Windows no).
    ``netns``: the collector's own network namespace; ``host_seconds``: how long the collector
    ran on the host (None when unknown). ``ephemeral``: the host's ``ip_local_port_range``.
    """

    platform: Platform
    processes: Mapping[int, Process]
    sockets: Mapping[int, TcpSocket]  # TCP and UDP, every network namespace read
    self_pids: frozenset[int] = frozenset()
    hostname: str = ""
    is_root: bool = True
    fds_known: bool = True
    complete: bool = True
    warnings: tuple[str, ...] = ()
    netns: str = ""
    host_seconds: float | None = None
    ephemeral: tuple[int, int] | None = None

    def children(self) -> Mapping[int, tuple[int, ...]]:
        kids: dict[int, list[int]] = {}
        for p in self.processes.values():
            kids.setdefault(p.ppid, []).append(p.pid)
        return {k: tuple(sorted(v)) for k, v in kids.items()}

    def ancestors(self, pid: int, limit: int = 64) -> tuple[Process, ...]:
        """Parent, grandparent, ... (bounded; a cycle or a missing parent stops the walk)."""
        out: list[Process] = []
        seen = {pid}
        proc = self.processes.get(pid)
        while proc is not None and len(out) < limit:
            parent = self.processes.get(proc.ppid)
            if parent is None or parent.pid in seen:
                break
            out.append(parent)
            seen.add(parent.pid)
            proc = parent
        return tuple(out)


@dataclass(frozen=True)
class Detection:
    """A process that looks like (part of) a reverse shell, its tier and why."""

    pid: int
    process: str
    severity: Tier
    reasons: tuple[str, ...]
    remote: str = ""  # "addr:port" of the peer that matters, "" when none
    ppid: int = 0
    user: str = ""
    exe: str = ""
    cmdline: str = ""
    parents: tuple[str, ...] = ()  # "comm(pid)" up the chain
    start_time: float | None = None
    suppressed_by: str = ""  # justification of the suppression that matched, "" when not suppressed
    extra: Mapping[str, str] = field(default_factory=dict)
    container: Container | None = None
