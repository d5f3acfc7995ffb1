"""Every network namespace and every container: the hunt's view from a container host.

Goldens (tests/golden/hunt/README.md):

- ``host_ns.out``: this machine's root namespace (``ansible_connection=local``) while real reverse
  shells (TCP and UDP) ran in a lab podman container; ``lab_ns_inside.out``: the same moment seen
  from inside that container over SSH. Real /proc/net/{tcp,udp} of every namespace, real cgroup v1
  and unified lines, podman's real containers.json.
- ``runtimes/``: a root tree in the documented on-disk layouts of docker, containerd (CRI and
  nerdctl), CRI-O, rootless podman and LXC (sources in the README), run through the real collector
  shell functions with ``$HR`` pointing at it.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from hardening.facts.sections import parse_sections
from hardening.hunt import containers as ctr
from hardening.hunt.linux import NS_CAP, parse_nets, parse_snapshot
from hardening.hunt.model import Container, Endpoint, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.run import HostHunt, hunt_document, load_schema
from hardening.hunt.score import HuntContext, score
from hardening.model import HostStatus, Platform

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import hunt_scenarios as hs

GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"
RUNTIMES = GOLDEN / "runtimes"
LAB_IMAGE = "localhost/harden-lab:7dfbe287ddd4"
LAB_CONTAINER = "harden-h31409-default"
LAB_ID = "565c0719bfec35d32c16e8f6b2b0f23768f1407bf60fc78c6dece31e3bdb2bd0"


def load(name: str) -> Snapshot:
    raw = (GOLDEN / name).read_bytes()
    nonce, _, body = raw.partition(b"\n")
    return parse_snapshot(parse_sections(body, nonce.decode()))


def groups_of(name: str) -> list[tuple[hs.Scenario, set[int]]]:
    cases = {s.name: s for s in hs.scenarios(1, 2)}
    return [(cases[n], set(p)) for n, p in json.loads((GOLDEN / name).read_text()).items()]


@pytest.mark.parametrize(
    ("golden", "pids", "want"),
    [
        ("host_ns.out", "host_ns.scenarios.json", Container("podman", LAB_ID, LAB_CONTAINER, LAB_IMAGE)),
        ("lab_ns_inside.out", "lab_ns_inside.scenarios.json", Container("podman", LAB_ID)),
    ],
)
def test_shells_in_a_container_are_high_from_the_host_and_from_inside(golden, pids, want):
    snap = load(golden)
    assert snap.complete and snap.is_root and snap.warnings == ()
    groups = groups_of(pids)
    detections = score(snap, HuntContext())
    results = {o.scenario.name: o for o in hs.outcomes(detections, groups)}
    assert len(results) == 11
    for name, o in results.items():
        if o.scenario.malicious:
            assert o.tier == "high", (name, o)
        else:
            assert o.tier != "high", (name, o)
    mine = {p for _, ps in groups for p in ps}
    for d in detections:
        if d.pid in mine:
            assert d.container == want, (d.pid, d.container)
    # no benign high in the container: the SSH session, the collector (ours), the other scenarios
    assert not [d for d in detections if d.pid not in mine and d.severity is Tier.HIGH and d.container == want]


def test_the_host_resolves_sockets_of_every_namespace_udp_included():
    snap = load("host_ns.out")
    procs = snap.processes
    lab = {p.netns for p in procs.values() if p.container is not None and p.container.id == LAB_ID}
    assert len(lab) == 1 and lab != {snap.netns}
    udp = [s for s in snap.sockets.values() if s.proto == "udp" and s.netns in lab and s.connected]
    assert {str(s.remote.address) for s in udp} == {"198.18.0.1"} and len(udp) == 2
    # the bash /dev/udp shell: stdin, stdout and stderr are the connected UDP socket
    (bash,) = [d for d in score(snap) if "UDP socket, outbound, to 198.18.0.1" in " ".join(d.reasons)
               and d.process == "bash"]  # fmt: skip
    assert bash.severity is Tier.HIGH and bash.container is not None and bash.container.name == LAB_CONTAINER
    # the unconnected UDP listener of the test on the host side is in the root namespace, not connected
    assert any(s.proto == "udp" and s.netns == snap.netns and not s.connected for s in snap.sockets.values())
    # every container of the lab (five podman containers) is named, host processes are not in any
    names = {p.container.name for p in procs.values() if p.container is not None}
    assert LAB_CONTAINER in names and all(n.startswith("harden-") for n in names)
    assert all(p.container is None for p in procs.values() if p.comm == "conmon")
    assert snap.host_seconds is not None and 0 <= snap.host_seconds < 5


def test_document_carries_the_container_and_matches_the_schema():
    snap = load("host_ns.out")
    found = score(snap)
    doc = hunt_document(
        [HostHunt("here", "localhost", Platform.LINUX, HostStatus.OK, detections=found, host_seconds=0.11)],
        "inv.ini",
        "2026-01-01T00:00:00+00:00",
    )
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    det = next(d for d in doc["hosts"][0]["detections"] if d["container"] and d["container"]["id"] == LAB_ID)
    assert {"pid", "process", "remote", "severity", "reasons"} <= set(det)
    assert det["container"] == {
        "runtime": "podman",
        "id": LAB_ID,
        "name": LAB_CONTAINER,
        "image": LAB_IMAGE,
        "kubernetes": None,
    }
    # a host without containers: detections carry container null, as before
    idle = score(load("lab_shells.out"))
    assert idle and all(d.container is None for d in idle)


# ---- the runtimes' documented on-disk layouts, through the collector's own shell functions


def run_container_piece(root: Path, shell: tuple[str, ...] = ("sh",)) -> tuple[bytes, dict[int, Container]]:
    """header.sh + containers.sh (``HR`` = the fixture root) + footer.sh, run by ``shell``; the output with
    the root prefix removed (what a host with those files sends) and every pid's container."""
    piece = resources.files("hardening.hunt").joinpath("containers.sh").read_text(encoding="ascii")
    assert "\nHR=\n" in piece
    parts = [
        "#!/bin/sh",
        "HN=n1",
        resources.files("hardening.facts").joinpath("header.sh").read_text(encoding="ascii"),
        "HK=4194304",
        piece.replace("\nHR=\n", f"\nHR='{root}'\n"),
        resources.files("hardening.facts").joinpath("footer.sh").read_text(encoding="ascii"),
    ]
    out = subprocess.run(shell, input="\n".join(parts).encode(), capture_output=True, timeout=60).stdout
    out = out.replace(str(root).encode(), b"")
    sections = parse_sections(out, "n1")
    assert sections.complete and sections.rc("hunt.ctr.state") == 0
    passwd = (root / "etc/passwd").read_text()
    state = ctr.RuntimeState(
        stores=ctr.parse_stores(sections.text("hunt.ctr.stores"), ctr.homes_of(passwd)),
        states=ctr.parse_state(sections.text("hunt.ctr.state")),
        lxc=ctr.parse_lxc(sections.text("hunt.ctr.lxc")),
    )
    cgroups = ctr.parse_cgroups(sections.text("hunt.cgroup"))
    return out, ctr.resolve(cgroups, state, 2112, sections.text("hunt.ctr.self"))


def ids() -> dict[str, str]:
    """The fixture's container ids, from its tree (the directory names)."""
    cgroups = {int(p.parent.name): p.read_text() for p in RUNTIMES.glob("proc/[0-9]*/cgroup")}

    def in_cgroup(pid: int) -> str:
        return ctr.ref_of([line.split(":", 2)[2] for line in cgroups[pid].splitlines()]).id  # type: ignore[union-attr]

    return {
        "web": in_cgroup(2101),
        "k8s-docker": in_cgroup(2102),
        "api": in_cgroup(2103),
        "cart": in_cgroup(2104),
        "alice": in_cgroup(2109),
        "mallory": in_cgroup(2110),
        "db": in_cgroup(2111),
        "k8s-docker-image": json.loads(
            (RUNTIMES / f"var/lib/docker/containers/{in_cgroup(2102)}/config.v2.json").read_text()
        )["Config"]["Image"],
    }


EXPECTED = {
    2101: lambda i: Container("docker", i["web"], "web", "nginx:1.25"),
    2102: lambda i: Container(
        "docker",
        i["k8s-docker"],
        "k8s_app_web-0_shop_5f0c3a8e-9b1d-4e27-8c6a-1d2e3f4a5b6c_0",
        i["k8s-docker-image"],
        "web-0",
        "shop",
        "app",
        "5f0c3a8e-9b1d-4e27-8c6a-1d2e3f4a5b6c",
    ),
    2103: lambda i: Container(
        "containerd",
        i["api"],
        "api",
        "registry.example/shop/api:2.3",
        "api-6b7f9c8d5-x2x4q",
        "shop",
        "api",
        "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    ),
    2104: lambda i: Container(
        "cri-o",
        i["cart"],
        "k8s_cart_cart-7c9d6b5f4-qz8vn_shop_aaaa2b4a-f398-41c0-928b-049e1cc4ec40_0",
        "registry.example/shop/cart:1.4",
        "cart-7c9d6b5f4-qz8vn",
        "shop",
        "cart",
        "aaaa2b4a-f398-41c0-928b-049e1cc4ec40",
    ),
    2106: lambda i: Container("lxc", name="web1", image="download -d debian -r bookworm -a amd64"),
    2107: lambda i: Container("lxc", name="db1", image="ubuntu -r xenial"),
    2108: lambda i: Container("lxc", name="cache", image="download -d alpine -r 3.19 -a amd64"),
    2109: lambda i: Container("podman", i["alice"], "alice-notes", "docker.io/library/python:3.12"),
    2110: lambda i: Container("podman", i["mallory"], "mallory-box", "docker.io/library/alpine:3.19"),
    2111: lambda i: Container("containerd", i["db"], "db"),
    # mallory's own cgroup named docker-<id of web>.scope: the runtime and id it claims, not web's name
    2113: lambda i: Container("docker", i["web"]),
}


@pytest.mark.parametrize(
    "shell", [s for s in (("dash",), ("bash", "--posix"), ("busybox", "sh")) if shutil.which(s[0])], ids=" ".join
)
def test_runtime_layouts_name_every_container(shell):
    """dash, bash and busybox ash as the shell (the commands are the host's: GNU here)."""
    out, found = run_container_piece(RUNTIMES, shell)
    expected = {pid: make(ids()) for pid, make in EXPECTED.items()}
    assert {pid: found.get(pid) for pid in expected} == expected
    assert 2105 not in found and 2112 not in found  # CRI-O's conmon and sshd run on the host
    # only the keys that name a container leave the host: never an environment, never a spoof
    assert b"fixture-secret-never-sent" not in out
    assert b"spoofed" not in out and b"evil" not in out.split(b"hunt.ctr.state", 1)[1].split(b"hunt.ctr.lxc")[0]
    assert all(c.name not in ("fake-alice", "fake-web") for c in found.values())


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox not installed")
def test_busybox_grep_extracts_the_same_keys():
    """A busybox host's grep -o -E takes the same keys out of docker's compact and CRI-O's indented JSON."""
    piece = resources.files("hardening.hunt").joinpath("containers.sh").read_text(encoding="ascii")
    pattern = "".join(re.findall(r"_HCK=(?:\"\$_HCK\")?'([^']*)'", piece))
    files = sorted(str(p) for p in RUNTIMES.glob("var/lib/**/config*.json")) + sorted(
        str(p) for p in RUNTIMES.glob("run/containerd/**/config.json")
    )
    gnu = subprocess.run(["grep", "-H", "-o", "-E", pattern, *files], capture_output=True, timeout=30).stdout
    bb = subprocess.run(["busybox", "grep", "-H", "-o", "-E", pattern, *files], capture_output=True, timeout=30).stdout
    assert gnu == bb and gnu.count(b"\n") >= 20


def test_cgroup_paths_of_every_runtime():
    cid = "ab" * 32
    cases = {
        f"/system.slice/docker-{cid}.scope": ("docker", cid, ""),
        f"/docker/{cid}": ("docker", cid, ""),
        f"/machine.slice/libpod-{cid}.scope": ("podman", cid, ""),
        f"/libpod_parent/libpod-{cid}": ("podman", cid, ""),
        f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{cid}.scope/container": ("podman", cid, ""),
        f"/kubepods.slice/kubepods-pod0f1e2d3c_4b5a_6978_8a9b_0c1d2e3f4a5b.slice/crio-{cid}.scope": (
            "cri-o",
            cid,
            "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        ),
        f"/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/{cid}": (
            "",
            cid,
            "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        ),
        f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pode4e6004e827fdf45941cf777618f60ce.slice/"
        f"crio-{cid}.scope": ("cri-o", cid, "e4e6004e827fdf45941cf777618f60ce"),
        f"/default/{cid}": ("", cid, ""),
        f"/docker/{'cd' * 32}/libpod-{cid}.scope": ("podman", cid, ""),  # podman in docker: the inner one
    }
    for path, (runtime, want_id, pod_uid) in cases.items():
        ref = ctr.cgroup_ref(path)
        assert ref is not None and (ref.runtime, ref.id, ref.pod_uid) == (runtime, want_id, pod_uid), path
    for path in (
        "/",
        "/system.slice/ssh.service",
        f"/machine.slice/libpod-conmon-{cid}.scope",
        f"/kubepods.slice/crio-conmon-{cid}.scope",
        "/libpod_parent/conmon",
        "/process_api/4d068cd116b55b78d770bd58b43136a5",
        "/user.slice/user-1000.slice/session-3.scope",
    ):
        assert ctr.cgroup_ref(path) is None, path
    assert ctr.cgroup_ref("/lxc.payload.web1/init.scope") == ctr.CgroupRef("lxc", lxc="web1")
    assert ctr.cgroup_ref("/lxc/db1") == ctr.CgroupRef("lxc", lxc="db1")
    assert ctr.cgroup_ref("/lxc.payload.bad name") is None


def test_cgroup_lines_prefer_the_hierarchy_that_names_the_container():
    # real lines of this machine (cgroup v1 hybrid): the memory hierarchy of our own session names a
    # cgroup of the sandbox, the unified one and systemd's name the podman container
    text = (GOLDEN / "host_ns.out").read_bytes().decode()
    paths = ctr.parse_cgroups(text)
    lab = [p for p, ps in paths.items() if any(LAB_ID in x for x in ps)]
    assert lab and all(ctr.ref_of(paths[p]).id == LAB_ID for p in lab)  # type: ignore[union-attr]
    ours = [ps for ps in paths.values() if any(x.startswith("/process_api/") for x in ps)]
    assert ours and all(ctr.ref_of(ps) is None for ps in ours)


def test_the_collectors_own_container():
    cid = "ef" * 32
    mount = f"89 80 254:0 /run/containers/storage/overlay-containers/{cid}/userdata/hostname /etc/hostname rw - ext4"
    env = 'containerenv\nengine="podman-4.3.1"\nname="web"\nid="' + cid + '"\nimage="localhost/web:1"\nrootless=0\n'
    # a private cgroup namespace: the collector and its neighbours sit at "/", an outsider at "/../.."
    cgroups = {1: ("/",), 7: ("/",), 9: ("/../../system.slice/ssh.service",)}
    found = ctr.resolve(cgroups, ctr.RuntimeState(), 7, mount)
    assert found == {1: Container("podman", cid), 7: Container("podman", cid)}
    found = ctr.resolve(cgroups, ctr.RuntimeState(), 7, env + mount)
    assert found[1] == Container("podman", cid, "web", "localhost/web:1")
    # /.dockerenv alone proves nothing (this build machine has one): no id, no container
    assert ctr.resolve(cgroups, ctr.RuntimeState(), 7, "dockerenv\n") == {}
    assert ctr.parse_self("containerenv\n", None) is None


def test_stores_parse_what_they_can_of_a_capped_file():
    text = (GOLDEN / "host_ns.out").read_bytes().decode()
    body = text.split("==> ", 1)[1]
    path, _, rest = body.partition(" <==\n")
    full = ctr.parse_stores(f"==> {path} <==\n{rest}", {})
    assert full and LAB_ID in full[0].entries
    cut = ctr.parse_stores(f"==> {path} <==\n{rest[: rest.index(LAB_ID) + 200]}", {})
    assert LAB_ID not in cut[0].entries and len(cut[0].entries) < len(full[0].entries)
    assert ctr.parse_stores("==> /etc/shadow <==\n[]", {}) == ()  # not a store path: ignored
    unknown_home = "==> /home/x/.local/share/containers/storage/overlay-containers/containers.json <==\n[]"
    assert ctr.parse_stores(unknown_home, {}) == ()  # a home no passwd entry owns: whose store is it?


def test_nets_section_caps_and_warnings():
    line = "/proc/{pid}/net/tcp:   0: 0100007F:1F90 0200007F:C350 01 00000000:00000000 00:00000000 00000000  0  0 "
    line += "{inode} 1\n"
    text = "/proc/10/ns/net:net:[4026532001]\n" + line.format(pid=10, inode=77) + "/proc/ns-cap:1\n"
    text += line.format(pid=11, inode=78)  # a table of a pid that opened no namespace: ignored
    nets = parse_nets(text)
    assert set(nets.sockets) == {77} and nets.sockets[77].netns == "net:[4026532001]" and nets.ns_cap == 1
    one = line.format(pid=10, inode=1)
    big = "/proc/10/ns/net:net:[4026532001]\n" + one * (NS_CAP // len(one) + 1)
    assert parse_nets(big).capped == ("net:[4026532001]",)


def test_a_listener_in_one_namespace_does_not_make_another_namespace_inbound():
    """Each container has its own ports: a shell connected out from local port 8080 in one namespace is
    outbound even when another namespace listens on 8080."""
    a, b = "net:[1]", "net:[2]"
    listen = TcpSocket(1, Endpoint("0.0.0.0", 8080), Endpoint("0.0.0.0", 0), "LISTEN", netns=a)
    out = TcpSocket(2, Endpoint("10.0.0.5", 8080), Endpoint("203.0.113.9", 4444), "ESTABLISHED", netns=b)
    sh = Process(50, 1, "sh", "/bin/sh", ("sh", "-i"), stdio=("socket:[2]",) * 3, sockets=((0, 2), (1, 2), (2, 2)))
    (d,) = score(Snapshot(Platform.LINUX, {50: sh}, {1: listen, 2: out}))
    assert d.severity is Tier.HIGH and "outbound" in d.reasons[0]
    same = {1: listen, 2: TcpSocket(2, out.local, out.remote, out.state, netns=a)}
    (d,) = score(Snapshot(Platform.LINUX, {50: sh}, same))
    assert "inbound" in d.reasons[0]


def test_udp_socket_on_stdio_is_scored_like_tcp_and_an_unconnected_one_is_not():
    remote = Endpoint("203.0.113.9", 53)
    connected = TcpSocket(3, Endpoint("10.0.0.5", 40000), remote, "ESTABLISHED", "udp")
    bound = TcpSocket(3, Endpoint("0.0.0.0", 5353), Endpoint("0.0.0.0", 0), "CLOSE", "udp")
    fds = ((0, 3), (1, 3), (2, 3))
    sh = Process(60, 1, "bash", "/bin/bash", ("bash", "-i"), stdio=("socket:[3]",) * 3, sockets=fds)
    (d,) = score(Snapshot(Platform.LINUX, {60: sh}, {3: connected}))
    assert d.severity is Tier.HIGH and "UDP socket" in d.reasons[0] and d.remote == "203.0.113.9:53"
    assert score(Snapshot(Platform.LINUX, {60: sh}, {3: bound})) == ()
    approved = HuntContext(approved=(ipaddress.ip_network("203.0.113.0/24"),))
    (d,) = score(Snapshot(Platform.LINUX, {60: sh}, {3: connected}), approved)
    assert d.severity is Tier.MEDIUM


def test_hostile_stores_do_not_break_the_parser():
    head = "==> /var/lib/containers/storage/overlay-containers/containers.json <==\n"
    deep = "[" * 200000 + "]" * 200000
    assert ctr.parse_stores(head + deep, {})[0].entries == {}
    meta = json.dumps([{"id": "ab" * 32, "names": ["x"], "metadata": "[" * 200000}])
    (store,) = ctr.parse_stores(head + meta, {})
    assert store.entries["ab" * 32].names == ("x",) and store.entries["ab" * 32].image_name == ""
    junk = head + json.dumps([{"id": "../../etc", "names": ["x"]}, {"id": "cd" * 32, "names": [1, None, "y" * 9999]}])
    (store,) = ctr.parse_stores(junk, {})
    assert list(store.entries) == ["cd" * 32] and store.entries["cd" * 32].names == ("y" * ctr.MAX_FIELD,)
