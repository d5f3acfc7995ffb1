#!/usr/bin/env python3
"""Memory benchmark: ``harden audit --forks 10`` of 10 hostile hosts answering ~30 MiB each.

The hosts are ``tests/support/ssh_server.py`` (paramiko's server side on 127.0.0.1, no lab, no root),
run as a separate process so that only harden's own memory is measured. Each host answers
with a real collector output (the lab golden) grown to ``--size-mib`` in one of these shapes:

* ``section``: one section the DNS parser reads (resolv.conf), bulk lines mixing Latin-1,
  Cyrillic, CJK and emoji (``bmp``: the same without the emoji, so it is decoded and parsed);
* ``outside``: the same bulk before the first section marker (text no section holds);
* ``ascii-emoji``: the bulk ASCII but for ONE emoji at its start (one wide character used to
  make CPython hold the whole text at 4 bytes per character);
* ``lines``: the bulk two-letter lines (the most Python objects per byte for a line parser);
* ``nft-json`` / ``iptables``: the bulk is the running firewall ruleset itself (JSON objects /
  one rule per line), which the egress judgement must parse whole;
* ``baseline``: the plain golden output (~30 KB), for harden's own footprint.

For each shape it runs ``harden audit`` ``--rounds`` times (all hosts at once: ``--forks 10``)
and prints the peak RSS of the harden process (``wait4``'s ``ru_maxrss``), its wall and CPU
time, and the host statuses. ``--src DIR`` runs the harden of another checkout (put first
on ``PYTHONPATH``), e.g. the commit before a change, with the same interpreter::

    .venv/bin/python bench/hostile_memory.py --shapes baseline,section,bmp,outside,ascii-emoji,lines
    git worktree add /tmp/before <commit> && .venv/bin/python bench/hostile_memory.py --src /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "support" / "ssh_server.py"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_mb: float
    rc: int
    statuses: str


def start_server(hosts: int, size_mib: float, shape: str) -> tuple[subprocess.Popen[bytes], int, str]:
    size = 0.03 if shape == "baseline" else size_mib
    real = "outside" if shape == "baseline" else shape
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--hosts", str(hosts), "--size-mib", str(size), "--shape", real],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # paramiko's notes about connections the client closed
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    known = proc.stdout.readline().decode()
    return proc, port, known


def inventory(directory: Path, hosts: int, port: int, known: str) -> tuple[Path, Path]:
    inv, kh = directory / "inv.ini", directory / "known_hosts"
    kh.write_text(known)
    lines = [f"h{i:02d} ansible_host=127.0.0.1 ansible_port={port} ansible_user=h{i:02d}" for i in range(hosts)]
    inv.write_text("[bench]\n" + "\n".join(lines) + "\n\n[bench:vars]\nansible_password=bench-pw\n")
    return inv, kh


def audit(inv: Path, kh: Path, out: Path, forks: int, src: Path | None) -> Run:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    argv = [sys.executable, "-m", "hardening.cli", "audit", str(inv), "--known-hosts", str(kh), "--forks", str(forks),
            "--timeout", "600", "--out", str(out), "--format", "json"]  # fmt: skip
    started = time.perf_counter()
    # cwd: python -m puts the working directory first on sys.path; it must not pick a checkout
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=out.parent)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    doc = json.loads((out / "results.json").read_text())
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(Counter(h["status"] for h in doc["hosts"]).items()))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), statuses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="baseline,section,bmp,outside,ascii-emoji,lines")
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--size-mib", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", type=Path, help="checkout whose harden to run (default: the installed one)")
    args = parser.parse_args()
    print(f"{'shape':<12} {'peak RSS MB':>12} {'wall s':>8} {'cpu s':>8}  rc  hosts")
    for shape in args.shapes.split(","):
        server, port, known = start_server(args.hosts, args.size_mib, shape)
        try:
            with tempfile.TemporaryDirectory(prefix="harden-memory-") as tmp:
                inv, kh = inventory(Path(tmp), args.hosts, port, known)
                runs = [audit(inv, kh, Path(tmp) / f"out{i}", args.forks, args.src) for i in range(args.rounds)]
        finally:
            server.terminate()
            server.wait(10)
        rss = [r.max_rss_mb for r in runs]
        print(
            f"{shape:<12} {statistics.median(rss):>12.0f} {statistics.median(r.wall for r in runs):>8.1f} "
            f"{statistics.median(r.cpu for r in runs):>8.1f}  {runs[-1].rc:>2}  {runs[-1].statuses}"
            f"   (RSS min-max {min(rss):.0f}-{max(rss):.0f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
