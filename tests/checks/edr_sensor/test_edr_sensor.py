"""edr.sensor: running sensors with rules for process starts and connections (Linux), Defender/EDR (Windows)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hardening.checks import registry

from hardening.facts.audit import KernelAudit, parse_rules
from hardening.facts.linux import LinuxFacts, gather
from hardening.facts.processes import Proc
from hardening.facts.sections import parse_sections
from hardening.facts.windows import gather as win_gather
from hardening.facts.windows import parse_output
from hardening.model import Platform, Status
from hardening.policy import Policy, PolicyError

GOLDEN = Path(__file__).parents[2] / "golden"
LINUX = registry().check("edr.sensor", Platform.LINUX)
WINDOWS = registry().check("edr.sensor", Platform.WINDOWS)


def facts(name: str) -> LinuxFacts:
    return gather(parse_sections((GOLDEN / "sensors" / f"{name}.out").read_bytes(), "x"))


def required(*ids: str) -> Policy:
    return Policy.from_vars({"harden_required_sensors": list(ids)})


def test_falco_with_process_and_network_rules_passes():
    v = LINUX.run(facts("ctr_ok"), Policy())
    assert v.status is Status.PASS, v.message
    assert "Falco runs" in v.message and "Tetragon runs but loads no rule for network connections" in v.message
    assert LINUX.run(facts("ctr_ok"), required("falco")).status is Status.PASS


def test_required_sensors_must_each_count():
    v = LINUX.run(facts("ctr_ok"), required("falco", "tetragon"))
    assert v.status is Status.FAIL and "Tetragon runs but loads no rule for network" in v.message
    v = LINUX.run(facts("ctr_ok"), required("mde"))
    assert v.status is Status.FAIL and "Microsoft Defender for Endpoint (required) is not installed" in v.message


def test_rules_below_the_priority_floor_and_an_idle_osquery_fail():
    v = LINUX.run(facts("ctr_quiet"), Policy())
    assert v.status is Status.FAIL
    assert "0 rules loaded at or above critical" in v.message and "audit publisher off" in v.message
    assert "container" in v.message  # a node-level sensor is invisible from inside


def test_look_alikes_are_not_sensors():
    v = LINUX.run(facts("ctr_fake"), Policy())
    assert v.status is Status.FAIL and "Falco runs" not in v.message
    assert [s["sensor"] for s in v.evidence.facts["sensors"]] == ["auditd"]  # installed in the image, not running


def test_auditd_with_loaded_rules_is_a_sensor_and_an_unreadable_config_is_no_pass():
    f = facts("ctr_fake")
    audit = f.audit
    rules = parse_rules(
        "-a always,exit -F arch=b64 -S execve -k e\n-a always,exit -F arch=b32 -S execve -k e\n"
        "-a always,exit -F arch=b64 -S connect -F a2=16 -k c\n-a always,exit -F arch=b64 -S connect -F a2=28 -k c\n"
    )
    daemon = Proc(9999, 1, "auditd", "/usr/sbin/auditd", ("/sbin/auditd",), 0, 0, 0, "", ())
    procs = replace(f.processes, procs={**f.processes.procs, 9999: daemon})
    live = replace(audit, kernel=KernelAudit("available", enabled=1, pid=9999), loaded=rules, pids=(9999,))
    ok = replace(f, areas={**f.areas, "audit": live, "processes": procs})
    assert LINUX.run(ok, Policy()).status is Status.PASS
    no_connect = replace(live, loaded=parse_rules("-a always,exit -F arch=b64 -S execve -k e\n"))
    v = LINUX.run(replace(f, areas={**f.areas, "audit": no_connect, "processes": procs}), Policy())
    assert v.status is Status.FAIL and "network connections" in v.message
    bomb = replace(f.sensors, falco=None)
    falco = Proc(9998, 1, "falco", "/usr/bin/falco", ("/usr/bin/falco",), 0, 0, 0, "", ())
    procs2 = replace(f.processes, procs={**f.processes.procs, 9998: falco})
    v = LINUX.run(replace(f, areas={**f.areas, "sensors": bomb, "processes": procs2}), Policy())
    assert v.status is Status.ERROR and "falco.yaml not found" in v.message


def test_hardened_lab_auditd_that_cannot_run_in_a_container_is_an_error():
    f = gather(parse_sections((GOLDEN / "lab" / "hardened.out").read_bytes(), _nonce("hardened")))
    v = LINUX.run(f, Policy())
    assert v.status is Status.ERROR and "kernel audit subsystem is unavailable" in v.message


def _nonce(host: str) -> str:
    import re

    text = (GOLDEN / "lab" / f"{host}.out").read_text()
    return re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)


def test_without_root_it_is_an_error():
    f = facts("ctr_ok")
    v = LINUX.run(replace(f, areas={**f.areas, "processes": replace(f.processes, fds_readable=False)}), Policy())
    assert v.status is Status.ERROR and "ansible_become" in v.message


def test_unknown_sensor_names_are_refused_in_policy():
    with pytest.raises(PolicyError, match="harden_required_sensors"):
        required("norton")


# ----------------------------------------------------------------------------- Windows


def win(name: str, edit=None):
    d = parse_output((Path(__file__).parents[2] / "windows" / "fixtures" / f"{name}.jsonl").read_text())
    d = copy.deepcopy(d)
    if edit:
        edit(d)
    return win_gather(d)


def test_windows_fixture_states():
    assert WINDOWS.run(win("server2022-hardened"), Policy()).status is Status.PASS
    v = WINDOWS.run(win("server2022-default"), Policy())
    assert v.status is Status.FAIL and "tamper protection is off" in v.message
    v = WINDOWS.run(win("server2022-partial"), Policy())
    assert v.status is Status.FAIL and "Passive Mode" in v.message and "event 3" in v.message


def test_windows_required_vendor_agent_and_sense_alone():
    assert WINDOWS.run(win("server2022-hardened"), required("falcon")).status is Status.FAIL

    def sense_only(d):
        d["sensors"]["defender"].update(real_time=False)
        d["sensors"]["services"] = [s for s in d["sensors"]["services"] if s["name"] != "Sysmon64"]

    v = WINDOWS.run(win("server2022-hardened", sense_only), required("mde"))
    assert v.status is Status.PASS and "Defender for Endpoint" in v.message


def test_windows_unreported_tamper_protection_and_unreadable_defender():
    def old(d):
        d["sensors"]["defender"].pop("tamper_protected")
        d["sensors"]["services"] = [s for s in d["sensors"]["services"] if s["name"] == "WinDefend"]

    assert WINDOWS.run(win("server2022-hardened", old), Policy()).status is Status.ERROR

    def gone(d):
        d["sensors"] = {"defender_error": "Invalid class", "services": []}

    v = WINDOWS.run(win("server2022-default", gone), Policy())
    assert v.status is Status.FAIL and "no behavioural sensor" in v.message

    def broken(d):
        d["sensors"] = {"services_error": "Access denied"}

    assert WINDOWS.run(win("server2022-default", broken), Policy()).status is Status.ERROR


def test_fixture_sensors_area_is_in_both_collector_shapes():
    one = json.loads((GOLDEN / "windows" / "server2022-hardened.json").read_text())
    assert one["sensors"]["defender"]["tamper_protected"] is True


def test_a_missing_vendor_sensor_leaves_harden_edr_out_of_the_plan():
    """harden_edr refuses sensors only their vendors ship; the planner learns it from the failure."""
    import yaml
    from hardening.checks.edr_sensor.linux import INSTALLABLE

    from hardening.remediate import roles_source

    defaults = yaml.safe_load((roles_source() / "harden_edr" / "defaults" / "main.yml").read_text())
    assert set(defaults["harden_edr_installable"]) == INSTALLABLE
    v = LINUX.run(facts("ctr_ok"), required("falco", "tetragon"))
    assert v.remedy is not None and "Tetragon" in v.remedy.blocked and "Falco" not in v.remedy.blocked
    v = LINUX.run(facts("ctr_ok"), required("auditd"))
    assert v.status is Status.FAIL and v.remedy is None  # auditd the role installs: planned as usual
