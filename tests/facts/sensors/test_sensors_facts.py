"""Golden tests of the sensors parser (tests/golden/sensors/README.md) and of the configuration readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.facts import sensors
from hardening.facts.sections import FactError, Section, Sections, parse_sections

GOLDEN = Path(__file__).parents[2] / "golden" / "sensors"


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_bytes(), "x")


def test_host_without_sensors():
    s = sensors.parse(golden("host_root"))
    assert s.packages == frozenset() and s.falco is None and s.osquery is None and s.tetragon is None
    assert not s.systemd and s.units == {} and s.problems == ()


def test_container_falco_config_and_rules_in_load_order():
    s = sensors.parse(golden("ctr_ok"))
    assert "auditd" in s.packages  # the lab image ships auditd
    assert s.falco is not None and s.falco.min_priority == "debug"
    assert s.falco.rules_paths == (
        "/etc/falco/falco_rules.yaml",
        "/etc/falco/falco_rules.local.yaml",
        "/etc/falco/rules.d",
    )
    files, unread = sensors.falco_load_order(s.falco.rules_paths, list(s.falco_files))
    assert [p for p, _ in files][-1] == "/etc/falco/rules.d/10-reverse-shell.yaml" and unread == []
    r = sensors.falco_rules(files, "debug")
    assert r.loaded == 3  # the disabled rule is not
    assert r.process == ("Shell spawned by a network service",) and r.network == ("Interpreter connects out",)
    assert sensors.falco_rules(files, "critical").loaded == 1  # only the CRITICAL rule
    assert s.tetragon is not None and s.tetragon.network == () and "security_file_permission" in s.tetragon.hooks


def test_container_osquery_flags_and_schedule():
    s = sensors.parse(golden("ctr_quiet"))
    assert s.osquery is not None and s.osquery.flags["disable_events"] == "false"
    assert any("from process_events" in q for q in s.osquery.queries)


def test_falco_append_override_and_priority_names():
    files = [
        ("/etc/falco/a.yaml", "- macro: m\n  condition: evt.type = openat\n"
         "- rule: R\n  condition: m\n  priority: info\n"),
        ("/etc/falco/b.yaml", "- macro: m\n  condition: or evt.type = execve\n  append: true\n"
         "- rule: R\n  condition: and proc.name = x\n  override:\n    condition: append\n"),
    ]  # fmt: skip
    r = sensors.falco_rules(files, "informational")
    assert r.process == ("R",) and r.loaded == 1
    assert sensors.falco_rules(files, "notice").loaded == 0
    off = [*files, ("/etc/falco/c.yaml", "- rule: R\n  enabled: false\n")]
    assert sensors.falco_rules(off, "debug").loaded == 0


def test_macro_loops_end():
    r = sensors.falco_rules(
        [("/x", "- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: R\n  condition: a\n")], "debug"
    )
    assert r.loaded == 1 and r.process == ()


def test_host_yaml_refuses_aliases_and_garbage():
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    with pytest.raises(FactError, match="alias"):
        sensors.host_yaml(bomb)
    r = sensors.falco_rules([("/etc/falco/falco_rules.yaml", bomb)], "debug")
    assert r.problems and r.loaded == 0
    with pytest.raises(FactError):
        sensors.host_yaml("a: [")


def test_host_yaml_refuses_python_tags():
    with pytest.raises(FactError):
        sensors.host_yaml("!!python/object/apply:os.system ['id']\n")


def test_osquery_config_packs_and_comments():
    conf = (
        '{\n// comment\n"packs": {"ir": "/etc/osquery/packs/ir.conf", '
        '"inline": {"queries": {"s": {"query": "SELECT * FROM bpf_socket_events"}}}}}'
    )
    pack = '{"queries": {"p": {"query": "SELECT * FROM bpf_process_events"}}}'
    c = sensors.osquery_config([("/etc/osquery/osquery.conf", conf), ("/etc/osquery/packs/ir.conf", pack)])
    assert c is not None and c.pack_paths == ("/etc/osquery/packs/ir.conf",)
    assert any("bpf_process_events" in q for q in c.queries) and any("bpf_socket_events" in q for q in c.queries)
    assert sensors.osquery_config([("/etc/osquery/osquery.conf", "{nope")]).problem


def test_tetragon_connect_hook_counts_as_network():
    tp = (
        "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: connect\n"
        "spec:\n  kprobes:\n  - call: tcp_connect\n"
    )
    t = sensors.tetragon_policies([("/etc/tetragon/tetragon.tp.d/c.yaml", tp)])
    assert t is not None and t.network == ("connect",)


def test_sysmon_linux_config_events():
    xml = (
        '<Sysmon schemaversion="4.81"><EventFiltering><RuleGroup name="" groupRelation="or">'
        '<ProcessCreate onmatch="exclude"/><NetworkConnect onmatch="include"/>'
        "</RuleGroup></EventFiltering></Sysmon>"
    )
    c = sensors.sysmon_linux_config(xml)
    assert c.logs("ProcessCreate", True) and not c.logs("NetworkConnect", False)
    assert sensors.sysmon_linux_config("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>").problem  # no entities


def test_auditbeat_modules():
    yml = ("auditbeat.modules:\n- module: auditd\n  audit_rules: |\n    -a always,exit -F arch=b64 -S execve -k e\n"
           "- module: system\n  datasets: [process, socket]\n  enabled: true\n")  # fmt: skip
    c = sensors.auditbeat_config(yml)
    assert c.datasets == ("process", "socket") and c.audit_rules is not None and len(c.audit_rules.rules) == 1


def test_units_from_systemctl_show():
    text = (
        "Id=falco-modern-bpf.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n"
        "MainPID=812\n\nId=osqueryd.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n"
        "MainPID=0\n"
    )
    units = sensors.parse_units(text)
    assert list(units) == ["falco-modern-bpf.service"] and units["falco-modern-bpf.service"].main_pid == 812


def test_a_cut_file_section_is_an_error():
    s = golden("ctr_ok")
    cut = dict(s.by_name)
    cut["sensors.falco"] = Section("sensors.falco", cut["sensors.falco"].body, None)
    with pytest.raises(FactError, match="cut short"):
        sensors.parse(Sections(cut, complete=False))
