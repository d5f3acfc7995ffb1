"""`harden hunt` and `harden verify` on real lab containers with real reverse shells.

Its own lab (state default, unique prefix): the tests start shells, copy netcat-likes in
and change the egress policy, so the session ``lab`` other tests read is left alone.
Every started process is killed by pid; the listener closes within its lifetime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from hardening.hunt.run import load_schema
from hardening.lab import HUNT_PACKAGES, PACKAGES, image_ref

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import hunt_scenarios as hs
import revshell_corpus as rc
from labutil import DEBS, private_lab
from labutil import harden_cli as harden

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def hlab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "h") as up:
        yield up


@pytest.fixture(scope="module")
def clab(lab, tmp_path_factory):  # the corpus lab: the lab image plus the corpus's interpreters and servers
    with private_lab(tmp_path_factory, ("default",), "hc", packages=PACKAGES + HUNT_PACKAGES) as up:
        yield up


RANK = {"": 0, "low": 1, "medium": 2, "high": 3}


def _views(doc_host: dict, groups: dict[int, set[int]], cases) -> dict[str, tuple[str, list[dict]]]:
    """Per scenario: its highest tier and the detections of its processes."""
    by_pid = {d["pid"]: d for d in doc_host["detections"]}
    out = {}
    for i, case in enumerate(cases):
        pids = groups.get(i, set())
        assert pids, f"{case.name}: no process found"
        found = [by_pid[p] for p in sorted(pids) if p in by_pid]
        out[case.name] = (max((d["severity"] for d in found), key=RANK.__getitem__, default=""), found)
    return out


def _check_view(view: str, doc: dict, groups: dict[int, set[int]], cases, want: dict[str, str]) -> dict[str, str]:
    """Every malicious scenario high, every benign one below high, each detection in the container
    ``want`` describes (runtime, id, and name/image when given); returns scenario -> tier."""
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    (h,) = doc["hosts"]
    assert h["status"] == "ok", (view, h)
    tiers = {}
    for case in cases:
        tier, found = _views(h, groups, cases)[case.name]
        tiers[case.name] = tier
        if case.malicious:
            assert tier == "high", (view, case.name, found)
        else:
            assert tier != "high", (view, case.name, found)
        for d in found:
            c = d["container"]
            assert c is not None and all(c[k] == v for k, v in want.items()), (view, case.name, c, want)
    ours = set().union(*groups.values())
    stray = [d for d in h["detections"] if d["pid"] not in ours and (d["container"] or {}).get("id") == want["id"]]
    assert not [d for d in stray if d["severity"] == "high"], (view, stray)  # the SSH session, the collector
    return tiers


def test_hunt_sees_shells_in_the_container_and_from_the_host(hlab, tmp_path):
    """Real reverse shells (TCP and UDP) in a lab podman container, hunted (a) inside the container
    over SSH and (b) from this machine's root namespace (``ansible_connection=local``): both rate
    every shell high and no benign case high, and name the container."""
    host = hlab.host("default")
    c = host.container
    cid = hs.podman("inspect", "-f", "{{.Id}}", c).stdout.strip()
    route = hs.sh(c, "ip route get 198.18.0.1")
    assert " dev eth0 " in route, route  # the listeners are reached over the lab bridge
    hs.copy_binaries(image_ref(), c)
    local_inv = tmp_path / "local.ini"
    local_inv.write_text("[here]\nthis-machine ansible_connection=local ansible_become=false\n")
    started = time.monotonic()
    groups: dict[int, set[int]] = {}
    host_groups: dict[int, set[int]] = {}
    ssh = None
    with hs.Listener(lifetime=90) as lst, hs.UdpListener(lifetime=90) as udp:
        cases = hs.scenarios(lst.port, udp.port)
        tcp_count = sum(1 for s in cases if "/dev/udp" not in s.command and "UDP:" not in s.command)
        try:
            for i, case in enumerate(cases):
                hs.start(c, case, i)
            ssh = hs.interactive_ssh(host.port, hlab.key, hlab.known_hosts)
            assert hs.wait_connected(lst, tcp_count) == tcp_count
            end = time.monotonic() + 10
            while len(udp.peers) < 2 and time.monotonic() < end:
                time.sleep(0.1)
            assert len(udp.peers) == 2, udp.peers
            time.sleep(0.5)
            inside = harden("hunt", hlab.inventory, "--out", tmp_path / "inside", "--timeout", "30")
            outside = harden("hunt", local_inv, "--out", tmp_path / "outside", "--timeout", "30")
            groups = hs.scenario_pids(c)
            host_groups = hs.host_scenario_pids(cid)
            if os.environ.get("HARDEN_HUNT_CAPTURE"):
                hs.capture_goldens(Path(os.environ["HARDEN_HUNT_CAPTURE"]), hlab.inventory, local_inv, cases, c, cid)
        finally:
            if ssh is not None:
                ssh.kill()
                ssh.wait(timeout=10)
            hs.kill(c, set().union(*groups.values()) if groups else set())
    for r in (inside, outside):
        assert r.returncode == 1, r.stderr[-3000:]  # high detections
        assert "harden hunt" in r.stdout  # the table (results on stdout)
    tiers_in = _check_view(
        "inside", json.loads((tmp_path / "inside" / "hunt.json").read_text()), groups, cases,
        {"runtime": "podman", "id": cid},
    )  # fmt: skip
    image = hs.podman("inspect", "-f", "{{.ImageName}}", c).stdout.strip()
    tiers_out = _check_view(
        "host", json.loads((tmp_path / "outside" / "hunt.json").read_text()), host_groups, cases,
        {"runtime": "podman", "id": cid, "name": c, "image": image},
    )  # fmt: skip
    assert tiers_in == tiers_out, (tiers_in, tiers_out)  # the same verdicts from both sides
    doc = json.loads((tmp_path / "outside" / "hunt.json").read_text())
    assert doc["hosts"][0]["host_seconds"] is not None
    # what the host could not resolve is printed, not only written to hunt.json
    for w in doc["hosts"][0]["warnings"]:
        assert w[:60] in outside.stderr.replace("\n", " "), w
    assert time.monotonic() - started < 90
    left = hs.scenario_pids(c)
    assert not left, f"scenario processes left behind: {left}"


def test_verify_lab_linux_and_winrm_host_learn_their_callbacks(hlab, tmp_path):
    """One run, two learned callback addresses: 198.18.0.1 (SSH_CONNECTION of the lab host) and
    127.0.0.1 (the WinRM connection to the test server, the double of a Windows host)."""
    from wsman_server import Account, WsmanServer

    ports = [45000 + os.getpid() % 5000 + i for i in range(3)]
    acc = Account("pw", b"", callbacks={ports[0]: "open", ports[2]: "no-token"})
    with WsmanServer({"w": acc}) as srv:
        inv = tmp_path / "inventory.ini"
        win = (
            f"win1 ansible_connection=winrm ansible_host=127.0.0.1 ansible_port={srv.port} "
            "ansible_user=w ansible_password=pw ansible_winrm_scheme=http harden_winrm_allow_plaintext=true"
        )
        inv.write_text(hlab.inventory.read_text() + f"\n[windows]\n{win}\n")
        inv.chmod(0o600)
        r = harden("verify", inv, "--out", tmp_path, "--ports", ",".join(map(str, ports)), "--attempt-timeout", "2")
        errors = list(srv.errors)
    assert r.returncode == 1, r.stderr[-2000:]
    doc = json.loads((tmp_path / "verify.json").read_text())
    jsonschema.validate(doc, load_schema("verify.v1.json"))
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert (hosts["default"]["callback_host"], hosts["default"]["method"]) == ("198.18.0.1", "bash")
    assert [c["result"] for c in hosts["default"]["callbacks"]] == ["open"] * 3, hosts["default"]
    assert (hosts["win1"]["callback_host"], hosts["win1"]["platform"]) == ("127.0.0.1", "windows")
    assert [c["result"] for c in hosts["win1"]["callbacks"]] == ["open", "blocked", "error"], hosts["win1"]
    listening = {(lst["address"], lst["port"]): lst for lst in doc["listeners"]}
    assert set(listening) == {(a, p) for a in ("127.0.0.1", "198.18.0.1") for p in ports}
    assert listening[("198.18.0.1", ports[0])]["tokens"] == 1 and listening[("127.0.0.1", ports[0])]["tokens"] == 1
    assert listening[("127.0.0.1", ports[2])]["stray"] == 1 and errors == []


def _inventory_without_callback(lab, path: Path) -> Path:
    """The lab inventory with an egress allowlist that does not include the controller (.1)."""
    text = lab.inventory.read_text().replace("harden_egress_allow=198.18.0.0/24", "harden_egress_allow=198.18.0.128/25")
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_verify_open_then_blocked_after_apply(hlab, tmp_path):
    ports = "4444,443,8080"
    before = harden("verify", hlab.inventory, "--out", tmp_path / "before", "--ports", ports)
    # the lab's own policy admits the whole lab network, the controller included: open, but
    # permitted by policy (not a finding, exit 0)
    assert before.returncode == 0, before.stderr[-2000:]
    doc = json.loads((tmp_path / "before" / "verify.json").read_text())
    jsonschema.validate(doc, load_schema("verify.v1.json"))
    (host,) = doc["hosts"]
    assert host["callback_host"] == "198.18.0.1" and host["method"] == "bash"
    assert [c["result"] for c in host["callbacks"]] == ["open"] * 3, host
    assert all(c["permitted_by_policy"] for c in host["callbacks"]) and doc["summary"]["open_outside_policy"] == 0

    inv = _inventory_without_callback(hlab, tmp_path / "inventory.ini")
    outside = harden("verify", inv, "--out", tmp_path / "outside", "--ports", ports)
    assert outside.returncode == 1, outside.stderr[-2000:]  # the same callbacks, outside this policy
    doc = json.loads((tmp_path / "outside" / "verify.json").read_text())
    assert doc["summary"]["open_outside_policy"] == 3

    audit = harden("audit", inv, "--out", tmp_path / "run")
    assert audit.returncode == 1, audit.stderr[-2000:]
    apply = harden(
        "apply", tmp_path / "run", "--inventory", inv, "-e", DEBS, "-e", "harden_dns_resolvers=198.18.0.2", timeout=900
    )
    assert "== apply: successful" in apply.stdout + apply.stderr, (apply.stdout + apply.stderr)[-4000:]

    after = harden("verify", inv, "--out", tmp_path / "after", "--ports", ports, "--attempt-timeout", "2")
    doc = json.loads((tmp_path / "after" / "verify.json").read_text())
    jsonschema.validate(doc, load_schema("verify.v1.json"))
    (host,) = doc["hosts"]
    assert [c["result"] for c in host["callbacks"]] == ["blocked"] * 3, host
    assert after.returncode == 0, after.stderr[-2000:]


def _capture(lab, out: Path, corpus, local_inv: Path, cid: str) -> None:
    """Raw collector output of the running corpus (first line: the nonce) and case -> pids, inside the
    container over SSH (corpus_shells) and from this machine's root namespace (corpus_host, only the
    lab's records kept: :func:`hunt_scenarios.keep_lab_records`)."""
    from hardening.hunt.linux import new_hunt_collector
    from hardening.hunt.run import HuntOptions
    from hardening.inventory import load_inventory
    from hardening.transport import run_script

    (target,) = load_inventory(lab.inventory)
    collector = new_hunt_collector()
    run = run_script(target, collector.script, HuntOptions(timeout=60))
    groups = corpus.groups()
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus_shells.out").write_bytes(collector.nonce.encode() + b"\n" + run.stdout)
    cases = {case.name: sorted(pids) for case, pids in groups}
    (out / "corpus_shells.scenarios.json").write_text(json.dumps(cases, indent=1) + "\n")
    # host side: the collector's own run time inside the container (ms), for docs/performance.md
    timed = "s=$(date +%s%N); sh -s >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
    ms = subprocess.run(
        ["podman", "exec", "-i", corpus.container, "sh", "-c", timed],
        input=collector.script, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"corpus hunt: collector on the host {ms} ms, {len(run.stdout)} bytes")
    (local,) = load_inventory(local_inv)
    collector = new_hunt_collector()
    run = run_script(local, collector.script, HuntOptions(timeout=60))
    body = hs.keep_lab_records(run.stdout, collector.nonce, os.getpid())
    (out / "corpus_host.out").write_bytes(collector.nonce.encode() + b"\n" + body)
    cases = {case.name: sorted(pids) for case, pids in rc.host_groups(corpus, cid)}
    (out / "corpus_host.scenarios.json").write_text(json.dumps(cases, indent=1) + "\n")


def test_hunt_technique_corpus(clab, tmp_path):
    """Issue 20's corpus, hunted over SSH inside the container: every reverse-shell technique by
    name is high (at most one miss per 22), every benign look-alike by name is not high."""
    host = clab.host("default")
    image = image_ref(PACKAGES + HUNT_PACKAGES)
    cid = hs.podman("inspect", "-f", "{{.Id}}", host.container).stdout.strip()
    local_inv = tmp_path / "local.ini"
    local_inv.write_text("[here]\nthis-machine ansible_connection=local ansible_become=false\n")
    ssh = None
    with rc.Corpus(host.container, host.ip, image, lifetime=90) as corpus:
        corpus.start()
        ssh = hs.interactive_ssh(host.port, clab.key, clab.known_hosts)
        try:
            time.sleep(1.0)
            r = harden("hunt", clab.inventory, "--out", tmp_path, "--timeout", "60")
            outside = harden("hunt", local_inv, "--out", tmp_path / "outside", "--timeout", "60")
            groups = corpus.groups()
            host_groups = rc.host_groups(corpus, cid)
            if os.environ.get("HARDEN_HUNT_CAPTURE"):  # refresh tests/golden/hunt/corpus_* (README there)
                _capture(clab, Path(os.environ["HARDEN_HUNT_CAPTURE"]), corpus, local_inv, cid)
        finally:
            ssh.kill()
            ssh.wait(timeout=10)
    doc = json.loads((tmp_path / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    h = doc["hosts"][0]
    assert h["status"] == "ok", h
    print(f"corpus hunt: {h['processes']} processes, {h['sockets']} sockets, wall {h['duration_s']} s")
    assert h["duration_s"] < 30, h["duration_s"]
    by_pid = {d["pid"]: d["severity"] for d in h["detections"]}
    results = rc.outcomes(by_pid, groups)
    table = rc.table(results)
    (tmp_path / "corpus.md").write_text(table + "\n")
    print(table)
    missing = [o.case for o in results if not o.pids]
    assert not missing, f"cases with no process: {missing}"
    bad = [o for o in results if o.malicious]
    assert len(bad) >= 22, len(bad)
    not_high = [o.case for o in bad if o.tier != "high"]
    assert len(not_high) <= len(bad) // 22, f"techniques not high: {not_high}\n{table}"
    benign_high = [o.case for o in results if not o.malicious and o.tier == "high"]
    assert not benign_high, f"benign look-alikes at high: {benign_high}\n{table}"
    # the interactive SSH session (pty, login shell) and the collector's own chain: never high
    case_pids = set().union(*(o.pids for o in results))
    stray_high = [d for d in h["detections"] if d["pid"] not in case_pids and d["severity"] == "high"]
    assert not stray_high, stray_high
    pids = {o.case: o.pids for o in results}
    bind = [d for d in h["detections"] if d["pid"] in pids["bind shell (nc -l -e)"]]
    assert any("bind shell" in " ".join(d["reasons"]) for d in bind), bind
    assert r.returncode == 1, r.stderr[-3000:]
    # the same corpus hunted from this machine's root namespace (the container host)
    doc = json.loads((tmp_path / "outside" / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    (h,) = doc["hosts"]
    assert h["status"] == "ok", h
    print(f"corpus hunt from the host: {h['processes']} processes, wall {h['duration_s']} s")
    host_results = rc.outcomes({d["pid"]: d["severity"] for d in h["detections"]}, host_groups)
    host_table = rc.table(host_results)
    print(host_table)
    assert not [o.case for o in host_results if not o.pids], host_table
    not_high = [o.case for o in host_results if o.malicious and o.tier != "high"]
    assert len(not_high) <= len(bad) // 22, f"from the host, techniques not high: {not_high}\n{host_table}"
    assert not [o.case for o in host_results if not o.malicious and o.tier == "high"], host_table
    assert outside.returncode == 1, outside.stderr[-3000:]
