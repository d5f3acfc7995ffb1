"""logging.forwarding (Windows): the event logs leave the host, Sysmon's and PowerShell's included.

Passes through either path:

- **Windows Event Forwarding** (source-initiated): the SubscriptionManager policy names a server,
  the WinRM service (which runs the forwarding client) is running, the forwarding plugin's log
  shows a subscription created (event 100) with no later connection error, and the Sysmon and
  PowerShell/Operational channels are enabled and readable by NETWORK SERVICE (directly, or
  through Event Log Readers): WEF reads them as that account, and the subscriptions' queries
  themselves live on the collector, out of the host's sight;
- **an agent** (Splunk Universal Forwarder, Winlogbeat, NXLog, Wazuh) whose service runs and whose
  configuration names both channels.

The subscription manager must be inside ``harden_log_collectors`` when the policy names
collectors, and the firewall must admit TCP to it on every profile (a Block rule wins; with
outbound Block, an Allow rule for any program, svchost.exe or the WinRM service, covering the
address and port).
"""

from __future__ import annotations

import ipaddress

from hardening.facts.windows import FirewallRule, WindowsFacts, WinFirewallFacts
from hardening.facts.windows_forwarding import (
    EVENT_LOG_READERS,
    NETWORK_SERVICE,
    POWERSHELL_CHANNEL,
    SYSMON_CHANNEL,
    WinForwardingFacts,
)
from hardening.forwarding import in_policy, needs_collectors
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("forwarding", "firewall")
AGENTS = {"SplunkForwarder": "Splunk Universal Forwarder", "winlogbeat": "Winlogbeat", "nxlog": "NXLog",
          "WazuhSvc": "Wazuh agent"}  # fmt: skip
_AGENT_FILES = {"SplunkForwarder": "splunkuniversalforwarder", "winlogbeat": "winlogbeat", "nxlog": "nxlog",
                "WazuhSvc": "ossec-agent"}  # fmt: skip
_WEF_ERRORS = {102, 103, 104}


def _rule_matches(r: FirewallRule, profile: str, address: str, port: int) -> bool:
    if profile not in r.profiles() or not r.carries_tcp or not r.admits_port(port):
        return False
    # The forwarding client runs in the WinRM service (svchost.exe): a rule for any program, or for
    # svchost.exe with no service or the WinRM service, admits it; one scoped to another service does not.
    program = r.program.strip().lower()
    service = r.service.strip().lower()
    any_prog = program in ("", "any", "*")
    if not (
        r.any_program or ((any_prog or program.endswith("\\svchost.exe")) and service in ("", "any", "*", "winrm"))
    ):
        return False
    if r.any_address:
        return True
    ip = ipaddress.ip_address(address)
    return any(ip in n for n in r.networks() if n.version == ip.version)


def win_egress(fw: WinFirewallFacts | None, addresses: tuple[str, ...], port: int) -> tuple[bool | None, str]:
    """TCP to ``addresses``:``port`` leaves on every profile (Block rules win over Allow rules)."""
    if fw is None:
        return None, "the Windows Firewall state could not be read"
    if not addresses:
        return None, "the subscription manager's name did not resolve on the host"
    blocked: list[str] = []
    for p in fw.profiles:
        ok = False
        for a in addresses:
            block = [
                r for r in fw.outbound_rules if r.action.lower() in ("block", "4") and _rule_matches(r, p.name, a, port)
            ]
            if p.is_enabled and block:
                continue
            if not (p.is_enabled and p.blocks_outbound):
                ok = True
                break
            if any(_rule_matches(r, p.name, a, port) for r in fw.allow_rules):
                ok = True
                break
        if not ok:
            blocked.append(p.name)
    if blocked:
        return False, f"TCP {', '.join(addresses)}:{port} is blocked on the {', '.join(blocked)} profile(s)"
    return True, f"TCP {', '.join(addresses)}:{port} is admitted on every profile"


def _channels_ok(lf: WinForwardingFacts) -> list[str]:
    """What keeps WEF from reading the Sysmon and PowerShell channels ([] when nothing)."""
    problems = []
    readers = {NETWORK_SERVICE}
    if lf.event_log_readers is not None and NETWORK_SERVICE in lf.event_log_readers:
        readers.add(EVENT_LOG_READERS)
    for name in (SYSMON_CHANNEL, POWERSHELL_CHANNEL):
        ch = next((c for c in lf.channels if c.name == name), None)
        if ch is None or ch.error:
            problems.append(f"{name}: not readable ({ch.error if ch else 'not listed'})")
        elif not ch.enabled:
            problems.append(f"{name} is disabled")
        elif not ch.readable_by(readers):
            problems.append(
                f"{name} is not readable by NETWORK SERVICE (the account WEF reads as): add it to Event Log Readers "
                "or to the channel's ChannelAccess"
            )
    return problems


def _wef(facts: WindowsFacts, lf: WinForwardingFacts, policy: Policy) -> tuple[bool | None, list[str], list[dict]]:
    """(forwards?, problems or why, judged managers)."""
    if not lf.managers:
        return (
            False,
            ["no Windows Event Forwarding subscription manager is configured (SubscriptionManager policy)"],
            [],
        )
    problems: list[str] = []
    unknown = False
    judged = []
    winrm = lf.service("WinRM")
    if winrm is None or not winrm.running:
        problems.append(f"WinRM (which forwards the events) is {winrm.state if winrm else 'not installed'}")
    ids = [e[0] for e in lf.plugin_events]
    if 100 not in ids:
        problems.append("the forwarding plugin's log shows no subscription created (event 100)")
    elif any(i in _WEF_ERRORS for i in ids[: ids.index(100)]):
        problems.append("the forwarding plugin reports errors after its last subscription (events 102-104)")
    fw = facts.optional("firewall")
    for m in lf.managers:
        if not m.host:
            problems.append(f"subscription manager {m.value!r} names no server")
            continue
        try:
            addrs: tuple[str, ...] = (str(ipaddress.ip_address(m.host)),)
        except ValueError:
            addrs = lf.resolved.get(m.host, ())
        allowed = not policy.log_collectors or in_policy(policy.log_collectors, m.host, addrs, m.port)
        admitted, why = win_egress(fw, addrs, m.port)
        judged.append({"server": m.host, "port": m.port, "addresses": list(addrs), "in_policy": allowed,
                       "egress_admitted": admitted, "egress": why})  # fmt: skip
        if not allowed:
            problems.append(f"{m.host}:{m.port} is not one of harden_log_collectors")
        if admitted is False:
            problems.append(f"{m.host}:{m.port}: {why}: the events never leave")
        elif admitted is None:
            unknown = True
            problems.append(f"{m.host}:{m.port}: {why}")
    problems += _channels_ok(lf)
    if not problems:
        return True, [f"WEF to {', '.join(j['server'] + ':' + str(j['port']) for j in judged)}"], judged
    return (None if unknown and len(problems) == 1 else False), problems, judged


def _agents(lf: WinForwardingFacts) -> tuple[list[str], list[str]]:
    """(agents that forward both channels, problems of the others)."""
    good, bad = [], []
    for svc, name in AGENTS.items():
        s = lf.service(svc)
        if s is None:
            continue
        if not s.running:
            bad.append(f"{name} is installed but {s.state}")
            continue
        confs = [c for c in lf.agent_configs if _AGENT_FILES[svc] in c.path.lower()]
        missing = [ch for ch in (SYSMON_CHANNEL, POWERSHELL_CHANNEL) if not any(c.names_channel(ch) for c in confs)]
        if missing:
            bad.append(f"{name} runs but its configuration does not read {' or '.join(missing)}")
        else:
            good.append(f"{name} runs and reads the Sysmon and PowerShell channels")
    return good, bad


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    lf: WinForwardingFacts = facts.forwarding
    wef, wef_why, judged = _wef(facts, lf, policy)
    good, bad = _agents(lf)
    ev = Evidence(
        {
            "subscription_managers": judged,
            "wef": wef,
            "wef_why": wef_why,
            "agents": good + bad,
            "plugin_events": [{"id": i, "time": t} for i, t, _ in lf.plugin_events[:10]],
            "policy_collectors": [c.label() for c in policy.log_collectors],
        },
        facts.excerpt("forwarding", limit=3000),
    )
    if wef:
        return Verdict(Status.PASS, "; ".join(wef_why + good), ev)
    if good:
        return Verdict(Status.PASS, "; ".join(good), ev)
    if wef is None:
        return Verdict(Status.ERROR, "; ".join(wef_why + bad), ev)
    why = "; ".join(wef_why + bad) or "no event forwarding and no log agent"
    return Verdict(Status.FAIL, why, ev, needs_collectors(policy, "harden_win_log_forwarding"))
