"""Remediation planning and playbook generation (no lab): roles per failed check, host
values as data, generated playbooks pass ansible-lint's production profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from hardening.checks.binaries_netcat.remedy import remedy as netcat_remedy

from hardening.remediate import LINUX_ROLES, WINDOWS_ROLES, dump_vars, plan, write_playbooks

COLLECTION_ROLES = "collections/ansible_collections/harden/revshell/roles"

GOLDEN = Path(__file__).parents[1] / "golden" / "remediation" / "lab-default-half.results.json"
BIN = Path(sys.executable).parent


def clean_env(**extra):
    """PATH with the venv first and no ANSIBLE_* settings another test may have left behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "PATH": f"{BIN}:{os.environ['PATH']}", **extra}


def _doc():
    return json.loads(GOLDEN.read_text())


def test_lab_default_plans_every_linux_role_with_host_data():
    p = plan(_doc())
    default = next(h for h in p.hosts if h.name == "default")
    # every Linux check but services.least_privilege (only sshd listens there) failed, firewall last
    assert default.roles == tuple(r for r in LINUX_ROLES if r != "harden_service_privilege")
    assert default.variables["harden_netcat_packages"] == ["netcat-openbsd"]
    assert "harden_dns_logging_upstreams" not in default.variables  # resolvers come from policy only
    assert any("198.18.0.1" in n and "harden_dns_resolvers" in n for n in default.notes)
    half = next(h for h in p.hosts if h.name == "half")
    # half: ncat packaged, socat copied to /usr/local/bin (unpackaged: quarantined by hash)
    assert half.variables["harden_netcat_packages"] == ["ncat"]
    files = half.variables["harden_netcat_files"]
    assert [f["path"] for f in files] == ["/usr/local/bin/socat"] and len(files[0]["sha256"]) == 64
    assert "harden_dns_logging_upstreams" not in half.variables
    # half: appsvc (bash, sudo NOPASSWD) runs an exposed app; www-data owns nginx's web root
    assert half.variables["harden_service_privilege_nologin"] == ["appsvc"]
    assert half.variables["harden_service_privilege_sudo"] == ["appsvc"]
    assert half.variables["harden_service_privilege_webroots"] == ["/var/www/html"]


def test_only_failed_checks_get_roles():
    doc = _doc()
    for host in doc["hosts"]:
        for c in host["checks"]:
            if c["id"] != "binaries.netcat":
                c["status"] = "pass"
    p = plan(doc)
    assert {h.roles for h in p.hosts} == {("harden_netcat",)}
    assert p.roles("linux") == ("harden_netcat",)


def test_unusable_host_names_and_unaudited_hosts_are_skipped():
    doc = {
        "hosts": [
            {
                "name": "../evil",
                "platform": "linux",
                "status": "ok",
                "checks": [{"id": "audit.auditd", "status": "fail"}],
            },
            {"name": "down", "platform": "linux", "status": "unreachable", "checks": []},
        ]
    }
    p = plan(doc)
    assert not p.hosts
    assert [n for n, _ in p.skipped] == ["../evil", "down"]


def test_windows_roles_order_appcontrol_last():
    doc = {
        "hosts": [
            {
                "name": "win1",
                "platform": "windows",
                "status": "ok",
                "checks": [
                    {"id": i, "status": "fail"}
                    for i in (
                        "powershell.language_mode",
                        "egress.default_deny",
                        "audit.sysmon",
                        "powershell.logging",
                        "dns.query_logging",
                        "binaries.netcat",
                        "edr.sensor",
                        "logging.forwarding",
                        "services.least_privilege",
                    )
                ],
            }
        ]
    }
    assert plan(doc).hosts[0].roles == WINDOWS_ROLES


HOSTILE = "/tmp/{{ lookup('pipe', 'touch harden-pwned') }}$(touch harden-pwned2);'\"/nc"


def _named(path, kind, packages=(), root_only=False, target=""):
    return {"path": path, "kind": kind, "link_target": target, "packages": list(packages), "root_only": root_only}


def _netcat_check(findings):
    """A failed binaries.netcat result as an audit writes it: the findings and the check's remedy."""
    return {
        "id": "binaries.netcat",
        "status": "fail",
        "evidence": {"facts": {"findings": list(findings)}},
        "remediation": netcat_remedy(list(findings)).to_json(),
    }


def _netcat_doc(*findings):
    check = _netcat_check(findings)
    return {"hosts": [{"name": "h", "platform": "linux", "status": "ok", "checks": [check]}]}


def _netcat_plan(*findings):
    v = plan(_netcat_doc(*findings)).hosts[0]
    return v.variables["harden_netcat_packages"], v.variables["harden_netcat_files"], v.notes


def test_symlink_to_another_package_is_quarantined_as_a_link_never_its_package():
    """ln -s /usr/sbin/sshd /tmp/x/nc: the link goes to quarantine, openssh-server stays."""
    link = _named("/tmp/x/nc", "symlink", target="/usr/sbin/sshd")
    pkgs, files, _ = _netcat_plan(
        {"real_path": "/usr/sbin/sshd", "names": ["/tmp/x/nc"], "sha256": "c" * 64,
         "packages": [], "target_packages": ["openssh-server"], "removable_packages": [], "paths": [link]}
    )  # fmt: skip
    assert pkgs == []
    assert files == [{"path": "/tmp/x/nc", "kind": "symlink", "link_target": "/usr/sbin/sshd", "root_only": False}]


def test_removable_packages_are_rechecked_against_netcat_identity():
    """Even a results.json that claims openssh-server is removable plans nothing for it."""
    sshd = _named("/usr/sbin/nc", "file", ["openssh-server"], root_only=True)
    pkgs, files, notes = _netcat_plan(
        {"real_path": "/usr/sbin/nc", "sha256": "d" * 64, "removable_packages": ["openssh-server"], "paths": [sshd]}
    )
    assert pkgs == [] and files == []
    assert any("openssh-server" in n and "not a netcat package" in n for n in notes)
    assert any("look at it by hand" in n for n in notes)


def test_packaged_netcat_outside_root_only_directories_is_not_removed():
    """A package-owned path that users could have placed (directories not root's) is for a person."""
    nc = _named("/opt/x/nc", "file", ["netcat-openbsd"], root_only=False)
    pkgs, files, notes = _netcat_plan(
        {"real_path": "/opt/x/nc", "sha256": "e" * 64, "removable_packages": [], "paths": [nc]}
    )
    assert pkgs == [] and files == [] and any("by hand" in n for n in notes)


def test_netcat_package_with_user_link_and_alternatives():
    """The package goes; the user's link to it is quarantined as a link; alternatives stay."""
    paths = [
        _named("/usr/bin/nc.openbsd", "file", ["netcat-openbsd"], root_only=True),
        _named("/usr/bin/nc", "symlink", target="/etc/alternatives/nc", root_only=True),
        _named("/tmp/netcat", "symlink", target="/bin/nc.openbsd"),
    ]
    pkgs, files, notes = _netcat_plan(
        {"real_path": "/usr/bin/nc.openbsd", "sha256": "f" * 64, "removable_packages": ["netcat-openbsd"],
         "paths": paths}
    )  # fmt: skip
    assert pkgs == ["netcat-openbsd"]
    assert [f["path"] for f in files] == ["/tmp/netcat"] and files[0]["kind"] == "symlink"
    assert any("alternatives" in n for n in notes)


def test_findings_from_an_older_harden_plan_nothing():
    pkgs, files, notes = _netcat_plan(
        {"real_path": "/usr/sbin/sshd", "packages": ["openssh-server"], "sha256": "a" * 64}
    )
    assert pkgs == [] and files == [] and any("re-audit" in n for n in notes)


def _hostile_doc():
    return {
        "hosts": [
            {
                "name": "localhost",
                "platform": "linux",
                "status": "ok",
                "checks": [
                    _netcat_check(
                        [
                            {
                                "real_path": HOSTILE,
                                "names": [HOSTILE],
                                "sha256": "a" * 64,
                                "paths": [_named(HOSTILE, "file")],
                            },
                            {
                                "real_path": "/usr/bin/nc.openbsd",
                                "removable_packages": ["bad;pkg"],
                                "sha256": "b" * 64,
                                "paths": [_named("/usr/bin/nc.openbsd", "file", ["bad;pkg"], root_only=True)],
                            },
                        ]
                    )
                ],
            }
        ]
    }


def test_host_values_are_dumped_unsafe_and_round_trip():
    hv = plan(_hostile_doc()).hosts[0].variables
    text = dump_vars(hv)
    assert '!unsafe "' in text
    back = yaml.load(text.replace("!unsafe", ""), Loader=yaml.SafeLoader)
    assert back["harden_netcat_files"][0]["path"] == HOSTILE
    assert back["harden_netcat_packages"] == []  # "bad;pkg" is not a package name


def test_hostile_file_name_never_templated_or_run_by_ansible(tmp_path):
    """The generated host_vars, read by real Ansible: the name stays a string everywhere."""
    dest = write_playbooks(plan(_hostile_doc()), tmp_path)
    probe = dest / "probe.yml"
    probe.write_text(
        "- name: Probe\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Stat the hostile path as a module argument\n"
        '      ansible.builtin.stat:\n        path: "{{ harden_netcat_files[0].path }}"\n'
        "      register: st\n"
        '    - name: Show it\n      ansible.builtin.debug:\n        msg: "{{ harden_netcat_files[0].path }}"\n'
    )
    env = clean_env(ANSIBLE_CONFIG=str(dest / "ansible.cfg"))
    out = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", "probe.yml"],
        cwd=dest, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "lookup('pipe', 'touch harden-pwned')" in out.stdout
    assert not list(tmp_path.rglob("harden-pwned*")) and not Path("harden-pwned").exists()


def test_generated_playbooks_pass_ansible_lint_production(tmp_path):
    doc = _doc()
    doc["hosts"].append(
        {
            "name": "win1",
            "platform": "windows",
            "status": "ok",
            "checks": [
                {"id": i, "status": "fail"}
                for i in ("egress.default_deny", "dns.query_logging", "audit.sysmon", "powershell.logging",
                          "edr.sensor", "logging.forwarding", "appcontrol.enforced", "services.least_privilege",
                          "binaries.netcat")
            ],
        }
    )  # fmt: skip
    p = plan(doc)
    dest = write_playbooks(p, tmp_path)
    assert sorted(x.name for x in (dest / COLLECTION_ROLES).iterdir()) == sorted(LINUX_ROLES + WINDOWS_ROLES)
    out = subprocess.run(
        [str(BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor", "."],
        cwd=dest,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in out.stdout + out.stderr


def test_harden_remediate_regenerates_without_auditing(tmp_path):
    out = subprocess.run(
        [str(BIN / "harden"), "remediate", str(GOLDEN), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    roles = ", ".join(r for r in LINUX_ROLES if r != "harden_service_privilege")
    assert f"default: {roles}" in out.stdout
    pb = tmp_path / "playbooks"
    assert json.loads((pb / "plan.json").read_text())["hosts"][0]["name"] == "default"
    assert yaml.safe_load((pb / "host_vars" / "half.yml").read_text().replace("!unsafe", ""))["harden_roles"]
    bad = subprocess.run([str(BIN / "harden"), "remediate", str(pb / "plan.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a valid harden.results/v1 document" in bad.stderr


def test_apply_output_blanks_disguised_passwords(capsys, tmp_path):
    """harden apply prints Ansible's messages and diffs: a host that echoes the become password
    with escapes between its letters shows it nowhere, on the terminal or in the kept artifacts."""
    from hardening.apply import Change, Failure, PlaybookRun
    from hardening.redact import Redactor, scrub_files
    from hardening.remediate_cli import _print_run

    secret = "hunter42-Secret"
    disguised = "hun\x1b[0mter42-Se\x00cret"
    run = PlaybookRun(
        ident="apply", status="failed", rc=2, artifacts=tmp_path,
        changes=(Change("web1", "Write", f"+password={disguised}\n"),),
        failures=(Failure("web1", "Install", f"sudo said {disguised}", role="harden_auditd"),),
        ok_hosts=(),
    )  # fmt: skip
    redactor = Redactor.of([secret])
    _print_run(run, "apply", redactor)
    out = capsys.readouterr().out
    assert "hunter42" not in out and "********" in out and "roles that failed" in out
    (tmp_path / "job_events").mkdir()
    (tmp_path / "job_events" / "1.json").write_text(json.dumps({"stdout": f"echo {disguised}"}))
    (tmp_path / "stdout").write_text(f"fatal: {disguised}\n")
    scrub_files(tmp_path, redactor)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            text = json.loads(f.read_text())["stdout"] if f.suffix == ".json" else f.read_text()
            assert "hunter42" not in text.replace("\x1b[0m", "").replace("\x00", ""), f


def test_plan_json_is_written_piece_by_piece_as_the_whole_text_was(tmp_path):
    """plan.json is dumped to the file as it is encoded; the bytes are those of the document as one string."""
    p = plan(json.loads(GOLDEN.read_text()))
    dest = write_playbooks(p, tmp_path)
    summary = {
        "hosts": [
            {"name": h.name, "platform": h.platform, "roles": list(h.roles), "failed_checks": list(h.failed_checks),
             "notes": list(h.notes)}
            for h in p.hosts
        ],
        "skipped": [{"name": n, "why": w} for n, w in p.skipped],
    }  # fmt: skip
    assert len(summary["hosts"]) >= 2
    assert (dest / "plan.json").read_bytes() == (json.dumps(summary, indent=2) + "\n").encode()


def test_host_vars_texts_are_reused_only_for_values_written_alike():
    """write_playbooks dumps each distinct host_vars once; a text is reused only for variables
    whose YAML is the same: types (Unsafe, str, int, bool, float, None) and aliases count."""
    from hardening.remediate import Unsafe, _VarsTexts

    shared = [Unsafe("/tmp/x")]
    cases = [
        {"a": Unsafe("1")},
        {"a": "1"},
        {"a": 1},
        {"a": True},
        {"a": 1.0},
        {"a": None},
        {"a": [Unsafe("/tmp/x")], "b": [Unsafe("/tmp/x")]},
        {"a": shared, "b": shared},
        {"a": {"k": Unsafe("v")}},
        {"a": {"k": "v"}},
        {"a": ("t",)},
    ]
    texts = _VarsTexts()
    for _ in range(2):
        for case in cases:
            assert texts.dump(case) == dump_vars(case)
    assert len({dump_vars(c) for c in cases}) == len(cases)


def test_notes_quoting_an_edited_results_json_stay_writable(tmp_path):
    """A package name with a lone surrogate ("\\udcff" in an edited results.json) is quoted in a
    note; plan.json must still be written (it ended in a UnicodeEncodeError)."""
    sshd = _named("/usr/sbin/nc", "file", ["openssh-\udcff"], root_only=True)
    _, _, notes = _netcat_plan(
        {"real_path": "/usr/sbin/nc", "sha256": "d" * 64, "removable_packages": [], "paths": [sshd]}
    )
    assert any("openssh-\ufffd" in n for n in notes)
    "".join(notes).encode("utf-8")
