"""The lab network and the host-side guard that keeps lab packets in the lab.

The network is a normal podman bridge on 198.18.0.0/24 (host side 198.18.0.1). Two
independent layers keep off-lab packets from leaving:

1. inside each container the default route points at :data:`DEADEND` (198.18.0.254, an
   address nothing owns), so packets for other addresses die unanswered on the bridge;
2. containers hold NET_ADMIN (for nft/ufw inside) and could change that route, so the host
   gets one nftables table of its own, :data:`GUARD_TABLE`, scoped to the lab bridge: it
   drops forwarded IPv4 not for the lab subnet, IPv4 to the host not for the lab or
   loopback, and all IPv6 from the bridge. It is the only rule this code puts in the
   host's own network namespace; ``lab_down`` deletes it with the network.

Example::

    >>> print(guard_ruleset("podman1").splitlines()[0])
    table inet harden_lab_guard {
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator

from hardening.lab.errors import LabError, run

SUBNET = "198.18.0.0/24"
GATEWAY = "198.18.0.1"
DEADEND = "198.18.0.254"
#: Static container addresses come from this range (upper half of the subnet).
HOST_RANGE = range(128, 251)
GUARD_TABLE = "harden_lab_guard"
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
#: Held from "the network exists" until a lab's containers are on it, and by ``lab_down`` from
#: "no container uses the network" until it is removed: two labs (parallel test runs, a Molecule
#: scenario and a lab) never see the network removed between creating it and attaching to it.
NETWORK_LOCK = "/run/harden-lab-network.lock"


@contextlib.contextmanager
def network_lock(path: str = NETWORK_LOCK) -> Iterator[None]:
    """An exclusive lock between processes that create, use or remove the lab network (flock:
    released when the process dies, so a killed run never leaves it held)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def guard_ruleset(bridge: str) -> str:
    """The nft script (re)creating the guard table for ``bridge``, atomically."""
    if not _BRIDGE_RE.match(bridge):
        raise LabError(f"unexpected bridge interface name {bridge!r}")
    return f"""table inet {GUARD_TABLE} {{
	chain forward {{
		type filter hook forward priority -10; policy accept;
		iifname "{bridge}" ip daddr != {SUBNET} counter drop
		iifname "{bridge}" meta nfproto ipv6 counter drop
	}}
	chain input {{
		type filter hook input priority -10; policy accept;
		iifname "{bridge}" ip daddr != {{ 127.0.0.0/8, {SUBNET} }} counter drop
		iifname "{bridge}" meta nfproto ipv6 counter drop
	}}
}}
"""


def install_guard(bridge: str) -> None:
    """Create (or atomically replace) the guard table for ``bridge`` on the host."""
    script = f"table inet {GUARD_TABLE} {{}}\ndelete table inet {GUARD_TABLE}\n" + guard_ruleset(bridge)
    run(["nft", "-f", "-"], input_bytes=script.encode())


def remove_guard() -> None:
    """Delete the guard table if present."""
    if guard_present():
        run(["nft", "delete", "table", "inet", GUARD_TABLE])


def guard_present() -> bool:
    return run(["nft", "list", "table", "inet", GUARD_TABLE], check=False).returncode == 0


def guard_listing() -> str:
    """``nft list table inet harden_lab_guard`` (with counters); empty if absent."""
    proc = run(["nft", "list", "table", "inet", GUARD_TABLE], check=False)
    return proc.stdout if proc.returncode == 0 else ""


def _inspect_network(name: str) -> dict[str, object] | None:
    proc = run(["podman", "network", "inspect", name], check=False)
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout)
    return data[0] if data else None


def ensure_network(name: str) -> str:
    """Create the lab network if missing (checking an existing one is right); return its bridge."""
    info = _inspect_network(name)
    if info is None:
        argv = ["podman", "network", "create", "--driver", "bridge"]
        argv += ["--subnet", SUBNET, "--gateway", GATEWAY, "--disable-dns", name]
        proc = run(argv, check=False)
        if proc.returncode != 0:
            raise LabError(
                f"cannot create podman network {name} on {SUBNET}: {proc.stderr.strip()} "
                "(another network may already use the subnet: `podman network ls`)"
            )
        info = _inspect_network(name)
        if info is None:
            raise LabError(f"podman network {name} vanished right after creation")
    subnets = [str(s.get("subnet")) for s in info.get("subnets", []) if isinstance(s, dict)]  # type: ignore[union-attr]
    if subnets != [SUBNET] or info.get("internal"):
        raise LabError(
            f"podman network {name} exists with subnets {subnets} (internal={info.get('internal')}); "
            f"the lab needs a plain bridge on {SUBNET} only: `podman network rm {name}`"
        )
    bridge = str(info.get("network_interface") or "")
    if not bridge:
        raise LabError(f"podman network {name} has no bridge interface name (driver {info.get('driver')})")
    return bridge


def network_bridge(name: str) -> str | None:
    """The bridge interface of network ``name``, or ``None`` if there is no such network."""
    info = _inspect_network(name)
    return str(info.get("network_interface") or "") or None if info else None


def remove_network(name: str) -> None:
    if _inspect_network(name) is not None:
        run(["podman", "network", "rm", name])
