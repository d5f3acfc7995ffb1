"""Audit policy, read from a host's inventory variables.

Every variable is optional; the defaults are the strict reading of ../CHECKS.md.

=========================  ==================================================  ==========
variable                   meaning                                             default
=========================  ==================================================  ==========
harden_egress_allow        destinations new outbound traffic may reach: CIDR   [] (only
                           strings, or ``{net: CIDR, ports: [443, "8000-8080"]}``  "names a
                                                                               destination")
harden_dns_resolvers       approved (logging) resolvers: IP addresses          []
harden_allowed_binaries    netcat-likes tolerated here: names (``socat``) or   []
                           absolute paths (``/usr/bin/socat``)
harden_probe_addresses     public addresses the egress judge uses as "an       203.0.113.77,
                           arbitrary destination" (never contacted)            2001:db8:4::77
harden_required_sensors    behavioural sensors that must run here (ids of      [] (any
                           :mod:`hardening.sensors`: falco, auditd, mde...)    running one)
harden_log_collectors      where logs may be forwarded: ``host``,              [] (any
                           ``host:port``, ``[v6]:port``, a CIDR, or            destination)
                           ``{host: ..., port: N}``
=========================  ==================================================  ==========

Example::

    >>> p = Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24"]})
    >>> str(p.egress_allow[0].net)
    '198.18.0.0/24'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PolicyError(ValueError):
    """An inventory variable holds a value harden cannot use."""


DNS_PORT = 53
#: Every inventory variable :meth:`Policy.from_vars` reads (the inventory loader keeps exactly these).
VARIABLES = (
    "harden_egress_allow", "harden_dns_resolvers", "harden_allowed_binaries", "harden_probe_addresses",
    "harden_required_sensors", "harden_log_collectors",
)  # fmt: skip


@dataclass(frozen=True)
class PortRange:
    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


@dataclass(frozen=True)
class AllowedDestination:
    """One entry of ``harden_egress_allow``: a network and optionally ports (empty = any)."""

    net: IPNetwork
    ports: tuple[PortRange, ...] = ()

    def covers(self, net: IPNetwork, ports: tuple[PortRange, ...] = ()) -> bool:
        """True when traffic to ``net`` on ``ports`` (empty = any port) stays inside this entry."""
        if net.version != self.net.version or not net.subnet_of(self.net):  # type: ignore[arg-type]
            return False
        if not self.ports:
            return True
        return bool(ports) and all(any(a.first <= p.first and p.last <= a.last for a in self.ports) for p in ports)


@dataclass(frozen=True)
class LogCollector:
    """One entry of ``harden_log_collectors``: a host name or a network, and optionally a port."""

    name: str = ""  # a host name (lower case), or "" for a network entry
    net: IPNetwork | None = None
    port: int | None = None

    def covers(self, host: str, addresses: tuple[str, ...], port: int) -> bool:
        """A forwarder's destination (as configured, and the addresses it resolves to) is this collector."""
        if self.port is not None and self.port != port:
            return False
        if self.name:
            return host.lower().rstrip(".") == self.name
        nets = [ipaddress.ip_network(a) for a in addresses]
        return (
            bool(nets)
            and self.net is not None
            and all(
                n.version == self.net.version and n.subnet_of(self.net)  # type: ignore[arg-type]
                for n in nets
            )
        )

    def label(self) -> str:
        where = self.name or str(self.net)
        return where if self.port is None else f"{where}:{self.port}"


@dataclass(frozen=True)
class Policy:
    egress_allow: tuple[AllowedDestination, ...] = ()
    dns_resolvers: tuple[IPAddress, ...] = ()
    allowed_binaries: tuple[str, ...] = ()
    probe_addresses: tuple[IPAddress, ...] = (
        ipaddress.ip_address("203.0.113.77"),
        ipaddress.ip_address("2001:db8:4::77"),
    )
    required_sensors: tuple[str, ...] = ()
    log_collectors: tuple[LogCollector, ...] = ()

    @classmethod
    def from_vars(cls, hostvars: Mapping[str, Any]) -> Policy:
        """Read the ``harden_*`` variables; raises :class:`PolicyError` naming the bad one."""
        return cls(
            egress_allow=tuple(_destination(v) for v in _as_list(hostvars, "harden_egress_allow")),
            dns_resolvers=tuple(
                _address(v, "harden_dns_resolvers") for v in _as_list(hostvars, "harden_dns_resolvers")
            ),
            allowed_binaries=tuple(
                _string(v, "harden_allowed_binaries") for v in _as_list(hostvars, "harden_allowed_binaries")
            ),
            probe_addresses=tuple(
                _address(v, "harden_probe_addresses") for v in _as_list(hostvars, "harden_probe_addresses")
            )
            or cls.probe_addresses,
            required_sensors=tuple(dict.fromkeys(_sensor(v) for v in _as_list(hostvars, "harden_required_sensors"))),
            log_collectors=tuple(_collector(v) for v in _as_list(hostvars, "harden_log_collectors")),
        )

    @property
    def egress_permitted(self) -> tuple[AllowedDestination, ...]:
        """What new outbound traffic may reach: ``harden_egress_allow`` plus DNS (port 53) to each
        ``harden_dns_resolvers`` address. The checks, the egress role and ``harden verify`` all
        use this one rule; a resolver never comes from the host.

        >>> [str(d.net) for d in Policy.from_vars({"harden_dns_resolvers": ["192.0.2.53"]}).egress_permitted]
        ['192.0.2.53/32']
        """
        dns = tuple(
            AllowedDestination(ipaddress.ip_network(a), (PortRange(DNS_PORT, DNS_PORT),)) for a in self.dns_resolvers
        )
        return self.egress_allow + tuple(d for d in dns if d not in self.egress_allow)

    def permits(self, address: IPAddress, port: int) -> bool:
        """``address``:``port`` is inside :attr:`egress_permitted` (a callback there is no finding)."""
        net = ipaddress.ip_network(address)
        return any(d.covers(net, (PortRange(port, port),)) for d in self.egress_permitted)

    def to_json(self) -> dict[str, Any]:
        return {
            "egress_allow": [
                {"net": str(d.net), "ports": [f"{r.first}-{r.last}" for r in d.ports]} for d in self.egress_allow
            ],
            "dns_resolvers": [str(a) for a in self.dns_resolvers],
            "allowed_binaries": list(self.allowed_binaries),
            "required_sensors": list(self.required_sensors),
            "log_collectors": [c.label() for c in self.log_collectors],
        }


def _as_list(hostvars: Mapping[str, Any], name: str) -> list[Any]:
    value = hostvars.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in (p.strip() for p in value.split(",")) if v]
    if isinstance(value, list | tuple):
        return list(value)
    raise PolicyError(f"{name}: expected a list, got {type(value).__name__}")


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise PolicyError(f"{name}: expected non-empty strings, got {value!r}")
    return value


def _sensor(value: Any) -> str:
    from hardening.sensors import SENSORS

    text = str(value).strip().lower()
    if text not in SENSORS:
        raise PolicyError(
            f"harden_required_sensors: {value!r} is not a sensor harden knows ({', '.join(sorted(SENSORS))})"
        )
    return text


_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?")


def _collector(value: Any) -> LogCollector:
    """``host``, ``host:port``, ``[v6]:port``, an address or CIDR, or ``{host: ..., port: N}``.

    >>> _collector("198.18.0.1:6514").label(), _collector("siem.example.org").label()
    ('198.18.0.1/32:6514', 'siem.example.org')
    """
    what = "harden_log_collectors"
    if isinstance(value, Mapping):
        host, port = str(value.get("host", "")).strip(), value.get("port")
    else:
        text = str(value).strip()
        host, port = text, None
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\s]+):(\d+)", text)
        if m:
            host, port = (m.group(1) or m.group(3)), int(m.group(2) or m.group(4))
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{what}: bad port in {value!r}") from exc
        if not 0 < port < 65536:
            raise PolicyError(f"{what}: bad port in {value!r}")
    host = host.strip("[]")
    try:
        return LogCollector(net=ipaddress.ip_network(host, strict=False), port=port)
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
        raise PolicyError(f"{what}: {value!r} is neither a host name, an address nor a network")
    return LogCollector(name=host.lower().rstrip("."), port=port)


def _address(value: Any, name: str) -> IPAddress:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError as exc:
        raise PolicyError(f"{name}: {value!r} is not an IP address") from exc


def _network(value: Any, name: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError as exc:
        raise PolicyError(f"{name}: {value!r} is not an address or CIDR network") from exc


def _ports(value: Any) -> tuple[PortRange, ...]:
    out = []
    for item in value if isinstance(value, list | tuple) else [value]:
        text = str(item).strip()
        first, _, last = text.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError as exc:
            raise PolicyError(f"harden_egress_allow: bad port {item!r}") from exc
        if not (0 <= lo <= hi <= 65535):
            raise PolicyError(f"harden_egress_allow: bad port range {item!r}")
        out.append(PortRange(lo, hi))
    return tuple(out)


def _destination(value: Any) -> AllowedDestination:
    if isinstance(value, Mapping):
        if "net" not in value:
            raise PolicyError(f"harden_egress_allow: entry {dict(value)!r} has no 'net'")
        ports = _ports(value["ports"]) if value.get("ports") not in (None, "", []) else ()
        return AllowedDestination(_network(value["net"], "harden_egress_allow"), ports)
    return AllowedDestination(_network(value, "harden_egress_allow"))
