"""DNS facts: where this host's queries go and whether whatever answers them logs them.

Parses the ``dns.*`` sections of ``dns.sh``: ``/etc/resolv.conf`` (and its symlink),
systemd-resolved's upstreams, the running resolvers from ``/proc`` (hex-encoded comm and
NUL-separated argv, socket inodes), the port-53 sockets of ``/proc/net/{udp,tcp}{,6}``
(the TCP ones from the processes piece's ``processes.tcp{,6}`` when it ran beside dns.sh),
and each resolver's query-logging settings: dnsmasq config files (includes followed here,
as dnsmasq does), ``unbound-checkconf -o``, ``named-checkconf -p`` and ``rndc status``.

Pure: no I/O. Raises :class:`FactError` when the sections the judgement needs are
missing or cut short.

Example::

    facts = parse(parse_sections(output, nonce))
    facts.resolv.nameservers          # ('127.0.0.1',)
    facts.listener_for("127.0.0.1")   # Listener(proto='udp', address='0.0.0.0', ...)
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass

from hardening.facts.areas import FactArea
from hardening.facts.processes import CAP as PROCESSES_CAP
from hardening.facts.sections import RC_NOT_FOUND, FactError, Sections, iter_lines, marked, parse_uint, require_sections
from hardening.model import Platform

DNSMASQ_DEFAULT_CONF = "/etc/dnsmasq.conf"
UNBOUND_DEFAULT_CONF = "/etc/unbound/unbound.conf"
BIG_ENDIAN_MACHINES = ("s390", "s390x", "ppc", "ppc64", "mips", "mips64", "sparc", "sparc64", "m68k")
# Every section dns.sh prints, whatever the host has.
SECTIONS = (
    "dns.resolv_link",
    "dns.resolv_conf",
    "dns.resolved_upstream",
    "dns.resolvectl",
    "dns.resolved_conf",
    "dns.procs",
    "dns.addrs",
    "dns.udp",
    "dns.udp6",
    "dns.tcp",
    "dns.tcp6",
    "dns.dnsmasq_conf",
    "dns.unbound",
    "dns.unbound_conf",
    "dns.named",
    "dns.rndc",
)
KINDS = {
    "dnsmasq": "dnsmasq",
    "unbound": "unbound",
    "named": "named",
    "systemd-resolve": "systemd-resolved",
    "systemd-resolved": "systemd-resolved",
}


@dataclass(frozen=True)
class ResolvConf:
    """``/etc/resolv.conf`` as the C library reads it."""

    present: bool
    link: str  # symlink target, "" when a plain file
    real_path: str
    nameservers: tuple[str, ...]
    options: tuple[str, ...]


@dataclass(frozen=True)
class ResolverProcess:
    """A running DNS daemon seen in /proc."""

    pid: int
    uid: int | None
    comm: str
    argv: tuple[str, ...]
    sockets: frozenset[int]
    fd_readable: bool

    @property
    def kind(self) -> str:
        """``dnsmasq``, ``unbound``, ``named``, ``systemd-resolved`` or the comm."""
        return KINDS.get(self.comm, self.comm)


@dataclass(frozen=True)
class Listener:
    """A socket bound to local port 53 (udp unconnected, or tcp LISTEN)."""

    proto: str  # udp | tcp
    address: str
    port: int
    inode: int
    uid: int


@dataclass(frozen=True)
class QueryLogging:
    """What one resolver configuration says about query logging."""

    resolver: str
    enabled: bool | None  # None: cannot tell
    source: str  # where the setting comes from, for a person
    destination: str = ""  # where the log goes
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DnsFacts:
    resolv: ResolvConf
    resolved_upstreams: tuple[str, ...] | None  # None: /run/systemd/resolve/resolv.conf absent
    resolved_dns_over_tls: str  # DNSOverTLS= from resolved.conf ("" unset)
    processes: tuple[ResolverProcess, ...]
    listeners: tuple[Listener, ...]
    local_addresses: tuple[str, ...] | None  # None: `ip` missing
    process_logging: tuple[tuple[int, QueryLogging], ...]  # (pid, logging) per running resolver
    configured_logging: tuple[QueryLogging, ...]  # installed configs, running or not

    def logging_of(self, pid: int) -> QueryLogging | None:
        return next((q for p, q in self.process_logging if p == pid), None)

    def listener_for(self, nameserver: str) -> Listener | None:
        """The udp socket the kernel would deliver a query to ``nameserver``:53 to."""
        addr = _ip(nameserver)
        if addr is None:
            return None
        cands = [x for x in self.listeners if x.proto == "udp" and x.port == 53]
        exact = [x for x in cands if _ip(x.address) == addr]
        if exact:
            return exact[0]
        if addr.version == 4:
            mapped = [x for x in cands if x.address == f"::ffff:{addr}"]
            wild = [x for x in cands if x.address == "0.0.0.0"] + [x for x in cands if x.address == "::"]
            return (mapped + wild or [None])[0]
        return next((x for x in cands if x.address == "::"), None)

    def owner_of(self, listener: Listener) -> ResolverProcess | None:
        return next((p for p in self.processes if listener.inode in p.sockets), None)

    def owner_by_uid(self, listener: Listener) -> ResolverProcess | None:
        """The resolver a socket belongs to by its owner uid, when its fds cannot be read.

        Where root lacks CAP_SYS_PTRACE (containers, hardened hosts) ``/proc/<pid>/fd`` of
        another user's process is unreadable, but ``/proc/net/{udp,tcp}`` still give each
        socket's owner uid: when exactly one resolver process of that uid runs, and its fds are
        the unreadable ones, the socket is its. None when that is ambiguous.
        """
        same = [p for p in self.processes if p.uid == listener.uid]
        if len(same) == 1 and not same[0].fd_readable:
            return same[0]
        return None

    def is_local(self, nameserver: str) -> bool:
        addr = _ip(nameserver)
        if addr is None:
            return False
        if addr.is_loopback:
            return True
        return any(_ip(a) == addr for a in self.local_addresses or ())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _need(sections: Sections, name: str, what: str) -> str:
    rc = sections.rc(name)
    if name not in sections:
        raise FactError(f"the collector output has no {name} section ({what}): output cut short?")
    if rc is None:
        raise FactError(f"{what} output was cut short (section {name} never closed)")
    return sections.text(name)


# -- resolv.conf ---------------------------------------------------------------------------


def parse_resolv_conf(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Nameservers and options of a resolv.conf text.

    >>> parse_resolv_conf("nameserver 127.0.0.53\\noptions edns0 trust-ad\\n")
    (('127.0.0.53',), ('edns0', 'trust-ad'))
    """
    servers: list[str] = []
    options: dict[str, None] = {}  # in order, each once: a host repeating a line a million times costs one
    for line in iter_lines(text):
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver" and _ip(words[1]) is not None:
            if len(servers) < 3:  # glibc uses at most 3 (MAXNS)
                servers.append(words[1])
        elif words and words[0] == "options":
            options.update(dict.fromkeys(words[1:]))
    return tuple(servers), tuple(options)


def _resolv(sections: Sections) -> ResolvConf:
    text = _need(sections, "dns.resolv_conf", "/etc/resolv.conf")
    rc = sections.rc("dns.resolv_conf")
    link = real = ""
    for line in iter_lines(sections.text("dns.resolv_link")):
        key, _, value = line.partition(" ")
        if key == "link":
            link = value
        elif key == "real":
            real = value
    if rc == RC_NOT_FOUND:
        return ResolvConf(False, link, real, (), ())
    if rc != 0:
        err = sections.stderr("dns.resolv_conf").strip()
        raise FactError(f"/etc/resolv.conf is unreadable ({err or f'exit {rc}'}): audit needs root")
    servers, options = parse_resolv_conf(text)
    return ResolvConf(True, link, real, servers, options)


# -- /proc ---------------------------------------------------------------------------------


def _unhex(text: str) -> bytes:
    text = text.strip()
    if len(text) % 2 or re.fullmatch(r"[0-9a-fA-F]*", text) is None:
        raise FactError("dns.procs: malformed hex field in the process list")
    return bytes.fromhex(text)


def parse_procs(text: str) -> tuple[ResolverProcess, ...]:
    """Resolver processes from the ``dns.procs`` section."""
    out: list[ResolverProcess] = []
    cur: dict[str, str] = {}

    def flush() -> None:
        if not cur:
            return
        argv = tuple(a.decode("utf-8", "replace") for a in _unhex(cur.get("cmdline", "")).split(b"\0"))
        if argv and argv[-1] == "":
            argv = argv[:-1]
        out.append(
            ResolverProcess(
                pid=int(cur["pid"]),
                uid=parse_uint(cur.get("uid", "")),
                comm=_unhex(cur.get("comm", "")).decode("utf-8", "replace").rstrip("\n"),
                argv=argv,
                sockets=frozenset(n for n in (parse_uint(s) for s in cur.get("sockets", "").split()) if n is not None),
                fd_readable=cur.get("fd_readable") == "yes",
            )
        )
        cur.clear()

    for line in iter_lines(text):
        key, _, value = line.partition(" ")
        if key == "@proc":
            flush()
            if parse_uint(value) is None:
                raise FactError(f"dns.procs: bad process id {value[:40]!r}")
            cur["pid"] = value.strip()
        elif cur and key in ("uid", "comm", "cmdline", "sockets", "fd_readable"):
            cur[key] = value.strip()
    flush()
    return tuple(out)


def _hex_address(text: str, big_endian: bool) -> str:
    raw = bytes.fromhex(text)
    if not big_endian:  # the kernel prints each 32-bit word in host byte order
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    raise ValueError(f"bad address length {len(raw)}")


def parse_proc_net(text: str, proto: str, big_endian: bool = False) -> tuple[Listener, ...]:
    """Port-53 listeners from /proc/net/{udp,tcp}{,6} lines.

    >>> parse_proc_net(" 1: 0100007F:0035 00000000:0000 07 0:0 0:0 0 0 0 44152 2", "udp")[0].address
    '127.0.0.1'
    """
    want_state = "07" if proto == "udp" else "0A"
    out = []
    for line in iter_lines(text):
        f = line.split()
        if len(f) < 10 or not f[0].endswith(":") or ":" not in f[1]:
            continue
        addr, _, port = f[1].partition(":")
        try:
            if f[3].upper() != want_state:
                continue
            out.append(Listener(proto, _hex_address(addr, big_endian), int(port, 16), int(f[9]), int(f[7])))
        except ValueError as exc:
            raise FactError(f"/proc/net/{proto}: cannot parse line {line.strip()!r}: {exc}") from exc
    return tuple(out)


# The processes piece's TCP tables stand in for dns.tcp and dns.tcp6 (see processes_tcp).
TCP_FROM_PROCESSES = ("processes.tcp", "processes.tcp6")
# dns.sh's grep for port-53 lines, and a line in a state no listening-phase line has.
_PORT_53 = re.compile(r"^ *[0-9]+: [0-9A-Fa-f]+:0035 .*$", re.MULTILINE)
_PAST_LISTENING = re.compile(r"^ *[0-9]+: \S+ \S+ (?!0[Aa] |03 )[0-9A-Fa-f]{2} ", re.MULTILINE)


def tcp_from_processes(sections: Sections) -> bool:
    """dns.sh said (section dns.tcp_from) that the processes piece's tables hold its TCP sockets."""
    return marked(sections, "dns.tcp_from", "processes")


def required_sections(sections: Sections) -> tuple[str, ...]:
    """The sections :func:`parse` cannot do without, for this run of the collector."""
    if tcp_from_processes(sections):
        return tuple(n for n in SECTIONS if not n.startswith("dns.tcp")) + TCP_FROM_PROCESSES
    return SECTIONS


def processes_tcp(sections: Sections, table: str, big_endian: bool = False) -> tuple[Listener, ...]:
    """Port-53 TCP listeners from the processes piece's whole ``/proc/net/<table>``.

    dns.sh leaves the TCP tables to the processes piece when both run (collector.py). That
    section is capped (``processes.CAP``). A cut one still holds every listener once it shows a
    line in a state other than LISTEN (0A) and SYN_RECV (03): the kernel prints the listening
    hash before the established one (``tcp_get_idx`` in net/ipv4/tcp_ipv4.c, shared by tcp6).
    Before Linux 4.4 a listener's SYN_RECV requests were printed right after it, so 03 tells
    nothing. The cut last line (its inode may be cut short) is dropped.

    >>> from hardening.facts.sections import parse_sections
    >>> t = " sl local\\n 0: 00000000:0035 00000000:0000 0A 0:0 0:0 0 101 0 777 1\\n"
    >>> s = parse_sections(f"@@n B processes.tcp\\n{t}@@n E processes.tcp 0\\n", "n")
    >>> processes_tcp(s, "tcp")[0].inode
    777
    """
    name = f"processes.{table}"
    text = _need(sections, name, f"/proc/net/{table}")
    rc = sections.rc(name)
    if rc != 0:
        if table == "tcp":
            raise FactError(f"/proc/net/tcp unreadable (exit {rc}): {sections.stderr(name).strip()[:200]}")
        return ()
    if len(sections[name].body) >= PROCESSES_CAP:
        text = text[: text.rfind("\n") + 1]
        if not _PAST_LISTENING.search(text):
            raise FactError(
                f"/proc/net/{table} was cut at {PROCESSES_CAP // 1048576} MiB among the listening sockets: "
                "cannot see every port-53 listener"
            )
    lines = "\n".join(m.group(0) for m in _PORT_53.finditer(text))
    return tuple(li for li in parse_proc_net(lines, "tcp", big_endian) if li.port == 53)


def parse_ip_addr(text: str) -> tuple[str, ...]:
    """Addresses from ``ip -o addr show``."""
    out = []
    for line in iter_lines(text):
        f = line.split()
        for i, word in enumerate(f[:-1]):
            if word in ("inet", "inet6"):
                out.append(f[i + 1].split("/", 1)[0])
    return tuple(out)


# -- dnsmasq -------------------------------------------------------------------------------


def parse_file_blocks(text: str) -> dict[str, str]:
    """``==> path <==`` blocks into {normalised path: content}."""
    blocks: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for line in iter_lines(text):
        m = re.fullmatch(r"==> (.*) <==", line)
        if m:
            cur = blocks.setdefault(posixpath.normpath(m.group(1)), [])
            continue
        if cur is not None:
            cur.append(line)
    return {k: "\n".join(v) for k, v in blocks.items()}


def _dnsmasq_dir_files(files: dict[str, str], spec: str) -> list[str]:
    """Files dnsmasq reads for ``conf-dir=<dir>[,ext...]`` (``*ext`` = only those)."""
    directory, *exts = spec.split(",")
    directory = posixpath.normpath(directory)
    only = [e[1:] for e in exts if e.startswith("*")]
    skip = [e for e in exts if e and not e.startswith("*")]
    out = []
    for path in sorted(files):
        if posixpath.dirname(path) != directory:
            continue
        name = posixpath.basename(path)
        if name.startswith(".") or name.endswith("~") or (name.startswith("#") and name.endswith("#")):
            continue
        if any(name.endswith(s) for s in skip) or (only and not any(name.endswith(s) for s in only)):
            continue
        out.append(path)
    return out


def _dnsmasq_options(argv: tuple[str, ...]) -> list[tuple[str, str]]:
    """(option, value) pairs from a dnsmasq command line, long names without ``--``."""
    short = {"-q": "log-queries", "-C": "conf-file", "-7": "conf-dir", "-8": "log-facility", "-p": "port"}
    takes_value = {"conf-file", "conf-dir", "log-facility", "port"}
    out: list[tuple[str, str]] = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        a = args[i]
        name = value = None
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if not eq:
                value = None
        elif a[:2] in short:
            name = short[a[:2]]
            value = a[2:] or None
        if name is not None:
            if value is None and name in takes_value and i + 1 < len(args):
                value = args[i + 1]
                i += 1
            out.append((name, value or ""))
        i += 1
    return out


_DNSMASQ_SPACES = str.maketrans("\r\v\f", "   ")


def dnsmasq_logging(argv: tuple[str, ...], files: dict[str, str]) -> QueryLogging:
    """Query logging of a dnsmasq started with ``argv``, reading config ``files``.

    Follows ``conf-file``/``conf-dir`` as dnsmasq does (main file ``-C`` or
    /etc/dnsmasq.conf, then ``-7`` dirs).
    """
    enabled_by = ""
    facility = ""
    port_zero = False
    notes: list[str] = []
    cmdline = _dnsmasq_options(argv)
    seen: set[str] = set()

    def apply(name: str, value: str, where: str) -> None:
        nonlocal enabled_by, facility, port_zero
        if name == "log-queries":
            enabled_by = enabled_by or f"log-queries{'=' + value if value else ''} ({where})"
        elif name == "log-facility":
            facility = value
        elif name == "port":
            port_zero = value.strip() == "0"
        elif name == "conf-file" and value:
            read_file(posixpath.normpath(value))
        elif name == "conf-dir" and value:
            for path in _dnsmasq_dir_files(files, value):
                read_file(path)

    def read_file(path: str) -> None:
        if path in seen or len(seen) > 64:
            return
        seen.add(path)
        if path not in files:
            notes.append(f"{path} was not read")
            return
        for raw in files[path].split("\n"):
            # As dnsmasq reads a file (option.c, read_file): fgets lines, so "\n" alone ends
            # one; "\r", "\v" and "\f" are spaces. ("log-facility=x\rlog-queries" is one
            # option for dnsmasq, with query logging off; str.splitlines() made it two.)
            line = raw.translate(_DNSMASQ_SPACES).strip(" \t")
            if not line or line.startswith("#"):
                continue
            name, _, value = line.partition("=")
            apply(name.strip(" \t"), value.strip(" \t"), path)

    for name, value in cmdline:
        if name not in ("conf-file", "conf-dir"):
            apply(name, value, "command line")
    mains = [v for n, v in cmdline if n == "conf-file"]
    for main in mains or [DNSMASQ_DEFAULT_CONF]:
        read_file(posixpath.normpath(main))
    for name, value in cmdline:
        if name == "conf-dir":
            apply(name, value, "command line")
    if port_zero:
        notes.append("port=0: DNS service disabled")
    if not enabled_by:
        return QueryLogging("dnsmasq", False, "no log-queries in the command line or config", "", tuple(notes))
    dest = f"log-facility={facility}" if facility else "syslog (facility DAEMON)"
    return QueryLogging("dnsmasq", True, enabled_by, dest, tuple(notes))


# -- unbound -------------------------------------------------------------------------------


def parse_unbound_checkconf(text: str) -> dict[str, dict[str, str]]:
    """``@config path`` blocks of ``opt=value`` lines into {path: {opt: value}}."""
    out: dict[str, dict[str, str]] = {}
    cur: dict[str, str] | None = None
    for line in iter_lines(text):
        if line.startswith("@config "):
            cur = out.setdefault(line[len("@config ") :].strip(), {})
        elif cur is not None and "=" in line:
            key, _, value = line.partition("=")
            cur[key.strip()] = value.strip()
    return out


def unbound_logging(options: dict[str, str], source: str) -> QueryLogging:
    """Query logging from ``unbound-checkconf -o`` values."""
    lq, lr = options.get("log-queries", ""), options.get("log-replies", "")
    if lq not in ("yes", "no") or lr not in ("yes", "no"):
        return QueryLogging("unbound", None, f"unbound-checkconf gave no answer for {source}: {lq or lr!r}")
    if options.get("use-syslog") == "no" and options.get("logfile"):
        dest = f"logfile {options['logfile']}"
    elif options.get("use-syslog") == "no":
        dest = "stderr"
    else:
        dest = "syslog"
    notes = ("tls-upstream: yes (DNS over TLS upstream)",) if options.get("tls-upstream") == "yes" else ()
    on = [k for k, v in (("log-queries", lq), ("log-replies", lr)) if v == "yes"]
    if on:
        return QueryLogging("unbound", True, f"{' and '.join(on)}: yes ({source})", dest, notes)
    return QueryLogging("unbound", False, f"log-queries: no and log-replies: no ({source})", dest, notes)


def unbound_raw_logging(files: dict[str, str]) -> QueryLogging:
    """Fallback when unbound-checkconf is missing: look at the config files as text."""
    found = {}
    for path, body in files.items():
        for m in re.finditer(r"^\s*(log-queries|log-replies)\s*:\s*\"?(yes|no)\"?", body, re.MULTILINE):
            found[m.group(1)] = (m.group(2), path)
    on = [f"{k}: yes in {p}" for k, (v, p) in found.items() if v == "yes"]
    src = "config files as text (unbound-checkconf missing; includes not resolved)"
    if on:
        return QueryLogging("unbound", True, "; ".join(on) + f" — {src}", "see use-syslog/logfile")
    return QueryLogging("unbound", False, f"no log-queries: yes — {src}")


# -- BIND ----------------------------------------------------------------------------------


def named_logging(checkconf: str, rndc: str | None) -> QueryLogging:
    """Query logging of BIND from ``rndc status`` (runtime) or ``named-checkconf -p``.

    ``querylog yes|no`` decides; without it, logging is on when a ``category queries``
    names a channel other than ``null`` (BIND ARM, ``querylog``).
    """
    channels = dict(re.findall(r"channel\s+\"?([\w.-]+)\"?\s*\{([^{}]*)\}", checkconf))
    cat = re.search(r"category\s+\"?queries\"?\s*\{([^{}]*)\}", checkconf)
    used = [c.strip().strip('"') for c in cat.group(1).split(";") if c.strip()] if cat else []
    real = [c for c in used if c != "null"]
    dests = []
    for c in real:
        body = channels.get(c, "")
        f = re.search(r"file\s+\"([^\"]+)\"", body)
        s = re.search(r"syslog\s*([\w]*)", body)
        if f:
            dests.append(f"channel {c}: file {f.group(1)}")
        elif s:
            dests.append(f"channel {c}: syslog {s.group(1)}".strip())
        else:
            dests.append(f"channel {c}")
    dest = "; ".join(dests) or "category queries -> default_syslog (named's default channel)"
    if rndc is not None:
        m = re.search(r"query logging is (ON|OFF)", rndc)
        if m:
            on = m.group(1) == "ON"
            return QueryLogging("named", on, f"rndc status: query logging is {m.group(1)}", dest if on else "")
    q = re.search(r"\bquerylog\s+\"?(yes|no|true|false|1|0)\"?\s*;", checkconf)
    if q:
        on = q.group(1) in ("yes", "true", "1")
        return QueryLogging("named", on, f"querylog {q.group(1)} (named-checkconf -p)", dest if on else "")
    if real:
        return QueryLogging("named", True, "logging category queries (named-checkconf -p)", dest)
    if used:
        return QueryLogging("named", False, "category queries goes to null only (named-checkconf -p)")
    return QueryLogging("named", False, "no querylog and no category queries (named-checkconf -p)")


# -- assembling ----------------------------------------------------------------------------


def _arg_after(argv: tuple[str, ...], flag: str) -> str:
    for i, a in enumerate(argv[:-1]):
        if a == flag:
            return argv[i + 1]
    return ""


def _resolved_dot(text: str) -> str:
    value = ""
    for m in re.finditer(r"^\s*DNSOverTLS\s*=\s*(\S*)", text, re.MULTILINE):
        value = m.group(1)
    return value


def parse(sections: Sections) -> DnsFacts:
    """All DNS facts of one collector run (see module docstring)."""
    shared = tcp_from_processes(sections)
    require_sections(sections, "dns", required_sections(sections))
    resolv = _resolv(sections)
    procs = parse_procs(_need(sections, "dns.procs", "resolver process list"))
    if sections.rc("dns.procs") != 0:
        raise FactError(f"listing resolver processes failed (exit {sections.rc('dns.procs')})")
    if sections.rc("dns.dnsmasq_conf") != 0:
        err = sections.stderr("dns.dnsmasq_conf").strip()[:200]
        raise FactError(f"reading dnsmasq configs failed (exit {sections.rc('dns.dnsmasq_conf')}): {err}")
    big = any(m in sections.text("meta.uname").split() for m in BIG_ENDIAN_MACHINES)
    listeners: list[Listener] = []
    for name, proto in (("dns.udp", "udp"), ("dns.tcp", "tcp"), ("dns.udp6", "udp"), ("dns.tcp6", "tcp")):
        if shared and proto == "tcp":
            listeners += processes_tcp(sections, name[4:], big)
            continue
        text = _need(sections, name, f"/proc/net/{name[4:]}")
        if not name.endswith("6") and sections.rc(name) not in (0, 1):
            raise FactError(f"/proc/net/{name[4:]} unreadable: {sections.stderr(name).strip()}")
        listeners += parse_proc_net(text, proto, big)
    upstream_rc = sections.rc("dns.resolved_upstream")
    upstreams = parse_resolv_conf(sections.text("dns.resolved_upstream"))[0] if upstream_rc == 0 else None
    addrs = parse_ip_addr(sections.text("dns.addrs")) if sections.rc("dns.addrs") == 0 else None
    dm_files = parse_file_blocks(sections.text("dns.dnsmasq_conf"))
    ub_rc = sections.rc("dns.unbound")
    ub = parse_unbound_checkconf(sections.text("dns.unbound")) if ub_rc == 0 else None
    ub_files = parse_file_blocks(sections.text("dns.unbound_conf"))
    ub_files_rc = sections.rc("dns.unbound_conf")
    named_conf = sections.text("dns.named") if sections.rc("dns.named") == 0 else None
    rndc = sections.text("dns.rndc") if sections.rc("dns.rndc") == 0 else None

    def unbound_for(config: str) -> QueryLogging:
        if ub is None:
            if ub_rc != RC_NOT_FOUND or ub_files_rc != 0:
                # unbound-checkconf failed (not missing), or a config file could not be read
                return QueryLogging(
                    "unbound", None, f"unbound settings unreadable (checkconf exit {ub_rc}, files exit {ub_files_rc})"
                )
            return unbound_raw_logging(ub_files)
        if config not in ub:
            return QueryLogging("unbound", None, f"{config} was not examined by unbound-checkconf")
        return unbound_logging(ub[config], config)

    def named_for() -> QueryLogging:
        if named_conf is None:
            err = sections.stderr("dns.named").strip()
            return QueryLogging("named", None, f"named-checkconf -p failed or missing: {err[:200]}")
        return named_logging(named_conf, rndc)

    per_proc: list[tuple[int, QueryLogging]] = []
    for p in procs:
        if p.kind == "dnsmasq":
            per_proc.append((p.pid, dnsmasq_logging(p.argv, dm_files)))
        elif p.kind == "unbound":
            per_proc.append((p.pid, unbound_for(_arg_after(p.argv, "-c") or UNBOUND_DEFAULT_CONF)))
        elif p.kind == "named":
            per_proc.append((p.pid, named_for()))
        elif p.kind == "systemd-resolved":
            q = QueryLogging("systemd-resolved", False, "systemd-resolved keeps no query log")
            per_proc.append((p.pid, q))
        else:
            q = QueryLogging(p.kind, None, f"harden cannot read {p.kind}'s logging settings")
            per_proc.append((p.pid, q))
    configured: list[QueryLogging] = []
    if DNSMASQ_DEFAULT_CONF in dm_files:
        configured.append(dnsmasq_logging(("dnsmasq", "-7", "/etc/dnsmasq.d"), dm_files))
    if ub is not None and UNBOUND_DEFAULT_CONF in ub:
        configured.append(unbound_for(UNBOUND_DEFAULT_CONF))
    if named_conf is not None:
        configured.append(named_logging(named_conf, None))
    return DnsFacts(
        resolv=resolv,
        resolved_upstreams=upstreams,
        resolved_dns_over_tls=_resolved_dot(sections.text("dns.resolved_conf")),
        processes=procs,
        listeners=tuple(listeners),
        local_addresses=addrs,
        process_logging=tuple(per_proc),
        configured_logging=tuple(configured),
    )


AREAS = (FactArea("dns", Platform.LINUX, parse, SECTIONS, order=20, piece="dns"),)
