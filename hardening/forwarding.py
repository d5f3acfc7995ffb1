"""Log forwarders harden knows, and whether a destination leaves the host (egress) and is allowed (policy).

Forwarders are identified like sensors: by the executable of a running process
(:meth:`hardening.facts.processes.ProcessFacts.running`), never by name.

Example::

    >>> sorted(FORWARDER_EXES)[:2]
    ['audisp-remote', 'journal-upload']
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hardening.egress.evaluate import run_probe
from hardening.facts.firewall import FirewallFacts
from hardening.firewall.model import Probe
from hardening.model import Remedy
from hardening.policy import LogCollector, Policy

FORWARDER_EXES: dict[str, frozenset[str]] = {
    "rsyslog": frozenset({"/usr/sbin/rsyslogd", "/sbin/rsyslogd"}),
    "syslog-ng": frozenset({"/usr/sbin/syslog-ng", "/sbin/syslog-ng"}),
    "journal-upload": frozenset({"/lib/systemd/systemd-journal-upload", "/usr/lib/systemd/systemd-journal-upload"}),
    "audisp-remote": frozenset({"/sbin/audisp-remote", "/usr/sbin/audisp-remote"}),
    "auditd": frozenset({"/sbin/auditd", "/usr/sbin/auditd"}),
}


@dataclass(frozen=True)
class Egress:
    """Whether new connections to a destination leave the host, per the running and persisted rules."""

    admitted: bool | None  # None: cannot tell (no address, firewall unreadable)
    why: str


def egress(fw: FirewallFacts | None, addresses: tuple[str, ...], port: int, proto: str) -> Egress:
    """Admitted when the running ruleset (and the persisted one, if any) admits a new ``proto``
    flow to one of ``addresses`` on ``port`` (the egress engine's own probe, as the egress checks use)."""
    if fw is None:
        return Egress(None, "the firewall state could not be read")
    if not addresses:
        return Egress(None, "no address for the destination (a name the host could not resolve)")
    why: list[str] = []
    for text in addresses:
        addr = ipaddress.ip_address(text)
        family = addr.version
        if family == 6 and not fw.ipv6_enabled:
            why.append(f"{text}: IPv6 is off")
            continue
        oif = (fw.out_interfaces.get(family) or ("eth0",))[0]
        flags = frozenset({"syn"}) if proto == "tcp" else frozenset()
        probe = Probe(family, int(addr), port, oif, l4proto=proto, tcpflags=flags)
        run = run_probe(fw.running, probe)
        persisted = run_probe(fw.persisted, probe) if fw.persisted is not None else None
        if run.admitted and (persisted is None or persisted.admitted):
            return Egress(True, f"{proto} {text}:{port} is admitted ({run.describe()})")
        if run.admitted and persisted is not None:
            why.append(
                f"{proto} {text}:{port} is admitted now but the persisted rules drop it ({persisted.describe()})"
            )
        else:
            why.append(f"{proto} {text}:{port} is dropped ({run.describe()})")
    return Egress(False, "; ".join(why))


def in_policy(collectors: tuple[LogCollector, ...], host: str, addresses: tuple[str, ...], port: int) -> bool:
    """The destination is one of ``harden_log_collectors``: by name, or an address inside a listed network."""
    return any(c.covers(host, addresses, port) for c in collectors)


def needs_collectors(policy: Policy, role: str = "harden_log_forwarding") -> Remedy | None:
    """The remedy of a failure when the policy names no collector: the role would refuse, so the
    planner leaves it out (the host's other roles still run) and says which variable to set."""
    if policy.log_collectors:
        return None
    return Remedy(role, blocked="set harden_log_collectors to the collector(s) this host may forward to")
