"""A proposed allowlist from evidence: pure, reviewable, never applied by itself.

:func:`propose_host` turns one host's :class:`~hardening.allowlist.collect.HostEvidence` into
the policy variables the remediation reads (``harden_dns_resolvers``,
``harden_egress_allow``), each entry carrying the evidence that put it there; host names are
resolved by the caller's ``resolve`` function (the controller's resolver: say so in review,
CDNs rotate). :func:`merge` unites hosts into a group's proposal. :func:`render_vars` writes
it as a group_vars/host_vars file with one comment per entry.

Every value written is built from :mod:`ipaddress` objects and integers, never from host
text; host text only appears in comments, with control characters and line breaks removed.

Example::

    >>> from hardening.allowlist.evidence import Need
    >>> p = propose_host("web1", (Need("resolver", "192.0.2.53", 53, "udp", "/etc/resolv.conf: nameserver"),), (),
    ...                  resolve=lambda name: ())
    >>> [str(a) for a in p.resolvers]
    ['192.0.2.53']
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hardening.allowlist.collect import Seen
from hardening.allowlist.evidence import Need

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], tuple[IPAddress, ...]]
MAX_WHY = 6  # evidence lines kept per entry


@dataclass(frozen=True)
class Entry:
    """One proposed destination: an address, its ports, and why (evidence lines)."""

    address: IPAddress
    ports: tuple[int, ...]
    why: tuple[str, ...]

    @property
    def net(self) -> str:
        return f"{self.address}/{self.address.max_prefixlen}"


@dataclass(frozen=True)
class Proposal:
    hosts: tuple[str, ...]
    resolvers: tuple[IPAddress, ...]
    resolver_why: dict[str, tuple[str, ...]] = field(default_factory=dict)
    entries: tuple[Entry, ...] = ()
    suspicious: tuple[str, ...] = ()  # "host: address:port by exe (user)": never proposed
    unresolved: tuple[str, ...] = ()  # names the controller could not resolve, with their evidence

    def to_json(self) -> dict[str, object]:
        return {
            "hosts": list(self.hosts),
            "harden_dns_resolvers": [
                {"address": str(a), "why": list(self.resolver_why.get(str(a), ()))} for a in self.resolvers
            ],
            "harden_egress_allow": [{"net": e.net, "ports": list(e.ports), "why": list(e.why)} for e in self.entries],
            "suspicious": list(self.suspicious),
            "unresolved": list(self.unresolved),
        }


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _clean(text: str, limit: int = 160) -> str:
    """Host text for a one-line YAML comment: printable characters only."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def propose_host(host: str, needs: Sequence[Need], suspicious: Sequence[Seen], resolve: Resolve) -> Proposal:
    """One host's proposal from its evidence (see the module docstring)."""
    resolvers: dict[str, IPAddress] = {}
    rwhy: dict[str, list[str]] = {}
    ports: dict[IPAddress, set[int]] = {}
    why: dict[IPAddress, list[str]] = {}
    unresolved: list[str] = []
    for n in needs:
        src = _clean(f"{host} {n.source}")
        if n.kind == "resolver":
            addr = _ip(n.host)
            if addr is None:
                unresolved.append(_clean(f"{n.host} (a resolver must be an address): {src}"))
                continue
            resolvers.setdefault(str(addr), addr)
            rwhy.setdefault(str(addr), []).append(src)
            if n.port == 53:
                continue
        literal = _ip(n.host)
        addrs = (literal,) if literal is not None else resolve(n.host)
        if not addrs:
            unresolved.append(_clean(f"{n.host}:{n.port} ({n.kind}): {src}"))
            continue
        for a in addrs:
            ports.setdefault(a, set()).add(n.port)
            label = n.kind if literal is not None else f"{n.kind} {n.host} -> {a}"
            why.setdefault(a, []).append(_clean(f"{label}: {src}"))
    entries = tuple(
        Entry(a, tuple(sorted(ports[a])), tuple(dict.fromkeys(why[a]))[:MAX_WHY])
        for a in sorted(ports, key=lambda x: (x.version, int(x)))
    )
    sus = tuple(
        _clean(f"{host}: {s.address}:{s.port} by {s.exe or s.comm or '?'} ({s.user or '?'}, {s.held_back})")
        for s in suspicious
    )
    return Proposal(
        hosts=(host,),
        resolvers=tuple(resolvers.values()),
        resolver_why={k: tuple(dict.fromkeys(v))[:MAX_WHY] for k, v in rwhy.items()},
        entries=entries,
        suspicious=sus,
        unresolved=tuple(dict.fromkeys(unresolved)),
    )


def merge(proposals: Iterable[Proposal]) -> Proposal:
    """The union of several hosts' proposals (a group's)."""
    ps = list(proposals)
    resolvers: dict[str, IPAddress] = {}
    rwhy: dict[str, list[str]] = {}
    ports: dict[IPAddress, set[int]] = {}
    why: dict[IPAddress, list[str]] = {}
    for p in ps:
        for a in p.resolvers:
            resolvers.setdefault(str(a), a)
            rwhy.setdefault(str(a), []).extend(p.resolver_why.get(str(a), ()))
        for e in p.entries:
            ports.setdefault(e.address, set()).update(e.ports)
            why.setdefault(e.address, []).extend(e.why)
    return Proposal(
        hosts=tuple(h for p in ps for h in p.hosts),
        resolvers=tuple(resolvers.values()),
        resolver_why={k: tuple(dict.fromkeys(v))[:MAX_WHY] for k, v in rwhy.items()},
        entries=tuple(
            Entry(a, tuple(sorted(ports[a])), tuple(dict.fromkeys(why[a]))[:MAX_WHY])
            for a in sorted(ports, key=lambda x: (x.version, int(x)))
        ),
        suspicious=tuple(s for p in ps for s in p.suspicious),
        unresolved=tuple(dict.fromkeys(u for p in ps for u in p.unresolved)),
    )


def render_vars(p: Proposal, title: str, version: str) -> str:
    """A group_vars/host_vars YAML file: the two policy variables, one comment per entry."""
    lines = [
        "---",
        f"# Proposed by harden allowlist {version} for {_clean(title, 80)} from the evidence of: "
        + _clean(", ".join(p.hosts), 400),
        "# REVIEW BEFORE USE. Nothing here is applied by itself: copy what you accept into your",
        "# inventory's group_vars/host_vars. Every entry says why it is here. Names were resolved by",
        "# the controller at proposal time (CDNs rotate addresses: prefer a mirror or a proxy).",
        "# harden_dns_resolvers: the resolvers hosts may use. Listing one also says it is approved and",
        "# logs queries (dns.query_logging then accepts hosts that use it directly): check that it does.",
        "harden_dns_resolvers:" + ("" if p.resolvers else " []"),
    ]
    for a in p.resolvers:
        reasons = p.resolver_why.get(str(a), ())
        lines.append(f'  - "{a}"' + (f"  # {reasons[0]}" if reasons else ""))
        lines += [f"  #   also: {r}" for r in reasons[1:]]
    lines.append("harden_egress_allow:" + ("" if p.entries else " []  # the egress role refuses an empty allowlist"))
    for e in p.entries:
        lines.append(f'  - {{net: "{e.net}", ports: [{", ".join(str(x) for x in e.ports)}]}}  # {e.why[0]}')
        lines += [f"  #   also: {w}" for w in e.why[1:]]
    if p.unresolved:
        lines.append("# Named by the configuration but not resolved here (add them by hand if needed):")
        lines += [f"#   {u}" for u in p.unresolved[:50]]
    if p.suspicious:
        lines.append("# NOT PROPOSED: seen from shells, interpreters, netcat-likes, users' processes or programs")
        lines.append("# outside system directories (investigate; add one by hand only if you know it):")
        lines += [f"#   {s}" for s in p.suspicious[:50]]
    return "\n".join(lines) + "\n"
