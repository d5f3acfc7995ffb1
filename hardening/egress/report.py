"""Judge both sources (running, persisted) and both families of a host's firewall facts.

Both egress checks start here so they read the same judgement.

Example::

    hj = host_judgement(facts.firewall, policy)
    hj.running[4].default_deny      # bool
    hj.persisted                    # None when what loads at boot could not be evaluated
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hardening.egress.judge import FamilyReport, judge
from hardening.facts.firewall import HOST_SECTIONS, PERSISTED_SECTIONS, RUNNING_SECTIONS, FirewallFacts
from hardening.facts.sections import Sections
from hardening.policy import Policy


@dataclass(frozen=True)
class HostJudgement:
    families: tuple[int, ...]  # 4, and 6 when IPv6 is enabled on a non-loopback interface
    running: dict[int, FamilyReport]
    persisted: dict[int, FamilyReport] | None

    def running_deny(self) -> bool:
        return all(self.running[f].default_deny for f in self.families)

    def persisted_deny(self) -> bool | None:
        if self.persisted is None:
            return None
        return all(self.persisted[f].default_deny for f in self.families)


_last = threading.local()  # per thread: the last (facts, policy, judgement)


def host_judgement(fw: FirewallFacts, policy: Policy) -> HostJudgement:
    """The judgement of ``fw`` under ``policy``; both egress checks of one host share one.

    Judging is pure and the facts are frozen, so the last result of this thread is reused
    when the same facts object comes again with an equal policy (one host's checks run in
    one thread, one after the other).
    """
    hit = getattr(_last, "entry", None)
    if hit is not None and hit[0] is fw and hit[1] == policy:
        return hit[2]
    hj = _host_judgement(fw, policy)
    _last.entry = (fw, policy, hj)
    return hj


def _host_judgement(fw: FirewallFacts, policy: Policy) -> HostJudgement:
    families = (4, 6) if fw.ipv6_enabled else (4,)
    running = {f: judge(fw.running, f, fw.out_interfaces.get(f, ("eth0",)), policy) for f in families}
    persisted = None
    if fw.persisted is not None:
        persisted = {f: judge(fw.persisted, f, fw.out_interfaces.get(f, ("eth0",)), policy) for f in families}
    return HostJudgement(families, running, persisted)


def evidence_facts(fw: FirewallFacts, hj: HostJudgement) -> dict[str, object]:
    """JSON-able facts for both checks' evidence."""
    return {
        "families_judged": [f"IPv{f}" for f in hj.families],
        "ipv6": fw.ipv6_detail,
        "running": {
            "read_from": list(fw.running_sources),
            "backends": fw.running.backends(),
            **{f"IPv{f}": r.to_json() for f, r in hj.running.items()},
        },
        "persisted": {
            "sources": [s.to_json() for s in fw.persisted_sources],
            "evaluated": hj.persisted is not None,
            **({f"IPv{f}": r.to_json() for f, r in hj.persisted.items()} if hj.persisted else {}),
        },
        "probe_interfaces": {f"IPv{f}": list(v) for f, v in fw.out_interfaces.items()},
        "firewalld_running": fw.firewalld_running,
        "notes": list(fw.notes) + list(fw.running.notes),
    }


def excerpt(sections: Sections) -> str:
    """Bounded raw output: running first, then persisted, then host state."""
    return sections.excerpt(*RUNNING_SECTIONS, *PERSISTED_SECTIONS, *HOST_SECTIONS, limit=1500)


def persisted_summary(fw: FirewallFacts) -> str:
    enabled = [f"{s.name} ({s.path})" for s in fw.persisted_sources if s.enabled]
    if not enabled:
        present = [f"{s.name} ({s.path})" for s in fw.persisted_sources if s.present]
        if present:
            return "nothing that loads at boot is enabled (present but not enabled: " + ", ".join(present) + ")"
        return "no firewall configuration loads at boot"
    return "loaded at boot: " + ", ".join(enabled)
