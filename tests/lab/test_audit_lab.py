"""`harden audit` end to end against the real lab: sshd containers in known states.

Every check has at least one failing and (where a container can show it) one passing host.
Two checks cannot pass in a container on this kernel, and the tests say so instead of faking it:
``audit.auditd`` (the kernel audit is not namespaced: the verdict is error, never pass) and
``appcontrol.enforced`` (no SELinux/AppArmor on this kernel); their passing states are covered
by the pure tests over documented fixtures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hardening.results import results_schema

pytestmark = pytest.mark.lab

HARDEN = str(Path(sys.executable).parent / "harden")

EXPECTED = {
    k: v
    for k, v in json.loads((Path(__file__).parents[1] / "golden" / "lab" / "expected.json").read_text()).items()
    if not k.startswith("_")
}


def harden(*args, env=None, timeout=180):
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def channel_opens(container: str) -> int:
    logs = subprocess.run(["podman", "logs", container], capture_output=True, text=True, check=True)
    return len(re.findall(r"server_input_channel_open: ctype session", logs.stdout + logs.stderr))


@pytest.fixture(scope="module")
def audited(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    before = {h.name: channel_opens(h.container) for h in lab.hosts}
    r = harden("audit", lab.inventory, "--out", out, "--forks", "4", "--timeout", "60")
    after = {h.name: channel_opens(h.container) for h in lab.hosts}
    doc = json.loads((out / "results.json").read_text())
    return r, doc, {h.name: after[h.name] - before[h.name] for h in lab.hosts}


def by_host(doc):
    return {h["name"]: h for h in doc["hosts"]}


def test_lab_audit_is_valid_complete_and_exits_1(audited):
    r, doc, _ = audited
    jsonschema.validate(doc, results_schema())
    assert r.returncode == 1, r.stderr
    hosts = by_host(doc)
    assert set(hosts) == set(EXPECTED)
    for name, host in hosts.items():
        assert host["status"] == "ok", (name, host["message"])
        assert {c["id"] for c in host["checks"]} >= set(EXPECTED["default"])
    assert "results:" in r.stdout and "results:" not in r.stderr  # results on stdout, progress on stderr


@pytest.mark.parametrize("host", sorted(EXPECTED))
def test_lab_verdicts(audited, host):
    _, doc, _ = audited
    got = {c["id"]: c for c in by_host(doc)[host]["checks"]}
    for check_id, want in EXPECTED[host].items():
        c = got[check_id]
        assert c["status"] == want, (host, check_id, c["message"])
        assert c["message"].strip()
        assert c["references"], check_id
        if want in ("fail", "error"):
            assert c["evidence"]["facts"] or c["evidence"]["excerpt"], (host, check_id)


def test_one_exec_channel_per_host(audited):
    _, _, opened = audited
    assert opened == {name: 1 for name in EXPECTED}, opened


def test_half_host_traps_are_named(audited):
    _, doc, _ = audited
    got = {c["id"]: c for c in by_host(doc)["half"]["checks"]}
    deny = got["egress.default_deny"]["message"].lower()
    assert "ct state new" in deny or "ipv6" in deny
    assert "socat" in got["binaries.netcat"]["message"]


def test_unknown_host_key_is_refused(lab, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    r = harden("audit", lab.inventory, "--limit", "hardened", "--known-hosts", empty, "--out", tmp_path / "o")
    assert r.returncode == 3
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["hardened"]
    assert host["status"] == "auth_failed"
    assert "host key" in host["message"] and "not in" in host["message"]
    assert all(c["status"] == "error" for c in host["checks"])


def test_changed_host_key_is_refused(lab, tmp_path):
    port_of = {h.name: h.port for h in lab.hosts}
    lines = lab.known_hosts.read_text().splitlines()
    default_keys = [ln.split(" ", 1)[1] for ln in lines if ln.startswith(f"[127.0.0.1]:{port_of['default']} ")]
    forged = tmp_path / "known_hosts"
    forged.write_text("".join(f"[127.0.0.1]:{port_of['hardened']} {k}\n" for k in default_keys))
    r = harden("audit", lab.inventory, "--limit", "hardened", "--known-hosts", forged, "--out", tmp_path / "o")
    assert r.returncode == 3
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["hardened"]
    assert host["status"] == "auth_failed" and "CHANGED" in host["message"]


def test_host_key_checking_can_be_turned_off_as_in_ansible(lab, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False"}
    r = harden(
        "audit",
        lab.inventory,
        "--limit",
        "hardened",
        "--known-hosts",
        empty,
        "--out",
        tmp_path / "o",
        env=env,
    )
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["hardened"]
    assert host["status"] == "ok", host["message"]
    assert r.returncode in (0, 1)
    assert empty.read_text() == ""  # accepted, never recorded


def test_wrong_become_password_is_auth_failed(lab, tmp_path):
    inv = tmp_path / "inv.ini"
    text = lab.inventory.read_text()
    inv.write_text(re.sub(r"ansible_become_password=\S+", "ansible_become_password=Bad-Sudo-Pw-7731", text))
    r = harden("audit", inv, "--limit", "half", "--out", tmp_path / "o", "--timeout", "30")
    assert r.returncode == 3
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["half"]
    assert host["status"] == "auth_failed" and "sudo" in host["message"]
    assert "Bad-Sudo-Pw-7731" not in (tmp_path / "o" / "results.json").read_text()


def test_wrong_ssh_password_is_auth_failed(lab, tmp_path):
    inv = tmp_path / "inv.ini"
    text = lab.inventory.read_text()
    inv.write_text(re.sub(r"ansible_password=\S+", "ansible_password=Bad-Ssh-Pw-7731", text))
    r = harden("audit", inv, "--limit", "half", "--out", tmp_path / "o", "--timeout", "30")
    assert r.returncode == 3
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["half"]
    assert host["status"] == "auth_failed"


def test_without_become_root_only_checks_report_error_not_pass(lab, tmp_path):
    inv = tmp_path / "inv.ini"
    text = lab.inventory.read_text()
    inv.write_text(text.replace("ansible_become=true", "ansible_become=false"))
    r = harden("audit", inv, "--limit", "hardened", "--out", tmp_path / "o")
    host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["hardened"]
    assert host["status"] == "ok"
    assert "root" in host["message"]
    got = {c["id"]: c for c in host["checks"]}
    assert got["egress.default_deny"]["status"] == "error"
    assert "root" in got["egress.default_deny"]["message"] or "become" in got["egress.default_deny"]["message"]
    assert r.returncode in (0, 1)


def test_secrets_never_reach_results_or_output(audited, lab):
    r, doc, _ = audited
    assert lab.password
    blob = json.dumps(doc) + r.stdout + r.stderr
    assert lab.password not in blob


def test_ssh_agent_authentication(lab, tmp_path):
    """No key file in the inventory: the key comes from a real ssh-agent (started and killed here)."""
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True, timeout=10).stdout
    env = dict(os.environ)
    for var in ("SSH_AUTH_SOCK", "SSH_AGENT_PID"):
        env[var] = re.search(rf"{var}=([^;]+);", agent).group(1)
    try:
        subprocess.run(["ssh-add", str(lab.key)], env=env, check=True, capture_output=True, timeout=10)
        inv = tmp_path / "inv.ini"
        text = lab.inventory.read_text()
        inv.write_text(re.sub(r" ansible_ssh_private_key_file=\S+", "", text))
        assert "ansible_ssh_private_key_file" not in inv.read_text()
        env["HOME"] = str(tmp_path)  # no ~/.ssh/id_* to fall back on
        r = harden("audit", inv, "--limit", "hardened", "--out", tmp_path / "o", env=env)
        host = by_host(json.loads((tmp_path / "o" / "results.json").read_text()))["hardened"]
        assert host["status"] == "ok", host["message"]
        assert r.returncode in (0, 1)
    finally:
        subprocess.run(["ssh-agent", "-k"], env=env, capture_output=True, timeout=10)


def test_work_shared_between_pieces_still_reaches_the_evidence(audited):
    """The dns piece takes its TCP listeners from the processes piece's tables, the audit piece
    auditd's dpkg line from the sensors piece's dpkg-query (collector.py): the hardened host's
    dnsmasq still shows on TCP port 53, and its auditd package with its version and status."""
    _, doc, _ = audited
    got = {c["id"]: c for c in by_host(doc)["hardened"]["checks"]}
    assert "tcp 127.0.0.1:53" in got["dns.query_logging"]["evidence"]["facts"]["listeners"]
    auditd = got["audit.auditd"]["evidence"]
    assert auditd["facts"]["package"] == "auditd 1:3.0.9-1 install ok installed"  # Debian 12's auditd
    assert "# audit.pkg_from (rc=0)\nsensors" in auditd["excerpt"]
    assert "auditd installed 1:3.0.9-1 install ok installed" in auditd["excerpt"]
