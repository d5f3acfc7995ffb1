#!/usr/bin/env python3
"""Fleet benchmark: harden audit vs `ansible -m setup`, one host vs `ssh true`, memory at scale.

Starts its own lab (prefix ``harden-bench``, 4 sshd containers on 198.18.0.0/24, sshd on
127.0.0.1), builds an inventory of N aliases of those containers, and measures, alternating
the tools in each round so both see the same machine state:

* fleet: wall time of ``harden audit --forks 20`` vs ``ansible all -f 20 -m ansible.builtin.setup``
  (each ansible run gets a fresh ControlPath dir: cold connections, like harden's);
* one host: ``harden audit --limit hardened`` vs OpenSSH ``ssh host true``;
* client CPU per host: user+sys of the harden process / hosts (start-up included), and the
  marginal cost of one more host: (CPU of the fleet run - CPU of the one-host run) / (N - 1);
* the controller floor of harden's contract (``bench/ctlfloor.py``, in the same rounds): the
  inventory read by ansible-core and the same collector sent over paramiko to every host, its
  output read and thrown away, nothing else; and the inventory read alone;
* memory: max RSS of ``harden audit --forks 40`` over ``--hosts-big`` aliases;
* host CPU per run: the lab container's cgroup ``cpu.stat`` (``usage_usec``) before and after
  ``--rounds`` one-host runs of each tool.

WAN mode (``--wan``, ``--delay-ms 30`` one way by default): every lab host is reached through
``bench/wanrelay.py``, a delaying TCP relay on 127.0.0.1 (this kernel has no ``sch_netem``; see
that file for the model). The inventories and known_hosts then name the relay's ports, and
the bench first checks the link: the time to the SSH banner, direct and through the relay
(expected: 2 RTT more, TCP handshake plus the banner).

Memory at 10,000 hosts without a lab: ``bench/scale.py`` (simulated hosts answering real output).

Usage (root, after ``make install``)::

    .venv/bin/python bench/fleet.py --hosts 40 --rounds 3 --hosts-big 1000
    .venv/bin/python bench/fleet.py --wan --hosts 40 --rounds 5 --hosts-big 0
    .venv/bin/python bench/fleet.py --wan --serve 1800   # keep lab + relay up for other tools

It prints one line per measurement and a summary with the ratios the project targets
(fleet <= 0.25x ansible; one host <= 1.5x ssh; <= 10 ms client CPU per host; < 200 MB RSS).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hardening.lab import lab_down, lab_up

VENV_BIN = Path(sys.executable).parent
PREFIX = "harden-bench"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + sys of the child and its children
    max_rss_kb: int
    rc: int


def timed(argv: list[str], env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status))


def alias_inventory(source: Path, count: int, dest: Path) -> Path:
    """``count`` aliases, round-robin over the lab hosts, keeping every connection variable."""
    text = source.read_text()
    body, _, lab_vars = text.partition("[lab:vars]")
    hosts = [ln for ln in body.splitlines() if ln and not ln.startswith("[")]
    lines = ["[lab]"]
    for i in range(count):
        name, rest = hosts[i % len(hosts)].split(" ", 1)
        lines.append(f"{name}-{i:04d} {rest}")
    dest.write_text("\n".join(lines) + "\n\n[lab:vars]" + lab_vars)
    return dest


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class Wan:
    relay: subprocess.Popen[bytes]
    inventory: Path
    ports: dict[int, int]  # lab sshd port -> relay port


def start_wan(inventory: Path, known_hosts: Path, delay_ms: float, work: Path) -> Wan:
    """The relay in front of every lab sshd, and an inventory + known_hosts naming the relay's ports."""
    text = inventory.read_text()
    lab_ports = sorted({int(p) for p in re.findall(r"ansible_port=(\d+)", text)})
    ports = dict(zip(lab_ports, free_ports(len(lab_ports)), strict=True))
    argv = [sys.executable, str(Path(__file__).with_name("wanrelay.py")), "--delay-ms", str(delay_ms)]
    argv += [f"{relay}:{lab}" for lab, relay in ports.items()]
    relay = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert relay.stdout is not None
    if relay.stdout.readline().strip() != b"ready":
        relay.kill()
        raise SystemExit("the WAN relay did not start")
    kh = known_hosts.read_text()
    for lab, port in ports.items():
        text = text.replace(f"ansible_port={lab} ", f"ansible_port={port} ")
        kh = kh.replace(f"[127.0.0.1]:{lab} ", f"[127.0.0.1]:{port} ")
    wan_kh = work / "wan_known_hosts"
    wan_kh.write_text(kh)
    text = text.replace(str(known_hosts), str(wan_kh))
    wan_inv = work / "wan.ini"
    wan_inv.write_text(text)
    wan_inv.chmod(0o600)
    return Wan(relay, wan_inv, ports)


def stop_wan(wan: Wan) -> None:
    wan.relay.terminate()
    try:
        wan.relay.wait(10)
    except subprocess.TimeoutExpired:
        wan.relay.kill()
        wan.relay.wait()


def banner_time(port: int) -> float:
    """Seconds from the start of connect() to the first bytes of the SSH banner."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.recv(64)
    return time.perf_counter() - started


def cgroup_cpu_reader(container: str) -> Callable[[], int]:
    """A function returning the container's cgroup CPU time in microseconds: ``usage_usec`` of
    ``cpu.stat`` (cgroup v2) or ``cpuacct.usage`` (v1, nanoseconds). The cgroup is looked up once."""
    pid = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()
    paths = dict(line.split(":", 2)[1:] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    if "" in paths and Path("/sys/fs/cgroup" + paths[""], "cpu.stat").exists():
        stat = Path("/sys/fs/cgroup" + paths[""], "cpu.stat")
        return lambda: int(re.search(r"usage_usec (\d+)", stat.read_text()).group(1))  # type: ignore[union-attr]
    group = next(v for k, v in paths.items() if "cpuacct" in k.split(","))
    usage = Path("/sys/fs/cgroup/cpuacct" + group, "cpuacct.usage")
    return lambda: int(usage.read_text()) // 1000


def container_cpu_us(container: str) -> int:
    """CPU time of the container's cgroup in microseconds (see :func:`cgroup_cpu_reader`)."""
    return cgroup_cpu_reader(container)()


def harden_audit(inventory: Path, out: Path, *extra: str) -> Run:
    return timed([str(VENV_BIN / "harden"), "audit", str(inventory), "--out", str(out), *extra])


def ansible_setup(inventory: Path, forks: int) -> Run:
    env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": tempfile.mkdtemp(prefix="cp-")}
    env["ANSIBLE_DISPLAY_SKIPPED_HOSTS"] = "False"
    return timed(
        [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-f", str(forks), "-m", "ansible.builtin.setup"],
        env=env,
    )


def contract_floor(inventory: Path, script: Path, forks: int, *extra: str) -> Run:
    """``bench/ctlfloor.py``: ansible-core's inventory read plus paramiko sessions, nothing of harden."""
    ctlfloor = Path(__file__).with_name("ctlfloor.py")
    argv = [sys.executable, str(ctlfloor), str(inventory), "--script", str(script), "--forks", str(forks)]
    return timed([*argv, *extra])


def ansible_setup_one(inventory: Path, host: str) -> Run:
    env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": tempfile.mkdtemp(prefix="cp-")}
    return timed([str(VENV_BIN / "ansible"), host, "-i", str(inventory), "-m", "ansible.builtin.setup"], env=env)


def ansible_raw_true(inventory: Path, host: str) -> Run:
    """For scale: the lightest Ansible call on one host (no module, no Python on the host)."""
    env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": tempfile.mkdtemp(prefix="cp-")}
    argv = [str(VENV_BIN / "ansible"), host, "-i", str(inventory), "-m", "ansible.builtin.raw", "-a", "true"]
    return timed(argv, env=env)


def inventory_vars(lab_inventory: Path, host: str) -> dict[str, str]:
    """The variables on ``host``'s line of the lab inventory."""
    line = next(ln for ln in lab_inventory.read_text().splitlines() if ln.startswith(host + " "))
    return dict(w.split("=", 1) for w in shlex.split(line)[1:])


def ssh_argv(lab_inventory: Path, host: str) -> list[str]:
    """OpenSSH to ``host`` of the lab inventory with its key and options (no command yet)."""
    words = inventory_vars(lab_inventory, host)
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=no"]
    if "ansible_ssh_private_key_file" in words:
        argv += ["-i", words["ansible_ssh_private_key_file"]]
    argv += shlex.split(words["ansible_ssh_common_args"])
    return [*argv, "-p", words["ansible_port"], f"{words['ansible_user']}@{words['ansible_host']}"]


def ssh_true(lab_inventory: Path, host: str) -> Run:
    return timed([*ssh_argv(lab_inventory, host), "true"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=40, help="aliases in the fleet comparison")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--hosts-big", type=int, default=1000, help="aliases for the memory run (0: skip)")
    ap.add_argument("--keep-lab", action="store_true")
    ap.add_argument("--prefix", default=PREFIX, help="lab container name prefix")
    ap.add_argument("--wan", action="store_true", help="reach every lab host through a delaying relay")
    ap.add_argument("--delay-ms", type=float, default=30.0, help="one-way delay in WAN mode (RTT: twice this)")
    ap.add_argument("--serve", type=float, default=0, help="only set up, print the paths, stay up this many s")
    args = ap.parse_args()
    # SIGTERM (and SIGINT, which a shell's background job ignores) end the run through the cleanup below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    signal.signal(signal.SIGINT, signal.default_int_handler)

    # As an installed harden has: its modules' bytecode (under PYTHONDONTWRITEBYTECODE an editable
    # checkout would otherwise recompile every module on every run, ≈ 0.3 s of CPU per start).
    root = Path(__file__).resolve().parents[1]
    sources = [str(root / "hardening"), str(root / "checks")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *sources], check=False)

    work = Path(tempfile.mkdtemp(prefix="harden-bench-"))
    print(f"# lab up (prefix {args.prefix}) in {work}", flush=True)
    lab = lab_up(work / "lab", prefix=args.prefix)
    wan = None
    try:
        inventory = lab.inventory
        if args.wan:
            wan = start_wan(lab.inventory, lab.known_hosts, args.delay_ms, work)
            inventory = wan.inventory
            lab_port, relay_port = next(iter(wan.ports.items()))
            direct = statistics.median(banner_time(lab_port) for _ in range(5))
            relayed = statistics.median(banner_time(relay_port) for _ in range(5))
            print(
                f"# WAN: {args.delay_ms:g} ms one way; SSH banner direct {direct * 1000:.1f} ms, through the relay"
                f" {relayed * 1000:.1f} ms (expected +{4 * args.delay_ms:g} ms: TCP handshake and banner, 2 RTT)",
                flush=True,
            )
        fleet = alias_inventory(inventory, args.hosts, work / "fleet.ini")
        if args.serve:
            print(f"# serving: inventory {inventory}  fleet {fleet}  work {work}", flush=True)
            for h in lab.hosts:
                print(f"# host {h.name} container {h.container} port {h.port}", flush=True)
            time.sleep(args.serve)
            return 0
        script = work / "collector.sh"
        script.write_bytes(subprocess.run([str(VENV_BIN / "harden"), "collector-script"], capture_output=True,
                                          check=True).stdout)  # fmt: skip
        h_runs: list[Run] = []
        a_runs: list[Run] = []
        f_runs: list[Run] = []
        i_runs: list[Run] = []
        for r in range(args.rounds):
            a = ansible_setup(fleet, args.forks)
            h = harden_audit(fleet, work / f"out-{r}", "--forks", str(args.forks))
            f = contract_floor(fleet, script, args.forks)
            i_runs.append(contract_floor(fleet, script, args.forks, "--inventory-only"))
            a_runs.append(a)
            h_runs.append(h)
            f_runs.append(f)
            print(
                f"fleet round {r + 1}: {args.hosts} hosts  ansible setup {a.wall:6.2f}s (rc {a.rc})"
                f"  harden {h.wall:6.2f}s (rc {h.rc})  ratio {h.wall / a.wall:5.3f}"
                f"  controller CPU/host: ansible {a.cpu / args.hosts * 1000:.0f} ms,"
                f" harden {h.cpu / args.hosts * 1000:.0f} ms, contract floor {f.cpu / args.hosts * 1000:.0f} ms"
                f" (wall {f.wall:.2f}s, rc {f.rc}), inventory alone {i_runs[-1].cpu / args.hosts * 1000:.0f} ms",
                flush=True,
            )
        s_runs: list[Run] = []
        o_runs: list[Run] = []
        r_runs: list[Run] = []
        for _ in range(max(5, args.rounds)):
            s_runs.append(ssh_true(inventory, "hardened"))
            o_runs.append(harden_audit(inventory, work / "one", "--limit", "hardened"))
            r_runs.append(ansible_raw_true(inventory, "hardened"))
        one_ratio = statistics.median(o.wall for o in o_runs) / statistics.median(s.wall for s in s_runs)
        print(
            f"one host: ssh true median {statistics.median(s.wall for s in s_runs):.3f}s  harden median "
            f"{statistics.median(o.wall for o in o_runs):.3f}s  ratio {one_ratio:.2f}  "
            f"(harden CPU {statistics.median(o.cpu for o in o_runs) * 1000:.0f} ms; for scale, "
            f"ansible -m raw -a true {statistics.median(r.wall for r in r_runs):.3f}s)",
            flush=True,
        )
        cpu_per_host_ms = statistics.median(h.cpu for h in h_runs) / args.hosts * 1000
        marginal_ms = (
            (statistics.median(h.cpu for h in h_runs) - statistics.median(o.cpu for o in o_runs))
            / max(1, args.hosts - 1)
            * 1000
        )
        fleet_ratio = statistics.median(h.wall for h in h_runs) / statistics.median(a.wall for a in a_runs)
        container = next(h.container for h in lab.hosts if h.name == "hardened")
        host_cpu: dict[str, float] = {}
        for tool, call in (
            ("ssh true", lambda: ssh_true(inventory, "hardened")),
            ("harden audit", lambda: harden_audit(inventory, work / "one", "--limit", "hardened")),
            ("ansible -m setup", lambda: ansible_setup_one(inventory, "hardened")),
        ):
            before = container_cpu_us(container)
            for _ in range(args.rounds):
                call()
            host_cpu[tool] = (container_cpu_us(container) - before) / args.rounds / 1000
        print("host CPU per run (cgroup): " + ", ".join(f"{k} {v:.0f} ms" for k, v in host_cpu.items()), flush=True)
        big = None
        if args.hosts_big:
            many = alias_inventory(inventory, args.hosts_big, work / "big.ini")
            # 40 forks over the 4 sshd: at most 10 unauthenticated connections each (OpenSSH MaxStartups 10)
            big = harden_audit(many, work / "big", "--forks", "40", "--timeout", "120")
            print(
                f"memory: {args.hosts_big} hosts  wall {big.wall:.1f}s  max RSS {big.max_rss_kb / 1024:.1f} MB"
                f"  cpu/host {big.cpu / args.hosts_big * 1000:.1f} ms  (rc {big.rc})",
                flush=True,
            )
        print("\n# summary")
        print(
            f"fleet ratio harden/ansible-setup (median of {args.rounds}): {fleet_ratio:.3f}"
            "  (target <= 0.25; WAN <= 0.20)"
        )
        print(f"one host ratio harden/ssh-true: {one_ratio:.2f}  (target <= 1.5; WAN <= 1.3)")
        print(f"host CPU per audit: {host_cpu['harden audit']:.0f} ms  (WAN target <= 100)")
        print(f"client CPU per host (fleet, incl. start-up): {cpu_per_host_ms:.1f} ms")
        print(f"client CPU per additional host (marginal): {marginal_ms:.1f} ms  (goal <= 10)")
        floor_ms = statistics.median(f.cpu for f in f_runs) / args.hosts * 1000
        inv_ms = statistics.median(i.cpu for i in i_runs) / args.hosts * 1000
        print(
            f"controller floor of the contract (ansible-core inventory + paramiko, nothing else): {floor_ms:.1f} ms"
            f" per host, of which the inventory read {inv_ms:.1f} ms  (WAN target for harden <= 10;"
            f" failed floor runs: {sum(f.rc != 0 for f in f_runs)})"
        )
        if big:
            print(f"max RSS for {args.hosts_big} hosts: {big.max_rss_kb / 1024:.1f} MB  (target < 200)")
    finally:
        if wan:
            stop_wan(wan)
        if not args.keep_lab:
            lab_down(prefix=args.prefix, workdir=work / "lab")
    return 0


if __name__ == "__main__":
    sys.exit(main())
