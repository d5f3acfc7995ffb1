#!/usr/bin/env python3
"""Hunt benchmark: ``harden hunt`` of this machine from its root namespace with N containers.

Starts N podman containers from the lab image (prefix ``harden-bench-hunt``, ``--network none``:
each has its own network namespace with loopback only, so nothing leaves it), each running a
small server that listens on 127.0.0.1:8080 and holds two connections to itself plus an idle
shell, then hunts this machine (``ansible_connection=local``, root) R times per N and reports
the medians of:

* host side: how long the collector ran on the host (``host_seconds`` in hunt.json, from
  ``/proc/uptime`` at its start and end: 10 ms resolution);
* wall: ``duration_s`` in hunt.json (collector round trip + parse + score, in the harden process);
* CLI wall: the whole ``harden hunt`` command (Python start-up, inventory, hunt.json, table);
* bytes: what the host sent; what the hunt saw: processes, sockets, network namespaces, containers.

Other containers on the machine (other labs) are counted in what the hunt saw. Usage (root)::

    .venv/bin/python bench/hunt_containers.py --containers 0,10,25,50 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hardening.facts.sections import parse_sections
from hardening.hunt.linux import new_hunt_collector, parse_snapshot
from hardening.hunt.run import HuntOptions
from hardening.inventory import load_inventory
from hardening.lab import image_ref
from hardening.transport import run_script

VENV_BIN = Path(sys.executable).parent
PREFIX = "harden-bench-hunt"
SERVER = (
    "import socket,time\n"
    "l=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);l.bind(('127.0.0.1',8080));l.listen()\n"
    "c=[socket.create_connection(('127.0.0.1',8080)) for _ in range(2)];a=[l.accept() for _ in range(2)]\n"
    "time.sleep(3600)\n"
)


def podman(*args: str, check: bool = True) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=120).stdout


def ours() -> list[str]:
    out = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{PREFIX}-")
    return [n for n in out.split() if n.startswith(PREFIX + "-")]


def ensure(count: int, image: str) -> None:
    """Exactly ``count`` bench containers running (started or removed by name)."""
    have = sorted(ours(), key=lambda n: int(n.rsplit("-", 1)[1]))
    for name in have[count:]:
        podman("rm", "-f", "-t", "0", name)
    for i in range(len(have[:count]), count):
        podman(
            "run", "-d", "--name", f"{PREFIX}-{i}", "--network", "none", "--stop-signal", "SIGKILL",
            image, "sh", "-c", f"python3 -c {shlex.quote(SERVER)} & exec sleep 3600",
        )  # fmt: skip
    time.sleep(1.0)


def hunt_once(inventory: Path, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.run([str(VENV_BIN / "harden"), "hunt", str(inventory), "--out", str(out)], capture_output=True)
    cli = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"harden hunt failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    host = json.loads((out / "hunt.json").read_text())["hosts"][0]
    (target,) = load_inventory(inventory)
    collector = new_hunt_collector()
    run = run_script(target, collector.script, HuntOptions(timeout=60))
    snap = parse_snapshot(parse_sections(run.stdout, collector.nonce))
    return {
        "host_s": host["host_seconds"],
        "wall_s": host["duration_s"],
        "cli_s": cli,
        "kib": len(run.stdout) / 1024,
        "processes": len(snap.processes),
        "sockets": len(snap.sockets),
        "netns": len({p.netns for p in snap.processes.values() if p.netns}),
        "containers": len({p.container.id or p.container.name for p in snap.processes.values() if p.container}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--containers", default="0,10,25,50")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    image = image_ref()
    counts = [int(c) for c in args.containers.split(",")]
    with tempfile.TemporaryDirectory(prefix="harden-bench-hunt-") as tmp:
        inventory = Path(tmp) / "local.ini"
        inventory.write_text("[here]\nthis-machine ansible_connection=local ansible_become=false\n")
        print("N | host side (s) | wall (s) | CLI (s) | KiB sent | processes | sockets | netns | containers")
        try:
            for n in counts:
                ensure(n, image)
                rounds = [hunt_once(inventory, Path(tmp) / f"r{n}-{r}") for r in range(args.rounds)]
                med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
                print(
                    f"{n} | {med['host_s']:.2f} | {med['wall_s']:.2f} | {med['cli_s']:.2f} | {med['kib']:.0f} | "
                    f"{med['processes']:.0f} | {med['sockets']:.0f} | {med['netns']:.0f} | {med['containers']:.0f}",
                    flush=True,
                )
        finally:
            ensure(0, image)


if __name__ == "__main__":
    main()
