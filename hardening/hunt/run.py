"""Run the hunt on hosts: one round trip each, parse, score, suppress; write ``hunt.json``.

A host's failure is data (a :class:`HostHunt` with a non-ok status), never an exception.
Hosts are reached through the transport registry (:mod:`hardening.transport`: the same output
cap and known_hosts handling as ``harden audit``), worked on by the fleet runner
(:mod:`hardening.fleet`), and their passwords are blanked in all they sent back
(:func:`hardening.redact.redact_host`).

Example::

    for h in hunt_fleet(targets, HuntOptions(forks=10), suppressions=()):
        print(h.name, h.status, len(h.detections))
    run = run_hunt(targets, HuntOptions(), (), inventory="inv.ini", out_dir=Path("reports/hunt"))
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hardening import __version__
from hardening.facts.sections import FactError, parse_sections
from hardening.fleet import run_fleet_ordered
from hardening.hunt.model import Container, Detection, Snapshot, Tier
from hardening.hunt.score import HuntContext, parse_networks, parse_roles, score
from hardening.hunt.suppress import Suppression, apply_suppressions
from hardening.inventory import Target
from hardening.model import HostStatus, Platform
from hardening.redact import INVENTORY_FIELDS, redact_host
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError

SCHEMA_ID = "harden.hunt/v1"


@dataclass(frozen=True)
class HuntOptions:
    forks: int = 10
    timeout: float = 60.0
    known_hosts: str | None = None
    max_output: int = MAX_OUTPUT  # bytes a host may send (stdout + stderr), ``--max-output``


@dataclass(frozen=True)
class HostHunt:
    """What the hunt found on one host (``status`` ok: the snapshot was read and scored)."""

    name: str
    address: str
    platform: Platform
    status: HostStatus
    message: str = ""
    roles: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()
    suppressed: tuple[Detection, ...] = ()
    warnings: tuple[str, ...] = ()
    processes: int = 0
    sockets: int = 0
    duration_s: float = 0.0
    host_seconds: float | None = None  # the collector's own run time on the host


def context_for(target: Target) -> HuntContext:
    """Role and approved networks from the inventory (``harden_role``, ``harden_approved_networks``).

    Raises ``ValueError`` on an approved network that is not a CIDR.
    """
    v = target.variables
    return HuntContext(
        roles=parse_roles(v.get("harden_role")),
        approved=parse_networks(v.get("harden_approved_networks"), f"host {target.name}: harden_approved_networks"),
    )


def snapshot_host(target: Target, options: HuntOptions) -> tuple[Snapshot, RunResult]:
    """Collect and parse one host's snapshot (raises TransportError / FactError)."""
    if target.connection.is_windows:
        from hardening.hunt.windows import hunt_script, parse_windows_snapshot

        run = run_script(target, hunt_script(), options)
        return parse_windows_snapshot(run.stdout.decode("utf-8", "replace")), run
    from hardening.hunt.linux import new_hunt_collector, parse_snapshot

    collector = new_hunt_collector()
    run = run_script(target, collector.script, options)
    sections = parse_sections(run.stdout, collector.nonce)  # views of the bytes, decoded per section
    return parse_snapshot(sections), run


def hunt_host(target: Target, options: HuntOptions, suppressions: Sequence[Suppression] = ()) -> HostHunt:
    """Hunt one host; never raises for a host problem. What the host sent back (process names, command
    lines, messages) has the host's SSH and become passwords blanked (:func:`hardening.redact.redact_host`)."""
    return redact_host(_hunt_host(target, options, suppressions), target.secrets, INVENTORY_FIELDS)


def _hunt_host(target: Target, options: HuntOptions, suppressions: Sequence[Suppression]) -> HostHunt:
    started = time.monotonic()
    platform = Platform.WINDOWS if target.connection.is_windows else Platform.LINUX
    address = f"{target.host}:{target.port}" if target.port else target.host
    try:
        ctx = context_for(target)
    except ValueError as exc:
        return HostHunt(target.name, address, platform, HostStatus.ERROR, str(exc))

    def failed(status: HostStatus, message: str) -> HostHunt:
        return HostHunt(
            target.name, address, platform, status, message, ctx.roles, duration_s=time.monotonic() - started
        )

    try:
        snapshot, run = snapshot_host(target, options)
    except TransportError as exc:
        return failed(exc.status, exc.message)
    except FactError as exc:
        return failed(HostStatus.ERROR, f"hunt snapshot unusable: {exc}")
    detections = score(snapshot, ctx)
    kept, hidden = apply_suppressions(detections, target.name, suppressions)
    status, message = HostStatus.OK, ""
    if not snapshot.complete:
        status = HostStatus.ERROR
        message = f"collector output incomplete (exit {run.exit_code}): detections may be missing"
    return HostHunt(
        name=target.name,
        address=address,
        platform=platform,
        status=status,
        message=message,
        roles=ctx.roles,
        detections=kept,
        suppressed=hidden,
        warnings=snapshot.warnings,
        processes=len(snapshot.processes),
        sockets=len(snapshot.sockets),
        duration_s=time.monotonic() - started,
        host_seconds=snapshot.host_seconds,
    )


def hunt_fleet(
    targets: Iterable[Target],
    options: HuntOptions,
    suppressions: Sequence[Suppression] = (),
    on_done: Callable[[HostHunt], None] | None = None,
) -> list[HostHunt]:
    """Hunt every host, at most ``options.forks`` at once (:mod:`hardening.fleet`); results in inventory
    order, ``on_done`` called in that order as the hosts finish."""
    return run_fleet_ordered(targets, lambda t: hunt_host(t, options, suppressions), options.forks, on_done, "hunt")


@dataclass(frozen=True)
class HuntRun:
    """A finished ``harden hunt``: every host's result and where hunt.json was written."""

    hosts: tuple[HostHunt, ...]
    path: Path

    @property
    def high(self) -> bool:
        """Some host has an (unsuppressed) high detection."""
        return any(d.severity is Tier.HIGH for h in self.hosts for d in h.detections)

    @property
    def not_reached(self) -> bool:
        """Some host was not hunted fully (status other than ok)."""
        return any(h.status is not HostStatus.OK for h in self.hosts)


def run_hunt(
    targets: Iterable[Target],
    options: HuntOptions,
    suppressions: Sequence[Suppression],
    inventory: str,
    out_dir: Path,
) -> HuntRun:
    """``harden hunt``: hunt every host, write ``out_dir/hunt.json`` (0600)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    hosts = hunt_fleet(targets, options, suppressions)
    path = write_json(out_dir / "hunt.json", hunt_document(hosts, inventory, started))
    return HuntRun(tuple(hosts), path)


def detection_json(d: Detection) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pid": d.pid,
        "process": d.process,
        "remote": d.remote,
        "severity": d.severity.value,
        "reasons": list(d.reasons),
        "ppid": d.ppid,
        "user": d.user,
        "exe": d.exe,
        "cmdline": d.cmdline,
        "parents": list(d.parents),
        "start_time": (
            datetime.fromtimestamp(d.start_time, UTC).isoformat(timespec="seconds") if d.start_time else None
        ),
        "kind": d.extra.get("kind", ""),
        "container": container_json(d.container),
    }
    if d.suppressed_by:
        doc["suppressed_by"] = d.suppressed_by
    return doc


def container_json(c: Container | None) -> dict[str, Any] | None:
    """A detection's ``container`` (null for a host process); ``kubernetes`` null outside a pod."""
    if c is None:
        return None
    k8s = {"pod": c.pod, "namespace": c.namespace, "container": c.k8s_container, "pod_uid": c.pod_uid}
    return {
        "runtime": c.runtime,
        "id": c.id,
        "name": c.name,
        "image": c.image,
        "kubernetes": k8s if c.kubernetes else None,
    }


def hunt_document(hosts: Sequence[HostHunt], inventory: str, started: str) -> dict[str, Any]:
    counts = {t.value: sum(1 for h in hosts for d in h.detections if d.severity is t) for t in Tier}
    return {
        "schema": SCHEMA_ID,
        "harden_version": __version__,
        "inventory": inventory,
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": {
            "hosts": len(hosts),
            "not_reached": sum(1 for h in hosts if h.status is not HostStatus.OK),
            "detections": counts,
            "suppressed": sum(len(h.suppressed) for h in hosts),
        },
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "platform": h.platform.value,
                "status": h.status.value,
                "message": h.message,
                "roles": list(h.roles),
                "processes": h.processes,
                "sockets": h.sockets,
                "duration_s": round(h.duration_s, 3),
                "host_seconds": h.host_seconds,
                "warnings": list(h.warnings),
                "detections": [detection_json(d) for d in h.detections],
                "suppressed": [detection_json(d) for d in h.suppressed],
            }
            for h in hosts
        ],
    }


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` atomically (0600: host data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def load_schema(name: str) -> dict[str, Any]:
    """``hunt.v1.json`` or ``verify.v1.json`` from hardening/schemas."""
    return json.loads(resources.files("hardening.schemas").joinpath(name).read_text(encoding="utf-8"))
