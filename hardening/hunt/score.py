"""Score a host snapshot into reverse-shell detections, in tiers, each with its reasons (pure).

The evidence is a small graph, never a name alone: which fds of a process are TCP
sockets (stdio on a socket is the strongest sign), which way each connection goes (a
local port some socket listens on means inbound), who the parent chain is (a shell
spawned by an exposed service), and the host's role and approved networks. Names only
say what *kind* a process is (shell, interpreter, netcat-like, service); command-line
flags (``-e``, ``--sh-exec``, ``EXEC:``, inline code) only add reasons to a process that
already has network evidence.

Tiers (see docs/hunt.md):

- high: stdin/stdout/stderr is a TCP socket (or a connected UDP one) to a non-loopback peer
  (shell, interpreter, netcat-like, or any process on an outbound connection); a shell or interpreter with
  network evidence spawned by an exposed service; a netcat-like with an exec option on
  an outbound connection; a shell spawned by a process whose stdio is on the network.
- medium: a shell, or an interpreter running inline code, holding an outbound connection;
  a netcat-like connected out; a shell spawned by a netcat-like/interpreter holding an
  outbound connection; a shell spawned by an exposed service without network evidence.
- low: an interpreter running a script with an outbound connection; medium outbound shell
  networking on a workstation when nothing about it is ugly.
- an approved destination (``harden_approved_networks``) lowers the tier by one.

Example::

    detections = score(snapshot, HuntContext(role="web", approved=(ip_network("10.0.0.0/8"),)))
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hardening.hunt.model import Detection, Process, Snapshot, TcpSocket, Tier

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "csh", "tcsh", "fish", "rbash", "yash", "cmd", "pwsh"}
)
INTERPRETERS = frozenset(
    {
        "python", "perl", "php", "ruby", "lua", "luajit", "node", "nodejs", "tclsh", "wish", "irb", "deno",
        "bun", "powershell", "pwsh", "awk", "gawk", "mawk", "jrunscript", "jshell", "rscript", "guile",
    }
)  # fmt: skip
NETCATS = frozenset(
    {"nc", "netcat", "nc.traditional", "nc.openbsd", "ncat", "socat", "pwncat", "nc64", "telnet", "openssl"}
)
SERVICES = frozenset(
    {
        "nginx", "apache2", "httpd", "lighttpd", "caddy", "php-fpm", "php-cgi", "tomcat", "catalina", "java",
        "jenkins", "postgres", "postmaster", "mysqld", "mariadbd", "mongod", "redis-server", "memcached",
        "uwsgi", "gunicorn", "unicorn", "puma", "w3wp", "sqlservr", "iisexpress", "vsftpd", "proftpd",
        "smbd", "exim4", "named", "elasticsearch", "tomcat9", "haproxy", "traefik", "envoy",
    }
)  # fmt: skip
# Processes that start sessions: walking up the parent chain stops there (a shell in an
# SSH session is not a child of whatever started sshd).
BOUNDARIES = frozenset(
    {
        "sshd", "sshd-session", "login", "su", "sudo", "systemd", "init", "tmux", "screen", "cron", "crond",
        "containerd-shim", "containerd-shim-runc-v2", "conmon", "dockerd", "runc", "services", "svchost",
        "winlogon", "explorer", "wininit", "smss", "wsmprovhost",
    }
)  # fmt: skip
# Command-line options that make a netcat-like run a program on its connection.
_EXEC_FLAGS = re.compile(
    r"^(-e|-c|--exec|--sh-exec|--lua-exec|-e\S+|-c\S+)$|^(exec|system):|,(exec|system):", re.IGNORECASE
)
_INLINE_FLAGS = frozenset({"-c", "-e", "-r", "-E", "--eval", "-command", "-c:", "-encodedcommand", "-enc"})
_INLINE_HINTS = re.compile(r"socket|dup2|pty\.spawn|subprocess|fsockopen|TCPSocket|/dev/tcp|IO::Socket|exec\(", re.I)
SUSPICIOUS_PORTS = frozenset({1234, 1337, 4242, 4444, 4445, 5555, 6666, 6969, 7777, 9001, 9999, 31337})
_UGLY_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
WORKSTATION_ROLES = frozenset({"workstation", "desktop", "laptop", "dev", "developer", "jumphost", "bastion"})
CI_ROLES = frozenset({"ci", "build", "runner", "jenkins-agent"})


@dataclass(frozen=True)
class HuntContext:
    """What the inventory says about a host: its roles and the approved destination networks."""

    roles: tuple[str, ...] = ()
    approved: tuple[Network, ...] = ()

    @property
    def workstation(self) -> bool:
        return any(r in WORKSTATION_ROLES for r in self.roles)

    @property
    def ci(self) -> bool:
        return any(r in CI_ROLES for r in self.roles)

    def approved_for(self, address: str) -> Network | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        return next((n for n in self.approved if ip.version == n.version and ip in n), None)


def _base(path: str) -> str:
    name = path.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].removesuffix(" (deleted)").lower()
    return name.removesuffix(".exe")


def _norm(name: str) -> str:
    """``python3.11`` -> ``python``, ``php-fpm8.2`` -> ``php-fpm``; ``nc.traditional`` stays."""
    if name in SHELLS | INTERPRETERS | NETCATS | SERVICES:
        return name
    stripped = re.sub(r"[\d.]+$", "", name)
    return stripped or name


def names(proc: Process) -> tuple[str, ...]:
    """The normalized names a process goes by: executable, comm, argv[0] (busybox: its applet)."""
    out = []
    exe = _base(proc.exe) if proc.exe else ""
    argv0 = _base(proc.argv[0]) if proc.argv else ""
    if exe == "busybox" or proc.comm == "busybox":
        applet = argv0 if argv0 != "busybox" else (_base(proc.argv[1]) if len(proc.argv) > 1 else "")
        out.append(_norm(applet))
    for n in (exe, _base(proc.comm), argv0):
        if n:
            out.append(_norm(n))
    return tuple(dict.fromkeys(n for n in out if n))


def kind(proc: Process) -> str:
    """shell | interpreter | netcat | service | other. The executable decides before comm."""
    for n in names(proc):
        if n in NETCATS:
            return "netcat"
        if n in SHELLS:
            return "shell"
        if n in INTERPRETERS:
            return "interpreter"
        if n in SERVICES:
            return "service"
    return "other"


@dataclass(frozen=True)
class _Graph:
    snapshot: Snapshot
    listening: frozenset[tuple[str, str, int]]  # (netns, address, port) of every TCP listener

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Graph:
        return cls(snapshot, _listeners(snapshot))

    def inbound(self, sock: TcpSocket) -> bool:
        return _accepted(sock, self.listening)

    def conns(self, proc: Process) -> list[tuple[int, TcpSocket]]:
        """(fd, socket) for every connected TCP (or connected UDP) socket the process holds, remote first."""
        out = []
        for fd, inode in proc.sockets:
            sock = self.snapshot.sockets.get(inode)
            if sock is not None and sock.connected and not sock.remote.unspecified:
                out.append((fd, sock))
        return sorted(out, key=lambda fs: (fs[1].remote.loopback, fs[0] < 0, fs[0]))

    def listens_outside(self, proc: Process) -> TcpSocket | None:
        for _, inode in proc.sockets:
            sock = self.snapshot.sockets.get(inode)
            if sock is not None and sock.listening and not sock.local.loopback:
                return sock
        return None


def _listeners(snapshot: Snapshot) -> frozenset[tuple[str, str, int]]:
    """Every listening socket by network namespace: a port listened on in one namespace says nothing
    about a connection in another (each container has its own ports)."""
    return frozenset((s.netns, s.local.address, s.local.port) for s in snapshot.sockets.values() if s.listening)


def _accepted(sock: TcpSocket, listening: frozenset[tuple[str, str, int]]) -> bool:
    """Whether ``sock`` came in through a listener of its own namespace (its local port is listened on)."""
    port, ns = sock.local.port, sock.netns
    return any(n == ns and p == port and (a == sock.local.address or a in ("0.0.0.0", "::")) for n, a, p in listening)


def _proto(sock: TcpSocket) -> str:
    """``TCP`` or ``UDP``, for reasons (a UDP socket on stdio is scored as a TCP one)."""
    return sock.proto.upper()


@dataclass
class _Finding:
    tier: Tier | None = None
    reasons: list[str] = field(default_factory=list)
    remote: str = ""
    network: bool = False  # the finding rests on a connection (own or a parent's)
    strong: bool = False  # stdio on a socket, exec option, service parent: roles do not soften it
    ugly: bool = False

    def raise_to(self, tier: Tier, reason: str) -> None:
        if self.tier is None or tier.rank > self.tier.rank:
            self.tier = tier
        self.reasons.append(reason)


def _fdname(fd: int) -> str:
    return {0: "stdin (fd 0)", 1: "stdout (fd 1)", 2: "stderr (fd 2)"}.get(fd, f"fd {fd}")


def _inline_code(proc: Process) -> str | None:
    for i, arg in enumerate(proc.argv[1:], start=1):
        if arg.lower() in _INLINE_FLAGS and i + 1 < len(proc.argv):
            return proc.argv[i + 1]
    return None


def _exec_option(proc: Process) -> str | None:
    return next((a for a in proc.argv[1:] if _EXEC_FLAGS.search(a)), None)


def _label(proc: Process) -> str:
    return f"{proc.comm}({proc.pid})"


def _stdio_socket(f: _Finding, proc: Process, k: str, g: _Graph, conns: list[tuple[int, TcpSocket]]) -> None:
    stdio = [(fd, s) for fd, s in conns if 0 <= fd <= 2]
    if not stdio:
        return
    fds = ", ".join(_fdname(fd) for fd, _ in stdio)
    sock = stdio[0][1]
    direction = "inbound" if g.inbound(sock) else "outbound"
    if not sock.remote.loopback:
        if k in ("shell", "interpreter", "netcat") or direction == "outbound":
            f.raise_to(Tier.HIGH, f"{fds} is a {_proto(sock)} socket, {direction}, to {sock.remote} ({k} {proc.comm})")
            f.remote, f.network, f.strong = str(sock.remote), True, True
    elif k in ("shell", "interpreter"):
        f.raise_to(Tier.MEDIUM, f"{fds} is a {_proto(sock)} socket to loopback {sock.remote} (a tunnelled shell?)")
        f.remote, f.network = str(sock.remote), True


def _own_outbound(
    f: _Finding, proc: Process, k: str, g: _Graph, conns: list[tuple[int, TcpSocket]], ctx: HuntContext
) -> None:
    out = [(fd, s) for fd, s in conns if not s.remote.loopback and not g.inbound(s) and not 0 <= fd <= 2]
    if not out:
        return
    fd, sock = out[0]
    f.remote = f.remote or str(sock.remote)
    f.network = True
    where = f" on {_fdname(fd)}" if fd >= 0 else ""
    if k == "netcat":
        flag = _exec_option(proc)
        if flag:
            f.raise_to(Tier.HIGH, f"netcat-like {proc.comm} with exec option {flag!r} connected to {sock.remote}")
            f.strong = True
        else:
            f.raise_to(Tier.MEDIUM, f"netcat-like {proc.comm} holds an outbound connection to {sock.remote}")
    elif k == "shell":
        f.raise_to(
            Tier.MEDIUM, f"shell {proc.comm} holds an outbound {_proto(sock)} connection to {sock.remote}{where}"
        )
    elif k == "interpreter":
        code = _inline_code(proc)
        if code is not None:
            f.raise_to(
                Tier.MEDIUM,
                f"interpreter {proc.comm} running inline code holds an outbound connection to {sock.remote}",
            )
            if _INLINE_HINTS.search(code):
                f.reasons.append("its inline code uses sockets/dup2/pty/subprocess")
                f.ugly = True
        else:
            tier = Tier.LOW if ctx.ci or len(proc.argv) > 1 else Tier.MEDIUM
            f.raise_to(tier, f"interpreter {proc.comm} holds an outbound connection to {sock.remote}{where}")


def _relay_parent(f: _Finding, proc: Process, k: str, g: _Graph) -> None:
    """A shell whose parent (or grandparent) holds the outbound connection: socat EXEC, pty.spawn, Go/C shells."""
    if k not in ("shell", "interpreter"):
        return
    for anc in g.snapshot.ancestors(proc.pid, limit=2):
        if kind(anc) == "other" and _base(anc.comm) in BOUNDARIES:
            return
        conns = [(fd, s) for fd, s in g.conns(anc) if not s.remote.loopback and not g.inbound(s)]
        if not conns:
            continue
        sock = conns[0][1]
        ak = kind(anc)
        on_stdio = next((s for d, s in conns if 0 <= d <= 2), None)
        flag = _exec_option(anc) if ak == "netcat" else None
        f.remote, f.network = f.remote or str(sock.remote), True
        if on_stdio or flag:
            why = f"its stdio is a {_proto(on_stdio)} socket" if on_stdio else f"exec option {flag!r}"
            f.raise_to(Tier.HIGH, f"spawned by {_label(anc)} ({ak}, {why}) connected to {sock.remote}")
            f.strong = True
        elif ak in ("netcat", "interpreter", "shell"):
            f.raise_to(
                Tier.MEDIUM, f"spawned by {_label(anc)} ({ak}) which holds an outbound connection to {sock.remote}"
            )
        else:
            f.raise_to(Tier.MEDIUM, f"spawned by {_label(anc)} which holds an outbound connection to {sock.remote}")


def _service_parent(f: _Finding, proc: Process, k: str, g: _Graph) -> None:
    if k not in ("shell", "interpreter"):
        return
    for anc in g.snapshot.ancestors(proc.pid, limit=8):
        base = _base(anc.comm)
        if base in BOUNDARIES or anc.pid == 1:
            return
        listen = g.listens_outside(anc)
        ak = kind(anc)
        if ak == "service" or (listen is not None and ak == "other"):
            what = f"listens on {listen.local}" if listen else "a network service"
            if f.network:
                f.raise_to(Tier.HIGH, f"spawned by exposed service {_label(anc)} ({what})")
                f.strong = True
            else:
                f.raise_to(Tier.MEDIUM, f"{k} spawned by exposed service {_label(anc)} ({what}), no connection seen")
            return


def _masquerade(f: _Finding, proc: Process) -> None:
    comm = _norm(_base(proc.comm))
    exe = _norm(_base(proc.exe)) if proc.exe else ""
    if comm in SERVICES and exe and exe in SHELLS | INTERPRETERS | NETCATS:
        f.reasons.append(f"named {proc.comm!r} but its executable is {proc.exe}")
        f.ugly = True
    if proc.argv and _norm(_base(proc.argv[0])) in SERVICES and exe in SHELLS | INTERPRETERS | NETCATS:
        f.reasons.append(f"argv[0] {proc.argv[0]!r} disguises {proc.exe}")
        f.ugly = True


def _context(f: _Finding, proc: Process, ctx: HuntContext) -> None:
    """Ugly details raise a low to medium; roles and approved destinations lower the tier."""
    if f.tier is None:
        return
    host, _, port = f.remote.rpartition(":")
    host = host.strip("[]")
    if port.isdigit() and int(port) in SUSPICIOUS_PORTS:
        f.reasons.append(f"destination port {port} is a common reverse-shell port")
        f.ugly = True
    exe = proc.exe.removesuffix(" (deleted)")
    if proc.exe.endswith(" (deleted)"):
        f.reasons.append(f"its executable {exe} was deleted after start")
        f.ugly = True
    elif exe.startswith(_UGLY_DIRS):
        f.reasons.append(f"its executable runs from {exe}")
        f.ugly = True
    if "/dev/tcp/" in proc.cmdline or "/dev/udp/" in proc.cmdline:
        f.reasons.append("its command line opens /dev/tcp")
        f.ugly = True
    approved = ctx.approved_for(host) if host else None
    if ctx.approved and host and approved is None:
        f.reasons.append(f"destination {host} is outside the approved networks")
        f.ugly = True
    if f.ugly and f.tier is Tier.LOW:
        f.tier = Tier.MEDIUM
    if approved is not None:
        f.tier = f.tier.lower()
        f.reasons.append(f"destination is in approved network {approved}: tier lowered to {f.tier.value}")
    elif ctx.workstation and f.tier is Tier.MEDIUM and not f.strong and not f.ugly:
        f.tier = Tier.LOW
        f.reasons.append(f"host role {'/'.join(ctx.roles)}: outbound shell networking is common here")


def assess(proc: Process, snapshot: Snapshot, ctx: HuntContext, graph: _Graph | None = None) -> Detection | None:
    """The detection for one process, or None when nothing about it points to a reverse shell."""
    g = graph or _Graph.of(snapshot)
    k = kind(proc)
    f = _Finding()
    conns = g.conns(proc)
    _stdio_socket(f, proc, k, g, conns)
    _own_outbound(f, proc, k, g, conns, ctx)
    _relay_parent(f, proc, k, g)
    _service_parent(f, proc, k, g)
    if f.tier is None:
        return None
    _masquerade(f, proc)
    _context(f, proc, ctx)
    return Detection(
        pid=proc.pid,
        process=proc.comm,
        severity=f.tier,
        reasons=tuple(dict.fromkeys(f.reasons)),
        remote=f.remote,
        ppid=proc.ppid,
        user=proc.user,
        exe=proc.exe,
        cmdline=proc.cmdline,
        parents=tuple(_label(a) for a in snapshot.ancestors(proc.pid, limit=6)),
        start_time=proc.start_time,
        extra={"kind": k},
        container=proc.container,
    )


def score(snapshot: Snapshot, ctx: HuntContext = HuntContext()) -> tuple[Detection, ...]:
    """Every detection on the host, highest tier first (the collector's own session is skipped)."""
    g = _Graph.of(snapshot)
    found = [
        d
        for pid, proc in sorted(snapshot.processes.items())
        if pid not in snapshot.self_pids and (d := assess(proc, snapshot, ctx, g)) is not None
    ]
    return tuple(sorted(found, key=lambda d: (-d.severity.rank, d.pid)))


def parse_networks(value: object, what: str = "harden_approved_networks") -> tuple[Network, ...]:
    """CIDRs from an inventory value: a list, or a comma/space separated string.

    >>> parse_networks("10.0.0.0/8, 192.168.1.0/24")
    (IPv4Network('10.0.0.0/8'), IPv4Network('192.168.1.0/24'))
    """
    if value in (None, ""):
        return ()
    items: Sequence[object] = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value).strip())
    out = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{what}: {item!r} is not an address or CIDR network") from None
    return tuple(out)


def parse_roles(value: object) -> tuple[str, ...]:
    """``harden_role`` as a tuple of lower-case names (a string, or a list).

    >>> parse_roles("Web, db"), parse_roles(["ci"])
    (('web', 'db'), ('ci',))
    """
    if value in (None, ""):
        return ()
    items: Iterable[object] = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value).strip())
    return tuple(str(i).strip().lower() for i in items if str(i).strip())
