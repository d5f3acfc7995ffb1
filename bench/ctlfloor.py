#!/usr/bin/env python3
"""Controller floor: the least any client of harden's contract spends on the controller.

Issue 23 asks for <= 10 ms of controller CPU per host at 40 hosts. harden's contract is to read
the inventory through ansible-core, as Ansible does, and to reach each Linux host over SSH with
paramiko, sending one script and reading its output. This program does only that, with nothing
of harden imported: it reads the inventory with ansible-core's ``InventoryManager`` and
``VariableManager`` (every host's variables, as a play would see them), then, ``--forks`` hosts
at a time, connects with ``paramiko.SSHClient`` (known_hosts from the host's
``ansible_ssh_common_args``, unknown keys refused; the host's key file, or its password), runs
the command harden runs for that kind of host (``sudo -H -n -u root /bin/sh -s``; ``sudo -S``
with the become password written first; ``/bin/sh -s`` for a root login), writes the script,
reads the output to its end and throws it away. No parsing, no judging, no reports, no progress.

Its user+system CPU (the bench measures it from outside, as ``bench/fleet.py --wan`` does for
harden) is the floor of the contract: what harden costs above it is harden's own. It prints
one JSON line: hosts done, bytes read, failures (a host that failed makes the run invalid).

Usage::

    harden collector-script > /tmp/collector.sh
    .venv/bin/python bench/ctlfloor.py FLEET.INI --script /tmp/collector.sh [--forks 20]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def host_plans(inventory: str) -> list[dict[str, Any]]:
    """Every host's connection variables, read by ansible-core as Ansible reads them."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[inventory])
    variables = VariableManager(loader=loader, inventory=manager)
    plans = []
    for host in manager.get_hosts("all"):
        v = variables.get_vars(host=host, include_hostvars=False)
        plans.append(
            {
                "name": host.name,
                "host": str(v.get("ansible_host", host.name)),
                "port": int(v.get("ansible_port", 22)),
                "user": str(v.get("ansible_user", "root")),
                "key": v.get("ansible_ssh_private_key_file"),
                "password": v.get("ansible_password"),
                "become": str(v.get("ansible_become", False)).lower() in ("true", "yes", "1"),
                "become_password": v.get("ansible_become_password"),
                "common_args": str(v.get("ansible_ssh_common_args", "")),
            }
        )
    return plans


def known_hosts_file(common_args: str) -> str | None:
    words = shlex.split(common_args)
    for i, w in enumerate(words):
        opt = words[i + 1] if w == "-o" and i + 1 < len(words) else w[2:] if w.startswith("-o") else ""
        if opt.lower().startswith("userknownhostsfile="):
            return opt.split("=", 1)[1]
    return None


def run_one(plan: dict[str, Any], script: bytes, timeout: float) -> int:
    """Connect, run the script, read its output to the end: the bytes read."""
    import paramiko

    client = paramiko.SSHClient()
    known = known_hosts_file(plan["common_args"])
    client.load_host_keys(known) if known else client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            plan["host"], port=plan["port"], username=plan["user"], key_filename=plan["key"],
            password=plan["password"], look_for_keys=False, allow_agent=False, timeout=timeout,
            banner_timeout=timeout, auth_timeout=timeout,
        )  # fmt: skip
        prefix = b""
        if plan["user"] == "root" or not plan["become"]:
            command = "/bin/sh -s"
        elif plan["become_password"]:
            command = "sudo -H -S -p '' -u root /bin/sh -s"
            prefix = str(plan["become_password"]).encode() + b"\n"
        else:
            command = "sudo -H -n -u root /bin/sh -s"
        channel = client.get_transport().open_session(timeout=timeout)  # type: ignore[union-attr]
        channel.settimeout(timeout)
        channel.exec_command(command)
        channel.sendall(prefix + script)
        channel.shutdown_write()
        total = 0
        while chunk := channel.recv(1 << 16):
            total += len(chunk)
        while channel.recv_stderr_ready() and channel.recv_stderr(1 << 16):
            pass
        if channel.recv_exit_status() != 0 and total == 0:
            raise RuntimeError(f"{plan['name']}: the command failed with no output")
        return total
    finally:
        client.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inventory")
    ap.add_argument("--script", type=Path, required=True, help="the collector (harden collector-script)")
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--inventory-only", action="store_true", help="read the inventory, connect to nothing")
    args = ap.parse_args()
    script = args.script.read_bytes()
    plans = host_plans(args.inventory)
    if args.inventory_only:
        print(json.dumps({"hosts": len(plans), "bytes": 0, "failed": []}))
        return 0
    import paramiko  # noqa: F401 - imported before the workers start, as harden does

    done, failed, total = 0, [], 0
    with ThreadPoolExecutor(max_workers=max(1, args.forks)) as pool:
        futures = {pool.submit(run_one, p, script, args.timeout): p["name"] for p in plans}
        for future, name in futures.items():
            try:
                total += future.result()
                done += 1
            except Exception as exc:  # every failure is reported: the run is invalid
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print(json.dumps({"hosts": done, "bytes": total, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
