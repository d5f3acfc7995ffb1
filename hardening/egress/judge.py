"""Egress judgement shared by the ``egress.*`` checks: probe a ruleset, summarise.

For one ruleset and one family, :func:`judge` sends the probes of
:func:`hardening.egress.evaluate.plan` and sorts the admitted ones:

Every probe goes out as a TCP SYN and as a UDP datagram; admissions carry their protocol.

- ``open_any``: an arbitrary destination admitted on port 4444 or on a port no rule
  names (TCP or UDP): default deny is defeated;
- ``open_ports``: an arbitrary destination admitted only on ports the rules name
  (``tcp dport 443 accept``): default deny holds, the allowlist does not;
- ``admitted``: the named destinations admitted, as (network, ports) for the allowlist.

Two shapes of "named" are judged as "any" (see :func:`_too_broad`): named destinations
that together cover at least 1/16 of the public unicast space on one port class
(``ip daddr 0.0.0.0/1 accept``), and an arbitrary address admitted on at least half of
all ports, even without port 4444 (``tcp dport { 1-4443, 4445-65535 } accept``).

Example::

    >>> from hardening.firewall.iptables import parse_save
    >>> rs = parse_save("*filter\\n:OUTPUT DROP [0:0]\\nCOMMIT\\n", 4, "iptables-nft")
    >>> judge(rs, 4, ("eth0",)).default_deny
    True
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from hardening.egress.evaluate import (
    PROBE_PORT,
    PROTOCOLS,
    PUBLIC,
    ProbePlan,
    ProbeResult,
    plan,
    public_count,
    run_probe,
)
from hardening.firewall.model import MEMO_RULES, Intervals, Ruleset
from hardening.policy import AllowedDestination, IPNetwork, Policy, PortRange


@dataclass(frozen=True)
class Admission:
    """A class of destinations admitted: networks x one port interval, and why."""

    nets: tuple[IPNetwork, ...]
    ports: PortRange
    result: ProbeResult
    arbitrary: bool  # the "any address" class
    span: tuple[int, int] = (0, 0)  # the address class as integers
    share: float = 0.0  # named but broad: the share of public unicast addresses admitted
    proto: str = "tcp"  # "tcp" (new connections) or "udp" (new flows)

    def dest_text(self) -> str:
        where = "any address" if self.arbitrary else ", ".join(str(n) for n in self.nets[:4])
        if not self.arbitrary and len(self.nets) > 4:
            where += f" (+{len(self.nets) - 4} networks)"
        if self.share:
            where += f" ({self.share:.0%} of all public addresses)"
        return f"{where} {port_text(self.ports, self.proto)}"

    def to_json(self) -> dict[str, object]:
        return {
            "destination": "any" if self.arbitrary else [str(n) for n in self.nets],
            "protocol": self.proto,
            "ports": port_text(self.ports, self.proto),
            "certain": self.result.certain,
            "why": self.result.describe(),
        }


def port_text(p: PortRange, proto: str = "tcp") -> str:
    """``on port 443`` (TCP, as before UDP was judged) or ``on UDP port 53``."""
    word = "" if proto == "tcp" else proto.upper() + " "
    if p.first == 0 and p.last == 65535:
        return f"on any {word}port"
    return f"on {word}port {p.first}" if p.first == p.last else f"on {word}ports {p.first}-{p.last}"


@dataclass(frozen=True)
class FamilyReport:
    family: int
    base_chains: tuple[str, ...]
    arbitrary: str
    open_any: tuple[Admission, ...]  # TCP and UDP
    open_ports: tuple[Admission, ...]  # TCP
    admitted: tuple[Admission, ...]  # named destination classes admitted (TCP)
    blocked: ProbeResult | None  # the arbitrary destination on 4444, when not admitted
    plan: ProbePlan
    udp_open_ports: tuple[Admission, ...] = ()  # UDP flows to any address on named ports
    udp_admitted: tuple[Admission, ...] = ()  # UDP flows to named destination classes

    def all_open_ports(self) -> tuple[Admission, ...]:
        """Any address on named ports, TCP then UDP."""
        return self.open_ports + self.udp_open_ports

    def all_admitted(self) -> tuple[Admission, ...]:
        """Named destinations admitted, TCP then UDP."""
        return self.admitted + self.udp_admitted

    @property
    def default_deny(self) -> bool:
        return not self.open_any

    @property
    def name(self) -> str:
        return f"IPv{self.family}"

    def headline(self) -> str:
        """One sentence on what decides this family."""
        if self.open_any:
            a = self.open_any[0]
            verb = "are admitted" if a.result.certain else "may be admitted"
            what = "new connections" if a.proto == "tcp" else "new flows"
            return f"{self.name}: {what} to {a.dest_text()} {verb} ({a.result.describe()})"
        if self.blocked is not None:
            return f"{self.name}: new connections to arbitrary addresses are blocked ({self.blocked.describe()})"
        return f"{self.name}: no arbitrary destination admitted"

    def per_protocol(self) -> dict[str, str]:
        """What each transport protocol may reach: any address on any port, any address on named
        ports only, named destinations only, or nothing."""
        out = {}
        for proto in PROTOCOLS:
            if any(a.proto == proto for a in self.open_any):
                out[proto] = "any address (default deny defeated)"
            elif any(a.proto == proto for a in self.all_open_ports()):
                ports = sorted({port_text(a.ports, "tcp") for a in self.all_open_ports() if a.proto == proto})
                out[proto] = "any address " + ", ".join(ports[:6])
            elif any(a.proto == proto for a in self.all_admitted()):
                out[proto] = "named destinations only"
            else:
                out[proto] = "nothing"
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "default_deny": self.default_deny,
            "base_chains": list(self.base_chains),
            "probe_address": self.arbitrary,
            "deciding": self.headline(),
            "per_protocol": self.per_protocol(),
            "open_to_any_address": [a.to_json() for a in self.open_any[:8]],
            "any_address_on_named_ports": [a.to_json() for a in self.all_open_ports()[:8]],
            "admitted_destinations": [a.to_json() for a in self.all_admitted()[:16]],
            "notes": list(self.plan.notes),
        }


def _addr_text(family: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


def _nets(family: int, lo: int, hi: int) -> tuple[IPNetwork, ...]:
    cls = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    return tuple(ipaddress.summarize_address_range(cls(lo), cls(hi)))


def judge(
    ruleset: Ruleset,
    family: int,
    interfaces: tuple[str, ...],
    policy: Policy | None = None,
) -> FamilyReport:
    """Probe ``ruleset`` for ``family`` and sort what is admitted.

    Pure over frozen values, so the last judgements are kept (by equal ruleset, family,
    interfaces and policy): hosts built from one configuration share one ruleset, and a
    fleet audit judges it once instead of once per host.
    """
    judged = _judge if ruleset.rule_count <= MEMO_RULES else _judge.__wrapped__
    return judged(ruleset, family, tuple(interfaces), policy or Policy())


@lru_cache(maxsize=64)
def _judge(ruleset: Ruleset, family: int, interfaces: tuple[str, ...], policy: Policy) -> FamilyReport:
    probe_addr = next((int(a) for a in policy.probe_addresses if a.version == family), None)
    extra_nets = [
        (int(d.net.network_address), int(d.net.broadcast_address))
        for d in policy.egress_permitted
        if d.net.version == family and d.net.prefixlen > 0
    ]
    extra_ports = [(p.first, p.last) for d in policy.egress_permitted for p in d.ports]
    pl = plan(ruleset, family, interfaces, probe_addr, extra_nets, extra_ports)
    named_classes = dict(pl.named)
    open_any: list[Admission] = []
    open_ports: list[Admission] = []
    admitted: dict[tuple[int, int, int, int, str], Admission] = {}
    blocked = None
    for probe in pl.probes():
        res = run_probe(ruleset, probe)
        cls = next((c for c in pl.ports if c[0] == probe.dport), (probe.dport, probe.dport, probe.dport))
        ports = PortRange(cls[1], cls[2])
        proto = probe.l4proto
        if probe.daddr == pl.arbitrary:
            if not res.admitted:
                if probe.dport == PROBE_PORT and blocked is None and proto == "tcp":
                    blocked = res
                continue
            adm = Admission((), ports, res, True, proto=proto)
            named_port = probe.dport in pl.named_ports and probe.dport != PROBE_PORT
            (open_ports if named_port else open_any).append(adm)
        elif res.admitted:
            hi = named_classes[probe.daddr]
            key = (probe.daddr, hi, cls[1], cls[2], proto)
            adm = Admission(_nets(family, probe.daddr, hi), ports, res, False, (probe.daddr, hi), proto=proto)
            admitted.setdefault(key, adm)
    broad, wide = [], []
    for proto in PROTOCOLS:
        b, w = _too_broad(
            family, pl, [a for a in admitted.values() if a.proto == proto], [a for a in open_ports if a.proto == proto]
        )
        broad += b
        wide += w
    open_any += wide + [a for a in broad if _unnamed(pl, a.ports)]
    open_ports = [a for a in open_ports if a not in wide] + [a for a in broad if not _unnamed(pl, a.ports)]
    open_any.sort(key=lambda a: (a.proto != "tcp", a.ports.first != PROBE_PORT, not a.result.certain))
    ports_seen = _dedupe(open_ports)
    named = _merge_addresses(family, _merge_ports(list(admitted.values())))
    return FamilyReport(
        family,
        tuple(f"{t.label} {c.name} (hook {c.hook}, policy {c.policy})" for t, c in ruleset.base_chains(family)),
        _addr_text(family, pl.arbitrary),
        tuple(_dedupe(open_any)),
        tuple(a for a in ports_seen if a.proto == "tcp"),
        tuple(a for a in named if a.proto == "tcp"),
        blocked,
        pl,
        tuple(a for a in ports_seen if a.proto != "tcp"),
        tuple(a for a in named if a.proto != "tcp"),
    )


BROAD_SHARE = 1 / 16  # named destinations covering this share of public space count as "any address"
WIDE_PORTS = 32768  # an arbitrary address admitted on this many ports counts as "any port"


def _unnamed(pl: ProbePlan, ports: PortRange) -> bool:
    """The port class holds the probe port or a port no rule names."""
    return ports.first <= PROBE_PORT <= ports.last or ports.first not in pl.named_ports


def _too_broad(
    family: int, pl: ProbePlan, named: list[Admission], open_ports: list[Admission]
) -> tuple[list[Admission], list[Admission]]:
    """Named destinations that are "any address" in effect, and port-only admissions that are
    "any port" in effect (see the module docstring)."""
    total = sum(b - a + 1 for a, b in PUBLIC[family].spans)
    broad = []
    for first, last in sorted({(a.ports.first, a.ports.last) for a in named}):
        same = sorted((a for a in named if (a.ports.first, a.ports.last) == (first, last)), key=lambda a: a.span)
        count = sum(public_count(family, *a.span) for a in same)
        if count >= total * BROAD_SHARE:
            nets = tuple(n for a in same for n in a.nets)
            broad.append(
                Admission(
                    nets, PortRange(first, last), same[0].result, False, same[0].span, count / total, same[0].proto
                )
            )
    ports = Intervals.of([(a.ports.first, a.ports.last) for a in open_ports])
    width = sum(b - a + 1 for a, b in ports.spans)
    return broad, (list(open_ports) if width >= WIDE_PORTS else [])


def _dedupe(items: list[Admission]) -> list[Admission]:
    """One entry per (admitting rules, interface-independent) with merged port text kept first."""
    seen: set[tuple[str, int, int, str]] = set()
    out = []
    for a in items:
        key = (a.result.describe(), a.ports.first, a.ports.last, a.proto)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _merge_ports(items: list[Admission]) -> list[Admission]:
    """Adjacent port classes of the same destination admitted by the same rules become one."""
    items.sort(key=lambda a: (a.proto, tuple(str(n) for n in a.nets), a.ports.first))
    out: list[Admission] = []
    for a in items:
        if out:
            last = out[-1]
            if (
                last.nets == a.nets
                and last.proto == a.proto
                and last.ports.last + 1 == a.ports.first
                and last.result.describe() == a.result.describe()
            ):
                ports = PortRange(last.ports.first, a.ports.last)
                out[-1] = Admission(a.nets, ports, last.result, False, a.span, proto=a.proto)
                continue
        out.append(a)
    return out


def _merge_addresses(family: int, items: list[Admission]) -> list[Admission]:
    """Adjacent address classes on the same ports admitted by the same rules become one."""
    items = sorted(items, key=lambda a: (a.proto, a.ports.first, a.ports.last, a.result.describe(), a.span))
    out: list[Admission] = []
    for a in items:
        if out:
            last = out[-1]
            if (
                last.ports == a.ports
                and last.proto == a.proto
                and last.span[1] + 1 == a.span[0]
                and last.result.describe() == a.result.describe()
            ):
                span = (last.span[0], a.span[1])
                out[-1] = Admission(_nets(family, *span), a.ports, last.result, False, span, proto=a.proto)
                continue
        out.append(a)
    out.sort(key=lambda a: (a.proto != "tcp", a.span, a.ports.first))
    return out


def outside_policy(report: FamilyReport, allow: tuple[AllowedDestination, ...]) -> list[Admission]:
    """Admitted destination classes not inside the policy allowlist."""
    bad = []
    for a in report.all_admitted():
        ok = all(any(d.covers(net, (a.ports,)) or (d.covers(net) and not d.ports) for d in allow) for net in a.nets)
        if not ok:
            bad.append(a)
    return bad


__all__ = ["Admission", "FamilyReport", "Intervals", "judge", "outside_policy", "port_text"]
