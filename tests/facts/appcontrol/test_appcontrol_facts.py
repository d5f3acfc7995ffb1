"""Golden tests of the appcontrol parser on real collector output (tests/golden/appcontrol/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.facts import appcontrol
from hardening.facts.sections import FactError, Section, Sections, parse_sections

GOLDEN = Path(__file__).parents[2] / "golden" / "appcontrol"


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_text(), "x")


def test_host_root_has_neither_lsm():
    c = appcontrol.parse(golden("host_root"))
    assert c.uid == 0
    assert c.cmdline == {}  # words after "--" belong to init
    assert c.lsm is None and not c.securityfs_mounted
    assert c.process_label is None
    assert c.selinux.enforce is None and not c.selinux.running
    assert (c.selinux.config_mode, c.selinux.config_type) == ("permissive", "default")
    assert c.selinux.getenforce == "Disabled"
    assert c.apparmor.module_enabled is None and c.apparmor.profiles is None


def test_host_securityfs_lists_active_lsms():
    c = appcontrol.parse(golden("host_securityfs"))
    assert c.lsm == ("lockdown", "capability", "landlock", "bpf")
    assert c.securityfs_mounted


def test_host_nobody_reads_the_same_public_files():
    c = appcontrol.parse(golden("host_nobody"))
    assert c.uid == 65534 and c.selinux.config_mode == "permissive" and c.selinux.enforce is None


def test_container_has_no_selinux_tools_or_config():
    c = appcontrol.parse(golden("ctr_default"))
    assert c.selinux.config_mode is None and c.selinux.getenforce is None
    assert c.apparmor.module_enabled is None


def test_profiles_fixture():
    text = (GOLDEN / "fixtures" / "apparmor-profiles-enforce.txt").read_text()
    profiles = appcontrol.parse_profiles(text)
    assert profiles[2] == ("nvidia_modprobe//kmod", "enforce")
    assert ("named", "complain") in profiles and len(profiles) == 8


def test_profile_names_with_spaces_and_namespaces():
    assert appcontrol.parse_profiles(":ns://my prof (kill)\n") == ((":ns://my prof", "kill"),)


@pytest.mark.parametrize("bad", ["garbage\n", "name (Enforce)\n", "(enforce)\n"])
def test_garbled_profiles_raise(bad):
    with pytest.raises(FactError):
        appcontrol.parse_profiles(bad)


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ("BOOT_IMAGE=/vmlinuz ro selinux=0 quiet", {"selinux": "0"}),
        ("ro enforcing=0 security=selinux", {"enforcing": "0", "security": "selinux"}),
        ("ro lsm=landlock,lockdown,yama apparmor=1", {"lsm": "landlock,lockdown,yama", "apparmor": "1"}),
        ("ro -- selinux=0", {}),
    ],
)
def test_cmdline(cmdline, expected):
    assert appcontrol.parse_cmdline(cmdline) == expected


def test_selinux_config_quotes_and_last_wins():
    assert appcontrol.parse_selinux_config('SELINUX=permissive\nSELINUX="Enforcing"\n') == ("enforcing", "")


def test_garbled_enforce_raises():
    s = golden("host_root")
    bad = Sections({**s.by_name, "appcontrol.selinux_enforce": Section("appcontrol.selinux_enforce", "7", 0)}, True)
    with pytest.raises(FactError, match="enforce"):
        appcontrol.parse(bad)


def test_missing_sections_raise():
    with pytest.raises(FactError, match="no appcontrol sections"):
        appcontrol.parse(Sections({}, complete=False))
