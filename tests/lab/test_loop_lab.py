"""The mitigation loop on a bare lab host, as a user runs it, with a proposed-then-accepted allowlist.

Three lab hosts: ``default`` is the bare host under test; ``half`` runs the resolver the
host uses (a dnsmasq on its lab address, as a site resolver would); ``hardened`` is a peer
the host's own daemon talks to. The host also runs an interpreter connected to ``half``'s
sshd (what a reverse shell looks like from outside): it must be listed apart, never proposed.

1. No policy in the inventory: ``harden apply`` fixes what needs none, and refuses egress and
   DNS, saying which variable unlocks each (the other roles still run).
2. ``harden allowlist`` proposes the policy from the host's evidence: the resolver from
   resolv.conf, the daemon's peer from the watch, the interpreter apart.
3. The proposal is accepted as the inventory's group_vars; audit, apply: every check the
   playbooks remediated passes (egress both checks, netcat, DNS logging); ``harden verify``
   finds every callback port blocked (53 included: the controller is not a policy resolver);
   SSH still works; a second apply changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from labutil import DEBS, pexec, private_lab

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
REMEDIATED = ("egress.default_deny", "egress.allowlist", "dns.query_logging", "binaries.netcat")


@pytest.fixture(scope="module")
def llab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default", "half", "hardened"), "l") as up:
        yield up


def harden(*args, cwd, timeout=900):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run(
        [str(BIN / "harden"), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def lab_ip(up, name: str) -> str:
    line = next(ln for ln in up.inventory.read_text().splitlines() if ln.startswith(f"{name} "))
    return line.split("harden_lab_ip=", 1)[1].split()[0]


def after(run_dir: Path) -> dict[str, str]:
    runs = sorted((run_dir / "apply").iterdir())
    (host,) = json.loads((runs[-1] / "after" / "results.json").read_text())["hosts"]
    assert host["status"] == "ok", host["message"]  # SSH still works
    return {c["id"]: c["status"] for c in host["checks"]}


def apply_changes(log: str) -> list[str]:
    """The change lines `harden apply` printed for the real run."""
    part = log.split("== apply:", 1)[1].split("\n== ", 1)[0]
    return [ln for ln in part.splitlines()[1:] if ln.startswith("  ") and not ln.startswith("      ")]


def test_loop_with_a_proposed_then_accepted_allowlist(llab, tmp_path):
    host = llab.host("default").container
    resolver_ip, peer_ip = lab_ip(llab, "half"), lab_ip(llab, "hardened")
    for ip in (resolver_ip, peer_ip, "198.18.0.1"):  # the test's traffic stays on the lab network
        route = pexec(host, "ip", "route", "get", ip).stdout
        assert " dev eth0 " in route and " via " not in route, route

    # the site resolver on half, the host pointed at it
    r = pexec(llab.host("half").container, "dnsmasq", f"--listen-address={resolver_ip}", "--bind-interfaces",
              "--no-resolv", "--address=/lab.test/198.18.0.1", "--log-queries", "--log-facility=/var/log/site-dns.log",
              "--pid-file=/run/harden-test-dns.pid")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert pexec(host, "sh", "-c", f"echo nameserver {resolver_ip} > /etc/resolv.conf").returncode == 0
    # its package sources: a mirror by name (not resolved: --no-resolve) and one by address
    sources = "Types: deb\nURIs: http://mirror.lab.test/debian\nSuites: bookworm\nComponents: main\n"
    assert pexec(host, "sh", "-c", f"printf '{sources}' > /etc/apt/sources.list.d/site.sources").returncode == 0
    line = f"deb http://{peer_ip}/debian bookworm main"
    assert pexec(host, "sh", "-c", f"echo '{line}' > /etc/apt/sources.list").returncode == 0
    # the host's own daemon talks to hardened:22; an interpreter holds a connection to half:22
    assert pexec(host, "cp", "/usr/bin/python3", "/usr/local/bin/syncd").returncode == 0
    hold = "import socket,sys,time; s=socket.create_connection((sys.argv[1], 22)); time.sleep(600)"
    assert pexec(host, "/usr/local/bin/syncd", "-c", hold, peer_ip, detach=True).returncode == 0
    assert pexec(host, "python3", "-c", hold, resolver_ip, detach=True).returncode == 0

    inv_dir = tmp_path / "inventory"
    inv_dir.mkdir()
    inv = inv_dir / "inventory.ini"
    text = "\n".join(ln for ln in llab.inventory.read_text().splitlines() if not ln.startswith("harden_egress_allow="))
    inv.write_text(text + "\n")
    inv.chmod(0o600)

    # 1. no policy: egress and DNS refuse and say what unlocks them; netcat is fixed meanwhile
    run1 = tmp_path / "run1"
    assert harden("audit", inv, "--limit", "default", "--out", run1, cwd=tmp_path).returncode == 1
    first = harden("apply", run1, "--inventory", inv, "-e", DEBS, cwd=tmp_path)
    log = first.stdout + first.stderr
    assert first.returncode == 1, log[-4000:]
    assert "unlock with: harden_egress_allow" in log and "unlock with: harden_dns_resolvers" in log, log[-4000:]
    assert after(run1)["binaries.netcat"] == "pass", log[-4000:]

    # 2. the proposal, from evidence
    proposal = tmp_path / "proposal"
    p = harden("allowlist", inv, "--limit", "default", "--out", proposal, "--no-resolve", "--watch", "3", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    group = yaml.safe_load((proposal / "group_vars" / "lab.yml").read_text())
    doc = json.loads((proposal / "allowlist.json").read_text())
    mine = next(h for h in doc["hosts"] if h["name"] == "default")["proposal"]
    assert [r["address"] for r in mine["harden_dns_resolvers"]] == [resolver_ip]
    nets = {e["net"]: e for e in mine["harden_egress_allow"]}
    assert nets[f"{peer_ip}/32"]["ports"] == [22, 80]  # the daemon's peer and the mirror by address
    assert any("syncd" in w for w in nets[f"{peer_ip}/32"]["why"])
    assert any("/etc/apt/sources.list" in w for w in nets[f"{peer_ip}/32"]["why"])
    assert f"{resolver_ip}/32" not in nets  # the interpreter's destination is not proposed...
    assert any(f"{resolver_ip}:22" in s and "python" in s for s in mine["suspicious"])  # ...it is listed apart
    assert any("mirror.lab.test" in u for u in mine["unresolved"])  # --no-resolve: named, not guessed
    assert "NOT PROPOSED" in (proposal / "group_vars" / "lab.yml").read_text()

    # 3. accepted as the inventory's group_vars: audit, apply, re-audit, verify, apply again
    (inv_dir / "group_vars").mkdir()
    shutil.copy(proposal / "group_vars" / "lab.yml", inv_dir / "group_vars" / "lab.yml")
    assert group["harden_dns_resolvers"] == [resolver_ip]
    run2 = tmp_path / "run2"
    assert harden("audit", inv, "--limit", "default", "--out", run2, cwd=tmp_path).returncode == 1
    second = harden("apply", run2, "--inventory", inv, "-e", DEBS, cwd=tmp_path)
    log = second.stdout + second.stderr
    assert "== apply: successful" in log, log[-4000:]
    checks = after(run2)
    for check in REMEDIATED:
        assert checks[check] == "pass", (check, log[-4000:])
    ruleset = pexec(host, "nft", "list", "table", "inet", "harden_egress").stdout
    assert f"ip daddr {resolver_ip} udp dport 53 accept" in ruleset, ruleset  # DNS to the policy resolver only

    v = harden("verify", inv, "--limit", "default", "--out", tmp_path / "verify", "--ports", "4444,443,53,8080",
               "--attempt-timeout", "2", cwd=tmp_path)  # fmt: skip
    vdoc = json.loads((tmp_path / "verify" / "verify.json").read_text())
    (vh,) = vdoc["hosts"]
    assert vh["callback_host"] == "198.18.0.1"
    assert [c["result"] for c in vh["callbacks"]] == ["blocked"] * 4, v.stdout + v.stderr
    assert v.returncode == 0

    third = harden("apply", run2, "--inventory", inv, "-e", DEBS, cwd=tmp_path)
    log = third.stdout + third.stderr
    assert "== apply: successful" in log, log[-4000:]
    assert apply_changes(log) == [], log[-4000:]  # a second apply changes nothing
