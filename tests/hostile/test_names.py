"""Inventory host names never become file names unless they are plain names.

A dynamic inventory takes host names from a CMDB, cloud tags or DNS; Ansible accepts a YAML
inventory host called ``"web1\\n"``, ``"../../evil"`` or ``"a/b"``. Where harden (or its
collect playbook) turns a host name into a file name, the whole name must match the rule in
:mod:`hardening.hostnames`; ``re.match(r"^...$")`` lets ``"web1\\n"`` through.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardening.engine_ansible import judge_gathered
from hardening.hostnames import UnsafeHostName, file_safe, host_file_name
from hardening.inventory import Connection, Target
from hardening.model import HostStatus
from hardening.remediate import HostPlan, Plan, RemediationError, plan_hosts, write_playbooks

G = Path(__file__).parents[1] / "golden" / "lab"
PLAYBOOKS = Path(__file__).parents[2] / "playbooks"

UNSAFE = [
    "web1\n", "web1\r", "web1\r\n", "\nweb1", "a\x00b", "tab\tname", "esc\x1b[31m", "a/b", "../evil", "..", ".",
    ".hidden", "sp ace", "web1\u2028", "web1\x85", "x" * 201, "", "wëb1",
]  # fmt: skip


@pytest.mark.parametrize("name", UNSAFE)
def test_names_that_are_not_plain_file_names_are_refused(name):
    assert not file_safe(name)
    with pytest.raises(UnsafeHostName, match="cannot be a file name"):
        host_file_name(name, ".yml")


@pytest.mark.parametrize("name", ["web1", "web1.example.com", "db_2", "fe80::1", "[2001:db8::1]", "u@h", "x" * 200])
def test_plain_names_are_file_names(name):
    assert file_safe(name) and host_file_name(name, ".out") == name + ".out"


def _failing_host(name: str) -> dict:
    return {"name": name, "platform": "linux", "status": "ok", "checks": [{"id": "audit.auditd", "status": "fail"}]}


def test_remediation_plans_no_host_whose_name_is_not_a_file_name():
    p = plan_hosts([_failing_host(n) for n in [*UNSAFE, "web1"]])
    assert [h.name for h in p.hosts] == ["web1"]
    assert [n for n, _ in p.skipped] == UNSAFE
    assert all("file name" in why for _, why in p.skipped)


def test_write_playbooks_refuses_a_plan_with_an_unsafe_host_name(tmp_path):
    """Defence in depth: a Plan built by other code than plan_hosts is checked again."""
    bad = HostPlan("web1\n", "linux", ("harden_auditd",), ("audit.auditd",), {"harden_platform": "linux"})
    with pytest.raises(RemediationError, match="cannot be a file name"):
        write_playbooks(Plan((bad,)), tmp_path)
    host_vars = tmp_path / "playbooks" / "host_vars"
    assert not host_vars.exists() or not any(host_vars.iterdir())


def _target(name: str) -> Target:
    return Target(name=name, connection=Connection.SSH, host="127.0.0.1")


def test_judge_gathered_reads_no_file_outside_the_directory(tmp_path):
    """A host called ``../outside`` must not make harden judge ``DIR/../outside.out``."""
    gathered = tmp_path / "gathered"
    gathered.mkdir()
    head, _, body = (G / "hardened.out").read_text().partition("\n")
    (tmp_path / "outside.out").write_text(head.replace("host=hardened", "host=../outside") + "\n" + body)
    (gathered / "web1\n.out").write_text(head.replace("host=hardened", "host=web1") + "\n" + body)
    results = {r.name: r for r in judge_gathered(gathered, [_target("../outside"), _target("web1\n")])}
    for name in ("../outside", "web1\n"):
        assert results[name].status is HostStatus.ERROR, (name, results[name].message)
        assert "cannot be a file name" in results[name].message
        assert all(c.status.value != "pass" for c in results[name].checks)


def test_collect_playbook_writes_no_gathered_file_for_an_unsafe_host_name(tmp_path):
    """The AWX playbook saves ``<gather dir>/<inventory_hostname>.out``: only for plain names.
    (Runs the real playbook with a local connection: the read-only collector runs here.)"""
    bindir = Path(sys.executable).parent
    body = tmp_path / "body.sh"
    out = subprocess.run([str(bindir / "harden"), "collector-script", "--body"], capture_output=True, check=True)
    body.write_bytes(out.stdout)
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        + "".join(
            f'    "{n}":\n      ansible_connection: local\n      ansible_python_interpreter: {sys.executable}\n'
            for n in ("okhost", "../evil", "web1\\n")
        )
    )
    gathered = tmp_path / "deep" / "gathered"
    gathered.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(PATH=f"{bindir}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False")
    run = subprocess.run(
        [str(bindir / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / "harden_collect.yml"),
         "-e", f"harden_gather_dir={gathered}", "-e", f"harden_collector_body={body}"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert sorted(p.name for p in gathered.iterdir()) == ["okhost.out"]
    assert not (tmp_path / "deep" / "evil.out").exists()


def test_collect_playbook_applies_the_same_rule():
    from hardening.hostnames import FILE_SAFE_PATTERN

    assert (
        f"ansible.builtin.regex('{FILE_SAFE_PATTERN}', match_type='fullmatch')"
        in (PLAYBOOKS / "harden_collect.yml").read_text()
    )
