"""-v as in Ansible: results on stdout, progress and the log on stderr, more with each v, no secrets.

The host is tests/support/ssh_server.py (paramiko's server side on 127.0.0.1) answering with a
real collector output captured from the lab (tests/golden/lab/default.out); the inventory gives
it an SSH and a become password, which must never appear in what harden prints.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ssh_server import Account, Reply, Request, SshServer, golden_output

BIN = Path(sys.executable).parent


def _answer(req: Request) -> Reply:
    return Reply(golden_output(req.nonce))


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verbose")
    ssh_pw, sudo_pw = f"Ssh-{secrets.token_hex(6)}", f"Sudo-{secrets.token_hex(6)}"
    with SshServer({"web1": Account(ssh_pw, _answer)}) as srv:
        (tmp / "known_hosts").write_text(srv.known_hosts_line())
        inventory = {
            "all": {
                "hosts": {
                    "web1": {
                        "ansible_host": "127.0.0.1",
                        "ansible_port": srv.port,
                        "ansible_user": "web1",
                        "ansible_password": ssh_pw,
                        "ansible_become": True,
                        "ansible_become_password": sudo_pw,
                    }
                }
            }
        }
        (tmp / "inv.yml").write_text(yaml.safe_dump(inventory))
        yield tmp, (ssh_pw, sudo_pw)


def audit(tmp: Path, out: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    argv = [str(BIN / "harden"), "audit", str(tmp / "inv.yml"), "--known-hosts", str(tmp / "known_hosts")]
    argv += ["--out", str(tmp / out), "--timeout", "60", *flags]
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env)


def test_results_on_stdout_progress_on_stderr_and_quiet_without_v(host):
    tmp, _ = host
    r = audit(tmp, "quiet")
    assert r.returncode == 1, r.stderr[-2000:]  # the lab's default host fails checks
    assert "web1\tegress.default_deny\tfail" in r.stdout and f"results: {tmp / 'quiet'}" in r.stdout
    assert "[1/1] web1 ok" in r.stderr  # progress
    assert "egress.default_deny" not in r.stderr and "harden:" not in r.stderr  # no log without -v


def test_each_v_adds_detail_on_stderr_and_never_a_password(host):
    tmp, passwords = host
    seen = {}
    for n in (1, 2, 3, 4):
        r = audit(tmp, f"v{n}", "-" + "v" * n)
        assert r.returncode == 1, r.stderr[-2000:]
        assert "web1\tegress.default_deny\tfail" in r.stdout  # results stay on stdout
        assert "harden: web1" not in r.stdout and "paramiko" not in r.stdout
        for pw in passwords:
            assert pw not in r.stdout + r.stderr
        seen[n] = r.stderr
    assert re.search(r"harden: web1: ssh web1@127\.0\.0\.1:\d+, become root", seen[1])
    assert re.search(r"harden: web1: ok in [0-9.]+ s \(pass \d+, fail \d+, error \d+\)", seen[1])
    assert "host key checking" not in seen[1] and "egress.default_deny fail" not in seen[1]
    assert "Ansible configuration:" in seen[2] and "host key checking on" in seen[2]
    assert "web1: egress.default_deny fail" in seen[2] and "connecting to" not in seen[2]
    assert "connecting to 127.0.0.1" in seen[3] and "bytes of output" in seen[3]
    assert re.search(r"host key [a-z0-9-]+ SHA256:", seen[3])
    assert "Authentication (password) successful" not in seen[3]
    assert "Authentication (password) successful" in seen[4]  # paramiko's own debug log at -vvvv


def test_v_is_counted_as_ansible_counts_it():
    r = subprocess.run([str(BIN / "harden"), "audit", "--help"], capture_output=True, text=True, timeout=60)
    assert "-v, --verbose" in r.stdout and "-vvv" in r.stdout
    for command in ("hosts", "hunt", "verify", "allowlist", "collect", "apply"):
        r = subprocess.run([str(BIN / "harden"), command, "--help"], capture_output=True, text=True, timeout=60)
        assert "-v, --verbose" in r.stdout, command
