"""logging.forwarding: a running forwarder sends auth, daemon, DNS and audit logs to a collector the firewall admits."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hardening.checks import registry

from hardening.facts.linux import LinuxFacts, gather
from hardening.facts.logging import rsyslog_forwards
from hardening.facts.sections import parse_sections
from hardening.facts.windows import gather as win_gather
from hardening.facts.windows import parse_output
from hardening.model import Platform, Status
from hardening.policy import Policy, PolicyError

GOLDEN = Path(__file__).parents[2] / "golden"
LINUX = registry().check("logging.forwarding", Platform.LINUX)
WINDOWS = registry().check("logging.forwarding", Platform.WINDOWS)
LAB = Policy.from_vars({"harden_egress_allow": "198.18.0.0/24"})


def lab(host: str) -> LinuxFacts:
    text = (GOLDEN / "lab" / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return gather(parse_sections(text, nonce))


def with_rsyslog(f: LinuxFacts, extra: str) -> LinuxFacts:
    blocks = [(p, "") for p in ()]
    base = f.sections.text("logging.rsyslog")
    from hardening.facts.sensors import file_blocks

    blocks = [*file_blocks(base), ("/etc/rsyslog.d/95-test.conf", extra)]
    rs = rsyslog_forwards(blocks)
    return replace(f, areas={**f.areas, "logging": replace(f.logging, rsyslog=rs)})


def test_lab_states():
    v = LINUX.run(lab("hardened"), LAB)
    assert v.status is Status.PASS, v.message
    assert "every facility and the DNS query log to 198.18.0.1:6514/tcp" in v.message
    v = LINUX.run(lab("default"), LAB)
    assert v.status is Status.FAIL and "no forwarder" in v.message
    v = LINUX.run(lab("half"), LAB)
    assert v.status is Status.FAIL and "daemon" in v.message
    v = LINUX.run(lab("ufw"), LAB)
    assert v.status is Status.FAIL and "the firewall drops it" in v.message and "10514" in v.message


def test_policy_collectors():
    ok = Policy.from_vars({"harden_log_collectors": ["198.18.0.1:6514"]})
    assert LINUX.run(lab("hardened"), ok).status is Status.PASS
    other = Policy.from_vars({"harden_log_collectors": ["siem.example.org", "198.51.100.0/24"]})
    v = LINUX.run(lab("hardened"), other)
    assert v.status is Status.FAIL and "not one of harden_log_collectors" in v.message
    wrong_port = Policy.from_vars({"harden_log_collectors": [{"host": "198.18.0.1", "port": 514}]})
    assert LINUX.run(lab("hardened"), wrong_port).status is Status.FAIL
    with pytest.raises(PolicyError):
        Policy.from_vars({"harden_log_collectors": ["$(id)"]})


def test_names_need_the_hosts_resolution_and_loopback_does_not_leave():
    f = with_rsyslog(lab("hardened"), '*.* action(type="omfwd" target="siem.unresolved.example" port="6514")\n')
    v = LINUX.run(f, LAB)
    assert v.status is Status.ERROR and "could not resolve" in v.message
    resolved = replace(
        f, areas={**f.areas, "logging": replace(f.logging, resolved={"siem.unresolved.example": ("198.18.0.7",)})}
    )
    assert LINUX.run(resolved, LAB).status is Status.PASS
    loop = with_rsyslog(lab("hardened"), "*.* @@127.0.0.1:514\n")
    v = LINUX.run(loop, LAB)
    assert v.status is Status.FAIL and "do not leave" in v.message


def test_dns_log_file_must_be_read_in():
    f = lab("hardened")
    rs = replace(f.logging.rsyslog, imfiles=())
    v = LINUX.run(replace(f, areas={**f.areas, "logging": replace(f.logging, rsyslog=rs)}), LAB)
    assert v.status is Status.FAIL and "/var/log/dnsmasq.log" in v.message


def test_a_stopped_forwarder_fails():
    f = lab("hardened")
    procs = replace(f.processes, procs={k: p for k, p in f.processes.procs.items() if "rsyslogd" not in p.exe})
    v = LINUX.run(replace(f, areas={**f.areas, "processes": procs}), LAB)
    assert v.status is Status.FAIL and "configured to forward but not running" in v.message


def test_without_firewall_facts_it_is_an_error():
    from hardening.facts.sections import FactError

    f = lab("hardened")
    v = LINUX.run(replace(f, areas={**f.areas, "firewall": FactError("unreadable")}), LAB)
    assert v.status is Status.ERROR and "firewall" in v.message


# ----------------------------------------------------------------------------- Windows


def win(name: str, edit=None):
    d = copy.deepcopy(parse_output((GOLDEN.parent / "windows" / "fixtures" / f"{name}.jsonl").read_text()))
    if edit:
        edit(d)
    return win_gather(d)


def test_windows_fixture_states():
    policy = Policy.from_vars({"harden_egress_allow": ["10.0.0.0/8"]})
    v = WINDOWS.run(win("server2022-hardened"), policy)
    assert v.status is Status.PASS and "WEF to wec.corp.example:5985" in v.message
    v = WINDOWS.run(win("server2022-default"), policy)
    assert v.status is Status.FAIL and "no Windows Event Forwarding" in v.message
    v = WINDOWS.run(win("server2022-partial"), policy)
    assert v.status is Status.FAIL
    assert "errors after its last subscription" in v.message and "NETWORK SERVICE" in v.message
    assert "blocked" in v.message


def test_windows_policy_and_unresolved_manager():
    assert (
        WINDOWS.run(
            win("server2022-hardened"), Policy.from_vars({"harden_log_collectors": ["wec.corp.example"]})
        ).status
        is Status.PASS
    )
    v = WINDOWS.run(win("server2022-hardened"), Policy.from_vars({"harden_log_collectors": ["10.9.0.0/16"]}))
    assert v.status is Status.FAIL and "harden_log_collectors" in v.message

    def unresolved(d):
        d["forwarding"]["resolved"] = []

    assert WINDOWS.run(win("server2022-hardened", unresolved), Policy()).status is Status.ERROR


def test_windows_agent_path():
    def splunk(d):
        d["forwarding"].pop("subscription_manager", None)
        d["forwarding"]["services"].append({"name": "SplunkForwarder", "state": "Running", "start_mode": "Auto"})
        d["forwarding"]["agent_configs"] = [
            {
                "path": "C:\\Program Files\\SplunkUniversalForwarder\\etc\\system\\local\\inputs.conf",
                "text": "[WinEventLog://Microsoft-Windows-Sysmon/Operational]\ndisabled = 0\n"
                "[WinEventLog://Microsoft-Windows-PowerShell/Operational]\ndisabled = 0\n",
            }
        ]

    v = WINDOWS.run(win("server2022-default", splunk), Policy())
    assert v.status is Status.PASS and "Splunk" in v.message

    def splunk_sysmon_only(d):
        splunk(d)
        d["forwarding"]["agent_configs"][0]["text"] = "[WinEventLog://Microsoft-Windows-Sysmon/Operational]\n"

    v = WINDOWS.run(win("server2022-default", splunk_sysmon_only), Policy())
    assert v.status is Status.FAIL and "PowerShell/Operational" in v.message


def test_without_collectors_in_the_policy_the_role_is_left_out_of_the_plan():
    """The role refuses without harden_log_collectors: the failure says so to the planner
    (Remedy.blocked), which leaves only that role out; the host's other roles still run."""
    from hardening.model import CheckResult
    from hardening.remediate import plan

    v = LINUX.run(lab("default"), LAB)
    assert v.status is Status.FAIL and v.remedy is not None and "harden_log_collectors" in v.remedy.blocked
    named = Policy.from_vars({"harden_log_collectors": ["198.18.0.1:6514"], "harden_egress_allow": "198.18.0.0/24"})
    assert LINUX.run(lab("default"), named).remedy is None
    result = CheckResult.of(LINUX.meta, v).to_json()
    assert result["remediation"]["blocked"] and result["remediation"]["role"] == "harden_log_forwarding"
    other = {"id": "dns.query_logging", "status": "fail"}
    p = plan({"hosts": [{"name": "h", "platform": "linux", "status": "ok", "checks": [result, other]}]})
    assert p.hosts[0].roles == ("harden_dns_logging",)
    assert any("harden_log_forwarding not planned: set harden_log_collectors" in n for n in p.hosts[0].notes)
    alone = plan({"hosts": [{"name": "h", "platform": "linux", "status": "ok", "checks": [result]}]})
    assert not alone.hosts and alone.skipped[0][0] == "h" and "harden_log_collectors" in alone.skipped[0][1]
