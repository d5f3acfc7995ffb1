#!/usr/bin/env python3
"""Scale benchmark: ``harden audit`` of N simulated hosts, its memory as the count grows.

The hosts are ``tests/support/ssh_server.py --shape golden`` processes (paramiko's server side on
127.0.0.1, no root, no lab): each answers harden's collector with a real lab host's output
(``tests/golden/lab/{default,hardened,half,ufw}.out``, the nonce replaced), so harden parses,
judges, streams and reports real answers while the "hosts" cost a few milliseconds of CPU each
instead of a real collector's few hundred (on this machine the real hosts share the controller's
two cores). The inventory holds N aliases over ``--servers`` such processes (password login).

Every ``--every`` seconds it prints the hosts done (lines of ``hosts.jsonl``, streamed as each
host finishes) and the harden process's resident and peak memory (VmRSS, VmHWM), then the
wall time, the peak RSS (``wait4``), the statuses, and how long the reports and playbooks took
after results.json was written (within 0.2 s).

Usage::

    .venv/bin/python bench/scale.py --hosts 10000 --forks 40
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "support" / "ssh_server.py"
NAMES = ("default", "hardened", "half", "ufw")
PASSWORD = "bench-pw"


def start_servers(count: int) -> list[tuple[subprocess.Popen[bytes], int, str]]:
    servers = []
    for _ in range(count):
        proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--shape", "golden", "--password", PASSWORD],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        servers.append((proc, port, proc.stdout.readline().decode()))
    return servers


def inventory(servers: list[tuple[subprocess.Popen[bytes], int, str]], hosts: int, work: Path) -> Path:
    kh = work / "known_hosts"
    kh.write_text("".join(line for _, _, line in servers))
    lines = ["[sim]"]
    for i in range(hosts):
        _, port, _ = servers[i % len(servers)]
        user = NAMES[(i // len(servers)) % len(NAMES)]
        lines.append(f"sim{i:05d} ansible_host=127.0.0.1 ansible_port={port} ansible_user={user}")
    lines += [
        "",
        "[sim:vars]",
        f"ansible_password={PASSWORD}",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={kh}'",
        "harden_egress_allow=198.18.0.0/24",
        "harden_log_collectors=198.18.0.1:6514",
    ]
    path = work / "sim.ini"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--forks", type=int, default=40)
    ap.add_argument("--servers", type=int, default=4)
    ap.add_argument("--every", type=float, default=15.0, help="seconds between progress lines")
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="stop harden (SIGTERM) after this long")
    ap.add_argument("--harden", default=str(Path(sys.executable).parent / "harden"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="harden-scale-"))
    servers = start_servers(args.servers)
    try:
        inv = inventory(servers, args.hosts, work)
        out = work / "out"
        argv = [args.harden, "audit", str(inv), "--forks", str(args.forks), "--timeout", "120", "--out", str(out)]
        print(f"# {args.hosts} hosts over {args.servers} servers, --forks {args.forks}; {work}", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        usage = None
        stopped = False
        audited = None  # seconds until results.json was written: the reports and playbooks follow
        while usage is None:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                usage = (status, ru)
                break
            elapsed = time.monotonic() - started
            if elapsed > args.max_seconds and not stopped:
                proc.terminate()  # harden keeps the hosts done (complete: false)
                stopped = True
            print(
                f"t={elapsed:6.0f}s hosts={count_lines(out / 'hosts.jsonl'):6d}"
                f" rss={(status_kb(proc.pid, 'VmRSS') or 0) / 1024:6.1f}MB"
                f" peak={(status_kb(proc.pid, 'VmHWM') or 0) / 1024:6.1f}MB"
                f" load={os.getloadavg()[0]:.1f}",
                flush=True,
            )
            deadline = time.monotonic() + args.every
            while time.monotonic() < deadline:
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    usage = (status, ru)
                    break
                if audited is None and (out / "results.json").exists():  # written when the last host is done
                    audited = time.monotonic() - started
                time.sleep(0.2)
        wall = time.monotonic() - started
        status, ru = usage
        with (out / "hosts.jsonl").open("rb") as stream:  # one host at a time: 10,000 hosts are ~0.5 GB
            done = collections.Counter(json.loads(line)["status"] for line in stream if line.strip())
        print(
            f"wall {wall:.0f}s  exit {os.waitstatus_to_exitcode(status)}{' (stopped)' if stopped else ''}"
            f"  peak RSS {ru.ru_maxrss / 1024:.1f} MB  CPU {ru.ru_utime + ru.ru_stime:.1f}s"
            f"  ({(ru.ru_utime + ru.ru_stime) / max(1, sum(done.values())) * 1000:.1f} ms/host)"
            f"  hosts {dict(done)}  {sum(done.values()) / wall:.1f} hosts/s"
            + (f"  (audit {audited:.0f}s, then reports and playbooks {wall - audited:.0f}s)" if audited else ""),
            flush=True,
        )
    finally:
        for p, _, _ in servers:
            p.terminate()
        for p, _, _ in servers:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
