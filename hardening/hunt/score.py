"""Score a host snapshot into reverse-shell detections, in tiers, each with its reasons (pure).

The evidence is a small graph, never a name alone: which fds of a process are TCP/UDP
sockets (stdio on a socket is the strongest sign), which pipes, fifos and ptys join a
shell's stdio to a process holding an outbound connection (fifo+nc, ``sh | openssl``,
socat pty), which way each connection goes (a local port some socket listens on, or a
fixed local port facing an ephemeral one, means inbound), who the parent chain is (a shell
spawned by an exposed service: any process listening on a non-loopback address), and the
host's role and approved networks. What a process *is* comes from its executable's content
first (package md5sums, build strings: a renamed ncat is still ncat), then its names.
Command-line options only add reasons to a process that already has network evidence, and
are read the way each tool parses them (getopt clusters, long-option abbreviations).

Tiers (see docs/hunt.md for the full table):

- high: a shell/interpreter/netcat-like whose stdio is a network socket (outbound: reverse
  shell; inbound without a socket-activating service manager: bind shell); a shell whose
  stdin and stdout are wired (pipe, fifo, pty, loopback TCP) to a netcat-like or inline-code
  interpreter holding an outbound connection, and that relay; a netcat-like with an exec
  option, renamed, or gawk ``/inet`` connected out; a shell with network evidence spawned
  by an exposed service; a process named like a kernel thread holding a connection.
- medium: a shell or inline-code interpreter holding an outbound connection; a netcat-like
  connected out; a shell reading its input from a process connected out; a shell spawned
  by an exposed service without network evidence; a fake kernel thread without one.
- low: an interpreter running a script with an outbound connection.
- an approved destination (``harden_approved_networks``) lowers the tier by one; nothing
  about approved networks ever raises one.

Example::

    detections = score(snapshot, HuntContext(roles=("web",), approved=(ip_network("10.0.0.0/8"),)))
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
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
# Server daemons by name (they may listen only on loopback or a unix socket behind a proxy:
# php-fpm behind nginx). Any other process listening on a non-loopback address is a service
# too, whatever its executable (gunicorn and uwsgi are python, puma ruby, tomcat java).
SERVICES = frozenset(
    {
        "nginx", "apache2", "httpd", "lighttpd", "caddy", "php-fpm", "php-cgi", "tomcat", "catalina",
        "postgres", "postmaster", "mysqld", "mariadbd", "mongod", "redis-server", "memcached",
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
# Service managers that accept connections for a declared service (systemd .socket with
# Accept=yes, inetd.conf): a program they start on an accepted connection is that service.
SOCKET_ACTIVATORS = frozenset({"systemd", "init", "inetd", "xinetd", "inetutils-inetd", "openbsd-inetd"})
# Kernel thread names a userspace process may borrow (its argv[0] in brackets, or its comm).
KTHREAD_NAMES = re.compile(
    r"^\[?(kworker|kthreadd|ksoftirqd|kswapd|migration|rcu_\w+|watchdog|jbd2|kblockd|kdevtmpfs|khugepaged|"
    r"kcompactd|writeback|ksmd|kauditd|irq|cpuhp|netns|oom_reaper|kintegrityd|md|ext4-rsv-conver)\b"
)


@dataclass(frozen=True)
class OptionSpec:
    """How one tool parses its options (from its man page / ``--help``): short options that take
    an argument, short and long options that run a program on the connection, every long option
    (getopt_long accepts any unique prefix) and the long ones that take an argument."""

    short_arg: str = ""
    short_exec: str = ""
    long: frozenset[str] = frozenset()
    long_arg: frozenset[str] = frozenset()
    long_exec: frozenset[str] = frozenset()


_NCAT_LONG_ARG = frozenset(
    {
        "sh-exec", "exec", "lua-exec", "max-conns", "delay", "output", "hex-dump", "idle-timeout", "source-port",
        "source", "wait", "allow", "allowfile", "deny", "denyfile", "proxy", "proxy-type", "proxy-auth",
        "proxy-dns", "ssl-cert", "ssl-key", "ssl-trustfile", "ssl-ciphers", "ssl-servername", "ssl-alpn",
    }
)  # fmt: skip
_NCAT_LONG = _NCAT_LONG_ARG | frozenset(
    {
        "unixsock", "vsock", "crlf", "help", "listen", "keep-open", "nodns", "telnet", "udp", "sctp", "verbose",
        "append-output", "send-only", "recv-only", "no-shutdown", "broker", "chat", "ssl", "ssl-verify", "version",
    }
)  # fmt: skip
# netcat-traditional 1.10 (Debian): -c CMD (via /bin/sh) and -e PROG run a program after connect.
_NC_TRADITIONAL = OptionSpec(short_arg="cegGioopqsTw", short_exec="ce")
OPTION_SPECS: Mapping[str, OptionSpec] = {
    "nc.traditional": _NC_TRADITIONAL,
    # ncat 7.x: -e/--exec, -c/--sh-exec, --lua-exec
    "ncat": OptionSpec("cegGmdoxipsw", "ce", _NCAT_LONG, _NCAT_LONG_ARG, frozenset({"exec", "sh-exec", "lua-exec"})),
    # BusyBox nc: -e PROG runs PROG after connect
    "busybox": OptionSpec(short_arg="pwiefs", short_exec="e"),
    # pwncat (cytopia): -e/--exec CMD
    "pwncat": OptionSpec("e", "e", frozenset({"exec"}), frozenset({"exec"}), frozenset({"exec"})),
    # OpenBSD netcat, telnet and openssl s_client cannot run a program on the connection.
    "nc.openbsd": OptionSpec(),
    "telnet": OptionSpec(),
    "openssl": OptionSpec(),
}
# socat runs a program through an EXEC:, SYSTEM: or SHELL: address (keywords are case-insensitive;
# "!!" joins a dual address).
_SOCAT_EXEC = re.compile(r"(^|!!)(exec|system|shell):", re.IGNORECASE)
_INLINE_FLAGS = frozenset({"-c", "-e", "-r", "-E", "--eval", "-command", "-c:", "-encodedcommand", "-enc"})
_INLINE_HINTS = re.compile(r"socket|dup2|pty\.spawn|subprocess|fsockopen|TCPSocket|/dev/tcp|IO::Socket|exec\(", re.I)
_AWK_INET = re.compile(r"/inet[46]?/(tcp|udp)/", re.IGNORECASE)
SUSPICIOUS_PORTS = frozenset({1234, 1337, 4242, 4444, 4445, 5555, 6666, 6969, 7777, 9001, 9999, 31337})
_UGLY_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")
WORKSTATION_ROLES = frozenset({"workstation", "desktop", "laptop", "dev", "developer", "jumphost", "bastion"})
CI_ROLES = frozenset({"ci", "build", "runner", "jenkins-agent"})
DEFAULT_EPHEMERAL = (32768, 60999)  # Linux default ip_local_port_range


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


def _applet(proc: Process) -> str:
    """The BusyBox applet a busybox process runs: argv[0], or argv[1] after ``busybox``/a renamed copy."""
    argv0 = _base(proc.argv[0]) if proc.argv else ""
    known = SHELLS | INTERPRETERS | NETCATS
    if argv0 and argv0 != "busybox" and (_norm(argv0) in known or len(proc.argv) < 2):
        return argv0
    return _base(proc.argv[1]) if len(proc.argv) > 1 else ""


def names(proc: Process) -> tuple[str, ...]:
    """The normalized names a process goes by: what its executable is by content, the executable,
    comm, argv[0] (busybox: its applet)."""
    out = []
    exe = _base(proc.exe) if proc.exe else ""
    argv0 = _base(proc.argv[0]) if proc.argv else ""
    if proc.identity == "busybox" or exe == "busybox" or proc.comm == "busybox":
        out.append(_norm(_applet(proc)))
    elif proc.identity:
        out.append(_norm(proc.identity))
    for n in (exe, _base(proc.comm), argv0):
        if n:
            out.append(_norm(n))
    return tuple(dict.fromkeys(n for n in out if n))


def kind(proc: Process) -> str:
    """shell | interpreter | netcat | service | other. Content identity decides first, then the
    executable's name, then comm."""
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


def tool(proc: Process) -> str:
    """The netcat-like a process is (``ncat``, ``busybox``, ``nc.traditional``, ...), "" if none."""
    for n in names(proc):
        if n in NETCATS:
            if proc.identity == "busybox" or _base(proc.exe) == "busybox":
                return "busybox"
            return n
    return ""


def _long_option(name: str, spec: OptionSpec) -> str | None:
    """The long option ``name`` stands for (exact, or a unique prefix as getopt_long accepts)."""
    if name in spec.long:
        return name
    hits = [o for o in spec.long if o.startswith(name)] if name else []
    return hits[0] if len(hits) == 1 else None


def exec_option(proc: Process) -> str | None:
    """The option (with its argument) that makes a netcat-like run a program, read the way the
    tool parses its command line; None when there is none.

    ``openssl s_client -connect`` is no exec option; ``nc -vnce 'sh -i'`` (a getopt cluster) and
    ``ncat --sh=sh`` (an abbreviation) are.
    """
    t = tool(proc)
    argv = proc.argv[2:] if t == "busybox" and _base(proc.argv[0] if proc.argv else "") == "busybox" else proc.argv[1:]
    if t == "socat":
        return next((a for a in argv if _SOCAT_EXEC.search(a)), None)
    spec = OPTION_SPECS.get(t, _NC_TRADITIONAL)  # nc, netcat, unknown builds: as netcat-traditional
    i = 0
    while i < len(argv):
        arg = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if arg == "--":
            return None
        if arg.startswith("--"):
            name, eq, _ = arg[2:].partition("=")
            opt = _long_option(name, spec)
            if opt in spec.long_exec:
                return arg if eq else f"{arg} {nxt}".rstrip()
            i += 2 if opt in spec.long_arg and not eq else 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            for j, c in enumerate(arg[1:], start=1):
                if c in spec.short_exec:
                    return arg if j + 1 < len(arg) else f"{arg} {nxt}".rstrip()
                if c in spec.short_arg:
                    if j + 1 == len(arg):
                        i += 1  # its argument is the next word
                    break
        i += 1
    return None


def _label(proc: Process) -> str:
    return f"{proc.comm}({proc.pid})"


def _fdname(fd: int) -> str:
    return {0: "stdin (fd 0)", 1: "stdout (fd 1)", 2: "stderr (fd 2)"}.get(fd, f"fd {fd}")


def _inline_code(proc: Process) -> str | None:
    """The code an interpreter runs from its command line (``-c``, ``-e``, ``-r``; awk's program)."""
    for i, arg in enumerate(proc.argv[1:], start=1):
        if arg.lower() in _INLINE_FLAGS and i + 1 < len(proc.argv):
            return proc.argv[i + 1]
    if any(n in ("awk", "gawk", "mawk") for n in names(proc)):
        args = proc.argv[1:]
        i = 0
        while i < len(args):
            if args[i] in ("-f", "--file"):
                return None
            if args[i] in ("-v", "-F", "--assign", "--field-separator"):
                i += 2
                continue
            if not args[i].startswith("-"):
                return args[i]
            i += 1
    return None


def _reads_stdin(proc: Process) -> bool:
    """A shell that takes its commands from stdin: ``-i``, ``-s``, or no script and no ``-c``."""
    args = proc.argv[1:]
    flags = [a for a in args if a.startswith("-") and not a.startswith("--")]
    if any("i" in a[1:] or "s" in a[1:] for a in flags):
        return True
    return not any("c" in a[1:] for a in flags) and all(a.startswith("-") for a in args)


def _interactive(proc: Process) -> bool:
    """An explicitly interactive shell (``-i`` alone or in a cluster such as ``-li``)."""
    return any(a.startswith("-") and not a.startswith("--") and "i" in a[1:] for a in proc.argv[1:])


def _disguised(proc: Process) -> str:
    """Why the process's names hide what it is ("" when they do not)."""
    if proc.exe and proc.argv and re.match(r"^\[.*\]$", proc.argv[0].strip()):
        return f"named like a kernel thread ({proc.argv[0]!r}) but runs the executable {proc.exe}"
    if proc.exe and KTHREAD_NAMES.match(proc.comm) and proc.ppid != 2:
        return f"comm {proc.comm!r} borrows a kernel thread's name but runs {proc.exe}"
    ident = _norm(proc.identity) if proc.identity and proc.identity != "busybox" else ""
    exe = _norm(_base(proc.exe)) if proc.exe else ""
    hidden = ident and exe and ident != exe and ident in NETCATS | INTERPRETERS | SHELLS and exe not in NETCATS
    # an interpreter binary under another interpreter's or a shell's name is a packaging quirk, not a disguise
    if hidden and not (ident in INTERPRETERS and exe in INTERPRETERS | SHELLS):
        return f"its executable {proc.exe} is {proc.identity} by its content"
    return ""


def _ckey(proc: Process, channel: str) -> str:
    """The graph's key of a channel: a pipe inode is unique host-wide, a fifo path or a pty index only
    within one container (its namespace): ``pts:0`` of two containers are two ptys."""
    return channel if channel.startswith("pipe:") else f"{channel}@{proc.netns}"


@dataclass(frozen=True)
class _Link:
    """A shell's stdio fd joined to another process's fd through one channel."""

    fd: int
    channel: str
    peer: Process
    egress: TcpSocket  # the peer's outbound connection


@dataclass(frozen=True)
class _Graph:
    snapshot: Snapshot
    listening: frozenset[tuple[str, str, int]]  # (netns, address, port) of every TCP listener
    ephemeral: tuple[int, int]
    holders: Mapping[int, tuple[int, ...]]  # socket inode -> pids holding it
    channels: Mapping[str, tuple[tuple[int, int], ...]]  # channel -> (pid, fd)
    relayed: dict[int, _Finding] = field(default_factory=dict, compare=False)  # shell pid -> its _ipc_relay
    egress_chans: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, compare=False)

    def relay_holders(self, key: str) -> tuple[tuple[int, int], ...]:
        """(pid, fd) of the processes holding channel ``key`` that hold an outbound connection too: the
        only possible relays (built once; a pipe shared by a thousand build processes costs nothing)."""
        if not self.egress_chans and self.channels:
            chans: dict[str, list[tuple[int, int]]] = {}
            for p in self.snapshot.processes.values():
                if p.channels and self.egress(p) is not None:
                    for fd, ch in p.channels:
                        chans.setdefault(_ckey(p, ch), []).append((p.pid, fd))
            self.egress_chans.update({k: tuple(v) for k, v in chans.items()})
            self.egress_chans.setdefault("", ())  # built, even when empty
        return self.egress_chans.get(key, ())

    def relay_finding(self, shell: Process) -> _Finding:
        """:func:`_ipc_relay` of ``shell``, computed once per graph (many relays may share a shell)."""
        found = self.relayed.get(shell.pid)
        if found is None:
            found = _Finding()
            _ipc_relay(found, shell, kind(shell), self)
            self.relayed[shell.pid] = found
        return found

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Graph:
        holders: dict[int, list[int]] = {}
        chans: dict[str, list[tuple[int, int]]] = {}
        for p in snapshot.processes.values():
            for _, inode in p.sockets:
                holders.setdefault(inode, []).append(p.pid)
            for fd, ch in p.channels:
                chans.setdefault(_ckey(p, ch), []).append((p.pid, fd))
        return cls(
            snapshot,
            _listeners(snapshot),
            snapshot.ephemeral or DEFAULT_EPHEMERAL,
            {k: tuple(v) for k, v in holders.items()},
            {k: tuple(v) for k, v in chans.items()},
        )

    def _ephemeral(self, port: int) -> bool:
        return self.ephemeral[0] <= port <= self.ephemeral[1]

    def listener(self, sock: TcpSocket) -> bool:
        return _accepted(sock, self.listening)

    def inbound(self, sock: TcpSocket) -> bool:
        """Accepted rather than connected: a socket listens on its local port, or its local port is
        fixed while the peer's is ephemeral (a listener that closed after accepting, ``nc -l``)."""
        if sock.proto == "tcp" and self.listener(sock):
            return True
        return not self._ephemeral(sock.local.port) and self._ephemeral(sock.remote.port)

    def conns(self, proc: Process) -> list[tuple[int, TcpSocket]]:
        """(fd, socket) for every connected TCP/UDP socket the process holds, remote first."""
        out = []
        for fd, inode in proc.sockets:
            sock = self.snapshot.sockets.get(inode)
            if sock is not None and sock.connected and not sock.remote.unspecified:
                out.append((fd, sock))
        return sorted(out, key=lambda fs: (fs[1].remote.loopback, fs[0] < 0, fs[0]))

    def egress(self, proc: Process) -> tuple[int, TcpSocket] | None:
        """The process's first outbound connection to a non-loopback peer, if any."""
        return next(((fd, s) for fd, s in self.conns(proc) if not s.remote.loopback and not self.inbound(s)), None)

    def listens_outside(self, proc: Process) -> TcpSocket | None:
        for _, inode in proc.sockets:
            sock = self.snapshot.sockets.get(inode)
            if sock is not None and sock.listening and not sock.local.loopback:
                return sock
        return None

    def loopback_peer(self, sock: TcpSocket, pid: int) -> Process | None:
        """The process on the other end of a loopback TCP connection (same table, ends swapped)."""
        for other in self.snapshot.sockets.values():
            if (
                other.local == sock.remote
                and other.remote == sock.local
                and other.proto == sock.proto
                and other.netns == sock.netns
            ):
                for holder in self.holders.get(other.inode, ()):
                    if holder != pid and holder in self.snapshot.processes:
                        return self.snapshot.processes[holder]
        return None

    def links(self, proc: Process, fds: tuple[int, ...]) -> list[_Link]:
        """Processes on the other end of the pipes/fifos/ptys on ``fds`` that hold an outbound
        connection. A peer with the same channel on the same fd number shares it (a child that
        inherited the shell's stdio), it does not feed it."""
        out = []
        own = dict(proc.channels)
        for fd in fds:
            ch = own.get(fd)
            if ch is None:
                continue
            for peer in self._peers(proc, fd, ch):
                found = self.egress(peer)
                if found is not None:
                    out.append(_Link(fd, ch, peer, found[1]))
        return out

    def _peers(self, proc: Process, fd: int, ch: str) -> list[Process]:
        procs = self.snapshot.processes
        if ch.startswith("pts:"):
            masters = [procs[p] for p, _ in self.relay_holders(_ckey(proc, "ptmx:" + ch[4:])) if p in procs]
            if not masters:  # the kernel did not tell the pty index: a parent holding a master
                masters = [a for a in self.snapshot.ancestors(proc.pid, 2) if any(c == "ptmx:?" for _, c in a.channels)]
            return [m for m in masters if m.pid != proc.pid]
        return [procs[p] for p, f in self.relay_holders(_ckey(proc, ch)) if p != proc.pid and f != fd and p in procs]


def _listeners(snapshot: Snapshot) -> frozenset[tuple[str, str, int]]:
    """Every listening TCP socket by network namespace: a port listened on in one namespace says
    nothing about a connection in another (each container has its own ports)."""
    return frozenset(
        (s.netns, s.local.address, s.local.port) for s in snapshot.sockets.values() if s.listening and s.proto == "tcp"
    )


def _accepted(sock: TcpSocket, listening: frozenset[tuple[str, str, int]]) -> bool:
    """Whether ``sock`` came in through a listener of its own namespace (its local port is listened on)."""
    port, ns = sock.local.port, sock.netns
    return any(n == ns and p == port and (a == sock.local.address or a in ("0.0.0.0", "::")) for n, a, p in listening)


@dataclass
class _Finding:
    tier: Tier | None = None
    reasons: list[str] = field(default_factory=list)
    remote: str = ""
    network: bool = False  # the finding rests on a connection (own or a parent's)
    strong: bool = False  # stdio on a socket, exec option, service parent: roles do not soften it
    ugly: bool = False
    kind: str = ""  # "bind-shell" when the finding is a bind shell

    def raise_to(self, tier: Tier, reason: str) -> None:
        if self.tier is None or tier.rank > self.tier.rank:
            self.tier = tier
        self.reasons.append(reason)


def _socket_activated(proc: Process, sock: TcpSocket, g: _Graph) -> Process | None:
    """The service manager that accepted ``sock`` for a declared service (its parent is systemd,
    inetd or xinetd and holds the listening socket of that port), or None."""
    parent = g.snapshot.processes.get(proc.ppid)
    if parent is None or not (parent.pid == 1 or any(n in SOCKET_ACTIVATORS for n in names(parent))):
        return None
    for _, inode in parent.sockets:
        s = g.snapshot.sockets.get(inode)
        if s is not None and s.listening and s.local.port == sock.local.port and s.netns == sock.netns:
            return parent
    return None


def _stdio_socket(f: _Finding, proc: Process, k: str, g: _Graph, conns: list[tuple[int, TcpSocket]]) -> None:
    stdio = [(fd, s) for fd, s in conns if 0 <= fd <= 2]
    if not stdio:
        return
    fds = ", ".join(_fdname(fd) for fd, _ in stdio)
    sock = stdio[0][1]
    proto = sock.proto.upper()
    if sock.remote.loopback:
        _loopback_stdio(f, proc, k, g, sock, fds)
        return
    if not g.inbound(sock):
        f.remote, f.network = str(sock.remote), True
        if k in ("shell", "netcat") or sum(1 for _, s in stdio if s.inode == sock.inode) >= 2:
            f.raise_to(Tier.HIGH, f"{fds} is a {proto} socket, outbound, to {sock.remote} ({k} {proc.comm})")
            f.strong = True
        else:
            # A daemon that closed its stdio gets fd 0, 1 or 2 for its next socket (rsyslogd's
            # forwarding connection on fd 2); a redirected shell or a dup2 loop puts the socket on two or more.
            f.raise_to(
                Tier.MEDIUM,
                f"{fds} is a {proto} socket, outbound, to {sock.remote} ({k} {proc.comm}); only one stdio fd, "
                "as when a daemon that closed its stdio reuses the fd for a connection",
            )
        return
    if k not in ("shell", "interpreter", "netcat"):
        return
    manager = _socket_activated(proc, sock, g)
    if manager is not None and not (k == "shell" and _interactive(proc)):
        return  # a declared inetd/systemd Accept=yes service answering its client
    f.remote, f.network, f.strong, f.kind = str(sock.remote), True, True, "bind-shell"
    if manager is not None:
        f.raise_to(
            Tier.HIGH,
            f"bind shell: interactive {proc.comm} started by {_label(manager)} on an accepted connection from "
            f"{sock.remote} (an inetd-style backdoor)",
        )
    else:
        f.raise_to(
            Tier.HIGH,
            f"bind shell: {fds} is an inbound (accepted) {proto} connection on local port {sock.local.port} from "
            f"{sock.remote}, not started by a socket-activating service manager ({k} {proc.comm})",
        )


def _loopback_stdio(f: _Finding, proc: Process, k: str, g: _Graph, sock: TcpSocket, fds: str) -> None:
    """Stdio on a loopback connection: follow it to the process on the other end (a local relay)."""
    if k not in ("shell", "interpreter"):
        return
    peer = g.loopback_peer(sock, proc.pid)
    out = g.egress(peer) if peer is not None else None
    f.network = True
    if peer is not None and out is not None:
        f.raise_to(
            Tier.HIGH,
            f"{fds} is a loopback {sock.proto.upper()} connection to {_label(peer)} ({kind(peer)}), which holds an "
            f"outbound connection to {out[1].remote}",
        )
        f.remote, f.strong = str(out[1].remote), True
    else:
        f.raise_to(
            Tier.MEDIUM, f"{fds} is a {sock.proto.upper()} socket to loopback {sock.remote} (a tunnelled shell?)"
        )
        f.remote = str(sock.remote)


def _strong_relay(peer: Process) -> str:
    """Why a process feeding a shell's stdio is a reverse-shell relay ("" when it may be an agent)."""
    pk = kind(peer)
    if pk == "netcat":
        return f"netcat-like {tool(peer)}"
    if pk == "interpreter" and _inline_code(peer) is not None:
        return "interpreter running inline code"
    if pk == "shell":
        return "shell"
    why = _disguised(peer)
    return f"disguised: {why}" if why else ""


def _channel_text(link: _Link) -> str:
    kind_, _, ident = link.channel.partition(":")
    return {"pipe": f"pipe [{ident}]", "fifo": f"fifo {ident}", "pts": f"pty /dev/pts/{ident}"}.get(kind_, link.channel)


def _ipc_relay(f: _Finding, proc: Process, k: str, g: _Graph) -> None:
    """A shell whose stdin (and stdout/stderr) is a pipe, fifo or pty to a process holding an
    outbound connection: fifo+nc, ``sh -i | openssl s_client``, socat/python pty relays."""
    if k not in ("shell", "interpreter") or not _reads_stdin(proc):
        return
    ins = g.links(proc, (0,))
    outs = g.links(proc, (1, 2))
    if not ins:
        return
    src = ins[0]
    f.network = True
    f.remote = f.remote or str(src.egress.remote)
    if not outs:
        f.raise_to(
            Tier.MEDIUM,
            f"reads its commands from {_channel_text(src)} of {_label(src.peer)}, which holds an outbound "
            f"connection to {src.egress.remote} (output goes elsewhere: a download piped into a shell?)",
        )
        return
    dst = outs[0]
    peers = ", ".join(dict.fromkeys(_label(lk.peer) for lk in (src, dst)))
    what = f"stdin is {_channel_text(src)} and {_fdname(dst.fd)} is {_channel_text(dst)}, to {peers}"
    relay = _strong_relay(src.peer) or _strong_relay(dst.peer)
    if relay or _interactive(proc):
        why = relay or f"{proc.comm} runs interactive (-i)"
        f.raise_to(Tier.HIGH, f"{what}, which holds an outbound connection to {src.egress.remote} ({why})")
        f.strong = True
    else:
        f.raise_to(
            Tier.MEDIUM,
            f"{what}, which holds an outbound connection to {src.egress.remote} (a compiled agent or script "
            "feeding a shell: CI runners do this too)",
        )


def _relays_for(proc: Process, g: _Graph) -> list[tuple[Process, Tier, str]]:
    """The shells whose stdio this process relays to the network, with the tier each got (only a
    process holding an outbound connection can be a relay)."""
    out: list[tuple[Process, Tier, str]] = []
    seen: set[int] = set()
    if g.egress(proc) is None:
        return out
    for _, ch in proc.channels:
        peer = ch if not ch.startswith("ptmx:") else "pts:" + ch[5:]
        for pid, _ in g.channels.get(_ckey(proc, peer), ()):
            shell = g.snapshot.processes.get(pid)
            if shell is None or pid == proc.pid or pid in seen or pid in g.snapshot.self_pids:
                continue
            seen.add(pid)
            f = g.relay_finding(shell)
            if f.tier is not None and f.tier is not Tier.LOW and any(_label(proc) in r for r in f.reasons):
                out.append((shell, f.tier, f.reasons[0]))
    return out


def _relay_role(f: _Finding, proc: Process, g: _Graph) -> None:
    """The relay side of :func:`_ipc_relay`: a process feeding a shell's stdio gets the shell's tier."""
    if not proc.channels:
        return
    for shell, tier, _ in _relays_for(proc, g)[:1]:
        found = g.egress(proc)
        if found is None:
            continue
        f.remote, f.network = f.remote or str(found[1].remote), True
        f.strong = f.strong or tier is Tier.HIGH
        f.raise_to(
            tier,
            f"relays the stdio of {kind(shell)} {_label(shell)} through pipes/fifos/ptys to its outbound "
            f"connection to {found[1].remote}",
        )


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
    proto = "" if sock.proto == "tcp" else f" {sock.proto.upper()}"
    disguise = _disguised(proc)
    if disguise:
        # a netcat-like under another name, or anything named like a kernel thread, has no benign
        # reason to connect out; vendors do ship renamed interpreters (an app's embedded python)
        fake_kthread = disguise.startswith(("named like a kernel thread", "comm "))
        tier = Tier.HIGH if k == "netcat" or fake_kthread else Tier.MEDIUM
        f.raise_to(tier, f"{disguise}; it holds an outbound{proto} connection to {sock.remote}")
        f.ugly = True
        f.strong = f.strong or tier is Tier.HIGH
    if k == "netcat":
        flag = exec_option(proc)
        if flag:
            f.raise_to(Tier.HIGH, f"netcat-like {proc.comm} with exec option {flag!r} connected to {sock.remote}")
            f.strong = True
        else:
            f.raise_to(Tier.MEDIUM, f"netcat-like {proc.comm} holds an outbound{proto} connection to {sock.remote}")
    elif k == "shell":
        f.raise_to(Tier.MEDIUM, f"shell {proc.comm} holds an outbound{proto} connection to {sock.remote}{where}")
    elif k == "interpreter":
        _interpreter_outbound(f, proc, sock, where, proto, ctx)


def _interpreter_outbound(
    f: _Finding, proc: Process, sock: TcpSocket, where: str, proto: str, ctx: HuntContext
) -> None:
    code = _inline_code(proc)
    special = _AWK_INET.search(code) if code is not None else None
    if special is not None:
        f.raise_to(
            Tier.HIGH,
            f"{proc.comm} program opens a network special file ({special.group(0)}) connected to {sock.remote}",
        )
        f.strong = True
    elif code is not None:
        f.raise_to(
            Tier.MEDIUM,
            f"interpreter {proc.comm} running inline code holds an outbound{proto} connection to {sock.remote}",
        )
        if _INLINE_HINTS.search(code):
            f.reasons.append("its inline code uses sockets/dup2/pty/subprocess")
            f.ugly = True
    else:
        tier = Tier.LOW if ctx.ci or len(proc.argv) > 1 else Tier.MEDIUM
        f.raise_to(tier, f"interpreter {proc.comm} holds an outbound{proto} connection to {sock.remote}{where}")


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
        on_stdio = any(0 <= d <= 2 for d, _ in conns)
        flag = exec_option(anc) if ak == "netcat" else None
        f.remote, f.network = f.remote or str(sock.remote), True
        if on_stdio or flag:
            why = "its stdio is a network socket" if on_stdio else f"exec option {flag!r}"
            f.raise_to(Tier.HIGH, f"spawned by {_label(anc)} ({ak}, {why}) connected to {sock.remote}")
            f.strong = True
        elif ak in ("netcat", "interpreter", "shell"):
            f.raise_to(
                Tier.MEDIUM, f"spawned by {_label(anc)} ({ak}) which holds an outbound connection to {sock.remote}"
            )
        else:
            f.raise_to(Tier.MEDIUM, f"spawned by {_label(anc)} which holds an outbound connection to {sock.remote}")


def _service_parent(f: _Finding, proc: Process, k: str, g: _Graph) -> None:
    """A shell under an exposed service: a server by name, or any process (not a netcat-like)
    listening on a non-loopback address: gunicorn/uwsgi workers, node, java, php -S."""
    if k not in ("shell", "interpreter"):
        return
    for anc in g.snapshot.ancestors(proc.pid, limit=8):
        base = _base(anc.comm)
        if base in BOUNDARIES or anc.pid == 1 or any(n in SOCKET_ACTIVATORS for n in names(anc)):
            return
        if proc.exe and anc.exe == proc.exe:
            continue  # a pre-fork worker of the same program (gunicorn, uwsgi, apache): not spawned by it
        listen = g.listens_outside(anc)
        ak = kind(anc)
        # a shell between the service and this process inherits its listening socket; it is not the service
        if any(n in SERVICES for n in names(anc)) or (listen is not None and ak not in ("netcat", "shell")):
            what = f"listens on {listen.local}" if listen else "a network service"
            if f.network:
                f.raise_to(Tier.HIGH, f"spawned by exposed service {_label(anc)} ({what})")
                f.strong = True
            else:
                f.raise_to(Tier.MEDIUM, f"{k} spawned by exposed service {_label(anc)} ({what}), no connection seen")
            return


def _masquerade(f: _Finding, proc: Process) -> None:
    """Names that hide what a process is. A fake kernel thread is medium on its own."""
    why = _disguised(proc)
    if why and why not in " ".join(f.reasons):
        if f.tier is None and why.startswith(("named like a kernel thread", "comm ")):
            f.raise_to(Tier.MEDIUM, why)
        elif f.tier is not None:
            f.reasons.append(why)
        f.ugly = f.ugly or f.tier is not None
    comm = _norm(_base(proc.comm))
    exe = _norm(_base(proc.exe)) if proc.exe else ""
    if f.tier is None:
        return
    if comm in SERVICES and exe and exe in SHELLS | INTERPRETERS | NETCATS:
        f.reasons.append(f"named {proc.comm!r} but its executable is {proc.exe}")
        f.ugly = True
    if proc.argv and _norm(_base(proc.argv[0])) in SERVICES and exe in SHELLS | INTERPRETERS | NETCATS:
        f.reasons.append(f"argv[0] {proc.argv[0]!r} disguises {proc.exe}")
        f.ugly = True


def _context(f: _Finding, proc: Process, ctx: HuntContext) -> None:
    """Ugly details raise a low to medium; roles and approved destinations lower the tier, and
    approved networks never raise one."""
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
        f.reasons.append("its command line opens /dev/tcp or /dev/udp")
        f.ugly = True
    approved = ctx.approved_for(host) if host else None
    if ctx.approved and host and approved is None:
        f.reasons.append(f"destination {host} is outside the approved networks")
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
    _ipc_relay(f, proc, k, g)
    _relay_role(f, proc, g)
    _relay_parent(f, proc, k, g)
    _service_parent(f, proc, k, g)
    _masquerade(f, proc)
    if f.tier is None:
        return None
    _context(f, proc, ctx)
    extra = {"kind": k}
    if f.kind:
        extra["technique"] = f.kind
    if proc.identity:
        extra["identity"] = proc.identity
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
        extra=extra,
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
