"""egress.allowlist on Windows: does every outbound Allow rule name its remote addresses?

A program or a port alone is not enough (``powershell.exe`` allowed to any address is a
reverse shell; so is anything on 443). Each enabled outbound Allow rule on a profile that
blocks by default must name remote addresses (``Any`` and ``Internet`` do not); with a
policy allowlist (``harden_egress_allow``) every named address must fall inside it.
Keywords that depend on the host's network (LocalSubnet, DNS, DHCP, DefaultGateway,
Intranet...) cannot be checked against the allowlist and are reported as such. Rules whose
remote networks together cover anywhere (per protocol and port) count as "any address". Without
default deny there is no allowlist.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy.from_vars({"harden_egress_allow": ["10.0.0.0/8"]}))
"""

from __future__ import annotations

from hardening.facts.windows import ADDRESS_KEYWORDS, FirewallRule, WindowsFacts, address_networks, wide_unions
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy, PortRange

AREAS = ("firewall",)


def _outside(rule: FirewallRule, policy: Policy) -> list[str]:
    """The rule's remote addresses that the policy allowlist does not cover (keywords included)."""
    bad = []
    for text in rule.remote_addresses:
        nets = address_networks(text)
        if nets is None:
            bad.append(f"{text} (keyword/unparsed)" if text in ADDRESS_KEYWORDS else f"{text} (unparsed)")
            continue
        ports = _rule_ports(rule)
        for net in nets:
            if not any(d.covers(net, ports) for d in policy.egress_permitted):
                bad.append(text)
                break
    return bad


def _rule_ports(rule: FirewallRule) -> tuple[PortRange, ...]:
    """The rule's remote ports as ranges; () when any port (``Any``, empty or unparsed).

    >>> [(r.first, r.last) for r in _rule_ports_of(("53", "8000-8080"))]
    [(53, 53), (8000, 8080)]
    """
    return _rule_ports_of(rule.remote_ports)


def _rule_ports_of(texts: tuple[str, ...]) -> tuple[PortRange, ...]:
    out = []
    for t in texts:
        first, dash, last = t.strip().partition("-")
        last = last if dash else first
        if not (first.isdigit() and last.isdigit() and 0 < int(first) <= int(last) < 65536):
            return ()  # "Any", a keyword, "53-", "60-50": treated as any port (never narrower than it is)
        out.append(PortRange(int(first), int(last)))
    return tuple(out)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    fw = facts.firewall
    open_profiles = [p.name for p in fw.profiles if not (p.is_enabled and p.blocks_outbound)]
    blocking = {p.name for p in fw.profiles if p.is_enabled and p.blocks_outbound}
    rules = [r for r in fw.allow_rules if r.profiles() & blocking]
    anywhere = [r for r in rules if r.any_address]
    # rules that each name a part of the Internet and together name all of it (per protocol and port)
    for u in wide_unions(rules, blocking):
        anywhere += [r for r in u.rules if r not in anywhere]
    outside = [(r, _outside(r, policy)) for r in rules if r not in anywhere] if policy.egress_allow else []
    outside = [(r, bad) for r, bad in outside if bad]
    ev = Evidence(
        {
            "open_profiles": open_profiles,
            "rules_to_any_address": [r.to_json() for r in anywhere],
            "rules_outside_policy": [{**r.to_json(), "outside": bad} for r, bad in outside],
            "outbound_allow_rules": len(rules),
            "policy_egress_allow": policy.to_json()["egress_allow"],
        },
        facts.excerpt(*AREAS, limit=3000),
    )
    if open_profiles:
        return Verdict(
            Status.FAIL,
            f"No allowlist: outbound is not blocked by default on {', '.join(open_profiles)}, so every "
            "destination is admitted there. Block outbound by default first (see egress.default_deny).",
            ev,
        )
    offences = [
        f"{r.label()} ({r.program or r.service or 'any program'}, ports {','.join(r.remote_ports) or 'Any'}) "
        "to any address"
        for r in anywhere[:8]
    ]
    offences += [f"{r.label()} to {', '.join(bad[:4])} outside harden_egress_allow" for r, bad in outside[:8]]
    if offences:
        more = len(anywhere) + len(outside) - len(offences)
        return Verdict(
            Status.FAIL,
            f"{len(anywhere) + len(outside)} of {len(rules)} outbound Allow rules admit unnamed or unapproved "
            "destinations: "
            + "; ".join(offences)
            + (f"; and {more} more" if more > 0 else "")
            + ". Give each rule -RemoteAddress with the approved destinations (or disable it).",
            ev,
        )
    scope = " inside harden_egress_allow" if policy.egress_allow else ""
    return Verdict(
        Status.PASS,
        f"All {len(rules)} outbound Allow rules name their remote addresses{scope}",
        ev,
    )
