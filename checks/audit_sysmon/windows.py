"""audit.sysmon: Sysmon runs and its active configuration logs events 1, 3 and 22.

The service (it may be renamed) and its driver (SysmonDrv unless renamed) must be running,
and the configuration Sysmon actually loaded (``sysmon -c``, not a file on disk; the
registry Rules blob changes format between versions) must enable process creation (1),
network connections (3, off by default) and DNS queries (22). An event type with
``onmatch: exclude`` logs everything but the exclusions; ``onmatch: include`` logs only
matches, and an include with no filter logs nothing. An event type the configuration does
not mention: ProcessCreate is logged by default, NetworkConnect is not, DnsQuery is not
counted (harden cannot tell). ``sysmon -c`` is run only when the audit account accepted the
Sysinternals EULA before (HKCU); otherwise the configuration is unknown and the check is
``error`` (the driver's registry parameters and the last configuration change, event 16, are
reported as evidence).

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.facts.windows import SYSMON_EVENTS, WindowsFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("sysmon",)
_DEFAULT_ON = {1}


def event_state(facts: WindowsFacts, event: int) -> tuple[bool | None, str]:
    """Is Sysmon event ``event`` logged by the running Sysmon's active config? (yes/no/unknown, why).

    Unknown (None) when the Sysmon state or its active configuration could not be read: a check
    leaning on it must report error then, never fail.
    """
    sm = facts.optional("sysmon")
    if sm is None:
        return None, f"Sysmon state unreadable: {facts.error('sysmon')}"
    if not any(s.running for s in sm.services):
        return False, "no Sysmon service is running"
    if sm.config is None:
        return None, f"active configuration unknown: {sm.config_problem or 'not read'}"
    name = SYSMON_EVENTS[event]
    rules = sm.config.rules_for(name)
    if not rules:
        if event in _DEFAULT_ON:
            return True, f"{name} not in the config: logged by default"
        return False, f"{name} is not in the active configuration"
    if any(r.onmatch == "exclude" for r in rules):
        return True, f"{name} onmatch exclude: all but the exclusions are logged"
    filters = sum(r.filters for r in rules)
    if filters:
        return True, f"{name} onmatch include with {filters} filters: only matching events are logged"
    return False, f"{name} onmatch include with no filter: logs nothing"


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    sm = facts.sysmon
    states = {e: event_state(facts, e) for e in SYSMON_EVENTS}
    ev = Evidence(
        {
            "services": [{"name": s.name, "state": s.state, "start_mode": s.start_mode} for s in sm.services],
            "drivers": [{"name": d.name, "state": d.state, "start_mode": d.start_mode} for d in sm.drivers],
            "events": {str(e): {"enabled": ok, "why": why} for e, (ok, why) in states.items()},
            "config_settings": dict(sm.config.settings) if sm.config else None,
            "config_schema": sm.config.schema_version if sm.config else None,
            "network_events_7d": sm.network_events_7d,
            "driver_parameters": dict(sm.driver_parameters) if sm.driver_parameters else None,
            "last_config_change": dict(sm.last_config_change) if sm.last_config_change else None,
            "config_problem": sm.config_problem,
            "config_unbounded": sm.unbounded,
        },
        facts.excerpt(*AREAS, limit=3000),
    )
    if not sm.services:
        return Verdict(
            Status.FAIL,
            "Sysmon is not installed (no Sysmon service). Install it (sysmon64 -accepteula -i config.xml) with a "
            "configuration that logs events 1, 3 and 22.",
            ev,
        )
    down = [f"service {s.name} is {s.state}" for s in sm.services if not s.running]
    if not any(s.running for s in sm.services):
        return Verdict(Status.FAIL, "Sysmon is installed but not running: " + "; ".join(down), ev)
    if not any(d.running for d in sm.drivers):
        what = "; ".join(f"driver {d.name} is {d.state}" for d in sm.drivers) or "no Sysmon driver found"
        return Verdict(
            Status.FAIL, f"the Sysmon service runs but its driver does not ({what}): nothing is captured", ev
        )
    if sm.config is None:
        return Verdict(
            Status.ERROR,
            f"Sysmon runs, but its active configuration could not be read ({sm.config_problem}); "
            "the audit account must be an administrator that has accepted the Sysinternals EULA once "
            "(run sysmon -accepteula -c interactively as that account) for sysmon -c to print the rules",
            ev,
        )
    missing = [f"event {e} ({why})" for e, (ok, why) in states.items() if not ok]
    if missing:
        return Verdict(
            Status.FAIL,
            "Sysmon runs, but its active configuration does not log "
            + "; ".join(missing)
            + '. Add rules (e.g. <NetworkConnect onmatch="exclude"/>, <DnsQuery onmatch="exclude"/>) and '
            "reload with sysmon -c config.xml.",
            ev,
        )
    seen = (
        ""
        if sm.network_events_7d is None
        else f"; network events in the last 7 days: {'yes' if sm.network_events_7d else 'none seen'}"
    )
    return Verdict(
        Status.PASS,
        "Sysmon service and driver run; " + "; ".join(f"event {e}: {why}" for e, (_, why) in states.items()) + seen,
        ev,
    )
