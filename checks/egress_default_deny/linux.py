"""egress.default_deny: would a new outbound TCP connection or UDP flow to an arbitrary address be admitted?

Judged by effect: probe packets (first SYN of a new connection, and first datagram of a new
UDP flow, from a local process,
to an address outside every prefix the rules name, on port 4444 and on every port
class the rules do not name) go through every base chain on the output path of every
table and backend (nftables, iptables-nft, iptables-legacy); an accept ends only its
own chain, a drop anywhere is final, a nat chain runs only for tracked connections.
IPv4 and IPv6 separately (IPv6 when enabled on a non-loopback interface). The running
ruleset and the one that loads at boot must both deny; matches harden cannot decide (uid,
mark, unknown expressions) count against.

Example::

    verdict = evaluate(gather(sections), Policy())
"""

from __future__ import annotations

from hardening.egress.report import evidence_facts, excerpt, host_judgement, persisted_summary
from hardening.facts.linux import LinuxFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    fw = facts.firewall
    hj = host_judgement(fw, policy)
    ev = Evidence(evidence_facts(fw, hj), excerpt(facts.sections))
    v6 = "" if 6 in hj.families else f" (IPv6 not judged: {fw.ipv6_detail})"
    running_fail = [hj.running[f] for f in hj.families if not hj.running[f].default_deny]
    if running_fail:
        msg = "; ".join(r.headline() for r in running_fail)
        fix = " Add a drop policy (or a final drop/reject rule) to the output chain"
        fix += " and accept only named destinations."
        pd = hj.persisted_deny()
        if pd:
            msg += f". The persisted ruleset ({persisted_summary(fw)}) would deny, but it is not loaded"
        return Verdict(Status.FAIL, msg + "." + fix + v6, ev)
    pd = hj.persisted_deny()
    if pd is None:
        bad = [s for s in fw.persisted_sources if s.enabled and not s.evaluated]
        what = ", ".join(f"{s.path}: {s.detail}" for s in bad) or "unknown source"
        return Verdict(
            Status.ERROR,
            "The running ruleset denies new outbound connections to arbitrary addresses, but what loads at "
            f"boot could not be evaluated ({what}); re-run as root on a host where `unshare -rn` or "
            "`unshare -n` works, or check that file by hand." + v6,
            ev,
        )
    if not pd:
        per = hj.persisted or {}
        fails = [per[f] for f in hj.families if f in per and not per[f].default_deny]
        return Verdict(
            Status.FAIL,
            "Default deny is not persisted: the running ruleset denies, but after a reboot "
            + "; ".join(r.headline() for r in fails)
            + f" ({persisted_summary(fw)}). Save the running ruleset to the file that loads at boot "
            "and enable its service (e.g. nft list ruleset > /etc/nftables.conf; systemctl enable nftables)." + v6,
            ev,
        )
    blocked = "; ".join(hj.running[f].headline() for f in hj.families)
    notes = [n for f in hj.families for n in hj.running[f].plan.notes]
    if notes:
        v6 += " (probes were sampled: " + "; ".join(notes) + ")"
    return Verdict(
        Status.PASS,
        "New outbound connections to arbitrary addresses are denied, running and persisted "
        f"({persisted_summary(fw)}): " + blocked + v6,
        ev,
    )
