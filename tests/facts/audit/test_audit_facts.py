"""Golden tests of the audit parser, on real collector output (see tests/golden/audit/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.facts import audit
from hardening.facts.sections import FactError, Section, Sections, parse_sections

GOLDEN = Path(__file__).parents[2] / "golden" / "audit"


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_text(), "x")


def test_host_root_kernel_reachable_but_disabled():
    a = audit.parse(golden("host_root"))
    assert a.uid == 0 and a.machine == "x86_64"
    assert a.installed and a.package == "auditd 1:3.0.9-1 install ok installed"
    assert a.tools["auditctl"] == "/usr/sbin/auditctl"
    assert a.kernel.state == "available"
    assert (a.kernel.enabled, a.kernel.pid, a.kernel.backlog_limit, a.kernel.failure) == (0, 0, 64, 1)
    assert a.loaded is not None and a.loaded.rules == ()
    assert a.persisted_source == "/etc/audit/rules.d"
    assert a.persisted_files == ("/etc/audit/rules.d/audit.rules",)
    assert a.persisted is not None and a.persisted.rules == ()
    assert a.persisted.controls == {
        "delete_all": "1",
        "backlog_limit": "8192",
        "backlog_wait_time": "60000",
        "failure": "1",
    }
    assert not a.boot.systemd_running and a.boot.is_enabled is None
    assert a.boot.enabled and not a.boot.masked
    assert "/etc/rc2.d/S01auditd -> ../init.d/auditd" in a.boot.links
    assert not a.running and a.pids == ()
    assert a.augenrules_check == "No change"
    assert a.has_audit_control is True


def test_host_unprivileged_needs_root_and_hides_rules():
    a = audit.parse(golden("host_nobody"))
    assert a.uid == 65534
    assert a.kernel.state == "needs_root"
    assert a.kernel.reason == "You must be root to run this program."
    assert a.loaded is None and a.persisted is None
    assert "Permission denied" in a.persisted_error
    assert a.has_audit_control is False


def test_container_kernel_audit_unavailable():
    a = audit.parse(golden("ctr_default"))
    assert a.uid == 0
    assert a.kernel.state == "unavailable"
    assert "Cannot open netlink audit socket" in a.kernel.reason
    assert a.has_audit_control is False
    assert a.container_markers == ("/run/.containerenv",)
    assert a.loaded is None
    assert a.persisted is not None and a.persisted.rules == ()


def test_container_persisted_coverage_rules():
    a = audit.parse(golden("ctr_coverage"))
    assert a.persisted is not None
    assert a.persisted_files == ("/etc/audit/rules.d/50-harden.rules", "/etc/audit/rules.d/audit.rules")
    assert a.persisted.unparsed == ()
    assert a.persisted.enable == 2
    assert len(a.persisted.rules) == 17
    b32 = a.persisted.rules[1]
    assert (b32.kind, b32.arches, b32.syscalls, b32.keys) == (
        "syscall",
        ("b32",),
        {"execve", "execveat"},
        ("exec",),
    )
    assert a.augenrules_check == "No change"
    stale = audit.parse(golden("ctr_coverage_stale"))
    assert stale.augenrules_check == "Rules have changed and should be updated"


def test_persisted_rules_compare_equal_to_their_auditctl_listing():
    # The -l fixture is the coverage rules file in auditctl 3.0.9's print_rule format.
    persisted = audit.parse(golden("ctr_coverage")).persisted
    listing = audit.parse_rules((GOLDEN / "fixtures" / "auditctl-l-coverage.txt").read_text())
    assert persisted is not None and listing.unparsed == ()
    assert listing.canonical() == persisted.canonical()


def test_debian_example_rules_parse_in_augenrules_order():
    a = audit.parse(golden("ctr_examples"))
    assert a.persisted is not None and a.persisted.unparsed == ()
    names = [p.rsplit("/", 1)[1] for p in a.persisted_files]
    assert names == ["10-base-config.rules", "30-stig.rules", "71-networking.rules", "99-finalize.rules"]
    texts = [r.text for r in a.persisted.rules]
    assert texts[-1] == "-a always,exit -F arch=b64 -S accept,connect -F key=external-access"
    clock = next(r for r in a.persisted.rules if "clock_settime" in r.syscalls and r.arches == ("b32",))
    assert [f.canonical() for f in clock.fields] == ["-F a0=0x0"]
    sudoers = next(r for r in a.persisted.rules if r.kind == "watch" and r.path == "/etc/sudoers.d")
    assert sudoers.canonical() == "-w /etc/sudoers.d -p wa -k actions"
    access = next(r for r in a.persisted.rules if "access" in r.keys)
    assert {f.canonical() for f in access.fields} >= {"-F auid>=1000", "-F auid!=-1"}


def test_task_never_rule_parsed():
    a = audit.parse(golden("ctr_no_audit"))
    assert a.persisted is not None
    first = a.persisted.rules[0]
    assert (first.action, first.list, first.fields) == ("never", "task", ())


def test_purged_is_not_installed():
    a = audit.parse(golden("ctr_purged"))
    assert not a.installed and a.package == "" and a.tools == {}
    assert a.kernel.state == "unknown"
    assert a.persisted == audit.RuleSet() and a.persisted_source == ""


@pytest.mark.parametrize(
    ("line", "canonical"),
    [
        (
            "-a exit,always -F arch=b64 -S execve -S execveat -k exec",
            "-a always,exit -F arch=b64 -S execve,execveat -k exec",
        ),
        (
            "-a always,exit -F arch=x86_64 -S connect -F a2!=110",
            "-a always,exit -F arch=b64 -S connect -F a2!=0x6E",
        ),
        (
            "-a always,exit -F arch=b64 -S execve -C uid!=euid -F euid=0 -k su",
            "-a always,exit -F arch=b64 -S execve -C uid!=euid -F euid=0 -k su",
        ),
        (
            "-a always,exit -F arch=b64 -S execve -F auid!=unset",
            "-a always,exit -F arch=b64 -S execve -F auid!=-1",
        ),
        (
            "-a always,exit -F arch=b64 -S execve -F auid!=4294967295",
            "-a always,exit -F arch=b64 -S execve -F auid!=-1",
        ),
        ("-w /etc/cron.d/ -k persistence", "-w /etc/cron.d -p rwxa -k persistence"),
        ("-a always,exit -F dir=/etc/cron.d/ -F perm=wa -F key=p", "-w /etc/cron.d -p wa -k p"),
    ],
)
def test_rule_normal_form(line, canonical):
    assert audit.parse_rule(line).canonical() == canonical


@pytest.mark.parametrize(
    "line",
    [
        "-a always",
        "-a always,nowhere -S execve",
        "-w /etc -S execve",
        "-F arch=b64",
        "rm -rf /",
        "-a always,exit -F arch=mips9",
    ],
)
def test_bad_rules_are_kept_unparsed(line):
    rs = audit.parse_rules(f"-e 1\n{line}\n")
    assert rs.unparsed == (line,) and rs.rules == () and rs.enable == 1


def test_prepend_flag():
    assert audit.parse_rule("-A never,exit -F arch=b64 -S all").prepend


def test_missing_sections_raise():
    with pytest.raises(FactError, match="no audit sections"):
        audit.parse(Sections({}, complete=False))


def test_garbled_status_raises():
    s = golden("host_root")
    garbled = Sections({**s.by_name, "audit.status": Section("audit.status", "hello\n", 0)}, complete=True)
    with pytest.raises(FactError, match="enabled"):
        audit.parse(garbled)


# --------------------------------------------------------------------- auditd's dpkg line, shared
# When the sensors piece runs beside audit.sh, audit.sh prints audit.pkg_from instead of its own
# dpkg-query, and audit.py reads auditd's line from sensors.packages. The line below is what the
# sensors piece's dpkg-query printed in the lab's hardened container (auditd 1:3.0.9-1).
LAB_LINE = "auditd installed 1:3.0.9-1 install ok installed\n"


def _shared(packages: str, rc: int | None, base: str = "host_root") -> Sections:
    s = golden(base)
    by_name = {n: sec for n, sec in s.by_name.items() if n != "audit.pkg"}
    by_name["audit.pkg_from"] = Section("audit.pkg_from", "sensors\n", 0)
    by_name["sensors.packages"] = Section("sensors.packages", packages, rc)
    return Sections(by_name, s.complete)


def test_shared_package_line_is_what_audit_pkg_printed():
    own = audit.parse(golden("host_root"))
    for rc in (0, 1):  # 1: some other sensor package is unknown to dpkg
        shared = audit.parse(_shared("falco config-files 0.36 deinstall ok config-files\n" + LAB_LINE, rc))
        assert shared.package == own.package == "auditd 1:3.0.9-1 install ok installed"
        assert shared == own


@pytest.mark.parametrize(
    ("packages", "rc"),
    [
        ("auditd config-files 1:3.0.9-1 deinstall ok config-files\n", 0),  # purged: config files only
        ("auditd not-installed  unknown ok not-installed\n", 0),
        ("falco installed 0.36 install ok installed\n", 1),  # auditd unknown to dpkg
        (LAB_LINE, 2),  # dpkg-query failed
    ],
)
def test_shared_package_absent_or_failed_is_no_package(packages, rc):
    assert audit.parse(_shared(packages, rc)).package == ""


def test_shared_package_list_cut_short_is_an_error():
    with pytest.raises(FactError, match=r"sensors\.packages"):
        audit.parse(_shared(LAB_LINE, None))


def test_without_the_marker_audit_pkg_is_required_and_with_it_sensors_packages():
    assert "audit.pkg" in audit.required_sections(golden("host_root"))
    s = _shared(LAB_LINE, 0)
    assert "audit.pkg" not in audit.required_sections(s) and "sensors.packages" in audit.required_sections(s)
    no_list = Sections({n: sec for n, sec in s.by_name.items() if n != "sensors.packages"}, s.complete)
    with pytest.raises(FactError, match=r"sensors\.packages"):
        audit.parse(no_list)
