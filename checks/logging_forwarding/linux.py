"""logging.forwarding (Linux): the evidence of a reverse shell leaves the host before an attacker erases it.

What must leave, and how it is judged (effect, not syntax):

- **syslog**: a running forwarder (rsyslog, syslog-ng or systemd-journal-upload, identified by
  executable) whose configuration, includes followed and comments dropped, forwards at least
  the ``auth``, ``authpriv`` and ``daemon`` facilities at ``info`` (logins, sudo, services) to a
  remote destination, unfiltered; journal-upload sends the whole journal.
- **DNS query logs** (when ``dns`` shows a running resolver that logs queries): dnsmasq's
  ``log-facility`` file must be read into syslog (rsyslog ``imfile``) and that facility
  forwarded; a resolver logging to syslog needs its facility (``daemon``, or dnsmasq's
  ``log-facility=LOCALn``) forwarded.
- **audit records** (when auditd runs): an active ``audisp-remote`` plugin with a
  ``remote_server`` (and audisp-remote running), or the ``syslog`` plugin with its facility
  forwarded, or Auditbeat (which replaces auditd's pipeline) running.
- **Every destination** is set, not loopback, inside ``harden_log_collectors`` when the policy
  names collectors, and admitted by the egress ruleset (running and persisted): a forwarder
  whose packets the firewall drops forwards nothing. Host names are resolved by the host's own
  resolver in the collector; an unresolved name cannot be judged (``error``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardening.facts.linux import LinuxFacts, facts_json
from hardening.facts.logging import FACILITIES, Forward, LoggingFacts
from hardening.facts.processes import ProcessFacts
from hardening.forwarding import FORWARDER_EXES, Egress, egress, in_policy, needs_collectors
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy
from hardening.sensors import SENSORS

SECTIONS = ("logging.rsyslog", "logging.syslog_ng", "logging.journal_upload", "logging.audisp", "logging.resolve")
NEEDED = frozenset({"auth", "authpriv", "daemon"})


@dataclass
class Judged:
    """One forwarding action with its destination judged."""

    fwd: Forward
    addresses: tuple[str, ...]
    egress: Egress
    allowed: bool  # inside harden_log_collectors (True when the policy names none)
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems and self.egress.admitted is True and self.allowed

    def to_json(self) -> dict[str, object]:
        f = self.fwd
        return {
            "forwarder": f.forwarder,
            "destination": f.host,
            "port": f.port,
            "proto": f.proto,
            "addresses": list(self.addresses),
            "facilities": "all" if f.facilities >= frozenset(FACILITIES) else sorted(f.facilities),
            "filtered": f.filtered,
            "egress_admitted": self.egress.admitted,
            "egress": self.egress.why,
            "in_policy": self.allowed,
            "problems": list(self.problems),
            "source": f.source,
        }


def _addresses(f: Forward, lg: LoggingFacts) -> tuple[str, ...]:
    if not f.host:
        return ()
    if f.host[0].isdigit() or ":" in f.host:
        return (f.host,)
    return lg.resolved.get(f.host, ())


def _judge(f: Forward, lg: LoggingFacts, facts: LinuxFacts, policy: Policy) -> Judged:
    addrs = _addresses(f, lg)
    problems: list[str] = []
    if not f.host:
        problems.append("no usable destination")
    elif f.host in ("localhost",) or any(a.startswith("127.") or a == "::1" for a in addrs):
        problems.append(f"{f.host} is this host: the logs do not leave it")
    allowed = not policy.log_collectors or in_policy(policy.log_collectors, f.host, addrs, f.port)
    eg = egress(facts.optional("firewall"), addrs, f.port, f.proto) if not problems else Egress(None, "")
    return Judged(f, addrs, eg, allowed, problems)


def _dns_facility(facts: LinuxFacts) -> tuple[str, str] | None:
    """(facility or "file:PATH", resolver) where the running logging resolver writes its query log."""
    dns = facts.optional("dns")
    if dns is None:
        return None
    for pid, ql in dns.process_logging:
        if not ql.enabled:
            continue
        proc = next((p for p in dns.processes if p.pid == pid), None)
        if proc is None:
            continue
        if proc.comm == "dnsmasq":
            return _dnsmasq_facility(facts, proc.argv), "dnsmasq"
        return "daemon", proc.comm
    return None


def _dnsmasq_facility(facts: LinuxFacts, argv: tuple[str, ...]) -> str:
    value = ""
    for line in facts.sections.text("dns.dnsmasq_conf").splitlines():
        m = re.match(r"\s*log-facility\s*=\s*(\S+)", line)
        if m:
            value = m.group(1)
    for i, a in enumerate(argv):
        if a.startswith("--log-facility="):
            value = a.split("=", 1)[1]
        elif a in ("-8", "--log-facility") and i + 1 < len(argv):
            value = argv[i + 1]
    if value.startswith("/"):
        return "file:" + value
    if value == "-":
        return "stderr"
    return value.lower() if value.lower() in FACILITIES else "daemon"


@dataclass
class Findings:
    """What keeps the logs from leaving (problems), what cannot be told (unknown), and remarks."""

    problems: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _syslog_actions(lg: LoggingFacts, running: set[str]) -> tuple[list[Forward], list[str]]:
    """(forwarding actions of the running forwarders, the forwarders configured to forward)."""
    actions: list[Forward] = []
    configured: list[str] = []
    for name, fwds in (
        ("rsyslog", lg.rsyslog.actions if lg.rsyslog else ()),
        ("syslog-ng", lg.syslog_ng or ()),
        ("journal-upload", (lg.journal_upload,) if lg.journal_upload else ()),
    ):
        if fwds:
            configured.append(name)
            if name in running:
                actions += fwds
    return actions, configured


def _destination_findings(judged: list[Judged], policy: Policy, out: Findings) -> None:
    for j in judged:
        where = f"{j.fwd.forwarder} -> {j.fwd.host or '?'}:{j.fwd.port}/{j.fwd.proto}"
        if j.problems:
            out.problems.append(f"{where}: {'; '.join(j.problems)}")
        elif not j.allowed:
            allowed = ", ".join(c.label() for c in policy.log_collectors)
            out.problems.append(f"{where} is not one of harden_log_collectors ({allowed})")
        elif j.egress.admitted is False:
            out.problems.append(f"{where}: the firewall drops it, the logs never leave ({j.egress.why})")
        elif j.egress.admitted is None:
            out.unknown.append(f"{where}: {j.egress.why}")


def _dns_findings(facts: LinuxFacts, lg: LoggingFacts, sent: frozenset[str], out: Findings) -> tuple[str, str] | None:
    dns = _dns_facility(facts)
    if dns is None:
        return None
    where, resolver = dns
    if where.startswith("file:"):
        path = where[5:]
        imf = [m for m in (lg.rsyslog.imfiles if lg.rsyslog else ()) if m.path == path]
        if not imf:
            out.problems.append(
                f"{resolver} writes its query log to {path}, which no rsyslog imfile input reads: "
                "DNS queries are not forwarded"
            )
        elif imf[0].facility not in sent:
            out.problems.append(
                f"{resolver}'s query log is read into facility {imf[0].facility}, which is not forwarded"
            )
    elif where == "stderr" or where not in sent:
        out.problems.append(f"{resolver} logs queries to {where}, which is not forwarded")
    return dns


def _audit_findings(
    facts: LinuxFacts, lg: LoggingFacts, policy: Policy, ctx: tuple[set[str], bool, frozenset[str]], out: Findings
) -> list[Judged]:
    """Audit records must leave too when auditd runs; returns the audisp-remote destination judged."""
    running, auditbeat, sent = ctx
    audit = facts.optional("audit")
    if audit is None or not audit.running:
        return []
    active = [p for p in lg.audit_plugins if p.active]
    via_syslog = [p for p in active if p.kind == "syslog"]
    if any(p.kind == "remote" for p in active) and lg.audisp_remote is not None:
        j = _judge(lg.audisp_remote, lg, facts, policy)
        if "audisp-remote" not in running:
            out.problems.append("the audisp-remote plugin is active but audisp-remote is not running")
        elif not j.usable:
            why = "; ".join(j.problems) or j.egress.why or "not one of harden_log_collectors"
            target = out.unknown if j.egress.admitted is None and not j.problems and j.allowed else out.problems
            target.append(f"audisp-remote -> {j.fwd.host}:{j.fwd.port}: {why}")
        return [j]
    if via_syslog:
        fac = _audit_syslog_facility(via_syslog[0].args)
        if fac not in sent:
            out.problems.append(
                f"audit records go to syslog facility {fac} (audisp syslog plugin), which is not forwarded"
            )
    elif auditbeat:
        out.notes.append("Auditbeat runs: it ships audit events to its own output (not judged here)")
    else:
        out.problems.append(
            "auditd runs but no dispatcher plugin sends its records off the host (audisp-remote with "
            "remote_server, or the syslog plugin with a forwarded facility): audit records stay local"
        )
    return []


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    lg: LoggingFacts = facts.logging
    procs: ProcessFacts = facts.processes
    running = {name for name, exes in FORWARDER_EXES.items() if procs.running(exes)}
    auditbeat = bool(procs.running(set(SENSORS["auditbeat"].linux_exes)))
    actions, configured = _syslog_actions(lg, running)
    judged = [_judge(f, lg, facts, policy) for f in actions]
    # facilities sent by forwards with nothing against them (an egress that cannot be told is
    # reported as unknown on its own: it makes the verdict an error, not a fail)
    usable = [
        j for j in judged if j.allowed and not j.problems and j.egress.admitted is not False and not j.fwd.filtered
    ]
    sent: frozenset[str] = frozenset().union(*(j.fwd.facilities for j in usable)) if usable else frozenset()
    out = Findings()
    if not actions:
        idle = [c for c in configured if c not in running]
        out.problems.append(
            f"{', '.join(idle)} {'is' if len(idle) == 1 else 'are'} configured to forward but not running"
            if idle
            else "no forwarder sends this host's logs anywhere (no rsyslog/syslog-ng forwarding action, no "
            "systemd-journal-upload URL): a reverse shell's traces stay where its author can erase them"
        )
    _destination_findings(judged, policy, out)
    if actions and not sent.issuperset(NEEDED):
        out.problems.append(f"no usable unfiltered forwarding sends the {', '.join(sorted(NEEDED - sent))} facilities")
    dns = _dns_findings(facts, lg, sent, out)
    judged += _audit_findings(facts, lg, policy, (running, auditbeat, sent), out)
    if lg.rsyslog is not None and lg.rsyslog.unread:
        out.unknown.append(f"rsyslog includes files harden did not read: {', '.join(lg.rsyslog.unread[:3])}")
    if lg.rsyslog is not None and lg.rsyslog.inactive:
        out.notes.append("forwarding in rulesets no local input uses: " + "; ".join(lg.rsyslog.inactive[:3]))
    ev = Evidence(
        facts_json(
            {
                "forwarders_running": sorted(running),
                "forwarders_configured": configured,
                "forwards": [j.to_json() for j in judged],
                "facilities_sent": "all" if sent >= frozenset(FACILITIES) else sorted(sent),
                "dns_query_log": dns[0] if dns else None,
                "audit_plugins": [{"file": p.file, "active": p.active, "path": p.path} for p in lg.audit_plugins],
                "policy_collectors": [c.label() for c in policy.log_collectors],
                "notes": out.notes,
                "config_problems": list(lg.problems),
            }
        ),
        facts.sections.excerpt(*SECTIONS, limit=2500),
    )
    if out.problems:
        return Verdict(Status.FAIL, "; ".join(out.problems + out.unknown + out.notes), ev, needs_collectors(policy))
    if out.unknown:
        return Verdict(Status.ERROR, "; ".join(out.unknown + out.notes), ev)
    dests = ", ".join(sorted({f"{j.fwd.host}:{j.fwd.port}/{j.fwd.proto}" for j in judged if j.usable}))
    what = "every facility" if sent >= frozenset(FACILITIES) else ", ".join(sorted(sent))
    audit = facts.optional("audit")
    extra = (" and the DNS query log" if dns else "") + (
        " and audit records" if audit is not None and audit.running else ""
    )
    who = ", ".join(sorted(running & set(configured)))
    msg = f"{who} forwards {what}{extra} to {dests}; the egress ruleset admits it"
    return Verdict(Status.PASS, msg + ("; " + "; ".join(out.notes) if out.notes else ""), ev)


def _audit_syslog_facility(args: str) -> str:
    """The facility audisp's syslog plugin logs to (``args = LOG_INFO LOG_LOCAL6``; default ``user``)."""
    for word in args.split():
        w = word.upper().removeprefix("LOG_")
        if w.lower() in FACILITIES:
            return w.lower()
    return "user"
