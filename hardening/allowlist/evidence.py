"""What a host needs to reach, read from its own configuration: pure parsers, text in, needs out.

Each parser takes the text of one kind of configuration file (as the collector printed it,
``==> path <==`` blocks for globs) and returns :class:`Need` values: a destination (address
or host name as configured), a port and protocol, and the evidence (file and line). Nothing
here resolves names or touches the network; the proposal (:mod:`hardening.allowlist.propose`)
does that on the controller.

Host data is hostile: every parser bounds what it keeps (line length, count) and accepts
only destinations that look like host names or IP addresses (:func:`destination`).

Example::

    >>> [(n.kind, n.host, n.port, n.proto) for n in resolv_conf("nameserver 192.0.2.53\\n", "/etc/resolv.conf")]
    [('resolver', '192.0.2.53', 53, 'udp')]
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_LINE = 512
MAX_NEEDS = 256  # per parser and file kind
_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?")
_BLOCK = re.compile(r"^==> (.*) <==$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ldap": 389, "ldaps": 636, "tcp": 514, "udp": 514}


@dataclass(frozen=True)
class Need:
    """One destination the host's configuration says it uses."""

    kind: str  # resolver | repository | ntp | proxy | log | directory | connection
    host: str  # an IP address or a host name, as configured
    port: int
    proto: str  # tcp | udp
    source: str  # where it was read: "path: line" (bounded, for a person)

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "host": self.host, "port": self.port, "proto": self.proto, "source": self.source}


def destination(text: str) -> str | None:
    """``text`` as a destination: an IP address (``[v6]``, zone ids dropped) or a host name; else None.

    >>> destination("[2001:db8::1]"), destination("deb.debian.org"), destination("$(id)")
    ('2001:db8::1', 'deb.debian.org', None)
    """
    t = text.strip().strip("[]").split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        pass
    return t.rstrip(".").lower() if _NAME.fullmatch(t) and not t.replace(".", "").isdigit() else None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "localhost.localdomain", "ip6-localhost")


def _port(text: str | None, default: int) -> int | None:
    if text is None or text == "":
        return default
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def blocks(text: str, default_path: str) -> Iterator[tuple[str, str]]:
    """(path, line) of a collector section: ``==> path <==`` headers (several files) or one file."""
    path = default_path
    for raw in text.splitlines():
        m = _BLOCK.match(raw)
        if m:
            path = m.group(1)
            continue
        line = raw[:MAX_LINE].strip()
        if line and not line.startswith(("#", ";", "!", "%")):  # whole-line comments only: '#' is data in dnsmasq
            yield path, line


def _src(path: str, line: str) -> str:
    shown = "".join(c if c.isprintable() else "?" for c in f"{path}: {line}")
    return shown[:200]


def _need(kind: str, host: str, port: int | None, proto: str, path: str, line: str) -> Need | None:
    dest = destination(host)
    if dest is None or port is None or is_loopback(dest):
        return None
    return Need(kind, dest, port, proto, _src(path, line))


def _collect(items: Iterator[Need | None]) -> tuple[Need, ...]:
    out: list[Need] = []
    for n in items:
        if n is not None and n not in out:
            out.append(n)
            if len(out) >= MAX_NEEDS:
                break
    return tuple(out)


def url_need(kind: str, url: str, path: str, line: str) -> Need | None:
    """A URL's host and port (scheme default), as a TCP need.

    >>> url_need("repository", "https://deb.debian.org/debian", "x", "x").port
    443
    """
    try:
        u = urlsplit(url.strip().strip('"').strip("'"))
        port = u.port
    except ValueError:
        return None
    if not u.hostname or u.scheme.lower() not in _DEFAULT_PORTS:
        return None
    return _need(kind, u.hostname, port or _DEFAULT_PORTS[u.scheme.lower()], "tcp", path, line)


# ------------------------------------------------------------------------------ resolvers


def resolv_conf(text: str, path: str = "/etc/resolv.conf") -> tuple[Need, ...]:
    """``nameserver`` lines (resolv.conf, systemd-resolved's upstream resolv.conf)."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            w = line.split()
            if len(w) >= 2 and w[0] == "nameserver":
                yield _need("resolver", w[1], 53, "udp", p, line)

    return _collect(gen())


def resolved_conf(text: str, path: str = "/etc/systemd/resolved.conf") -> tuple[Need, ...]:
    """systemd-resolved ``DNS=`` and ``FallbackDNS=`` (``addr[:port][%iface][#name]`` words)."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            key, sep, value = line.partition("=")
            if sep and key.strip() in ("DNS", "FallbackDNS"):
                for word in value.split():
                    addr = word.split("#", 1)[0]
                    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([0-9.]+)(?::(\d+))?|([0-9A-Fa-f:]+)", addr)
                    if m:
                        host = m.group(1) or m.group(3) or m.group(5)
                        yield _need("resolver", host, _port(m.group(2) or m.group(4), 53), "udp", p, line)

    return _collect(gen())


def dnsmasq_servers(text: str, path: str = "/etc/dnsmasq.conf") -> tuple[Need, ...]:
    """dnsmasq ``server=`` upstreams (``server=/domain/addr#port`` too)."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            key, sep, value = line.partition("=")
            if sep and key.strip() == "server":
                addr = value.strip().rsplit("/", 1)[-1]
                host, _, port = addr.partition("#")
                yield _need("resolver", host.split("@", 1)[0], _port(port, 53), "udp", p, line)

    return _collect(gen())


# ------------------------------------------------------------------------- repositories


def apt_sources(text: str, path: str = "/etc/apt/sources.list") -> tuple[Need, ...]:
    """One-line ``deb [opts] URI ...`` entries and deb822 ``URIs:`` fields."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            w = line.split()
            if w and w[0] in ("deb", "deb-src"):
                rest = w[1:]
                if rest and rest[0].startswith("["):
                    while rest and not rest[0].endswith("]"):
                        rest = rest[1:]
                    rest = rest[1:]
                if rest:
                    yield url_need("repository", rest[0], p, line)
            elif line.lower().startswith("uris:"):
                for url in line.split(":", 1)[1].split():
                    yield url_need("repository", url, p, line)

    return _collect(gen())


def yum_repos(text: str, path: str = "/etc/yum.repos.d") -> tuple[Need, ...]:
    """``baseurl=``, ``mirrorlist=`` and ``metalink=`` of enabled sections (yum/dnf .repo files)."""

    def gen() -> Iterator[Need | None]:
        enabled = True
        pending: list[tuple[str, str, str]] = []
        for p, line in blocks(text, path):
            if line.startswith("["):
                yield from (url_need("repository", u, pp, ln) for u, pp, ln in pending if enabled)
                pending, enabled = [], True
                continue
            key, sep, value = line.partition("=")
            key = key.strip().lower()
            if not sep:
                continue
            if key == "enabled":
                enabled = value.strip() not in ("0", "false", "no")
            elif key in ("baseurl", "mirrorlist", "metalink"):
                pending += [(u, p, line) for u in re.split(r"[\s,]+", value.strip()) if u]
        yield from (url_need("repository", u, pp, ln) for u, pp, ln in pending if enabled)

    return _collect(gen())


# ----------------------------------------------------------------------------- time, proxies


def ntp_servers(text: str, path: str = "/etc/chrony/chrony.conf") -> tuple[Need, ...]:
    """chrony / ntpd ``server``, ``pool``, ``peer`` lines; timesyncd ``NTP=``/``FallbackNTP=``."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            w = line.split()
            if len(w) >= 2 and w[0] in ("server", "pool", "peer"):
                port = None
                if "port" in w[2:]:
                    i = w.index("port", 2)
                    port = w[i + 1] if i + 1 < len(w) else "x"
                yield _need("ntp", w[1], _port(port, 123), "udp", p, line)
            key, sep, value = line.partition("=")
            if sep and key.strip() in ("NTP", "FallbackNTP"):
                for word in value.split():
                    yield _need("ntp", word, 123, "udp", p, line)

    return _collect(gen())


def proxies(text: str, path: str = "/etc/environment") -> tuple[Need, ...]:
    """HTTP(S) proxies: ``http_proxy=`` (any case), apt ``Acquire::http(s)::Proxy``, yum/dnf ``proxy=``."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            m = re.match(r'(?i)(?:export\s+)?(?:https?|ftp|all)_proxy\s*=\s*"?([^"\s]+)', line)
            m = m or re.match(r'(?i)acquire::(?:https?|ftp)::proxy(?:::[^\s"]+)?\s+"([^"]+)"', line)
            m = m or re.match(r"(?i)proxy\s*=\s*(\S+)", line)
            if m and m.group(1).lower() not in ("direct", "false", "_none_", "none"):
                yield url_need("proxy", m.group(1), p, line)

    return _collect(gen())


# --------------------------------------------------------------------------------- logging


_RSYSLOG_LEGACY = re.compile(
    r"(?<![\w@])(@@?)(?:\([^)]*\))?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(?::(\d+))?\s*(?:;.*)?$"
)


def rsyslog_forwards(text: str, path: str = "/etc/rsyslog.conf") -> tuple[Need, ...]:
    """rsyslog legacy ``@host[:port]`` (UDP) / ``@@host[:port]`` (TCP) and ``action(type="omfwd" ...)``."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            m = _RSYSLOG_LEGACY.search(line)
            if m and not line.lstrip().startswith(("$", "module(", "input(")):
                proto = "tcp" if m.group(1) == "@@" else "udp"
                yield _need("log", m.group(2), _port(m.group(3), 514), proto, p, line)
            if re.search(r'type\s*=\s*"omfwd"', line):
                target = re.search(r'target\s*=\s*"([^"]+)"', line)
                port = re.search(r'port\s*=\s*"(\d+)"', line)
                proto = re.search(r'protocol\s*=\s*"(\w+)"', line)
                if target:
                    pr = "tcp" if proto and proto.group(1).lower() == "tcp" else "udp"
                    yield _need("log", target.group(1), _port(port.group(1) if port else None, 514), pr, p, line)

    return _collect(gen())


def syslog_ng_forwards(text: str, path: str = "/etc/syslog-ng/syslog-ng.conf") -> tuple[Need, ...]:
    """syslog-ng ``network("host" port(N) transport("tcp"))``, ``tcp("host")``, ``udp("host")``, ``syslog(...)``."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            for m in re.finditer(r'\b(network|tcp6?|udp6?|syslog)\s*\(\s*"([^"]+)"([^;]*)', line):
                driver, host, rest = m.group(1), m.group(2), m.group(3)
                port = re.search(r"port\s*\(\s*(\d+)\s*\)", rest)
                transport = re.search(r'transport\s*\(\s*"?(\w+)"?\s*\)', rest)
                proto = "udp" if driver.startswith("udp") else "tcp"
                if driver in ("network", "syslog"):
                    proto = transport.group(1).lower() if transport else ("udp" if driver == "network" else "tcp")
                    proto = "tcp" if proto in ("tcp", "tls") else "udp"
                default = 601 if driver == "syslog" else 514
                yield _need("log", host, _port(port.group(1) if port else None, default), proto, p, line)

    return _collect(gen())


def audisp_remote(text: str, path: str = "/etc/audit/audisp-remote.conf") -> tuple[Need, ...]:
    """audisp-remote ``remote_server`` and ``port`` (TCP, default 60)."""
    server, port, where = "", "60", ""
    for p, line in blocks(text, path):
        key, sep, value = line.partition("=")
        if sep and key.strip() == "remote_server":
            server, where = value.strip(), f"{p}: {line}"
        elif sep and key.strip() == "port":
            port = value.strip()
    if not server:
        return ()
    n = _need("log", server, _port(port, 60), "tcp", where.split(": ", 1)[0], where.split(": ", 1)[-1])
    return (n,) if n else ()


def journal_upload(text: str, path: str = "/etc/systemd/journal-upload.conf") -> tuple[Need, ...]:
    """systemd-journal-upload ``URL=`` (default port 19532)."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            key, sep, value = line.partition("=")
            if sep and key.strip() == "URL":
                url = value.strip()
                try:
                    u = urlsplit(url if "://" in url else f"https://{url}")
                    port = u.port
                except ValueError:
                    continue
                if u.hostname:
                    yield _need("log", u.hostname, port or 19532, "tcp", p, line)

    return _collect(gen())


# ------------------------------------------------------------------------------ directory


def directory_servers(text: str, path: str = "/etc/sssd/sssd.conf") -> tuple[Need, ...]:
    """LDAP/Kerberos/AD servers: sssd (``ldap_uri``, ``ad_server``, ``krb5_server``, ``ipa_server``),
    krb5.conf (``kdc``, ``admin_server``), ldap.conf ``URI``, nslcd ``uri``."""

    def gen() -> Iterator[Need | None]:
        for p, line in blocks(text, path):
            key, sep, value = line.partition("=")
            k = key.strip().lower()
            if not sep:
                w = line.split(None, 1)
                k, value = (w[0].lower(), w[1]) if len(w) == 2 else ("", "")
            words = [v for v in re.split(r"[\s,]+", value.strip()) if v and v != "_srv_"]
            if k in ("ldap_uri", "ldap_backup_uri", "uri"):
                yield from (url_need("directory", w, p, line) for w in words)
            elif k in ("ad_server", "ad_backup_server", "ipa_server", "ipa_backup_server"):
                for w in words:
                    yield _need("directory", w, 389, "tcp", p, line)
                    yield _need("directory", w, 88, "tcp", p, line)
            elif k in ("krb5_server", "krb5_backup_server", "kdc", "admin_server", "kpasswd_server"):
                default = {"admin_server": 749, "kpasswd_server": 464}.get(k, 88)
                for w in words:
                    host, _, port = w.rpartition(":") if w.count(":") == 1 else (w, "", "")
                    yield _need("directory", host, _port(port, default), "tcp", p, line)

    return _collect(gen())


__all__ = [
    "Need",
    "apt_sources",
    "audisp_remote",
    "blocks",
    "destination",
    "directory_servers",
    "dnsmasq_servers",
    "journal_upload",
    "ntp_servers",
    "proxies",
    "resolv_conf",
    "resolved_conf",
    "rsyslog_forwards",
    "syslog_ng_forwards",
    "url_need",
    "yum_repos",
]
