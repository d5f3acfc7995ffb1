"""dns.query_logging on Windows: are the host's DNS queries logged?

Either the ``Microsoft-Windows-DNS-Client/Operational`` event log is enabled (it is off by
default), or Sysmon runs with event 22 (DnsQuery) enabled by its active configuration.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.checks.audit_sysmon import event_state

from hardening.facts.sections import FactError
from hardening.facts.windows import WindowsFacts, error_verdict
from hardening.model import CheckMeta, Evidence, Platform, Reference, Severity, Status, Verdict
from hardening.policy import Policy

META = CheckMeta(
    id="dns.query_logging",
    title="DNS queries are logged (DNS-Client/Operational log or Sysmon event 22)",
    severity=Severity.MEDIUM,
    rationale=(
        "Reverse shells and their stagers resolve the attacker's domain first; DNS tunnels carry the "
        "shell itself. Without a query log there is no record of which host looked up what."
    ),
    references=(
        Reference("attack", "T1071.004", "Application Layer Protocol: DNS"),
        Reference("nist", "AU-2", "Event Logging"),
        Reference("nist", "AU-12", "Audit Record Generation"),
        Reference("nist", "SI-4", "System Monitoring"),
    ),
    platforms=frozenset({Platform.WINDOWS}),
)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    dns = facts.dns
    sysmon22, why22 = event_state(facts, 22)
    ev = Evidence(
        {
            "dns_client_operational": None
            if isinstance(dns, FactError)
            else {"is_enabled": dns.is_enabled, "log_mode": dns.log_mode, "max_size_bytes": dns.max_size_bytes},
            "sysmon_event_22": why22,
        },
        facts.excerpt("dns_client", limit=1500),
    )
    if not isinstance(dns, FactError) and dns.is_enabled:
        return Verdict(Status.PASS, "the Microsoft-Windows-DNS-Client/Operational log is enabled", ev)
    if sysmon22:
        return Verdict(Status.PASS, f"Sysmon logs DNS queries (event 22: {why22})", ev)
    if isinstance(dns, FactError):
        return error_verdict(dns, facts, "dns_client")
    return Verdict(
        Status.FAIL,
        "DNS queries are not logged: the Microsoft-Windows-DNS-Client/Operational log is disabled (the default) "
        f"and Sysmon event 22 is not enabled ({why22}). Enable the log (wevtutil sl "
        "Microsoft-Windows-DNS-Client/Operational /e:true, or by GPO) or add a DnsQuery rule to Sysmon's config.",
        ev,
    )
