"""Drift since a baseline (``harden hunt --baseline DIR``): observations, the baseline files, the
comparison, tier adjustments, hostile names.

Golden ``tests/golden/hunt/drift_lab.out``: real output of the hunt collector (with ``drift.sh``) run as
root in the lab image (``podman run --network none``, Debian 12) after planting: root's authorized_keys
with ``command=...--password=...,no-pty,from=...`` on an ed25519 key, a user ``alice`` with an RSA key
whose comment is ``token=hunter2`` and a line that is not a key, a symlinked authorized_keys for
www-data (to /etc/shadow), ``/etc/cron.d/rotate`` with ``--token abc``, a user spool line
``@reboot /tmp/.x/run.sh`` and a symlink ``/etc/cron.d/linked``. This machine's kernel has no
loadable modules (no ``/proc/modules``). The expected fingerprints are ``ssh-keygen -l``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from hardening.facts.collector import Collector
from hardening.facts.sections import parse_sections
from hardening.hunt import baseline as store
from hardening.hunt import drift as dr
from hardening.hunt.drift import Baseline, Category, Entry, HostView, Item, Observer
from hardening.hunt.incident import Incident, Member, key_of
from hardening.hunt.linux import parse_snapshot
from hardening.hunt.model import Container, Detection, Endpoint, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.run import (
    BaselineOptions,
    HostHunt,
    HuntOptions,
    apply_baseline,
    hunt_document,
    hunt_host,
    load_schema,
)
from hardening.model import HostStatus, Platform
from hardening.transport.base import RunResult

GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"
HARDEN = str(Path(sys.executable).parent / "harden")
ED25519 = "SHA256:6K42OwtFCCOlCXw+bvJ5IQNR6qSUpnYSBjvHECp7GeQ"  # ssh-keygen -lf of the golden's root key
RSA = "SHA256:sPxTc08bueKrkoK+p4CyV5mL3OsJuI1TYYyh2bcj4rE"  # ... of alice's key
NOW = "2026-12-07T01:00:00+00:00"


def golden() -> tuple[str, bytes]:
    raw = (GOLDEN / "drift_lab.out").read_bytes()
    nonce, _, body = raw.partition(b"\n")
    return nonce.decode(), body


def golden_view() -> HostView:
    nonce, body = golden()
    sections = parse_sections(body.decode("utf-8", "replace"), nonce)
    return HostView(Platform.LINUX, parse_snapshot(sections), sections)


# --- synthetic snapshots --------------------------------------------------------------------------


def proc(pid, ppid, exe, *, sockets=(), netns="net:[1]", container=None, start=100.0, comm=None):
    name = comm or (exe.rsplit("/", 1)[-1] if exe else "kthread")
    return Process(pid, ppid, name, exe, (name,), 0, "root", start, sockets=sockets, netns=netns, container=container)


def sock(inode, local, remote, state="ESTABLISHED", proto="tcp", netns="net:[1]"):
    la, lp = local
    ra, rp = remote
    return TcpSocket(inode, Endpoint(la, lp), Endpoint(ra, rp), state, proto, netns)


WEB = Container("podman", "f" * 64, "web", "docker.io/library/nginx:1.25")
POD = Container(
    "cri-o", "e" * 64, "web-7f9c-abcde", "nginx", pod="web-7f9c-abcde", namespace="shop", k8s_container="nginx"
)


def snapshot() -> Snapshot:
    procs = {
        1: proc(1, 0, "/usr/lib/systemd/systemd"),
        2: proc(2, 0, "", comm="kthreadd"),
        3: proc(3, 2, "", comm="kworker/0:1"),
        10: proc(10, 1, "/usr/sbin/sshd", sockets=((3, 900), (4, 901))),
        11: proc(11, 10, "/usr/sbin/sshd"),  # our session
        12: proc(12, 11, "/usr/bin/dash"),  # the collector
        13: proc(13, 12, "/usr/bin/find"),  # its child
        20: proc(20, 1, "/usr/bin/conmon"),
        21: proc(21, 20, "/usr/sbin/nginx", sockets=((6, 910),), netns="net:[2]", container=WEB),
        22: proc(22, 21, "/usr/sbin/nginx", sockets=((6, 910),), netns="net:[2]", container=WEB),
        30: proc(30, 1, "/usr/bin/curl", sockets=((5, 920),)),
        31: proc(31, 1, "/usr/sbin/chronyd (deleted)", sockets=((5, 921), (6, 922))),
        32: proc(32, 1, "/usr/bin/ftp", sockets=((3, 923),)),
        33: proc(33, 1, "/usr/bin/python3", sockets=((3, 924),)),
        40: proc(40, 1, "/usr/bin/pause", netns="net:[3]", container=POD),
        41: proc(41, 40, "/usr/sbin/nginx", sockets=((3, 940),), netns="net:[3]", container=POD),
    }
    socks = {
        900: sock(900, ("0.0.0.0", 22), ("0.0.0.0", 0), "LISTEN"),
        901: sock(901, ("::", 22), ("::", 0), "LISTEN"),
        902: sock(902, ("10.0.0.5", 22), ("198.18.0.1", 51000)),  # our session's socket (held by 11)
        910: sock(910, ("0.0.0.0", 80), ("0.0.0.0", 0), "LISTEN", netns="net:[2]"),
        911: sock(911, ("10.88.0.2", 80), ("198.18.0.9", 40000), netns="net:[2]"),  # accepted: inbound
        920: sock(920, ("10.0.0.5", 41000), ("198.51.100.7", 443)),
        921: sock(921, ("0.0.0.0", 123), ("0.0.0.0", 0), "CLOSE", "udp"),  # bound UDP service
        922: sock(922, ("0.0.0.0", 45000), ("0.0.0.0", 0), "CLOSE", "udp"),  # ephemeral: a client
        923: sock(923, ("10.0.0.5", 41001), ("198.51.100.8", 50123)),  # a peer's dynamic port
        924: sock(924, ("127.0.0.1", 41002), ("127.0.0.1", 6379)),  # loopback: not outbound
        930: sock(930, ("127.0.0.1", 25), ("0.0.0.0", 0), "LISTEN"),  # no process seen
        940: sock(940, ("0.0.0.0", 8080), ("0.0.0.0", 0), "LISTEN", netns="net:[3]"),
    }
    procs[11] = replace(procs[11], sockets=((3, 902),))
    procs[21] = replace(procs[21], sockets=((6, 910), (7, 911)))
    return Snapshot(Platform.LINUX, procs, socks, frozenset({1, 10, 11, 12, 13}), netns="net:[1]")


def test_listeners_by_executable_protocol_port_and_container_name():
    got = dr.observe_listen(HostView(Platform.LINUX, snapshot()))
    assert sorted(got) == [
        "tcp *:22 /usr/sbin/sshd",  # the sshd that accepted our session listens whether we hunt or not
        "tcp *:80 /usr/sbin/nginx @podman:web",  # by name, never by the container id
        "tcp *:8080 /usr/sbin/nginx @k8s:shop/nginx",  # a pod by namespace/container, not its random name
        "tcp 127.0.0.1:25 (no process seen)",
        "udp *:123 /usr/sbin/chronyd",  # (deleted) dropped; the ephemeral UDP client socket is not a service
    ]
    assert got["tcp *:80 /usr/sbin/nginx @podman:web"].owners == {key_of(21, 100.0), key_of(22, 100.0)}
    assert all("f" * 12 not in k for k in got)


def test_pairs_leave_out_the_hunt_itself_and_kernel_threads():
    got = dr.observe_pairs(HostView(Platform.LINUX, snapshot()))
    assert sorted(got) == [
        "/usr/bin/conmon > /usr/sbin/nginx @podman:web",
        "/usr/bin/pause > /usr/sbin/nginx @k8s:shop/nginx",
        "/usr/lib/systemd/systemd > /usr/bin/conmon",
        "/usr/lib/systemd/systemd > /usr/bin/curl",
        "/usr/lib/systemd/systemd > /usr/bin/ftp",
        "/usr/lib/systemd/systemd > /usr/bin/pause @k8s:shop/nginx",
        "/usr/lib/systemd/systemd > /usr/bin/python3",
        "/usr/lib/systemd/systemd > /usr/sbin/chronyd",
        "/usr/lib/systemd/systemd > /usr/sbin/sshd",  # the daemon on our chain is no footprint of ours
        "/usr/sbin/nginx > /usr/sbin/nginx @podman:web",
    ]  # no sshd > sshd > dash > find (ours), no kthreadd > kworker


def test_outbound_per_executable_without_ephemeral_ports_inbound_or_loopback():
    got = dr.observe_outbound(HostView(Platform.LINUX, snapshot()))
    assert sorted(got) == [
        "/usr/bin/curl -> tcp 198.51.100.7:443",
        "/usr/bin/ftp -> tcp 198.51.100.8:ephemeral",
    ]  # nginx's accepted connection is inbound; python's is loopback; our session's is ours
    assert got["/usr/bin/curl -> tcp 198.51.100.7:443"].owners == {key_of(30, 100.0)}


def test_windows_uses_its_own_dynamic_port_range():
    snap = Snapshot(
        Platform.WINDOWS,
        {4: proc(4, 1, "C:\\app.exe", sockets=((-1, 5),))},
        {5: sock(5, ("10.0.0.5", 50000), ("203.0.113.9", 40000))},
    )
    got = dr.observe_outbound(HostView(Platform.WINDOWS, snap))
    assert list(got) == ["C:\\app.exe -> tcp 203.0.113.9:40000"]  # 40000 is no dynamic port on Windows


def test_golden_users_keys_cron_and_modules():
    view = golden_view()
    users = dr.observe_users(view)
    assert "root uid=0 shell=/bin/bash" in users and "alice uid=1000 shell=/bin/bash" in users
    keys = dr.observe_ssh_keys(view)
    assert sorted(keys) == [
        f"alice ssh-rsa {RSA}",
        f"root ssh-ed25519 {ED25519} [command,from,no-pty]#2ba744c7",
    ]
    root = keys[f"root ssh-ed25519 {ED25519} [command,from,no-pty]#2ba744c7"]
    assert "alice@laptop" in root and 'command="/usr/local/bin/backup --password=********"' in root
    assert "s3cret" not in root
    alice = keys[f"alice ssh-rsa {RSA}"]
    assert "hunter2" not in alice and "(comment withheld)" in alice
    cron = dr.observe_cron(view)
    assert "/var/spool/cron/crontabs/harden: @reboot /tmp/.x/run.sh" in cron
    assert "/etc/cron.d/rotate: */5 * * * * root /usr/local/bin/rotate --token ********" in cron
    assert not any("abc" in k for k in cron) and not any("linked" in k for k in cron)
    assert dr.observe_modules(view) == {}  # no /proc/modules on this kernel: nothing can be loaded
    warnings = dr.drift_warnings(view.sections)
    assert any("1 authorized_keys files are symlinks" in w and "/var/www/.ssh" in w for w in warnings)
    assert any("1 crontab files are symlinks" in w for w in warnings)
    shadow = "root:*:" not in json.dumps([keys, cron, users])  # the symlinked shadow was never read
    assert shadow


def test_modules_parse():
    text = "nf_tables 348160 0 - Live 0x0000000000000000\nip_tables 36864 0 - Live 0x0\n"
    nonce = "n1"
    sections = parse_sections(f"\n@@{nonce} B hunt.drift.modules\n{text}\n@@{nonce} E hunt.drift.modules 0\n", nonce)
    view = HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {}), sections)
    assert sorted(dr.observe_modules(view)) == ["ip_tables", "nf_tables"]


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("# a comment", None),
        ("", None),
        ("ssh-ed25519 notbase64!! broken", None),
        ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8", None),  # blob says ed25519
        ("no-such-type AAAA x", None),
        (
            'from="10.0.0.1,10.0.0.2",command="echo \\"a b\\"" ssh-ed25519 '
            "AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8",
            (("from", "10.0.0.1,10.0.0.2"), ("command", 'echo \\"a b\\"')),
        ),
        (
            "restrict,port-forwarding ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8 a b",
            (("restrict", None), ("port-forwarding", None)),
        ),
    ],
)
def test_authorized_key_lines(line, expect):
    got = dr.parse_authorized_key(line)
    if expect is None:
        assert got is None
    else:
        assert got is not None and got.options == expect and got.fingerprint == ED25519


# --- the observer over samples --------------------------------------------------------------------


def test_observer_reads_files_once_and_processes_every_sample():
    calls = []

    def files(view):
        calls.append("files")
        return {"k": "d"}

    def procs(view):
        calls.append("procs")
        return {f"p{len(view.snapshot.processes)}": Item("x", frozenset({(7, "1.00")}))}

    obs = Observer(
        (Category("files", "files", files), Category("procs", "procs", procs, per_sample=True, scoring=True))
    )
    empty = Snapshot(Platform.LINUX, {}, {})
    obs.add(HostView(Platform.LINUX, empty), first=True)
    obs.add(HostView(Platform.LINUX, replace(empty, processes={1: proc(1, 0, "/x")})), first=False)
    r = obs.result()
    assert calls == ["files", "procs", "procs"]
    assert r.items == {"files": {"k": "d"}, "procs": {"p0": "x", "p1": "x"}}
    assert r.by_process == {(7, "1.00"): frozenset({("procs", "p0"), ("procs", "p1")})}


def test_observer_unreadable_category_is_not_empty_and_caps_are_warned(monkeypatch):
    monkeypatch.setattr(dr, "MAX_KEYS", 3)
    obs = Observer(
        (
            Category("gone", "gone things", lambda v: None),
            Category("many", "many", lambda v: {str(i): "" for i in range(5)}),
        )
    )
    obs.add(HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {})), first=True)
    r = obs.result()
    assert "gone" not in r.items and len(r.items["many"]) == 3
    assert any("gone things could not be read" in w for w in r.warnings)
    assert any("2 more many observations" in w for w in r.warnings)


def test_windows_sees_only_the_process_categories():
    obs = Observer()
    obs.add(HostView(Platform.WINDOWS, Snapshot(Platform.WINDOWS, {}, {})), first=True)
    assert sorted(obs.result().items) == ["listen", "outbound", "pairs"]


# --- the files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("web1", "web1.json"),
        ("web/1", "web%2F1.json"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd.json"),
        ("..", "%2E..json"),
        (".hidden", "%2Ehidden.json"),
        ("a%2Fb", "a%252Fb.json"),  # % is escaped too: two names never share a file
        ("h\u00f6st 1", "h%C3%B6st%201.json"),
    ],
)
def test_file_names_are_escaped_inventory_names(name, file):
    got = store.file_name(name)
    assert got == file and "/" not in got and got not in (".", "..")


@pytest.mark.parametrize("name", ["", "a\0b", "x" * 129])
def test_file_names_refused(name):
    with pytest.raises(store.BaselineError):
        store.file_name(name)


def base(**cats) -> Baseline:
    return Baseline("web1", 6, "2026-11-01T00:00:00+00:00", NOW, cats)


def test_round_trip_is_sorted_one_line_per_observation(tmp_path):
    b = base(
        pairs={"b > c": Entry(2, "2026-11-02T00:00:00+00:00", NOW, "b started c")},
        listen={"tcp *:22 /usr/sbin/sshd": Entry(6, "2026-11-01T00:00:00+00:00", NOW, "sshd \u00e9")},
        modules={},
    )
    path = store.save(tmp_path / "base", b)
    assert path.name == "web1.json" and oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "base").stat().st_mode & 0o777) == "0o700"
    text = path.read_text()
    assert json.loads(text)["categories"]["listen"]["tcp *:22 /usr/sbin/sshd"]["count"] == 6
    lines = text.splitlines()
    assert lines.index('    "listen": {') < lines.index('    "modules": {') < lines.index('    "pairs": {')
    assert sum(1 for line in lines if '"count"' in line) == 2
    assert store.load(tmp_path / "base", "web1") == b
    assert store.load(tmp_path / "base", "web2") is None


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"schema": "other"}',
        '{"schema": "harden.baseline/v1", "host": "db1", "hunts": 1, "created": "", "updated": "", "categories": {}}',
        '{"schema": "harden.baseline/v1", "host": "web1", "hunts": 0, "created": "", "updated": "", "categories": {}}',
        '{"schema": "harden.baseline/v1", "host": "web1", "hunts": 1, "created": "", "updated": "", '
        '"categories": {"a": {"k": {"count": 2, "first": "", "last": "", "description": ""}}}}',
        '{"schema": "harden.baseline/v1", "host": "web1", "hunts": 1, "created": "", "updated": "", "categories": []}',
    ],
)
def test_corrupt_baselines_are_errors(tmp_path, text):
    (tmp_path / "web1.json").write_text(text)
    with pytest.raises(store.BaselineError):
        store.load(tmp_path, "web1")


def test_symlinked_baseline_is_refused(tmp_path):
    (tmp_path / "elsewhere.json").write_text("{}")
    os.symlink(tmp_path / "elsewhere.json", tmp_path / "web1.json")
    with pytest.raises(store.BaselineError):
        store.load(tmp_path, "web1")


# --- compare, learn, adjust -----------------------------------------------------------------------


def observed(items, by_process=None):
    return dr.Observed(items, by_process or {})


def test_compare_and_learn_count_hunts_and_start_new_categories():
    b = base(listen={"a": Entry(6, "2026-11-01T00:00:00+00:00", NOW, "a")})
    o = observed({"listen": {"a": "a", "b": "b"}, "persistence": {"p": "p"}})
    new, started = dr.compare(b, o)
    assert new == (dr.NewItem("listen", "b", "b"),) and started == ("persistence",)
    later = "2026-12-08T00:00:00+00:00"
    after = dr.learn(b, "web1", o, later, skip=frozenset({("listen", "b")}))
    assert after.hunts == 7 and after.created == b.created and after.updated == later
    assert after.categories["listen"] == {"a": Entry(7, "2026-11-01T00:00:00+00:00", later, "a")}
    assert after.categories["persistence"] == {"p": Entry(1, later, later, "p")}
    first = dr.learn(None, "web1", o, NOW)
    assert first.hunts == 1 and first.created == NOW and first.categories["listen"]["b"].count == 1


def det(tier, pid=50, start=100.0):
    return Detection(pid, "bash", tier, ("stdio is a TCP socket",), "203.0.113.9:4444", start_time=start)


KEYS = {key_of(50, 100.0): frozenset({("outbound", "/usr/bin/bash -> tcp 203.0.113.9:4444"), ("pairs", "x > bash")})}


@pytest.mark.parametrize(
    ("tier", "raised"), [(Tier.LOW, Tier.MEDIUM), (Tier.MEDIUM, Tier.HIGH), (Tier.HIGH, Tier.HIGH)]
)
def test_never_seen_pattern_raises_one_tier(tier, raised):
    b = base(outbound={}, pairs={"x > bash": Entry(6, NOW, NOW, "")})
    got = dr.adjust_tier(det(tier), observed({}, KEYS), b)
    assert got.severity is raised
    assert got.reasons[0] == "never seen on this host before: /usr/bin/bash -> tcp 203.0.113.9:4444"


def test_young_baseline_raises_nothing_and_unknown_category_is_not_unseen():
    young = replace(base(outbound={}, pairs={}), hunts=dr.RAISE_MIN_HUNTS - 1)
    assert dr.adjust_tier(det(Tier.LOW), observed({}, KEYS), young) == det(Tier.LOW)
    # a baseline older than the outbound category: the pattern is not "never seen", only unknown
    older = base(pairs={"x > bash": Entry(6, NOW, NOW, "")})
    assert dr.adjust_tier(det(Tier.LOW), observed({}, KEYS), older) == det(Tier.LOW)


@pytest.mark.parametrize(("tier", "lowered"), [(Tier.HIGH, Tier.MEDIUM), (Tier.MEDIUM, Tier.LOW), (Tier.LOW, Tier.LOW)])
def test_pattern_seen_often_lowers_one_tier_with_the_count_and_date(tier, lowered):
    b = base(
        outbound={"/usr/bin/bash -> tcp 203.0.113.9:4444": Entry(5, "2026-11-03T10:00:00+00:00", NOW, "")},
        pairs={"x > bash": Entry(6, "2026-11-01T00:00:00+00:00", NOW, "")},
    )
    got = dr.adjust_tier(det(tier), observed({}, KEYS), b)
    assert got.severity is lowered
    assert got.reasons[0] == "seen in 5 earlier hunts since 2026-11-03: /usr/bin/bash -> tcp 203.0.113.9:4444"


def test_pattern_seen_a_few_times_is_left_alone():
    b = base(
        outbound={"/usr/bin/bash -> tcp 203.0.113.9:4444": Entry(4, NOW, NOW, "")},
        pairs={"x > bash": Entry(6, NOW, NOW, "")},
    )
    assert dr.adjust_tier(det(Tier.MEDIUM), observed({}, KEYS), b) == det(Tier.MEDIUM)
    assert dr.adjust_tier(det(Tier.MEDIUM, pid=51), observed({}, KEYS), b) == det(Tier.MEDIUM, pid=51)  # no keys


def incident(tier, pids=(50,)):
    members = tuple(Member(p, 1, "bash", "shell", tier, start_time=100.0) for p in pids)
    return Incident("i-00000001", "web1", tier, members[0], members, reasons=("stdio is a TCP socket",))


def test_incidents_follow_their_detections():
    b = base(outbound={}, pairs={})
    dets, incs, moved = dr.adjust((det(Tier.MEDIUM),), (incident(Tier.MEDIUM),), observed({}, KEYS), b)
    assert moved == 1 and dets[0].severity is Tier.HIGH
    (inc,) = incs
    assert inc.severity is Tier.HIGH and inc.reasons[0].startswith("never seen on this host before")
    assert inc.members[0].severity is Tier.HIGH and inc.root.severity is Tier.HIGH


def test_what_high_incidents_showed_is_withheld():
    o = observed({}, KEYS)
    assert dr.tied_to((incident(Tier.HIGH),), o) == KEYS[key_of(50, 100.0)]
    assert dr.tied_to((incident(Tier.MEDIUM),), o) == frozenset()


# --- a host's run: created, compared, errors -------------------------------------------------------


def hunted(items, detections=(), incidents=(), by_process=None, status=HostStatus.OK, name="web1"):
    return HostHunt(
        name, "10.0.0.1", Platform.LINUX, status, detections=detections, incidents=incidents,
        observed=dr.Observed(items, by_process or {}),
    )  # fmt: skip


ITEMS = {"listen": {"tcp *:22 /usr/sbin/sshd": "sshd"}, "ssh_keys": {"root k1": "root: k1"}}


def test_first_run_creates_then_reports_only_what_is_new(tmp_path):
    opts = BaselineOptions(tmp_path / "b")
    h = apply_baseline(hunted(ITEMS), opts, NOW)
    assert h.drift.status is dr.DriftStatus.CREATED and h.drift.new == () and h.drift.learned
    assert "created" in h.drift.message and (tmp_path / "b" / "web1.json").exists()
    same = apply_baseline(hunted(ITEMS), opts, "2026-12-07T02:00:00+00:00")
    assert same.drift.status is dr.DriftStatus.COMPARED and same.drift.new == () and same.drift.hunts == 1
    more = {**ITEMS, "ssh_keys": {"root k1": "root: k1", "root k2": "root: k2"}}
    h3 = apply_baseline(hunted(more), opts, "2026-12-07T03:00:00+00:00")
    assert h3.drift.new == (dr.NewItem("ssh_keys", "root k2", "root: k2"),) and h3.drift.hunts == 2
    b = store.load(tmp_path / "b", "web1")
    assert b.hunts == 3 and b.categories["ssh_keys"]["root k1"].count == 3
    assert b.categories["ssh_keys"]["root k2"].count == 1


def test_readonly_compares_without_writing(tmp_path):
    opts = BaselineOptions(tmp_path / "b", learn=False)
    h = apply_baseline(hunted(ITEMS), opts, NOW)
    assert h.drift.status is dr.DriftStatus.MISSING and not (tmp_path / "b").exists()
    assert any("no baseline for this host" in w for w in h.warnings)
    apply_baseline(hunted(ITEMS), BaselineOptions(tmp_path / "b"), NOW)
    before = (tmp_path / "b" / "web1.json").read_text()
    more = {"listen": {**ITEMS["listen"], "tcp *:4444 /tmp/x": "x"}, "ssh_keys": ITEMS["ssh_keys"]}
    h2 = apply_baseline(hunted(more), opts, "2026-12-07T02:00:00+00:00")
    assert [i.key for i in h2.drift.new] == ["tcp *:4444 /tmp/x"] and not h2.drift.learned
    assert (tmp_path / "b" / "web1.json").read_text() == before


def test_corrupt_baseline_is_an_error_never_no_drift(tmp_path):
    (tmp_path / "web1.json").write_text('{"schema": "harden.baseline/v1", "host": "web1"')
    h = apply_baseline(hunted(ITEMS), BaselineOptions(tmp_path), NOW)
    assert h.drift.status is dr.DriftStatus.ERROR and "not JSON" in h.drift.message
    assert any(w.startswith("baseline: ") and "drift unknown" in w for w in h.warnings)
    assert (tmp_path / "web1.json").read_text().endswith('"web1"')  # left for inspection, not overwritten


def test_host_not_fully_hunted_learns_nothing(tmp_path):
    h = apply_baseline(hunted(ITEMS, status=HostStatus.ERROR), BaselineOptions(tmp_path), NOW)
    assert h.drift.status is dr.DriftStatus.ERROR and not list(tmp_path.iterdir())
    bad = apply_baseline(hunted(ITEMS, name="a\0b"), BaselineOptions(tmp_path), NOW)
    assert bad.drift.status is dr.DriftStatus.ERROR and not list(tmp_path.iterdir())


def test_high_incident_is_withheld_unless_asked(tmp_path):
    shell = {"outbound": {"/usr/bin/bash -> tcp 203.0.113.9:4444": "bash connected"}, "pairs": {"x > bash": "x"}}
    args = (shell, (det(Tier.HIGH),), (incident(Tier.HIGH),), KEYS)
    h = apply_baseline(hunted(*args), BaselineOptions(tmp_path), NOW)
    assert {i.key for i in h.drift.withheld} == {"/usr/bin/bash -> tcp 203.0.113.9:4444", "x > bash"}
    b = store.load(tmp_path, "web1")
    assert b.categories == {"outbound": {}, "pairs": {}}  # read, nothing of the shell learned
    h2 = apply_baseline(hunted(*args), BaselineOptions(tmp_path, learn_incidents=True), NOW)
    assert h2.drift.withheld == () and store.load(tmp_path, "web1").categories["pairs"]["x > bash"].count == 1


def test_hunt_json_carries_drift_and_validates(tmp_path):
    opts = BaselineOptions(tmp_path)
    apply_baseline(hunted(ITEMS), opts, NOW)
    more = {**ITEMS, "cron": {"/etc/crontab: * * * * * root x": "cron"}}
    h = apply_baseline(hunted(more), opts, NOW)
    doc = hunt_document([h], "inv", NOW)
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    d = doc["hosts"][0]["drift"]
    assert d["status"] == "compared" and d["hunts"] == 1 and d["new_items"] == 0 and d["started"] == ["cron"]
    assert d["baseline"] == str(tmp_path / "web1.json")


# --- end to end over the real collector output -----------------------------------------------------


def _fake_host(monkeypatch, nonce: str, body: bytes):
    import hardening.hunt.linux as linux
    import hardening.hunt.run as run

    monkeypatch.setattr(linux, "new_hunt_collector", lambda drift=False: Collector("#!/bin/sh\n", nonce))
    monkeypatch.setattr(run, "run_script", lambda target, script, options: RunResult(body, b"", 0))


def test_hunt_host_with_a_baseline_over_the_golden(monkeypatch, tmp_path):
    from hardening.inventory import load_inventory

    nonce, body = golden()
    _fake_host(monkeypatch, nonce, body)
    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nlab1 ansible_connection=local\n")
    (target,) = load_inventory(inv)
    opts = HuntOptions(baseline=BaselineOptions(tmp_path / "b"))
    first = hunt_host(target, opts)
    assert first.status is HostStatus.OK and first.drift.status is dr.DriftStatus.CREATED
    text = (tmp_path / "b" / "lab1.json").read_text()
    assert f"root ssh-ed25519 {ED25519} [command,from,no-pty]" in text and "s3cret" not in text
    # the same host again: nothing new (the collector's own processes never count)
    again = hunt_host(target, opts)
    assert again.drift.status is dr.DriftStatus.COMPARED and again.drift.new == ()
    b = store.load(tmp_path / "b", "lab1")
    assert b.hunts == 2 and set(b.categories) == {"listen", "pairs", "outbound", "users", "ssh_keys", "cron", "modules"}
    # a new key line appears in alice's file
    extra = b"K\tssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8 new\n"
    changed = body.replace(
        b"U\talice\nF\t/home/alice/.ssh/authorized_keys\n", b"U\talice\nF\t/home/alice/.ssh/authorized_keys\n" + extra
    )
    assert changed != body
    _fake_host(monkeypatch, nonce, changed)
    third = hunt_host(target, opts)
    assert [(i.category, i.key) for i in third.drift.new] == [("ssh_keys", f"alice ssh-ed25519 {ED25519}")]
    # without --baseline nothing is observed (and nothing written)
    plain = hunt_host(target, HuntOptions())
    assert plain.observed is None and plain.drift is None


def test_watch_collector_reads_the_drift_facts_in_the_first_sample_only():
    from hardening.hunt.linux import build_hunt_script
    from hardening.hunt.watch import WatchSpec, watch_script

    script = watch_script("n1", WatchSpec(10, 1, 2**20), drift=True)
    assert 'if [ "${HS:-0}" = 0 ]; then\n    _h_run hunt.drift.keys' in script
    # without --baseline the users' key files and crontabs are not read at all
    assert "hunt.drift" not in watch_script("n1", WatchSpec(10, 1, 2**20))
    assert "hunt.drift" not in build_hunt_script("n1")
    full = build_hunt_script("n1", drift=True)
    assert full.index("hunt.drift.keys") < full.index("__done__")


def test_cli_refuses_baseline_flags_without_baseline(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nme ansible_connection=local\n")
    for args, message in (
        (["--baseline-readonly"], "need --baseline DIR"),
        (
            ["--baseline", str(tmp_path / "b"), "--baseline-readonly", "--baseline-learn-incidents"],
            "cannot be combined",
        ),
    ):
        r = subprocess.run(
            [HARDEN, "hunt", str(inv), "--out", str(tmp_path / "o"), *args], capture_output=True, text=True
        )
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)


def test_hunting_inside_a_container_its_own_processes_are_the_host():
    procs = {
        1: proc(1, 0, "/usr/sbin/sshd", sockets=((3, 900),), container=WEB),
        5: proc(5, 1, "/usr/sbin/sshd", container=WEB),  # our session
        6: proc(6, 5, "/usr/bin/dash", container=WEB),  # the collector
        7: proc(7, 0, "/usr/bin/python3.11", sockets=((3, 901),), container=WEB),  # podman exec'd: no parent
    }
    socks = {
        900: sock(900, ("0.0.0.0", 22), ("0.0.0.0", 0), "LISTEN"),
        901: sock(901, ("0.0.0.0", 8765), ("0.0.0.0", 0), "LISTEN"),
    }
    snap = Snapshot(Platform.LINUX, procs, socks, frozenset({1, 5, 6}), netns="net:[1]")
    view = HostView(Platform.LINUX, snap)
    assert sorted(dr.observe_listen(view)) == ["tcp *:22 /usr/sbin/sshd", "tcp *:8765 /usr/bin/python3.11"]
    assert dr.observe_pairs(view) == {}


def test_drift_table_fits_100_columns_and_says_every_state(tmp_path):
    import io

    from rich.console import Console as RichConsole

    from hardening.hunt.run import HuntRun
    from hardening.hunt_cli import drift_table

    many = tuple(dr.NewItem("listen", f"tcp *:{p} /usr/local/bin/{'x' * 80}", "") for p in range(15))
    hosts = (
        replace(hunted({}), drift=dr.Drift(dr.DriftStatus.COMPARED, "b/web1.json", hunts=4, new=many)),
        replace(hunted({}, name="db1"), drift=dr.Drift(dr.DriftStatus.ERROR, "b/db1.json", message="not JSON")),
        replace(hunted({}, name="db2"), drift=dr.Drift(dr.DriftStatus.COMPARED, "b/db2.json", hunts=9)),
        replace(hunted({}, name="new1"), drift=dr.Drift(dr.DriftStatus.CREATED, "b/new1.json", message="created")),
    )
    console = RichConsole(width=200, record=True, file=io.StringIO())
    console.print(drift_table(HuntRun(hosts, tmp_path / "hunt.json")), width=100)
    lines = console.export_text().splitlines()
    assert max(map(len, lines)) <= 100
    text = "\n".join(lines)
    assert "web1" in text and "tcp *:0 /usr/local/bin/" in text and "+3 more (hunt.json)" in text
    assert "db1" in text and "error" in text and "not JSON" in text
    assert "nothing new" in text and "created" in text


def test_host_passwords_never_reach_the_baseline(monkeypatch, tmp_path):
    from hardening.inventory import load_inventory

    nonce, body = golden()
    planted = body.replace(b"C\t@reboot /tmp/.x/run.sh\n", b"C\t@reboot /tmp/.x/run.sh hunter42xyz\n")
    assert planted != body
    _fake_host(monkeypatch, nonce, planted)
    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nlab1 ansible_connection=local ansible_become_password=hunter42xyz\n")
    inv.chmod(0o600)
    (target,) = load_inventory(inv)
    h = hunt_host(target, HuntOptions(baseline=BaselineOptions(tmp_path / "b")))
    text = (tmp_path / "b" / "lab1.json").read_text()
    assert "hunter42xyz" not in text and "/var/spool/cron/crontabs/harden: @reboot /tmp/.x/run.sh ********" in text
    assert "hunter42xyz" not in json.dumps(hunt_document([h], "inv", NOW))


def test_extension_point_a_new_category_starts_silently_then_reports(monkeypatch, tmp_path):
    """A category appended later (as ``persistence`` was): learned silently first, then reported."""
    entries = {"cron:/etc/cron.d/a": "cron job a"}

    def extra(view: HostView) -> dict[str, str] | None:
        return dict(entries) if view.sections is not None else None

    opts = BaselineOptions(tmp_path / "b")
    nonce, body = golden()
    _fake_host(monkeypatch, nonce, body)
    from hardening.inventory import load_inventory

    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nlab1 ansible_connection=local\n")
    (target,) = load_inventory(inv)
    hunt_host(target, HuntOptions(baseline=opts))  # a baseline from before the category existed
    monkeypatch.setattr(dr, "CATEGORIES", (*dr.CATEGORIES, Category("extra", "extra entries", extra)))
    h = hunt_host(target, HuntOptions(baseline=opts))
    assert h.drift.started == ("extra",) and h.drift.new == ()  # learned silently, not drift
    entries["systemd:/etc/systemd/system/x.service"] = "unit x runs /dev/tcp"
    h = hunt_host(target, HuntOptions(baseline=opts))
    assert [(i.category, i.key) for i in h.drift.new] == [("extra", "systemd:/etc/systemd/system/x.service")]
    stored = store.load(tmp_path / "b", "lab1").categories["extra"]
    assert stored["cron:/etc/cron.d/a"].count == 2 and stored["systemd:/etc/systemd/system/x.service"].count == 1


def test_baseline_that_cannot_be_written_is_an_error_on_the_first_run(tmp_path):
    (tmp_path / f".web1.json.{os.getpid()}.tmp").mkdir()  # the write cannot create its temporary file
    h = apply_baseline(hunted(ITEMS), BaselineOptions(tmp_path), NOW)
    assert h.drift.status is dr.DriftStatus.ERROR and not h.drift.learned
    assert any("could not be updated" in w for w in h.warnings) and not (tmp_path / "web1.json").exists()
    (tmp_path / "c").write_text("a file where the directory should be")
    h = apply_baseline(hunted(ITEMS), BaselineOptions(tmp_path / "c"), NOW)
    assert h.drift.status is dr.DriftStatus.ERROR and any(w.startswith("baseline: ") for w in h.warnings)


def test_persistence_entries_are_a_category_crontab_lines_stay_in_cron():
    """Rated persistence entries (real collector output of planted payloads) keyed by kind, path and a
    digest of their lines; crontab files are left to ``cron`` (one new line, one item); not read whole:
    nothing observed."""
    from hardening.facts.sections import parse_sections
    from hardening.hunt.linux import parse_users
    from hardening.hunt.persistence import parse_persistence

    raw = (Path(__file__).parents[1] / "golden" / "hunt" / "persistence_malicious.out").read_bytes()
    nonce, _, body = raw.partition(b"\n")
    sections = parse_sections(body, nonce.decode())
    p = parse_persistence(sections, parse_users(sections.text("hunt.passwd")))
    view = HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {}), sections, p)
    got = dr.observe_persistence(view)
    assert got and all(k.count(" ") >= 2 and "#" in k for k in got)
    kinds = {k.split(" ", 1)[0] for k in got}
    assert {"systemd", "shell-startup", "authorized_keys", "cron", "at"} <= kinds, kinds
    assert not [k for k in got if dr._CRONTAB.match(k.split(" ")[1])]
    assert p.findings and [f for f in p.findings if dr._CRONTAB.match(f.entry.path)]  # there were some
    assert any(d.startswith("high ") for d in got.values())
    assert dr.observe_persistence(replace(view, persistence=replace(p, complete=False))) == got  # what was read
    assert dr.observe_persistence(replace(view, persistence=None)) is None
    again = dr.observe_persistence(HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {}), sections, p))
    assert again == got  # stable across hunts
