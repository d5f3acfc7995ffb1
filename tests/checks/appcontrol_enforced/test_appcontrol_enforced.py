"""Pure tests of appcontrol.enforced on real captures (the "neither" case this kernel has) and on
fixtures in documented kernel formats for states that cannot exist here (see the README)."""

from __future__ import annotations

from pathlib import Path

from hardening.checks import evaluated
from hardening.checks.appcontrol_enforced import linux as appcontrol_enforced

from hardening.facts.linux import gather
from hardening.facts.sections import Section, Sections, parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parents[2] / "golden" / "appcontrol"
FIX = GOLDEN / "fixtures"
CONFIG_ENFORCING = (FIX / "selinux-config-enforcing.txt").read_text()
CONFIG_PERMISSIVE = None  # the real Debian file in host_root.out says SELINUX=permissive


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_text(), "x")


def replace(s: Sections, sections: dict[str, tuple[str, int]]) -> Sections:
    by_name = dict(s.by_name)
    for name, (text, rc) in sections.items():
        by_name[name] = Section(name, text, rc)
    return Sections(by_name, complete=s.complete)


def judge(s: Sections):
    return evaluated(appcontrol_enforced.evaluate, gather(s), Policy())


def selinux(enforce: str, config: str | None = CONFIG_ENFORCING, cmdline: str | None = None) -> Sections:
    changes = {
        "appcontrol.selinux_enforce": (enforce, 0),
        "appcontrol.getenforce": ("Enforcing\n" if enforce == "1" else "Permissive\n", 0),
        "appcontrol.attr_current": ("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\x00", 0),
    }
    if config is not None:
        changes["appcontrol.selinux_config"] = (config, 0)
    if cmdline is not None:
        changes["appcontrol.cmdline"] = (cmdline, 0)
    return replace(golden("host_securityfs"), changes)


def apparmor(profiles: str | None, base: str = "host_securityfs", err: str = "") -> Sections:
    changes = {
        "appcontrol.apparmor_enabled": ((FIX / "apparmor-enabled-Y.txt").read_text(), 0),
        "appcontrol.lsm": ("lockdown,capability,landlock,yama,apparmor,bpf", 0),
    }
    if profiles is None:
        changes["appcontrol.apparmor_profiles"] = ("", 1)
        changes["appcontrol.apparmor_profiles!err"] = (err, 0)
    else:
        changes["appcontrol.apparmor_profiles"] = ((FIX / profiles).read_text(), 0)
    return replace(golden(base), changes)


def test_selinux_enforcing_passes():
    v = judge(selinux((FIX / "selinux-enforce-1.txt").read_text()))
    assert v.status == Status.PASS, v.message
    assert "targeted" in v.message and v.evidence.facts["selinux_enforce"] == 1


def test_selinux_permissive_fails():
    v = judge(selinux((FIX / "selinux-enforce-0.txt").read_text()))
    assert v.status == Status.FAIL and "permissive" in v.message and "setenforce 1" in v.message


def test_selinux_running_enforcing_with_permissive_config_fails():
    real_config = golden("host_root")["appcontrol.selinux_config"].text  # Debian's: SELINUX=permissive
    v = judge(selinux("1", config=real_config))
    assert v.status == Status.FAIL
    assert "will not survive a reboot" in v.message and "SELINUX=permissive" in v.message


def test_selinux_running_enforcing_without_config_fails():
    s = selinux("1", config=None)
    s = replace(s, {"appcontrol.selinux_config": ("", 127)})
    v = judge(s)
    assert v.status == Status.FAIL and "no /etc/selinux/config" in v.message


def test_selinux_enforcing_with_enforcing0_on_cmdline_fails():
    v = judge(selinux("1", cmdline="BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro enforcing=0\n"))
    assert v.status == Status.FAIL and "enforcing=0" in v.message


def test_selinux0_on_cmdline_fails_and_is_named():
    s = replace(golden("host_securityfs"), {"appcontrol.cmdline": ("ro quiet selinux=0\n", 0)})
    s = replace(s, {"appcontrol.selinux_config": (CONFIG_ENFORCING, 0)})
    v = judge(s)
    assert v.status == Status.FAIL
    assert "selinux=0 disables SELinux" in v.message and "SELINUX=enforcing" in v.message


def test_apparmor_enforce_passes_with_counts():
    v = judge(apparmor("apparmor-profiles-enforce.txt"))
    assert v.status == Status.PASS, v.message
    assert "7 profile(s) enforcing" in v.message and "1 complain" in v.message
    assert v.evidence.facts["apparmor_profile_counts"] == {"enforce": 7, "complain": 1}


def test_apparmor_all_complain_fails():
    v = judge(apparmor("apparmor-profiles-complain.txt"))
    assert v.status == Status.FAIL and "no profile is in enforce mode" in v.message and "8 complain" in v.message


def test_neither_fails_on_real_host():
    v = judge(golden("host_securityfs"))
    assert v.status == Status.FAIL
    assert "no mandatory access control is enforcing" in v.message
    assert "SELINUX=permissive" in v.message and "lockdown,capability,landlock,bpf" in v.message


def test_neither_fails_in_real_container():
    v = judge(golden("ctr_default"))
    assert v.status == Status.FAIL and "no mandatory access control" in v.message


def test_neither_as_nobody_is_still_a_fail_since_the_files_are_public():
    v = judge(golden("host_nobody"))
    assert v.status == Status.FAIL


def test_non_root_with_apparmor_profiles_unreadable_is_error():
    err = "cat: /sys/kernel/security/apparmor/profiles: Permission denied\n"
    v = judge(apparmor(None, base="host_nobody", err=err))
    assert v.status == Status.ERROR and "ansible_become" in v.message


def test_apparmor_without_securityfs_is_error():
    s = apparmor(None, base="host_root", err="")
    s = replace(s, {"appcontrol.apparmor_profiles": ("", 127)})
    v = judge(s)
    assert v.status == Status.ERROR and "securityfs is not mounted" in v.message


def test_apparmor_disabled_at_boot_fails():
    s = replace(
        golden("host_securityfs"),
        {"appcontrol.apparmor_enabled": ("N\n", 0), "appcontrol.cmdline": ("ro apparmor=0\n", 0)},
    )
    v = judge(s)
    assert v.status == Status.FAIL and "apparmor=0" in v.message and "= N" in v.message


def test_selinux_label_without_selinuxfs_is_error():
    s = replace(golden("host_root"), {"appcontrol.attr_current": ("system_u:system_r:init_t:s0\x00", 0)})
    v = judge(s)
    assert v.status == Status.ERROR and "selinuxfs" in v.message
