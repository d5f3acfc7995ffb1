"""edr.sensor (Windows): a behavioural sensor runs and cannot simply be switched off.

- Microsoft Defender Antivirus counts when ``Get-MpComputerStatus`` shows the antimalware
  service, real-time protection and behaviour monitoring on, in active mode (not "Passive
  Mode": another product is primary then), AND tamper protection on (``IsTamperProtected``):
  without it, any administrator — or a reverse shell running as one — turns real-time
  protection off with ``Set-MpPreference -DisableRealtimeMonitoring $true``.
- Sysmon counts when its service and driver run and its active configuration logs process
  creation (event 1) and network connections (event 3) (the ``audit.sysmon`` judgement).
- Defender for Endpoint (Sense), CrowdStrike, SentinelOne, Wazuh, Elastic, osquery: their
  service is Running (their detection content comes from their console).

``harden_required_sensors`` as on Linux: each named sensor must count; without it, any one.
"""

from __future__ import annotations

from hardening.facts.windows import WindowsFacts
from hardening.facts.windows_sensors import WinSensorFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy
from hardening.sensors import SENSORS, WINDOWS_SENSORS

AREAS = ("sensors", "sysmon")


def _sysmon_watch(facts: WindowsFacts) -> tuple[bool | None, str]:
    from hardening.checks.audit_sysmon.windows import event_state

    sm = facts.optional("sysmon")
    if sm is not None and not any(d.running for d in sm.drivers):
        return False, "the Sysmon driver is not running: nothing is captured"
    proc, why1 = event_state(facts, 1)
    net, why3 = event_state(facts, 3)
    if proc is False or net is False:
        return False, f"event 1: {why1}; event 3: {why3}"
    if proc is None or net is None:
        return None, f"event 1: {why1}; event 3: {why3}"
    return True, f"event 1: {why1}; event 3: {why3}"


def _defender(se: WinSensorFacts) -> tuple[bool | None, str]:
    d = se.defender
    if d is None:
        return None, f"Defender status unreadable: {se.defender_problem}"
    off = [
        name
        for name, on in (
            ("the antimalware service", d.am_service_enabled),
            ("real-time protection", d.real_time),
            ("behaviour monitoring", d.behavior_monitor),
        )
        if not on
    ]
    if "passive" in d.running_mode.lower():
        return (
            False,
            f"Defender is in {d.running_mode} (another antivirus is primary; "
            "Defender does not block or watch in real time)",
        )
    if off:
        return False, "Defender runs with " + ", ".join(off) + " off"
    if d.tamper_protected is None:
        return None, "Defender real-time protection is on, but this Defender does not report tamper protection"
    if not d.tamper_protected:
        return False, (
            "Defender real-time protection is on but tamper protection is off: an administrator (or a shell running as "
            "one) turns it off with Set-MpPreference -DisableRealtimeMonitoring $true"
        )
    return (
        True,
        "Defender real-time protection, behaviour monitoring and tamper protection on "
        f"({d.running_mode or 'mode not reported'})",
    )


def judge(facts: WindowsFacts) -> dict[str, tuple[bool | None, str]]:
    """Per sensor present (installed or running): counts (True/False/None unknown) and why."""
    se: WinSensorFacts = facts.sensors
    services = {s.name.lower(): s for s in se.services}
    out: dict[str, tuple[bool | None, str]] = {}
    for sensor in WINDOWS_SENSORS:
        mine = [services[n.lower()] for n in sensor.windows_services if n.lower() in services]
        if sensor.id == "defender":
            if not mine and se.defender is None:
                continue
            out[sensor.id] = _defender(se)
            continue
        if not mine:
            continue
        if not any(s.running for s in mine):
            out[sensor.id] = (
                False,
                f"{sensor.name} is installed but not running (" + ", ".join(f"{s.name} {s.state}" for s in mine) + ")",
            )
        elif sensor.id == "sysmon":
            out[sensor.id] = _sysmon_watch(facts)
        else:
            out[sensor.id] = (True, f"{sensor.name} runs (service {', '.join(s.name for s in mine if s.running)})")
    return out


def _names(ids: list[str]) -> str:
    return ", ".join(SENSORS[i].name for i in ids)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    got = judge(facts)
    ev = Evidence(
        {
            "sensors": {sid: {"counts": ok, "why": why} for sid, ok, why in ((k, v[0], v[1]) for k, v in got.items())},
            "required": list(policy.required_sensors),
        },
        facts.excerpt(*AREAS, limit=2500),
    )
    said = "; ".join(f"{SENSORS[k].name}: {why}" for k, (_, why) in got.items())
    if policy.required_sensors:
        missing = [s for s in policy.required_sensors if got.get(s, (False, ""))[0] is False]
        unknown = [s for s in policy.required_sensors if s in got and got[s][0] is None]
        absent = [s for s in policy.required_sensors if s not in got]
        if missing or absent:
            msg = (f"required but not installed: {_names(absent)}. " if absent else "") + said
            return Verdict(Status.FAIL, msg.strip(), ev)
        if unknown:
            return Verdict(Status.ERROR, said, ev)
        return Verdict(Status.PASS, "every required sensor runs: " + said, ev)
    if any(ok for ok, _ in got.values()):
        return Verdict(Status.PASS, said, ev)
    if any(ok is None for ok, _ in got.values()):
        return Verdict(Status.ERROR, said, ev)
    if not got:
        return Verdict(
            Status.FAIL,
            "no behavioural sensor: Microsoft Defender is not installed and no EDR agent or Sysmon service exists",
            ev,
        )
    return Verdict(Status.FAIL, said, ev)
