"""dns.query_logging on Windows: are the host's DNS queries logged?

Either the ``Microsoft-Windows-DNS-Client/Operational`` event log is enabled (it is off by
default), or Sysmon runs with event 22 (DnsQuery) enabled by its active configuration.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.checks.audit_sysmon.windows import event_state

from hardening.facts.areas import AreaUnavailable
from hardening.facts.sections import FactError
from hardening.facts.windows import WindowsFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    dns = facts.optional("dns")  # Sysmon event 22 also passes when the DNS-Client log is unreadable
    sysmon22, why22 = event_state(facts, 22)
    ev = Evidence(
        {
            "dns_client_operational": None
            if dns is None
            else {"is_enabled": dns.is_enabled, "log_mode": dns.log_mode, "max_size_bytes": dns.max_size_bytes},
            "sysmon_event_22": why22,
        },
        facts.excerpt("dns_client", limit=1500),
    )
    if dns is not None and dns.is_enabled:
        return Verdict(Status.PASS, "the Microsoft-Windows-DNS-Client/Operational log is enabled", ev)
    if sysmon22:
        return Verdict(Status.PASS, f"Sysmon logs DNS queries (event 22: {why22})", ev)
    if dns is None:  # neither passes, and the log's state is unknown: an error, not a fail
        raise AreaUnavailable("dns", facts.error("dns") or FactError("DNS-Client facts unreadable"))
    if sysmon22 is None:  # the log is off, and whether Sysmon logs DNS is unknown: an error, not a fail
        return Verdict(
            Status.ERROR,
            "the Microsoft-Windows-DNS-Client/Operational log is disabled, and whether Sysmon logs DNS queries "
            f"(event 22) is unknown: {why22}",
            ev,
        )
    return Verdict(
        Status.FAIL,
        "DNS queries are not logged: the Microsoft-Windows-DNS-Client/Operational log is disabled (the default) "
        f"and Sysmon event 22 is not enabled ({why22}). Enable the log (wevtutil sl "
        "Microsoft-Windows-DNS-Client/Operational /e:true, or by GPO) or add a DnsQuery rule to Sysmon's config.",
        ev,
    )
