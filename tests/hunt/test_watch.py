"""Incidents, the sample timeline and ``harden hunt --watch`` (pure, plus the watch loop run locally).

Goldens (tests/golden/hunt/README.md): ``lab_shells.out`` (seven real reverse shells, one
snapshot) and ``lab_watch.out.gz`` / ``lab_watch_single.out``: a real 36 s watch and a real
one-snapshot hunt of a lab container running a transient reverse shell loop, a beacon and a
quiet long-lived session (``tests/support/watch_scenarios.py``).
"""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console as RichConsole

from hardening.facts.sections import parse_sections
from hardening.hunt.incident import Seen, build_incidents, incident_id, key_of
from hardening.hunt.linux import parse_snapshot
from hardening.hunt.model import Detection, Endpoint, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.run import HostHunt, HuntOptions, HuntRun, WatchInfo, hunt_document, hunt_host, load_schema
from hardening.hunt.run import sample_time as sample_time_of
from hardening.hunt.score import HuntContext, score
from hardening.hunt.timeline import Timeline, Traffic, Watched, parse_ss
from hardening.hunt.watch import (
    MAX_SAMPLES,
    WatchError,
    WatchSpec,
    iter_samples,
    parse_duration,
    watch_end,
    watch_script,
    watch_spec,
)
from hardening.model import HostStatus, Platform

GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"
HARDEN = str(Path(sys.executable).parent / "harden")
TRANSIENT = "transient reverse shell (a loop reopening bash /dev/tcp)"
BEACON = "beacon (renamed python, a short connection every 4 s)"
QUIET = "quiet long-lived session (renamed python, one idle connection)"


def raw(name: str) -> tuple[str, bytes]:
    data = (GOLDEN / name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    nonce, _, body = data.partition(b"\n")
    return nonce.decode(), body


def folded(name: str, ctx: HuntContext | None = None, interval: float | None = 1) -> Watched:
    nonce, body = raw(name)
    tl = Timeline("default", ctx, (), interval)
    for s in iter_samples(body, nonce):
        ss = s.sections.get("hunt.ss")
        tl.add(parse_snapshot(s.sections), parse_ss(ss.text) if ss and ss.rc == 0 else {}, s.index, sample_time_of(s))
    return tl.result()


@pytest.fixture(scope="module")
def shells():
    nonce, body = raw("lab_shells.out")
    snap = parse_snapshot(parse_sections(body, nonce))
    names = json.loads((GOLDEN / "lab_shells.scenarios.json").read_text())
    return snap, {name: set(pids) for name, pids in names.items()}


@pytest.fixture(scope="module")
def watched():
    return folded("lab_watch.out.gz")


@pytest.fixture(scope="module")
def scenarios():
    return json.loads((GOLDEN / "lab_watch.scenarios.json").read_text())


# --- incidents -----------------------------------------------------------------------------------


def test_one_incident_per_shell_with_relay_and_children(shells):
    snap, names = shells
    detections = score(snap, HuntContext(roles=("web",)))
    incidents = build_incidents("default", detections, snap)
    by_pid = {d.pid: d for d in detections}
    owner = {p: name for name, pids in names.items() for p in pids}
    for inc in incidents:
        # one scenario per incident, its tier the highest of its detections, each reason once
        assert len({owner.get(p) for p in inc.detections}) == 1, inc
        assert inc.severity.rank == max(by_pid[p].severity.rank for p in inc.detections)
        assert len(inc.reasons) == len(set(inc.reasons))
        assert set(inc.reasons) == {r for p in inc.detections for r in by_pid[p].reasons}
        assert re.fullmatch(r"i-[0-9a-f]{8}", inc.id) and inc.tree.startswith(inc.root.label)
        assert inc.root.pid == inc.members[0].pid
    # every detected process of a reverse shell is in exactly one incident; one incident per shell
    flagged = [p for inc in incidents for p in inc.detections]
    assert len(flagged) == len(set(flagged)) == len(detections)
    for name, pids in names.items():
        mine = [inc for inc in incidents if set(inc.detections) & pids]
        if name.startswith(("ssh client", "python http")):
            assert all(i.severity is not Tier.HIGH for i in mine), name
            continue
        assert len(mine) == 1 and mine[0].severity is Tier.HIGH, (name, mine)
    relay = {inc.root.process: inc for inc in incidents}
    assert [m.process for m in relay["socat"].members] == ["socat", "bash"] and relay["socat"].tree.startswith("socat(")
    assert relay["ncat"].tree.startswith("ncat(") and len(relay["ncat"].detections) == 3
    assert len({i.id for i in incidents}) == len(incidents) == 8


def test_incident_ids_are_stable_and_documented(shells):
    snap, _ = shells
    detections = score(snap)
    first = build_incidents("default", detections, snap)
    again = build_incidents("default", tuple(reversed(detections)), snap)
    assert [i.id for i in first] == [i.id for i in again]
    other = build_incidents("web2", detections, snap)
    assert not {i.id for i in first} & {i.id for i in other}
    for inc in first:  # the id is what docs/hunt.md says: host, root pid, root start (2 decimals)
        assert inc.id == incident_id("default", inc.root.pid, inc.root.start_time)
        import hashlib

        text = f"default\0{inc.root.pid}\0{inc.root.start_time:.2f}\0"
        assert inc.id == "i-" + hashlib.sha256(text.encode()).hexdigest()[:8]


def test_children_pipes_and_peers_join_an_incident():
    def proc(pid, ppid, comm, stdio=("", "", ""), socks=()):
        return Process(pid, ppid, comm, f"/usr/bin/{comm}", (comm,), 0, "root", 1000.0 + pid, stdio, socks)

    procs = {
        1: proc(1, 0, "systemd"),
        10: proc(10, 1, "sh"),  # the shell pipeline's parent (not detected)
        11: proc(11, 10, "sh", ("pipe:[5]", "pipe:[6]", "pipe:[6]")),
        12: proc(12, 10, "openssl", ("pipe:[6]", "pipe:[5]", "/dev/null"), ((3, 99),)),
        13: proc(13, 11, "cat"),  # run from the shell: a child of the incident
        20: proc(20, 1, "nc"),
        30: proc(30, 1, "perl"),
    }
    snap = Snapshot(Platform.LINUX, procs, {})

    def det(pid, tier, remote="", peers=""):
        extra = {"kind": "shell" if procs[pid].comm == "sh" else "other", **({"peers": peers} if peers else {})}
        return Detection(
            pid, procs[pid].comm, tier, (f"r{pid}",), remote, start_time=procs[pid].start_time, extra=extra
        )

    dets = [
        det(11, Tier.HIGH),
        det(12, Tier.MEDIUM, "203.0.113.9:443"),
        det(20, Tier.MEDIUM, peers="30"),
        det(30, Tier.LOW),
    ]
    incs = build_incidents("h", dets, snap)
    assert len(incs) == 2
    pipe, peers = incs
    assert set(pipe.detections) == {11, 12} and pipe.severity is Tier.HIGH and pipe.remotes == ("203.0.113.9:443",)
    assert [m.pid for m in pipe.members if m.role == "child"] == [13]
    assert set(peers.detections) == {20, 30} and peers.severity is Tier.MEDIUM
    # a shared stdio that is not a pipe (a terminal, /dev/null) joins nothing
    alone = build_incidents("h", [det(20, Tier.LOW), det(12, Tier.LOW)], snap)
    assert len(alone) == 2


# --- the watch: recurrence, beacons, quiet sessions ----------------------------------------------


def test_transient_shells_are_one_recurring_incident_with_counts(watched, scenarios):
    spawner = scenarios[TRANSIENT]["spawner"]
    (inc,) = [i for i in watched.incidents if i.root.pid == spawner]
    assert inc.root.role == "spawner" and inc.severity is Tier.HIGH
    assert inc.occurrences >= 4 and inc.tree.startswith(f"sh({spawner}) > {inc.occurrences}x bash")
    shells = [m for m in inc.members if m.severity is not None]
    assert len(shells) == inc.occurrences and all(m.process == "bash" for m in shells)
    # each shell lived ~2 s of a 7 s cycle: seen in a few samples each, never in all
    assert inc.occurrences <= inc.seen.count < watched.samples
    assert inc.seen.first is not None and inc.seen.last is not None and inc.seen.last - inc.seen.first > 14
    for m in shells:
        s = watched.seen[key_of(m.pid, m.start_time)]
        assert 1 <= s.count <= 3
    assert any(r.startswith("beacon: ") and "/usr/bin/bash" in r for r in inc.reasons)
    # recurring incidents have their own id: spawner + executable + destination
    assert inc.id == incident_id("default", spawner, inc.root.start_time, f"/usr/bin/bash\0{inc.remotes[0]}")


def test_a_single_snapshot_in_a_gap_misses_what_the_watch_sees(scenarios):
    single = folded("lab_watch_single.out", interval=None)
    assert single.samples == 1 and single.detections == () and single.incidents == ()
    assert single.first is not None  # the one snapshot has a host time (btime + /proc/uptime)


def test_beacon_is_seen_with_its_period(watched, scenarios):
    pid = scenarios[BEACON]["pid"]
    (d,) = [d for d in watched.detections if d.pid == pid]
    (reason,) = d.reasons
    m = re.fullmatch(
        r"beacon: (\d+) short connections from (\S+) to (\S+), one every ~(\d+) s \(sampled every 1 s\)", reason
    )
    assert m, reason
    assert int(m.group(1)) >= 6 and m.group(2) == "/opt/hunt-test/bin/updater" and int(m.group(4)) == 4
    assert d.severity is Tier.LOW and d.extra["kind"] == "other"  # an unremarkable executable: low
    assert watched.seen[key_of(d.pid, d.start_time)].count >= 2 * int(m.group(1))


def test_quiet_long_lived_session_is_seen_with_its_bytes(watched, scenarios):
    pid = scenarios[QUIET]["pid"]
    (d,) = [d for d in watched.detections if d.pid == pid]
    assert d.severity is Tier.LOW and len(d.reasons) == 1
    assert re.match(
        r"long-lived low-volume session: .* stayed open 3\d s while watched and moved 0 B in, 0 B out", d.reasons[0]
    )
    assert watched.seen[key_of(d.pid, d.start_time)].count == watched.samples == 37
    assert watched.traffic_known


def test_watch_patterns_follow_approved_networks_and_roles(watched):
    approved = folded("lab_watch.out.gz", HuntContext(approved=(ipaddress.ip_network("198.18.0.0/24"),)))
    # an approved destination is expected: no watch-only finding; the reverse shells are lowered one tier
    assert {d.extra["kind"] for d in approved.detections} == {"shell"}
    assert all(d.severity is Tier.MEDIUM for d in approved.detections)
    elsewhere = folded("lab_watch.out.gz", HuntContext(approved=(ipaddress.ip_network("10.0.0.0/8"),)))
    others = [d for d in elsewhere.detections if d.extra["kind"] == "other"]
    assert len(others) == 2 and all(d.severity is Tier.MEDIUM for d in others)
    assert all(any("outside the approved networks" in r for r in d.reasons) for d in others)
    ws = folded("lab_watch.out.gz", HuntContext(roles=("workstation",)))
    assert not [d for d in ws.detections if d.extra["kind"] == "other"]
    assert len(watched.detections) == len(ws.detections) + 2


def test_timeline_merges_one_process_across_samples_and_tells_reused_pids_apart():
    listen = TcpSocket(1, Endpoint("0.0.0.0", 8080), Endpoint("0.0.0.0", 0), "LISTEN")
    out = TcpSocket(2, Endpoint("10.0.0.5", 50000), Endpoint("203.0.113.9", 4444), "ESTABLISHED")
    web = Process(100, 1, "nginx", "/usr/sbin/nginx", ("nginx",), 33, "www-data", 500.0, sockets=((6, 1),))
    shell = Process(200, 100, "sh", "/bin/sh", ("sh",), 33, "www-data", 900.0)
    init = Process(1, 0, "systemd", "/usr/lib/systemd/systemd", ("/sbin/init",), 0, "root", 1.0)

    def snap(*procs):
        return Snapshot(Platform.LINUX, {p.pid: p for p in (init, web, *procs)}, {1: listen, 2: out})

    tl = Timeline("h", interval=1)
    tl.add(snap(shell), {}, 0, 1000.0)  # a shell under nginx, no connection: medium
    tl.add(snap(replace(shell, sockets=((0, 2), (1, 2)))), {}, 1, 1001.0)  # now on a socket: high
    tl.add(snap(), {}, 2, 1002.0)
    tl.add(snap(replace(shell, start_time=1001.5)), {}, 3, 1003.0)  # pid 200 reused by another sh
    r = tl.result()
    first, reused = sorted((d for d in r.detections if d.pid == 200), key=lambda d: d.start_time or 0)
    assert first.severity is Tier.HIGH and any("no connection seen" in x for x in first.reasons)
    assert any("is a TCP socket" in x for x in first.reasons) and len(first.reasons) == len(set(first.reasons))
    assert r.seen[key_of(200, 900.0)] == Seen(1000.0, 1001.0, frozenset({0, 1}))
    assert reused.severity is Tier.MEDIUM and r.seen[key_of(200, 1001.5)].samples == frozenset({3})
    assert r.samples == 4 and (r.first, r.last) == (1000.0, 1003.0)


# --- the watch collector and its output --------------------------------------------------------


def test_samples_split_and_the_watch_end(watched):
    nonce, body = raw("lab_watch.out.gz")
    samples = list(iter_samples(body, nonce))
    assert [s.index for s in samples] == list(range(37))
    assert all(s.sections.text("meta.id").strip() == "0" and "hunt.stat" in s.sections for s in samples)
    steps = [b.uptime_cs - a.uptime_cs for a, b in itertools.pairwise(samples)]
    assert all(95 <= s <= 105 for s in steps), steps  # the loop keeps its 1 s schedule
    end = watch_end(body, nonce)
    assert end is not None and (end.samples, end.stopped) == (37, "duration")
    # cut in the middle of the last sample: that sample is incomplete, the others are not
    cut = body[: body.rfind(b"B hunt.links")]
    parts = list(iter_samples(cut, nonce))
    assert [s.sections.complete for s in parts] == [True] * 36 + [False] and watch_end(cut, nonce) is None
    # host data cannot open a sample: a marker needs the run's nonce at a line start
    mid_line = b"x@@" + nonce.encode() + b" B hunt.sample\n"
    forged = body.replace(b"/proc/1/cmdline:", b"/proc/1/cmdline:" + mid_line, 1)
    assert forged != body and len(list(iter_samples(forged + b"\n@@0000 B hunt.sample\n1 2\n", nonce))) == 37
    # no marker: the one-snapshot collector's output is one sample
    nonce1, body1 = raw("lab_shells.out")
    (only,) = iter_samples(body1, nonce1)
    assert only.index == 0 and only.uptime_cs is None and sample_time_of(only) is not None


def test_parse_ss_real_and_old_output():
    nonce, body = raw("lab_watch.out.gz")
    first = next(iter_samples(body, nonce))
    traffic = parse_ss(first.sections.text("hunt.ss"))
    snap = parse_snapshot(first.sections)
    # every established socket ss saw is one of the TCP table's, by inode
    assert traffic and set(traffic) <= set(snap.sockets)
    assert all(t.bytes_in >= 0 and t.bytes_out >= 0 for t in traffic.values())
    old = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\nESTAB 0 0 10.0.0.5:22 10.0.0.9:5000 ino:42 <->\n"
    old += "\t cubic rto:204 bytes_sent:300 bytes_received:20\n0 0 1.2.3.4:1 5.6.7.8:2 ino:43\n\t cubic rto:204\n"
    assert parse_ss(old) == {42: Traffic(20, 300)}


def _run_watch(spec: WatchSpec, shell: list[str]) -> tuple[str, bytes]:
    nonce = "w" + "1" * 15
    script = watch_script(nonce, spec)
    out = subprocess.run([*shell, "-s"], input=script.encode(), capture_output=True, timeout=60).stdout
    return nonce, out


@pytest.mark.parametrize("shell", [["sh"], ["busybox", "sh"]], ids=["sh", "busybox"])
def test_watch_loop_runs_bounded_here(shell):
    """The real loop under this machine's sh (and busybox ash): samples on schedule, then the budget stop."""
    if not shutil.which(shell[0]):
        pytest.skip(f"{shell[0]} not installed")
    nonce, out = _run_watch(WatchSpec(2, 1, 30 * 2**20), shell)
    end = watch_end(out, nonce)
    assert end is not None and (end.samples, end.stopped) == (3, "duration")
    samples = list(iter_samples(out, nonce))
    assert len(samples) == 3 and all(parse_snapshot(s.sections).processes for s in samples)
    assert end.sent > 0 and end.ended_cs - end.started_cs >= 200
    nonce, out = _run_watch(WatchSpec(5, 1, 1000), shell)  # one sample is more than the budget: stop after it
    end = watch_end(out, nonce)
    assert end is not None and (end.samples, end.stopped) == (1, "budget")
    assert b"__done__" in out


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_watch_script_is_posix_sh(shell):
    if not shutil.which(shell):
        pytest.skip(f"{shell} not installed")
    script = watch_script("abc123", WatchSpec(60, 2, 1000))
    script.encode("ascii")
    argv = [shell, "sh", "-n"] if shell == "busybox" else [shell, "-n"]
    assert subprocess.run(argv, input=script, text=True).returncode == 0


def test_watch_bounds():
    assert parse_duration("120") == 120 and parse_duration("2m") == 120 and parse_duration("90s") == 90
    for bad in ("", "0", "2h", "-1", "1d", "5 minutes", "3601"):
        with pytest.raises(WatchError):
            parse_duration(bad)
    assert watch_spec("1h", 1, 32 * 2**20).max_samples == MAX_SAMPLES
    assert watch_spec("10", None, 32 * 2**20) == WatchSpec(10, 2, 31 * 2**20)
    for duration, interval, cap in (("10", 0, 32 * 2**20), ("10", 11, 32 * 2**20), ("10", 1, 2**20)):
        with pytest.raises(WatchError):
            watch_spec(duration, interval, cap)
    with pytest.raises(ValueError):
        watch_script("not-alnum", WatchSpec(10, 1, 1000))
    with pytest.raises(ValueError):
        watch_script("abc", WatchSpec(7200, 1, 1000))


# --- output: hunt.json and the terminal ----------------------------------------------------------


def _host(w: Watched, watch: bool = True, name: str = "default") -> HostHunt:
    info = WatchInfo(36, 1, w.samples, "duration", w.first, w.last) if watch else None
    return HostHunt(
        name, "127.0.0.1:22", Platform.LINUX, HostStatus.OK, detections=w.detections, suppressed=w.suppressed,
        warnings=w.warnings, incidents=w.incidents, seen=w.seen, samples=w.samples, watch=info,
    )  # fmt: skip


def test_document_keeps_the_contract_and_adds_incidents(watched):
    hosts = [_host(watched), HostHunt("x", "10.0.0.1", Platform.LINUX, HostStatus.UNREACHABLE, "cannot connect")]
    doc = hunt_document(hosts, "inv.ini", "2026-01-01T00:00:00+00:00")
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    h = doc["hosts"][0]
    for d in h["detections"]:
        assert {"pid", "process", "remote", "severity", "reasons"} <= set(d) and d["samples"] >= 1
    assert doc["summary"]["incidents"] == {"high": 1, "medium": 0, "low": 2}
    assert h["watch"]["samples"] == 37 and h["samples"] == 37
    rec = next(i for i in h["incidents"] if i["occurrences"] > 1)
    assert rec["root"]["role"] == "spawner" and rec["first_seen"] < rec["last_seen"]
    assert set(rec["detections"]) <= {p["pid"] for p in rec["processes"]}
    plain = next(i for i in h["incidents"] if i["occurrences"] == 1)
    root = plain["root"]
    assert plain["id"] == incident_id("default", root["pid"], root["start_unix"])
    assert doc["hosts"][1]["incidents"] == [] and doc["hosts"][1]["samples"] == 0


def _rendered(run: HuntRun, width: int) -> list[str]:
    from hardening.hunt_cli import TABLE_WIDTH, incident_table

    console = RichConsole(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(incident_table(run), width=min(width, TABLE_WIDTH))
    return console.export_text().splitlines()


def test_incident_table_fits_100_columns(watched, tmp_path):
    long_name = "a-very-long-inventory-host-name.example.internal"
    tagged = tuple(replace(i, container="podman:harden-lab-default-0123456789abcdef") for i in watched.incidents)
    hosts = (
        _host(watched, name=long_name),
        replace(_host(watched, name="web2"), incidents=tagged),
        HostHunt("down", "10.0.0.1", Platform.LINUX, HostStatus.UNREACHABLE, "connection refused " * 10),
    )
    run = HuntRun(hosts, tmp_path / "hunt.json")
    for width in (100, 240):
        lines = _rendered(run, width)
        assert max(len(line) for line in lines) <= 100, "\n".join(lines)
        text = "\n".join(lines)
        for col in ("host", "incident", "tier", "process tree", "remote", "container", "seen"):
            assert col in text
        assert all(i.id in text for i in watched.incidents)
    # the collector ran inside a podman container: every incident carries its label (Detection.container)
    assert all(i.container.startswith("podman:") for i in watched.incidents)
    plain = replace(_host(watched, watch=False), incidents=tuple(replace(i, container="") for i in watched.incidents))
    one = HuntRun((plain,), tmp_path / "hunt.json")
    header = next(line for line in _rendered(one, 240) if "incident" in line)
    assert "seen" not in header and "container" not in header


def test_cli_refuses_bad_watch_options(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nme ansible_connection=local\n")
    inv.chmod(0o600)
    for args, message in (
        (["--interval", "2"], "--interval needs --watch"),
        (["--watch", "2h"], "a watch lasts"),
        (["--watch", "10", "--interval", "20"], "longer than the watch"),
        (["--watch", "10", "--max-output", "1"], "too small for a watch"),
    ):
        r = subprocess.run(
            [HARDEN, "hunt", str(inv), "--out", str(tmp_path / "o"), *args], capture_output=True, text=True
        )
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)


def test_windows_hosts_refuse_watch_without_connecting(tmp_path):
    from hardening.inventory import load_inventory

    inv = tmp_path / "inv.yml"
    win = {"ansible_connection": "winrm", "ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_user": "u",
           "ansible_password": "pw", "ansible_winrm_scheme": "http", "harden_winrm_allow_plaintext": True}  # fmt: skip
    inv.write_text(json.dumps({"all": {"hosts": {"win1": win}}}))
    (target,) = load_inventory(inv)
    h = hunt_host(target, HuntOptions(timeout=5, watch=WatchSpec(10, 1, 2**20)))
    assert h.status is HostStatus.ERROR and "not supported on Windows" in h.message and h.duration_s < 1


def _beacon_run(opens: list[tuple[int, int]], samples: int = 40, ctx: HuntContext | None = None) -> Watched:
    """A process (an unremarkable executable) whose k-th connection is open from sample a to sample b
    (inclusive) for each (a, b) in ``opens``; one sample a second."""
    init = Process(1, 0, "systemd", "/usr/lib/systemd/systemd", ("/sbin/init",), 0, "root", 1.0)
    agent = Process(50, 1, "agent", "/usr/local/bin/agent", ("agent", "--push"), 0, "root", 10.0)
    tl = Timeline("h", ctx, (), 1)
    for t in range(samples):
        live = [k for k, (a, b) in enumerate(opens) if a <= t <= b]
        sockets = {
            1000 + k: TcpSocket(1000 + k, Endpoint("10.0.0.5", 40000 + k), Endpoint("203.0.113.9", 443), "ESTABLISHED")
            for k in live
        }
        proc = replace(agent, sockets=tuple((3 + k, 1000 + k) for k in live))
        tl.add(Snapshot(Platform.LINUX, {1: init, 50: proc}, sockets), {}, t, 5000.0 + t)
    return tl.result()


def test_beacon_rule():
    regular = [(s, s + 1) for s in range(0, 40, 6)]  # 7 connections, 2 s each, every 6 s
    (d,) = _beacon_run(regular).detections
    assert d.severity is Tier.LOW and d.reasons[0].startswith("beacon: 7 short connections") and "~6 s" in d.reasons[0]
    missed = [c for i, c in enumerate(regular) if i != 3]  # a missed beat is still the same rhythm
    assert _beacon_run(missed).detections
    assert not _beacon_run(regular[:2]).detections  # two connections are no pattern
    irregular = [(0, 1), (3, 4), (17, 18), (20, 21), (33, 34)]
    assert not _beacon_run(irregular).detections
    held = [(s, s + 5) for s in range(0, 40, 6)]  # open most of each period: no "short" connections
    assert not _beacon_run(held).detections
    ugly = _beacon_run(regular, ctx=HuntContext(approved=(ipaddress.ip_network("10.0.0.0/8"),)))
    assert ugly.detections[0].severity is Tier.MEDIUM


def test_forged_markers_are_bounded():
    nonce = "n1"
    one = b"@@n1 B hunt.sample\n0 100\n@@n1 E hunt.sample 0\n"
    samples = list(iter_samples(one * (MAX_SAMPLES + 50), nonce))
    assert len(samples) == MAX_SAMPLES


def test_later_samples_reuse_what_only_sample_0_read():
    """A piece may read a costly section only when HS is 0: complete later samples reuse it, a cut one not."""

    def sample(i: int, *sections: str, done: bool = False) -> bytes:
        body = f"@@n B hunt.sample\n{i} {100 * i}\n@@n E hunt.sample 0\n".encode()
        for name in sections:
            body += f"@@n B {name}\n{name} of {i}\n@@n E {name} 0\n".encode()
        return body + (b"@@n B __done__\n\n@@n E __done__ 0\n" if done else b"")

    out = sample(0, "hunt.stat", "hunt.costly", "hunt.costly!err") + sample(1, "hunt.stat") + sample(2, "hunt.stat")
    _, second, _, cut = iter_samples(out + b"@@n B hunt.sample\n3 300\n@@n E hunt.sample 0\n@@n B hunt.stat\nx", "n")
    assert second.sections.text("hunt.costly") == "hunt.costly of 0" and "hunt.costly!err" not in second.sections
    assert second.sections.text("hunt.stat") == "hunt.stat of 1"
    assert not cut.sections.complete and "hunt.costly" not in cut.sections
    *_, last = iter_samples(out[: -len(sample(2, "hunt.stat"))] + sample(2, "hunt.stat", done=True), "n")
    assert last.sections.complete and last.sections.text("hunt.costly") == "hunt.costly of 0"
