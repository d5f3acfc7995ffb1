"""Pure tests of the audit.auditd check on real captures and documented fixtures.

Real: tests/golden/audit/*.out. Fixtures (a kernel with rules loaded cannot exist on the capture
machine, which must not get audit rules): tests/golden/audit/fixtures, see the README there.
"""

from __future__ import annotations

from pathlib import Path

from hardening.checks import evaluated
from hardening.checks.audit_auditd import linux as audit_auditd

from hardening.facts.linux import LinuxFacts, gather
from hardening.facts.sections import Section, Sections, parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parents[2] / "golden" / "audit"
COVERAGE_RULES = (GOLDEN / "harden-coverage.rules").read_text()
LISTING = (GOLDEN / "fixtures" / "auditctl-l-coverage.txt").read_text()
STATUS_IMMUTABLE = (GOLDEN / "fixtures" / "auditctl-s-immutable.txt").read_text()


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_text(), "x")


def replace(s: Sections, **texts: str) -> Sections:
    """``s`` with some sections' text replaced (rc 0); names use _ for the dot after 'audit'."""
    by_name = dict(s.by_name)
    for key, text in texts.items():
        name = key.replace("__", ".")
        by_name[name] = Section(name, text, 0)
    return Sections(by_name, complete=s.complete)


def healthy(listing: str = LISTING, persisted: str = COVERAGE_RULES) -> Sections:
    """The real root capture, with auditd running and the given rules loaded and persisted."""
    return replace(
        golden("host_root"),
        audit__status=STATUS_IMMUTABLE,
        audit__procs="812 auditd\n",
        audit__rules_loaded=listing,
        audit__rules_d=f"==> /etc/audit/rules.d/50-harden.rules <==\n{persisted}\n",
    )


def judge(sections: Sections):
    facts: LinuxFacts = gather(sections)
    return evaluated(audit_auditd.evaluate, facts, Policy())


def without(text: str, *needles: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not any(n in line for n in needles))


def test_full_coverage_passes():
    v = judge(healthy())
    assert v.status == Status.PASS, v.message
    assert "immutable" in v.message and "differ" not in v.message
    assert v.evidence.facts["loaded_missing"] == [] and v.evidence.facts["immutable"] is True
    assert v.evidence.facts["rules_only_loaded"] == [] == v.evidence.facts["rules_only_persisted"]


def test_container_with_complete_persisted_rules_is_error_never_pass():
    v = judge(golden("ctr_coverage"))
    assert v.status == Status.ERROR
    assert "kernel audit subsystem is unavailable" in v.message
    assert "CAP_AUDIT_CONTROL" in v.message and "container host" in v.message
    assert v.evidence.facts["persisted_missing"] == []


def test_container_with_default_rules_fails():
    v = judge(golden("ctr_default"))
    assert v.status == Status.FAIL
    assert "unavailable" in v.message and "execve (b32)" in v.message
    assert "-a always,exit -F arch=b32 -S execve,execveat -k exec" in v.message


def test_container_task_never_cancels_coverage():
    v = judge(golden("ctr_no_audit"))
    assert v.status == Status.FAIL
    assert "'-a task,never' turns syscall auditing off" in v.message and "remove that rule" in v.message
    # without 10-no-audit.rules these rules are complete (ctr_coverage): task,never alone cancels them
    assert "execve (b64)" in v.evidence.facts["persisted_missing"]
    assert "watch /etc/crontab" in v.evidence.facts["persisted_missing"]


def test_container_debian_stig_examples_miss_execve_and_persistence():
    v = judge(golden("ctr_examples"))
    assert v.status == Status.FAIL
    missing = v.evidence.facts["persisted_missing"]
    assert "execve (b64)" in missing and "watch /etc/cron.d" in missing
    assert "connect (IPv4)" not in missing and "connect (IPv6)" not in missing  # 71-networking.rules


def test_not_installed_fails():
    v = judge(golden("ctr_purged"))
    assert v.status == Status.FAIL and "not installed" in v.message


def test_unprivileged_is_error():
    v = judge(golden("host_nobody"))
    assert v.status == Status.ERROR and "ansible_become" in v.message


def test_real_host_disabled_not_running_fails():
    v = judge(golden("host_root"))
    assert v.status == Status.FAIL
    assert "enabled 0" in v.message and "not running" in v.message
    assert v.evidence.facts["enabled_at_boot"] is True


def test_missing_b32_execve_fails():
    v = judge(healthy(without(LISTING, "arch=b32"), without(COVERAGE_RULES, "arch=b32")))
    assert v.status == Status.FAIL
    assert v.evidence.facts["loaded_missing"] == ["execve (b32)"]
    assert "-a always,exit -F arch=b32 -S execve,execveat -k exec" in v.message


def test_missing_connect_fails():
    v = judge(healthy(without(LISTING, "connect"), without(COVERAGE_RULES, "connect")))
    assert v.status == Status.FAIL
    assert v.evidence.facts["loaded_missing"] == ["connect (IPv4)", "connect (IPv6)"]


def test_ipv4_only_connect_misses_ipv6():
    v = judge(healthy(without(LISTING, "a2=0x1C"), without(COVERAGE_RULES, "a2=28")))
    assert v.evidence.facts["loaded_missing"] == ["connect (IPv6)"]


def test_connect_without_a2_and_keyed_by_exe_covers_both_families():
    listing = without(LISTING, "connect") + (
        "-a always,exit -F arch=b64 -S connect -F exe=/usr/bin/bash -F key=shell_net\n"
    )
    persisted = (
        without(COVERAGE_RULES, "connect") + "-a always,exit -F arch=b64 -S connect -F exe=/usr/bin/bash -k shell_net\n"
    )
    v = judge(healthy(listing, persisted))
    assert v.status == Status.PASS, v.message
    assert any("/usr/bin/bash" in n for n in v.evidence.facts["loaded_notes"])


def test_missing_persistence_watches_fail():
    v = judge(healthy(without(LISTING, "/etc/cron", "/root/.ssh"), without(COVERAGE_RULES, "/etc/cron", "/root/.ssh")))
    assert v.status == Status.FAIL
    missing = v.evidence.facts["loaded_missing"]
    assert "watch /etc/cron.d" in missing and "watch /root/.ssh" in missing
    assert "watch /etc/crontab" in missing and "watch /var/spool/cron" not in missing
    assert "-w PATH -p wa -k persistence for PATH in /etc/crontab /etc/cron.d" in v.message
    assert v.message.count("/root/.ssh") == 2  # listed as missing, and in the fix


def test_parent_directory_watch_covers_children():
    listing = (
        without(LISTING, "/etc/cron", "/etc/profile", "/etc/bash.bashrc", "/etc/systemd") + "-w /etc -p wa -k etc\n"
    )
    persisted = (
        without(COVERAGE_RULES, "/etc/cron", "/etc/profile", "/etc/bash.bashrc", "/etc/systemd")
        + "-w /etc/ -p wa -k etc\n"
    )
    v = judge(healthy(listing, persisted))
    assert v.status == Status.PASS, v.message


def test_read_only_watch_does_not_cover():
    listing = LISTING.replace("-w /etc/crontab -p wa", "-w /etc/crontab -p r")
    v = judge(healthy(listing))
    assert v.evidence.facts["loaded_missing"] == ["watch /etc/crontab"]


def test_loaded_complete_but_persisted_empty_will_not_survive_reboot():
    v = judge(healthy(LISTING, "-D\n-b 8192\n"))
    assert v.status == Status.FAIL
    assert "will not survive a reboot" in v.message
    assert v.evidence.facts["loaded_missing"] == []
    assert len(v.evidence.facts["rules_only_loaded"]) == 17


def test_persisted_complete_but_not_loaded_fails_on_loaded_rules():
    v = judge(healthy("No rules\n", COVERAGE_RULES))
    assert v.status == Status.FAIL
    assert "the loaded rules miss" in v.message and "will not survive" not in v.message
    assert len(v.evidence.facts["rules_only_persisted"]) == 17


def test_extra_rules_differ_but_still_pass_with_the_difference_reported():
    listing = LISTING + "-a always,exit -F arch=b64 -S unshare,setns -F key=container-config\n"
    v = judge(healthy(listing))
    assert v.status == Status.PASS, v.message
    assert "differ (1 only loaded, 0 only persisted)" in v.message
    assert v.evidence.facts["rules_only_loaded"] == ["-a always,exit -F arch=b64 -S setns,unshare -k container-config"]


def test_execve_narrowed_to_login_users_misses_service_shells():
    narrowed = "-F auid>=1000 -F auid!=-1 -F key=exec"
    listing = LISTING.replace("-F key=exec", narrowed)
    persisted = COVERAGE_RULES.replace("-k exec", "-F auid>=1000 -F auid!=unset -k exec")
    v = judge(healthy(listing, persisted))
    assert v.status == Status.FAIL
    assert v.evidence.facts["loaded_missing"] == ["execve (b64)", "execve (b32)"]
    assert "narrowed by -F auid>=1000" in v.message


def test_earlier_never_rule_suppresses_execve():
    never = "-a never,exit -F arch=b64 -S execve\n"
    v = judge(healthy(never + LISTING, never + COVERAGE_RULES))
    assert v.status == Status.FAIL
    assert v.evidence.facts["loaded_missing"] == ["execve (b64)"]


def test_prepended_never_rule_in_file_suppresses_even_when_written_last():
    persisted = COVERAGE_RULES + "-A never,exit -F arch=b32 -S all\n"
    v = judge(healthy(LISTING, persisted))
    assert "execve (b32)" in v.evidence.facts["persisted_missing"]


def test_not_enabled_at_boot_fails():
    s = replace(healthy(), audit__boot="")
    v = judge(s)
    assert v.status == Status.FAIL and "not enabled at boot" in v.message


def test_masked_under_systemd_fails():
    s = replace(healthy(), audit__boot="systemd running\n", audit__is_enabled="masked\n")
    v = judge(s)
    assert v.status == Status.FAIL and "unmask" in v.message


def test_persisted_e0_fails():
    v = judge(healthy(LISTING, COVERAGE_RULES.replace("-e 2", "-e 0")))
    assert v.status == Status.FAIL and "-e 0" in v.message
