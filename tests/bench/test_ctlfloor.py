"""bench/ctlfloor.py (the controller floor of harden's contract) against a test SSH host on 127.0.0.1.

The host is tests/support/ssh_server.py (paramiko's server side). The floor client must read
the inventory through ansible-core, log in as the inventory says, send the whole script (the
become password first where sudo asks for one) and read every byte back; a host it could not
audit makes the run fail, so a floor is never measured on fewer hosts than asked.
"""

import json
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest
from ssh_server import Account, Reply, Request, SshServer

CTLFLOOR = Path(__file__).resolve().parents[2] / "bench" / "ctlfloor.py"
ANSWER = b"x" * 300_000  # several SSH packets and windows


def _answer(req: Request) -> Reply:
    return Reply(ANSWER)


def _inventory(tmp: Path, port: int, known_hosts: Path) -> Path:
    args = f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
    inventory = tmp / "inv.ini"
    inventory.write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={port} ansible_user=web1 ansible_password=pw1 "
        f"ansible_become=true ansible_become_password=sudo1\n"
        f"web2 ansible_host=127.0.0.1 ansible_port={port} ansible_user=web2 ansible_password=pw2\n"
        f"[all:vars]\nansible_ssh_common_args='{args}'\n"
    )
    return inventory


def _floor(inventory: Path, script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CTLFLOOR), str(inventory), "--script", str(script), "--forks", "2", "--timeout", "20"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_floor_client_logs_in_as_the_inventory_says_and_reads_everything(tmp_path):
    script = tmp_path / "collector.sh"
    script.write_bytes(b"#!/bin/sh\nHN=abc123\necho hello\n")
    accounts = {"web1": Account("pw1", _answer), "web2": Account("pw2", _answer)}
    with SshServer(accounts) as srv:
        known = tmp_path / "known_hosts"
        known.write_text(srv.known_hosts_line())
        r = _floor(_inventory(tmp_path, srv.port, known), script)
        requests = {q.user: q for q in srv.requests}
    assert r.returncode == 0, r.stderr[-2000:]
    # + 1: the test host's sudo prints harden's become marker line, empty for a command without one
    assert json.loads(r.stdout) == {"hosts": 2, "bytes": 2 * len(ANSWER) + 1, "failed": []}
    assert requests["web1"].become_password == "sudo1" and requests["web1"].command.startswith("sudo -H -S ")
    assert requests["web2"].command == "/bin/sh -s" and requests["web2"].become_password is None
    assert all(q.script == script.read_bytes() and q.nonce == "abc123" for q in requests.values())


def test_floor_client_refuses_an_unknown_host_key_and_fails_the_run(tmp_path):
    script = tmp_path / "collector.sh"
    script.write_bytes(b"#!/bin/sh\nHN=abc123\n")
    with SshServer({"web1": Account("pw1", _answer), "web2": Account("pw2", _answer)}) as srv:
        known = tmp_path / "known_hosts"
        host = srv.known_hosts_line().split()[0]
        other = paramiko.RSAKey.generate(2048)  # a key that is not the host's
        known.write_text(f"{host} {other.get_name()} {other.get_base64()}\n")
        r = _floor(_inventory(tmp_path, srv.port, known), script)
        assert srv.requests == []
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["hosts"] == 0 and len(doc["failed"]) == 2


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ("-o UserKnownHostsFile=/k/h -o StrictHostKeyChecking=yes", "/k/h"),
        ("-oUserKnownHostsFile=/k/h", "/k/h"),
        ("-o StrictHostKeyChecking=yes", None),
    ],
)
def test_known_hosts_file_from_ssh_common_args(args, path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("harden_bench_ctlfloor", CTLFLOOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.known_hosts_file(args) == path
