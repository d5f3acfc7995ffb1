"""dns.query_logging: are this host's DNS queries logged by the resolver that answers them?

Judges effect: every nameserver in /etc/resolv.conf must lead to a resolver that is
running, listening on that address port 53, and configured to log queries (dnsmasq
``log-queries``, unbound ``log-queries``/``log-replies``, BIND ``querylog`` or a
``category queries`` channel; systemd-resolved logs nothing, so its stub passes only when
it forwards solely to such a resolver), or be an approved logging resolver from policy
(``harden_dns_resolvers``). A config that says "log" with the daemon not running fails.

Example::

    verdict = evaluate(gather(sections), Policy())
    verdict.status   # Status.FAIL when 127.0.0.53 is systemd-resolved's stub
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hardening.facts.dns import DnsFacts, QueryLogging
from hardening.facts.linux import LinuxFacts
from hardening.model import Evidence, Remedy, Status, Verdict
from hardening.policy import Policy

SECTIONS = (
    "dns.resolv_link",
    "dns.resolv_conf",
    "dns.resolved_upstream",
    "dns.procs",
    "dns.udp",
    "dns.udp6",
    "dns.dnsmasq_conf",
    "dns.unbound",
    "dns.named",
    "dns.rndc",
)
GLIBC_DEFAULT = "127.0.0.1"  # glibc queries the local host when resolv.conf names no server


@dataclass(frozen=True)
class Hop:
    """How one nameserver's queries are (or are not) logged."""

    nameserver: str
    logged: bool | None  # None: cannot tell because facts are unreadable (-> error)
    how: str  # for a person
    approved: bool = False


def _approved(ns: str, policy: Policy) -> bool:
    try:
        addr = ipaddress.ip_address(ns.split("%", 1)[0])
    except ValueError:
        return False
    return addr in policy.dns_resolvers


def _configured_hint(facts: DnsFacts) -> str:
    on = [q for q in facts.configured_logging if q.enabled]
    if not on:
        return ""
    names = ", ".join(f"{q.resolver} ({q.source})" for q in on)
    return f"; the installed config of {names} enables query logging but that resolver is not answering here"


def _hop(ns: str, facts: DnsFacts, policy: Policy, depth: int = 0) -> Hop:
    if _approved(ns, policy):
        return Hop(ns, True, f"{ns} is an approved logging resolver (policy harden_dns_resolvers)", True)
    if not facts.is_local(ns):
        extra = "" if facts.local_addresses is not None else " (host addresses unknown: `ip` missing)"
        return Hop(
            ns,
            False,
            f"{ns} is a resolver outside this host that is not an approved logging resolver "
            f"(harden_dns_resolvers){extra}",
        )
    lis = facts.listener_for(ns)
    if lis is None:
        return Hop(ns, False, f"nothing listens on {ns} port 53{_configured_hint(facts)}")
    owner = facts.owner_of(lis)
    by_uid = ""
    if owner is None:
        owner = facts.owner_by_uid(lis)
        if owner is not None:
            by_uid = (
                f"; attributed by the socket's owner uid {lis.uid}: /proc/{owner.pid}/fd is unreadable and it is "
                "the only resolver process of that uid"
            )
    if owner is None:
        blind = [p for p in facts.processes if not p.fd_readable]
        if blind:
            return Hop(
                ns,
                None,
                f"cannot tell which process answers on {ns}:53 (socket inode {lis.inode}): "
                f"/proc/<pid>/fd of {', '.join(p.comm for p in blind)} is unreadable — run the audit as root "
                "(root needs CAP_SYS_PTRACE to read another user's fds, e.g. inside a container)",
            )
        return Hop(
            ns,
            False,
            f"{ns}:53 is answered by a process that is not a known resolver (socket inode {lis.inode}, "
            f"uid {lis.uid}); its queries cannot be shown to be logged",
        )
    where = f"{ns} is answered by {owner.kind} (pid {owner.pid}, bound to {lis.address}:53{by_uid})"
    if owner.kind == "systemd-resolved":
        ups = facts.resolved_upstreams
        if depth > 0 or not ups:
            return Hop(
                ns,
                False,
                f"{where}, which keeps no query log, and it forwards to "
                f"{'no configured upstream (compiled-in fallback servers)' if not ups else 'itself'}",
            )
        hops = [_hop(u, facts, policy, depth + 1) for u in ups]
        bad = [h for h in hops if not h.logged]
        chain = "; ".join(h.how for h in hops)
        if any(h.logged is None for h in hops):
            return Hop(ns, None, f"{where}, forwarding to {', '.join(ups)}: {chain}")
        if bad:
            return Hop(
                ns,
                False,
                f"{where}, which keeps no query log, forwarding to {', '.join(ups)}: {'; '.join(h.how for h in bad)}",
            )
        return Hop(
            ns,
            True,
            f"{where} (no log of its own), forwarding only to logging resolvers: {chain}",
            any(h.approved for h in hops),
        )
    q: QueryLogging | None = facts.logging_of(owner.pid)
    if q is None or q.enabled is None:
        why = q.source if q else "no logging facts"
        return Hop(ns, False, f"{where}, whose query logging cannot be confirmed ({why})")
    if not q.enabled:
        return Hop(ns, False, f"{where}, which does not log queries ({q.source})")
    return Hop(ns, True, f"{where}, which logs queries ({q.source}) to {q.destination}")


def _advice(hops: list[Hop]) -> str:
    return (
        "point /etc/resolv.conf only at a local resolver that logs queries (dnsmasq log-queries, "
        "unbound log-queries: yes, BIND querylog yes) and keep it running, or list the approved "
        "logging resolvers in harden_dns_resolvers"
    )


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    """Judge DNS query logging (see module docstring)."""
    dns = facts.dns
    excerpt = facts.sections.excerpt(*SECTIONS)
    notes: list[str] = []
    servers = list(dns.resolv.nameservers)
    if not servers:
        servers = [GLIBC_DEFAULT]
        notes.append(
            "/etc/resolv.conf names no nameserver: the C library then asks 127.0.0.1"
            if dns.resolv.present
            else "/etc/resolv.conf does not exist: the C library then asks 127.0.0.1"
        )
    hops = [_hop(ns, dns, policy) for ns in servers]
    for opt in dns.resolv.options:
        if opt in ("use-vc", "rotate") or opt.startswith(("use-vc", "rotate")):
            notes.append(f"resolv.conf options {opt}")
    if dns.resolved_dns_over_tls and dns.resolved_dns_over_tls.lower() not in ("no", "false", "0"):
        notes.append(f"systemd-resolved DNSOverTLS={dns.resolved_dns_over_tls}")
    for _, q in dns.process_logging:
        notes.extend(q.notes)
    if any(h.approved for h in hops):
        notes.append(
            "queries to approved resolvers are logged there only if port 53 (and DoT/DoH) to any "
            "other server is blocked: the egress checks judge that"
        )
    ev = Evidence(
        {
            "resolv_conf": {
                "link": dns.resolv.link,
                "real_path": dns.resolv.real_path,
                "nameservers": list(dns.resolv.nameservers),
                "options": list(dns.resolv.options),
            },
            "resolved_upstreams": list(dns.resolved_upstreams) if dns.resolved_upstreams is not None else None,
            "resolvers_running": [{"pid": p.pid, "kind": p.kind, "argv": list(p.argv)} for p in dns.processes],
            "listeners": [f"{x.proto} {x.address}:{x.port}" for x in dns.listeners],
            "nameservers": [
                {"nameserver": h.nameserver, "logged": h.logged, "how": h.how, "approved": h.approved} for h in hops
            ],
            "configured_logging": [
                {"resolver": q.resolver, "enabled": q.enabled, "source": q.source} for q in dns.configured_logging
            ],
            "notes": notes,
        },
        excerpt,
    )
    tail = f" ({'; '.join(notes)})" if notes else ""
    unknown = [h for h in hops if h.logged is None]
    bad = [h for h in hops if h.logged is False]
    if bad:
        return Verdict(
            Status.FAIL,
            "DNS queries are not all logged: " + "; ".join(h.how for h in bad) + f"; {_advice(hops)}{tail}",
            ev,
            Remedy("harden_dns_logging", notes=tuple(resolver_notes(dns.resolv.nameservers))),
        )
    if unknown:
        return Verdict(Status.ERROR, "; ".join(h.how for h in unknown) + tail, ev)
    return Verdict(Status.PASS, "DNS queries are logged: " + "; ".join(h.how for h in hops) + tail, ev)


def resolver_notes(nameservers: Iterable[str]) -> list[str]:
    """What the operator should know about the host's own resolvers: the role never uses them.

    >>> resolver_notes(["198.18.0.1", "127.0.0.1"])
    ["the host's resolv.conf names 198.18.0.1: the role forwards only to harden_dns_resolvers from the inventory"]
    """
    outside = [s for s in nameservers if not s.startswith("127.") and s != "::1"][:8]
    if not outside:
        return []
    shown = ", ".join(s if _PLAIN_ADDR.fullmatch(s) else repr(s) for s in outside)
    return [f"the host's resolv.conf names {shown}: the role forwards only to harden_dns_resolvers from the inventory"]


_PLAIN_ADDR = re.compile(r"[0-9A-Fa-f:.]{2,45}")
