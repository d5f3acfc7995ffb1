"""egress.allowlist: does every rule that admits new outbound traffic name its destinations?

A port alone is not enough (reverse shells use 443 and 53): an arbitrary address must
not be reachable on any port. With a policy allowlist (``harden_egress_allow``),
every admitted destination and port must fall inside it. Judged on the probes of
:mod:`hardening.egress.judge`, for the running ruleset and, when it loads at boot and
could be evaluated, the persisted one. Without default deny there is no allowlist.

Example::

    verdict = evaluate(gather(sections), Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24"]}))
"""

from __future__ import annotations

from hardening.egress.judge import FamilyReport, outside_policy
from hardening.egress.report import evidence_facts, excerpt, host_judgement
from hardening.facts.linux import LinuxFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

#: How messages name the policy: the allowlist, and DNS to the approved resolvers.
POLICY_NAMES = "harden_egress_allow (and port 53 to harden_dns_resolvers)"


def _offences(label: str, r: FamilyReport, policy: Policy) -> list[str]:
    out = []
    for a in r.all_open_ports()[:6]:
        out.append(f"{label} {r.name}: {a.dest_text()} is admitted ({a.result.describe()})")
    if policy.egress_allow:
        for a in outside_policy(r, policy.egress_permitted)[:6]:
            why = a.result.describe()
            out.append(f"{label} {r.name}: {a.dest_text()} is admitted but outside {POLICY_NAMES} ({why})")
    return out


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    fw = facts.firewall
    hj = host_judgement(fw, policy)
    ev = Evidence(evidence_facts(fw, hj), excerpt(facts.sections))
    open_fams = [hj.running[f] for f in hj.families if not hj.running[f].default_deny]
    if open_fams:
        return Verdict(
            Status.FAIL,
            "No allowlist in effect: everything is admitted ("
            + "; ".join(r.headline() for r in open_fams)
            + "). Deny by default, then accept only named destinations.",
            ev,
        )
    offences = []
    for f in hj.families:
        offences += _offences("running", hj.running[f], policy)
    if hj.persisted is not None:
        for f in hj.families:
            p = hj.persisted[f]
            if p.default_deny:
                offences += _offences("persisted", p, policy)
    if offences:
        return Verdict(
            Status.FAIL,
            "Rules admit new outbound connections beyond named destinations: "
            + "; ".join(offences[:8])
            + ". Restrict each accept rule to destination addresses (ip daddr / -d)"
            + (" inside harden_egress_allow." if policy.egress_allow else "."),
            ev,
        )
    named = []
    for f in hj.families:
        named += [a.dest_text() for a in hj.running[f].all_admitted()[:6]]
    where = "; ".join(named) if named else "none (nothing outbound is admitted)"
    inside = " all inside harden_egress_allow" if policy.egress_allow else ""
    notes = [n for f in hj.families for n in hj.running[f].plan.notes]
    if notes:
        where += " (probes were sampled: " + "; ".join(notes) + ")"
    return Verdict(
        Status.PASS,
        f"Every rule admitting new outbound connections names its destinations{inside}: {where}.",
        ev,
    )
