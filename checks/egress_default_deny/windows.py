"""egress.default_deny on Windows: would a new outbound TCP connection or UDP flow from any process be admitted?

Judged on the ActiveStore (the policy in force: local rules and GPO merged). Every profile
must be enabled with ``DefaultOutboundAction=Block`` (a disabled profile filters nothing for
networks classified that way; ``NotConfigured`` means the built-in default, Allow). An
enabled outbound Allow rule that names no program, service or app package, no remote
address (or networks that cover anywhere in effect: ``0.0.0.0/0.0.0.0``,
``1.0.0.0-255.255.255.255``, decided from the parsed networks) and carries TCP or UDP (protocol
Any, TCP or UDP) admits a reverse shell from any process to anywhere on the profiles it applies
to: default deny is defeated there, whatever the ports. So do several such rules whose remote
networks together cover anywhere (the union per protocol and port, e.g. 32 rules of one /5 each
on TCP 443; at least 1/16 of public unicast space, the per-rule threshold).

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.facts.windows import WindowsFacts, wide_unions
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("firewall",)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    fw = facts.firewall
    problems = []
    for p in fw.profiles:
        if not p.is_enabled:
            problems.append(f"the {p.name} profile is disabled (Enabled={p.enabled}): nothing is filtered on it")
        elif not p.blocks_outbound:
            problems.append(
                f"the {p.name} profile allows outbound by default (DefaultOutboundAction={p.default_outbound})"
            )
    blocking = {p.name for p in fw.profiles if p.is_enabled and p.blocks_outbound}
    wide = [
        r
        for r in fw.allow_rules
        if r.any_program and r.any_address and (r.carries_tcp or r.carries_udp) and r.profiles() & blocking
    ]
    for r in wide[:8]:
        ports = ",".join(r.remote_ports) or "Any"
        problems.append(
            f"outbound Allow rule {r.label()} admits any program to any address (ports {ports}) "
            f"on {', '.join(sorted(r.profiles() & blocking))}"
        )
    if len(wide) > 8:
        problems.append(f"and {len(wide) - 8} more such rules")
    unions = wide_unions(fw.allow_rules, blocking)
    problems += [f"{u.describe()} on {', '.join(sorted(blocking))}" for u in unions[:4]]
    ev = Evidence(
        {
            "profiles": [
                {"name": p.name, "enabled": p.enabled, "default_outbound": p.default_outbound} for p in fw.profiles
            ],
            "allow_any_rules": [r.to_json() for r in wide],
            "allow_any_unions": [
                {"protocol": u.proto, "port": u.port, "rules": [r.name for r in u.rules]} for u in unions
            ],
            "outbound_allow_rules": len(fw.allow_rules),
        },
        facts.excerpt(*AREAS, limit=3000),
    )
    if problems:
        return Verdict(
            Status.FAIL,
            "New outbound connections are not denied by default: "
            + "; ".join(problems)
            + ". Set-NetFirewallProfile -All -Enabled True -DefaultOutboundAction Block (by GPO where one "
            "applies, keeping the traffic GPO itself needs) and give every outbound Allow rule a program "
            "or remote addresses.",
            ev,
        )
    return Verdict(
        Status.PASS,
        "Outbound is blocked by default on the Domain, Private and Public profiles (ActiveStore) and no "
        f"enabled Allow rule admits any program to any address ({len(fw.allow_rules)} outbound Allow rules judged)",
        ev,
    )
