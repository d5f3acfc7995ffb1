"""The whole loop on real lab containers: audit -> playbooks -> harden apply -> re-audit.

Its own lab (states default and half, unique prefix): the apply changes the hosts, so the
session ``lab`` other tests read is left alone. Also proves: a hostile file name stays data
(quarantined by hash, never run), inventory passwords (half logs in with one) never reach
the kept artifacts, and a firewall policy that cuts the management path is rolled back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from labutil import DEBS, pexec, private_lab

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
# policy: the resolver the hosts may use (a lab address nobody answers on: dnsmasq forwards there)
RESOLVERS = "harden_dns_resolvers=198.18.0.2"
HOSTILE_DIR = "/tmp/{{ lookup('pipe', 'touch harden-pwned') }}$(touch harden-pwned2);'\""
PASSING_AFTER = (
    "egress.default_deny",
    "egress.allowlist",
    "dns.query_logging",
    "logging.forwarding",  # rsyslog to the lab inventory's harden_log_collectors, the DNS log read in
    "binaries.netcat",
)


@pytest.fixture(scope="module")
def rlab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default", "half"), "r") as up:
        yield up


def harden(*args, cwd, timeout=600):
    return subprocess.run([str(BIN / "harden"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def statuses(path: Path) -> dict[tuple[str, str], str]:
    doc = json.loads(path.read_text())
    return {(h["name"], c["id"]): c["status"] for h in doc["hosts"] for c in h["checks"]}


def test_audit_apply_reaudit_rollback(rlab, tmp_path):
    default = rlab.host("default").container
    # a dropped netcat copy under a hostile directory name
    assert pexec(default, "mkdir", "-p", HOSTILE_DIR).returncode == 0
    assert pexec(default, "cp", "/usr/bin/nc.openbsd", f"{HOSTILE_DIR}/nc").returncode == 0
    out = tmp_path / "run"

    audit = harden("audit", str(rlab.inventory), "--out", str(out), cwd=tmp_path)
    assert audit.returncode == 1, audit.stderr[-2000:]
    before = statuses(out / "results.json")
    assert all(before[("default", c)] == "fail" for c in PASSING_AFTER)
    hv = (out / "playbooks" / "host_vars" / "default.yml").read_text()
    assert "!unsafe" in hv and "lookup('pipe', 'touch harden-pwned')" in hv

    apply = harden(
        "apply", str(out), "--inventory", str(rlab.inventory), "-e", DEBS, "-e", RESOLVERS, cwd=tmp_path, timeout=900
    )
    log = apply.stdout + apply.stderr
    # exit 1: audit.auditd and appcontrol.enforced cannot pass in a container (no kernel audit, no LSM)
    assert apply.returncode == 1, log[-4000:]
    assert "== check mode (what would change)" in log and "== apply: successful" in log, log[-4000:]
    runs = sorted((out / "apply").iterdir())
    after = statuses(runs[-1] / "after" / "results.json")
    for check in PASSING_AFTER:
        assert after[("default", check)] == "pass", (check, log[-4000:])
        assert f"default          {check}" in log
    assert json.loads((runs[-1] / "after" / "results.json").read_text())["hosts"][0]["status"] == "ok"  # SSH works

    # the hostile copy: quarantined by hash with its exact name recorded, nothing ran
    names = pexec(default, "ls", "/var/lib/harden/quarantine").stdout.split()
    recorded = {
        json.loads(pexec(default, "cat", f"/var/lib/harden/quarantine/{n}").stdout)["original_path"]
        for n in names
        if n.endswith(".json")
    }
    assert f"{HOSTILE_DIR}/nc" in recorded, names
    assert pexec(default, "test", "-e", f"{HOSTILE_DIR}/nc").returncode == 1
    found = pexec(default, "find", "/", "-xdev", "-maxdepth", "4", "-name", "harden-pwned*").stdout
    assert found.strip() == "" and not list(tmp_path.rglob("harden-pwned*"))

    # the inventory's passwords (half logs in and escalates with one) are in no kept artifact
    assert rlab.password
    for f in (out / "apply").rglob("*"):
        if f.is_file():
            assert rlab.password.encode() not in f.read_bytes(), f

    # a policy that cuts the management path: rolled back, host reachable, nothing persisted
    cut = harden(
        "apply", str(out), "--inventory", str(rlab.inventory), "--limit", "default",
        "-e", DEBS, "-e", RESOLVERS, "-e", "harden_egress_block=198.18.0.1/32",
        "-e", "harden_egress_rollback_after=20", "-e", "harden_egress_confirm_timeout=8",
        cwd=tmp_path, timeout=900,
    )  # fmt: skip
    log = cut.stdout + cut.stderr
    assert cut.returncode == 1, log[-4000:]
    assert "ROLLED BACK" in log and "status: rolled-back" in log, log[-4000:]
    assert "198.18.0.1 drop" not in pexec(default, "nft", "list", "ruleset").stdout
    assert "198.18.0.1 drop" not in pexec(default, "cat", "/etc/nftables.d/harden-egress.nft").stdout
    runs = sorted((out / "apply").iterdir())
    after = statuses(runs[-1] / "after" / "results.json")
    assert after[("default", "egress.default_deny")] == "pass"  # re-audit over SSH worked
