"""The harden_netcat role's own modules, their pure rules (one test per rule of the guard).

The modules run on managed hosts; here their decision functions are exercised on the
controller. tests/lab/test_remediation_lab.py runs them for real on lab containers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "playbooks" / "plugins" / "modules"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, LIBRARY / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


guard = _load("harden_remove_packages")
quarantine = _load("harden_quarantine")
DEFAULTS = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "harden_netcat" / "defaults" / "main.yml"


def protected_patterns() -> list[str]:
    import yaml

    return yaml.safe_load(DEFAULTS.read_text())["harden_netcat_protected_packages"]


# -- rule: plain names only


@pytest.mark.parametrize("name", ["-y", "--purge", "/usr/bin/nc", "nc*", "a b", "", "Socat", "x;y"])
def test_non_names_refused(name):
    assert guard.invalid_names([name]) == [name]


def test_plain_names_accepted():
    assert guard.invalid_names(["netcat-openbsd", "busybox-static", "nmap-ncat", "libstdc++6"]) == []


# -- rule: protected list


@pytest.mark.parametrize(
    "name",
    [
        "openssh-server", "openssh-client", "openssh-sftp-server", "ssh", "sudo", "coreutils", "systemd",
        "systemd-sysv", "apt", "dpkg", "rpm", "dnf", "yum", "python3", "python3.11", "python3-minimal",
        "auditd", "audit", "apparmor", "selinux-policy", "libselinux1", "linux-image-amd64", "kernel-core",
        "bash", "libc6", "glibc", "initramfs-tools", "dracut", "util-linux", "login", "passwd", "nftables",
    ],
)  # fmt: skip
def test_protected_defaults_cover_what_the_fleet_needs(name):
    assert guard.protected_hits([name], protected_patterns()), name


@pytest.mark.parametrize("name", ["netcat-openbsd", "netcat-traditional", "ncat", "nmap-ncat", "socat", "busybox"])
def test_protected_defaults_leave_netcats_removable(name):
    assert guard.protected_hits([name], protected_patterns()) == []


# -- rule: Essential, Priority required/important, dpkg Protected

DPKG = (
    "bash\tyes\trequired\t\tii \n"
    "procps\t\timportant\t\tii \n"
    "init\tno\toptional\tyes\tii \n"
    "socat\t\toptional\t\tii \n"
    "ncat\t\toptional\t\tun \n"
    "netcat-traditional\t\toptional\t\trc \n"
)


def test_dpkg_query_parsed():
    info = guard.parse_dpkg_query(DPKG)
    assert info["bash"] == ("yes", "required", "", "ii")
    assert guard.dpkg_installed(info, ["socat", "ncat", "netcat-traditional", "absent"]) == ["socat"]


@pytest.mark.parametrize(
    ("name", "why"),
    [("bash", "Essential: yes"), ("procps", "Priority: important"), ("init", "Protected: yes")],
)
def test_essential_priority_and_protected_packages_refused(name, why):
    (refusal,) = guard.dpkg_refusals(guard.parse_dpkg_query(DPKG), [name])
    assert why in refusal


def test_important_waived_only_for_named_packages():
    info = guard.parse_dpkg_query("netcat-openbsd\t\timportant\t\tii \nprocps\t\timportant\t\tii \n")
    assert guard.dpkg_refusals(info, ["netcat-openbsd"], ("netcat-openbsd",)) == []
    assert guard.dpkg_refusals(info, ["netcat-openbsd"]) == ["netcat-openbsd (Priority: important)"]
    assert guard.dpkg_refusals(info, ["procps"], ("netcat-openbsd",)) == ["procps (Priority: important)"]
    required = guard.parse_dpkg_query("x\tyes\trequired\t\tii \ny\t\trequired\t\tii \nz\t\toptional\tyes\tii \n")
    assert len(guard.dpkg_refusals(required, ["x", "y", "z"], ("x", "y", "z"))) == 3  # never waived


def test_default_waiver_is_netcat_openbsd_only():
    import yaml

    assert yaml.safe_load(DEFAULTS.read_text())["harden_netcat_important_ok"] == ["netcat-openbsd"]


def test_required_priority_refused():
    info = guard.parse_dpkg_query("base-files\t\trequired\t\tii \n")
    assert guard.dpkg_refusals(info, ["base-files"]) == ["base-files (Priority: required)"]


def test_optional_package_not_refused():
    assert guard.dpkg_refusals(guard.parse_dpkg_query(DPKG), ["socat"]) == []


# -- rule: the simulation removes nothing beyond the plan

APT_BUSYBOX = """NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
Reading package lists...
Building dependency tree...
The following packages will be REMOVED:
  busybox initramfs-tools
0 upgraded, 0 newly installed, 2 to remove and 0 not upgraded.
Remv initramfs-tools [0.142+deb12u1]
Remv busybox [1:1.35.0-4+deb12u1+b1]
"""


def test_apt_simulation_beyond_plan_detected():
    removed, other = guard.parse_apt_simulation(APT_BUSYBOX)
    assert removed == ["initramfs-tools", "busybox"] and other == []
    assert guard.beyond_plan(["busybox"], removed) == ["initramfs-tools"]


def test_apt_simulation_exactly_the_plan():
    removed, _ = guard.parse_apt_simulation("Remv socat [1.7.4.4-2]\nRemv ncat:amd64 [7.93]\n")
    assert guard.beyond_plan(["socat", "ncat"], removed) == []


def test_apt_simulation_that_installs_something_is_reported():
    _, other = guard.parse_apt_simulation("Remv socat [1]\nInst socat-alt (1 Debian:12)\n")
    assert other == ["Inst socat-alt (1 Debian:12)"]


DNF4 = """Dependencies resolved.
================================================================================
 Package            Arch        Version               Repository          Size
================================================================================
Removing:
 nmap-ncat          x86_64      3:7.92-1.el9          @appstream         438 k
Removing dependent packages:
 libvirt-daemon     x86_64      9.0.0-7.el9           @appstream         1.2 M

Transaction Summary
================================================================================
Remove  2 Packages

Freed space: 1.6 M
Operation aborted.
"""


def test_dnf_summary_counts_dependents():
    assert guard.parse_dnf_remove_count(DNF4) == 2
    assert guard.parse_dnf_remove_count("Remove  1 Package\n") == 1
    assert guard.parse_dnf_remove_count("nothing to do\n") is None


def test_dnf_protected_d():
    assert guard.dnf_protected(["# comment\ndnf\n\nsudo\n", "systemd\n"]) == {"dnf", "sudo", "systemd"}


# -- quarantine: what is acceptable to move


@pytest.mark.parametrize(
    ("path", "ok"),
    [("/tmp/x/nc", True), ("/tmp/../usr/bin/nc", False), ("tmp/nc", False), ("/tmp//nc", False), ("/", False)],
)
def test_quarantine_paths(path, ok):
    assert (quarantine.split_path(path) is not None) is ok


@pytest.mark.parametrize(
    ("name", "refused"),
    [("nc", False), ("busybox-static", False), ("ncat", False), ("sshd", True), ("python3", True), ("nc.bak", True)],
)
def test_quarantine_only_netcat_names(name, refused):
    assert bool(quarantine.refusal("symlink", name, "", False)) is refused


def test_quarantine_file_needs_the_audits_hash():
    assert quarantine.refusal("file", "nc", "", False) == "no sha256 from the audit"
    assert quarantine.refusal("file", "nc", "a" * 64, False) == ""


def test_quarantine_keys_are_per_path():
    """Two copies of one file (the attacker's and a victim's) never share a record."""
    a = quarantine.record_key("file", "/tmp/nc", "a" * 64)
    assert a.startswith("a" * 64 + "-") and a != quarantine.record_key("file", "/home/v/nc", "a" * 64)
    assert quarantine.record_key("symlink", "/tmp/nc", "").startswith("link-")


@pytest.mark.parametrize(
    ("uid", "mode", "expected"),
    [(0, 0o40755, True), (0, 0o41777, False), (0, 0o42775, False), (1000, 0o40755, False)],
)
def test_quarantine_root_only_dir(uid, mode, expected):
    assert quarantine.root_only_dir(uid, mode) is expected


def test_rpm_not_installed_lines_are_not_names():
    assert guard.rpm_installed("package socat is not installed\n", ["socat"]) == []
    assert guard.rpm_installed("socat\n", ["socat", "nmap-ncat"]) == ["socat"]


# -- the quarantine module itself, run as Ansible runs it (a JSON args file), on real files


def _run_module(tmp_path, **args):
    import json
    import subprocess
    import sys

    argfile = tmp_path / f"args{len(list(tmp_path.glob('args*')))}.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    out = subprocess.run(
        [sys.executable, str(LIBRARY / "harden_quarantine.py"), str(argfile)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_quarantine_moves_a_file_once_and_refuses_a_swapped_directory(tmp_path):
    import hashlib
    import os

    drop = tmp_path / "drop"
    drop.mkdir()
    nc = drop / "nc"
    nc.write_bytes(b"\x7fELF not really netcat")
    sha = hashlib.sha256(nc.read_bytes()).hexdigest()
    qdir = tmp_path / "var" / "lib" / "harden" / "quarantine"  # parents do not exist yet
    args = dict(path=str(nc), kind="file", sha256=sha, root_only=False, uid=os.getuid(), dir=str(qdir))
    args["root_only"] = quarantine_root_only(nc)
    first = _run_module(tmp_path, **args)
    assert first["changed"] is True and not nc.exists(), first
    records = list(qdir.glob("*.json"))
    assert len(records) == 1 and str(nc) in records[0].read_text()
    assert (qdir / (records[0].stem + ".bin")).read_bytes() == b"\x7fELF not really netcat"
    again = _run_module(tmp_path, **args)
    assert again["changed"] is False and "already quarantined" in again["msg"]

    # the same name and content again, but the directory is now a symlink to elsewhere
    other = tmp_path / "victim"
    other.mkdir()
    (other / "nc").write_bytes(b"\x7fELF not really netcat")
    drop.rmdir()
    drop.symlink_to(other)
    swapped = _run_module(tmp_path, **args)
    assert swapped.get("failed") and "REFUSED" in swapped["msg"], swapped
    assert (other / "nc").exists()


def test_quarantine_leaves_a_changed_file(tmp_path):
    import os

    nc = tmp_path / "d" / "nc"
    nc.parent.mkdir()
    nc.write_bytes(b"other content")
    args = dict(path=str(nc), kind="file", sha256="a" * 64, root_only=quarantine_root_only(nc), uid=os.getuid(),
                dir=str(tmp_path / "q"))  # fmt: skip
    r = _run_module(tmp_path, **args)
    assert r["changed"] is False and "sha256 differs" in r["msg"] and nc.exists()


def quarantine_root_only(path):
    """What the audit would say of the directories above ``path`` (as the module computes it)."""
    import os

    ok = True
    for d in [*reversed(path.parents)]:
        st = os.stat(d, follow_symlinks=False)
        ok = ok and quarantine.root_only_dir(st.st_uid, st.st_mode)
    return ok
