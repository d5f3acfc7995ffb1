"""A lab host reachable only through a lab jump host: both engines reach it, and agree.

The target's sshd drops every connection that does not come from the jump host (an nft
input rule inside its own network namespace), so a direct connection cannot succeed. The
inventory reaches it as Ansible users do: ``ansible_ssh_common_args='-F ssh_config -o
ProxyJump=...'``. ``--engine ansible`` runs OpenSSH; the native engine (paramiko) must follow
the same route (hardening.transport.sshroute) and give identical verdicts.
"""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from labutil import pexec, private_lab

from hardening.lab import STATES

HARDEN = str(Path(sys.executable).parent / "harden")


@pytest.fixture(scope="module")
def jlab(lab, tmp_path_factory):
    with private_lab(tmp_path_factory, ("default", "ufw"), "j") as up:
        yield up


def _known_line(known_hosts: Path, port: int, name: str) -> str:
    for line in known_hosts.read_text().splitlines():
        host, _, rest = line.partition(" ")
        if host == f"[127.0.0.1]:{port}":
            return f"{name} {rest}"
    raise AssertionError(f"no known_hosts entry for port {port}")


def _audit(inventory: Path, known: Path, engine: str, out: Path, timeout: str = "60") -> dict:
    r = subprocess.run(
        [
            HARDEN,
            "audit",
            str(inventory),
            "--engine",
            engine,
            "--known-hosts",
            str(known),
            "--timeout",
            timeout,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode in (0, 1, 3), r.stderr[-2000:]
    return json.loads((out / "results.json").read_text())


@pytest.mark.lab
def test_a_host_behind_a_jump_host_gives_identical_verdicts_with_both_engines(jlab, tmp_path):
    target, jump = jlab.host("default"), jlab.host("ufw")
    route = pexec(jump.container, "ip", "route", "get", target.ip).stdout
    assert " dev eth0" in route and " via " not in route, route  # jump -> target stays on the lab bridge
    for rule in (
        ["add", "table", "inet", "harden_jump_test"],
        [
            "add",
            "chain",
            "inet",
            "harden_jump_test",
            "input",
            "{ type filter hook input priority -10; policy accept; }",
        ],
        [
            "add",
            "rule",
            "inet",
            "harden_jump_test",
            "input",
            "tcp",
            "dport",
            "22",
            "ip",
            "saddr",
            "!=",
            jump.ip,
            "drop",
        ],
    ):
        r = pexec(target.container, "nft", *rule)
        assert r.returncode == 0, r.stderr

    known = tmp_path / "known_hosts"
    known.write_text(_known_line(jlab.known_hosts, jump.port, f"[127.0.0.1]:{jump.port}") + "\n"
                     + _known_line(jlab.known_hosts, target.port, target.ip) + "\n")  # fmt: skip
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jumphost\n  HostName 127.0.0.1\n  Port {jump.port}\n  User {STATES['ufw'].user}\n"
        f"  IdentityFile {jlab.key}\n"
        f"Host *\n  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n"
    )
    spec = STATES["default"]
    common = f"-F {config} -o ProxyJump=jumphost -o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes"
    line = (
        f"behind ansible_host={target.ip} ansible_user={spec.user} ansible_ssh_private_key_file={jlab.key} "
        f"ansible_become=true ansible_ssh_common_args={shlex.quote(common)}"
    )
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"[lab]\n{line}\n[lab:vars]\nharden_egress_allow=198.18.0.0/24\n")

    docs = {engine: _audit(inventory, known, engine, tmp_path / engine) for engine in ("native", "ansible")}
    statuses = {e: {(c["id"], c["status"]) for h in d["hosts"] for c in h["checks"]} for e, d in docs.items()}
    assert [h["status"] for h in docs["native"]["hosts"]] == ["ok"], docs["native"]["hosts"][0]["message"]
    assert [h["status"] for h in docs["ansible"]["hosts"]] == ["ok"], docs["ansible"]["hosts"][0]["message"]
    assert statuses["native"] == statuses["ansible"]

    # Without the jump, the same host is not reached at all (the route is what made it work).
    direct = tmp_path / "direct.ini"
    direct.write_text(inventory.read_text().replace(" -o ProxyJump=jumphost", ""))
    doc = _audit(direct, known, "native", tmp_path / "direct", timeout="8")
    assert doc["hosts"][0]["status"] != "ok"
