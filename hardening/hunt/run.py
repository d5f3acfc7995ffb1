"""Run the hunt on hosts: one round trip each (one snapshot, or ``--watch`` samples), fold the samples
into detections and incidents (:mod:`hardening.hunt.timeline`); write ``hunt.json``.

A host's failure is data (a :class:`HostHunt` with a non-ok status), never an exception.
Hosts are reached through the transport registry (:mod:`hardening.transport`: the same output
cap and known_hosts handling as ``harden audit``), worked on by the fleet runner
(:mod:`hardening.fleet`), and their passwords are blanked in all they sent back
(:func:`hardening.redact.redact_host`).

Example::

    for h in hunt_fleet(targets, HuntOptions(forks=10), suppressions=()):
        print(h.name, h.status, len(h.detections))
    run = run_hunt(targets, HuntOptions(), (), inventory="inv.ini", out_dir=Path("reports/hunt"))
    watch = HuntOptions(watch=WatchSpec(duration=300, interval=2))  # sample each host for 5 minutes
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from hardening import __version__
from hardening.facts.sections import FactError
from hardening.fleet import run_fleet_ordered
from hardening.hunt import baseline as store
from hardening.hunt.drift import (
    Drift,
    DriftStatus,
    HostView,
    NewItem,
    Observed,
    Observer,
    adjust,
    compare,
    learn,
    tied_to,
)
from hardening.hunt.incident import Incident, Key, Member, Seen, key_of
from hardening.hunt.model import Container, Detection, Snapshot, Tier
from hardening.hunt.persistence import Finding, Persistence
from hardening.hunt.score import HuntContext, parse_networks, parse_roles
from hardening.hunt.suppress import Suppression
from hardening.hunt.timeline import Timeline, Watched, parse_ss
from hardening.hunt.watch import Sample, WatchEnd, WatchSpec, iter_samples, watch_end, watch_script
from hardening.inventory import Target
from hardening.model import HostStatus, Platform
from hardening.redact import INVENTORY_FIELDS, redact_host
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError

SCHEMA_ID = "harden.hunt/v1"


@dataclass(frozen=True)
class BaselineOptions:
    """``--baseline DIR``: compare each host with its baseline file there and (``learn``) count this hunt
    in; ``--baseline-readonly``: compare only; ``--baseline-learn-incidents``: learn also what the
    processes of high incidents showed (withheld otherwise). See :mod:`hardening.hunt.drift`."""

    directory: Path
    learn: bool = True
    learn_incidents: bool = False


@dataclass(frozen=True)
class HuntOptions:
    forks: int = 10
    timeout: float = 60.0
    known_hosts: str | None = None
    max_output: int = MAX_OUTPUT  # bytes a host may send (stdout + stderr), ``--max-output``
    watch: WatchSpec | None = None  # ``--watch``: sample for this long instead of one snapshot
    baseline: BaselineOptions | None = None  # ``--baseline DIR``: drift since earlier hunts

    def connect_options(self) -> HuntOptions:
        """The options the transport gets: a watch adds its duration to ``--timeout``."""
        return replace(self, timeout=self.timeout + self.watch.duration) if self.watch else self


@dataclass(frozen=True)
class WatchInfo:
    """How a host's watch went: samples taken, over which host times, and why it stopped
    (duration, samples: the cap, budget: the output budget, cut: the output ended early)."""

    duration: int
    interval: int
    samples: int
    stopped: str
    first: float | None = None
    last: float | None = None


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
    incidents: tuple[Incident, ...] = ()
    seen: Mapping[Key, Seen] = field(default_factory=dict)  # sightings of each detection (key_of pid, start)
    samples: int = 0
    watch: WatchInfo | None = None
    observed: Observed | None = None  # what the drift categories saw (with --baseline)
    drift: Drift | None = None
    persistence: Persistence | None = None  # what would start a shell again (None: not read)


def context_for(target: Target) -> HuntContext:
    """Role and approved networks from the inventory (``harden_role``, ``harden_approved_networks``).

    Raises ``ValueError`` on an approved network that is not a CIDR.
    """
    v = target.variables
    return HuntContext(
        roles=parse_roles(v.get("harden_role")),
        approved=parse_networks(v.get("harden_approved_networks"), f"host {target.name}: harden_approved_networks"),
    )


def _windows_snapshot(target: Target, options: HuntOptions) -> tuple[Snapshot, RunResult, Persistence]:
    """Collect and parse a Windows host's snapshot and autoruns (raises TransportError / FactError)."""
    from hardening.hunt.windows import hunt_script, parse_windows_persistence, parse_windows_snapshot

    run = run_script(target, hunt_script(), options)
    text = run.stdout.decode("utf-8", "replace")
    return parse_windows_snapshot(text), run, parse_windows_persistence(text)


def sample_time(sample: Sample) -> float | None:
    """The host's Unix time of a sample: boot time (``hunt.btime``) plus the uptime the watch loop
    stamped on the sample, or, for a one-snapshot hunt, the ``hunt.uptime`` read in it."""
    import re

    m = re.search(r"btime (\d{1,19})", sample.sections.text("hunt.btime"))
    if m is None:
        return None
    if sample.uptime_cs is not None:
        return int(m.group(1)) + sample.uptime_cs / 100
    up = re.match(r"\s*(\d{1,12}(?:\.\d{1,9})?)\s", sample.sections.text("hunt.uptime") + " ")
    return int(m.group(1)) + float(up.group(1)) if up else None


def _linux_samples(target: Target, options: HuntOptions) -> tuple[Iterator[Sample], RunResult, WatchEnd | None]:
    """Run the Linux collector (one snapshot, or the watch loop) and split its output into samples."""
    from hardening.hunt.linux import new_hunt_collector

    drift = options.baseline is not None
    collector = new_hunt_collector(drift)
    nonce = collector.nonce
    script = watch_script(nonce, options.watch, drift) if options.watch else collector.script
    run = run_script(target, script, options.connect_options())
    end = watch_end(run.stdout, nonce) if options.watch else None
    return iter_samples(run.stdout, nonce), run, end


def _fold_linux(
    tl: Timeline, samples: Iterator[Sample], watching: bool, observer: Observer | None = None
) -> tuple[bool, str, Persistence | None]:
    """Parse and fold every sample: (every sample complete, why no sample was usable: "" if some was,
    the persistence the first sample read: the collector reads it once per hunt). The drift
    ``observer`` sees every usable sample (the once-per-hunt facts in the first)."""
    from hardening.hunt.linux import parse_snapshot, parse_users
    from hardening.hunt.persistence import parse_persistence

    complete, error = True, ""
    first = True
    persistence: Persistence | None = None
    for sample in samples:
        complete = complete and sample.sections.complete
        if persistence is None:
            persistence = parse_persistence(sample.sections, parse_users(sample.sections.text("hunt.passwd")))
        try:
            snap = parse_snapshot(sample.sections)
        except FactError as exc:
            error = error or str(exc)
            if watching:
                tl.warn(f"watch sample {sample.index} unusable: {exc}")
            continue
        ss = sample.sections.get("hunt.ss")
        traffic = parse_ss(ss.text) if ss is not None and ss.rc == 0 else {}
        tl.add(snap, traffic, sample.index, sample_time(sample))
        if observer is not None:
            observer.add(HostView(Platform.LINUX, snap, sample.sections, persistence if first else None), first)
            first = False
    return complete, error, persistence


def hunt_host(target: Target, options: HuntOptions, suppressions: Sequence[Suppression] = ()) -> HostHunt:
    """Hunt one host; never raises for a host problem. What the host sent back (process names, command
    lines, messages) has the host's SSH and become passwords blanked (:func:`hardening.redact.redact_host`)."""
    host = redact_host(_hunt_host(target, options, suppressions), target.secrets, INVENTORY_FIELDS)
    if options.baseline is None:
        return host
    return apply_baseline(host, options.baseline, datetime.now(UTC).isoformat(timespec="seconds"))


WINDOWS_WATCH = (
    "--watch is not supported on Windows hosts (the PowerShell collector takes one snapshot): "
    "hunt them without --watch (e.g. --limit)"
)


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

    watch = options.watch
    if watch and platform is Platform.WINDOWS:
        return failed(HostStatus.ERROR, WINDOWS_WATCH)
    tl = Timeline(target.name, ctx, suppressions, watch.interval if watch else None)
    observer = Observer() if options.baseline is not None else None
    end: WatchEnd | None = None
    persistence: Persistence | None = None
    try:
        if platform is Platform.WINDOWS:
            snapshot, run, persistence = _windows_snapshot(target, options)
            tl.add(snapshot, {}, 0, None)
            if observer is not None:
                observer.add(HostView(Platform.WINDOWS, snapshot, persistence=persistence), True)
            complete, error = snapshot.complete, ""
        else:
            samples, run, end = _linux_samples(target, options)
            complete, error, persistence = _fold_linux(tl, samples, watch is not None, observer)
    except TransportError as exc:
        return failed(exc.status, exc.message)
    except FactError as exc:
        return failed(HostStatus.ERROR, f"hunt snapshot unusable: {exc}")
    if error and (watch is None or tl.samples == 0):
        return failed(HostStatus.ERROR, f"hunt snapshot unusable: {error}")
    info = _watch_info(tl, watch, end) if watch else None
    result = tl.result()
    status, message = HostStatus.OK, ""
    if not complete:
        status = HostStatus.ERROR
        message = f"collector output incomplete (exit {run.exit_code}): detections may be missing"
    host = _host(target.name, address, platform, status, message, ctx, result, info, time.monotonic() - started)
    if persistence is not None:
        host = replace(host, persistence=persistence, warnings=host.warnings + persistence.warnings)
    return replace(host, observed=observer.result()) if observer is not None else host


def _watch_info(tl: Timeline, watch: WatchSpec, end: WatchEnd | None) -> WatchInfo:
    stopped = end.stopped if end is not None else "cut"
    if stopped == "budget":
        tl.warn(
            f"the watch stopped after {tl.samples} samples: the next would have passed the output budget "
            f"({watch.budget >> 20} MiB, from --max-output); raise --max-output to watch this host longer"
        )
    elif stopped == "samples":
        tl.warn(f"the watch stopped after {tl.samples} samples (the most one watch takes): use a longer --interval")
    elif stopped == "cut":
        tl.warn("the watch output ended before the loop did (connection lost or collector killed)")
    return WatchInfo(watch.duration, watch.interval, tl.samples, stopped)


def _host(
    name: str,
    address: str,
    platform: Platform,
    status: HostStatus,
    message: str,
    ctx: HuntContext,
    w: Watched,
    info: WatchInfo | None,
    duration: float,
) -> HostHunt:
    return HostHunt(
        name=name,
        address=address,
        platform=platform,
        status=status,
        message=message,
        roles=ctx.roles,
        detections=w.detections,
        suppressed=w.suppressed,
        warnings=w.warnings,
        processes=w.processes,
        sockets=w.sockets,
        duration_s=duration,
        incidents=w.incidents,
        seen=w.seen,
        samples=w.samples,
        watch=replace(info, first=w.first, last=w.last) if info else None,
        host_seconds=w.host_seconds,
    )


def _items(observed: Observed, keys: frozenset[tuple[str, str]]) -> tuple[NewItem, ...]:
    return tuple(NewItem(c, k, observed.items[c][k]) for c, k in sorted(keys) if k in observed.items.get(c, {}))


def apply_baseline(h: HostHunt, opts: BaselineOptions, now: str) -> HostHunt:
    """Compare a hunted host with its baseline in ``opts.directory``, adjust its detections' tiers, and
    (``opts.learn``) count this hunt into the baseline; ``now`` is the hunt's time (UTC, ISO 8601).

    Never raises for a baseline problem: an unusable baseline, a name that cannot be a file or a host
    not fully hunted gives drift status ``error`` (with a warning), never "no drift". What the
    processes of high incidents showed is not learned unless ``opts.learn_incidents``."""

    def error(message: str, path: str = "") -> HostHunt:
        drift = Drift(DriftStatus.ERROR, path, message=message)
        return replace(h, drift=drift, warnings=(*h.warnings, f"baseline: {message}"))

    try:
        path = opts.directory / store.file_name(h.name)
    except store.BaselineError as exc:
        return error(str(exc))
    observed = h.observed
    if h.status is not HostStatus.OK or observed is None:
        return error("the host was not fully hunted: nothing compared with the baseline, nothing learned", str(path))
    try:
        base = store.load(opts.directory, h.name)
    except store.BaselineError as exc:
        return error(f"{exc}: drift unknown (fix or remove the file; nothing learned)", str(path))
    warnings = [*h.warnings, *observed.warnings]
    detections, incidents, moved = h.detections, h.incidents, 0
    if base is None:
        if not opts.learn:
            warnings.append(f"baseline: no baseline for this host at {path} (--baseline-readonly): nothing compared")
            drift = Drift(DriftStatus.MISSING, str(path), message="no baseline for this host: nothing compared")
            return replace(h, drift=drift, warnings=tuple(warnings))
        new: tuple[NewItem, ...] = ()
        started: tuple[str, ...] = ()
    else:
        new, started = compare(base, observed)
        detections, incidents, moved = adjust(h.detections, h.incidents, observed, base)
    skip = frozenset() if opts.learn_incidents else tied_to(incidents, observed)
    message, learned = "", False
    if opts.learn:
        try:
            store.save(opts.directory, learn(base, h.name, observed, now, skip))
            learned = True
        except OSError as exc:
            message = f"the baseline could not be updated: {exc}"
            warnings.append(f"baseline: {message}")
    if base is None and learned:
        message = "baseline created: nothing compared (this hunt is its first)"
    status = DriftStatus.COMPARED if base is not None else DriftStatus.CREATED if learned else DriftStatus.ERROR
    drift = Drift(
        status,
        str(path),
        hunts=base.hunts if base else 0,
        since=base.created if base else "",
        new=new,
        learned=learned,
        withheld=_items(observed, skip),
        started=started,
        message=message,
        adjusted=moved,
    )
    return replace(h, drift=drift, detections=detections, incidents=incidents, warnings=tuple(warnings))


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
        """Some host has an (unsuppressed) high detection, or a high persistence entry."""
        return any(d.severity is Tier.HIGH for h in self.hosts for d in h.detections) or any(
            h.persistence is not None and h.persistence.high for h in self.hosts
        )

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


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if t is not None else None


def _seen_json(seen: Seen | None) -> dict[str, Any]:
    seen = seen or Seen()
    return {"first_seen": _iso(seen.first), "last_seen": _iso(seen.last), "samples": seen.count}


def detection_json(d: Detection, seen: Seen | None = None) -> dict[str, Any]:
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
        "start_time": _iso(d.start_time),
        "kind": d.extra.get("kind", ""),
        "container": container_json(d.container),
    }
    if seen is not None:
        doc.update(_seen_json(seen))
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


def member_json(m: Member) -> dict[str, Any]:
    return {
        "pid": m.pid,
        "ppid": m.ppid,
        "process": m.process,
        "role": m.role,
        "severity": m.severity.value if m.severity else None,
        "exe": m.exe,
        "cmdline": m.cmdline,
        "user": m.user,
        "start_time": _iso(m.start_time),
        "start_unix": round(m.start_time, 2) if m.start_time is not None else None,
    }


def incident_json(i: Incident) -> dict[str, Any]:
    """One incident; ``root`` (pid, start_unix) and the host name are what its ``id`` derives from."""
    return {
        "id": i.id,
        "severity": i.severity.value,
        "tree": i.tree,
        "root": member_json(i.root),
        "remotes": list(i.remotes),
        "container": i.container,
        "reasons": list(i.reasons),
        "detections": list(i.detections),
        "processes": [member_json(m) for m in i.members],
        "processes_truncated": i.truncated,
        "occurrences": i.occurrences,
        **_seen_json(i.seen),
    }


def _watch_json(w: WatchInfo) -> dict[str, Any]:
    return {
        "duration_s": w.duration,
        "interval_s": w.interval,
        "samples": w.samples,
        "stopped": w.stopped,
        "first_sample": _iso(w.first),
        "last_sample": _iso(w.last),
    }


def host_json(h: HostHunt) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": h.name,
        "address": h.address,
        "platform": h.platform.value,
        "status": h.status.value,
        "message": h.message,
        "roles": list(h.roles),
        "processes": h.processes,
        "sockets": h.sockets,
        "samples": h.samples,
        "duration_s": round(h.duration_s, 3),
        "host_seconds": h.host_seconds,
        "warnings": list(h.warnings),
        "detections": [detection_json(d, h.seen.get(key_of(d.pid, d.start_time))) for d in h.detections],
        "suppressed": [detection_json(d, h.seen.get(key_of(d.pid, d.start_time))) for d in h.suppressed],
        "incidents": [incident_json(i) for i in h.incidents],
    }
    if h.watch is not None:
        doc["watch"] = _watch_json(h.watch)
    if h.drift is not None:
        doc["drift"] = drift_json(h.drift)
    if h.persistence is not None:
        doc["persistence"] = persistence_json(h.persistence)
    return doc


def _items_json(items: Sequence[NewItem]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for i in items:
        out.setdefault(i.category, []).append({"key": i.key, "description": i.description})
    return out


def drift_json(d: Drift) -> dict[str, Any]:
    """A host's ``drift``: status, baseline file, hunts in it before this one, new items per category."""
    return {
        "status": d.status.value,
        "baseline": d.baseline,
        "hunts": d.hunts,
        "since": d.since or None,
        "learned": d.learned,
        "message": d.message,
        "new_items": len(d.new),
        "new": _items_json(d.new),
        "withheld": _items_json(d.withheld),
        "started": list(d.started),
        "adjusted": d.adjusted,
    }


def finding_json(f: Finding) -> dict[str, Any]:
    """One persistence entry: where it is, whose, when changed, what it runs, why it is rated."""
    e = f.entry
    return {
        "kind": e.kind,
        "path": e.path,
        "severity": f.tier.value if f.tier else "info",
        "reasons": list(f.reasons),
        "owner": e.owner,
        "uid": e.uid,
        "mode": e.mode,
        "mtime": _iso(e.mtime),
        "size": e.size,
        "package_owned": e.packaged,
        "link": e.link,
        "lines": [{"line": n, "text": t} for n, t in e.lines],
    }


def persistence_json(p: Persistence) -> dict[str, Any]:
    """A host's ``persistence``: every entry rated low or above, and counts per kind of all files read
    (package-owned ones included, which are only counted)."""
    return {
        "read": p.read,
        "complete": p.complete,
        "host_seconds": p.seconds,
        "ownership": p.ownership,
        "counts": {k: {"files": c.files, "package_owned": c.packaged, "rated": c.flagged} for k, c in p.counts.items()},
        "warnings": list(p.warnings),
        "entries": [finding_json(f) for f in p.findings],
    }


def hunt_document(hosts: Sequence[HostHunt], inventory: str, started: str) -> dict[str, Any]:
    counts = {t.value: sum(1 for h in hosts for d in h.detections if d.severity is t) for t in Tier}
    incidents = {t.value: sum(1 for h in hosts for i in h.incidents if i.severity is t) for t in Tier}
    persist = {
        t.value: sum(1 for h in hosts if h.persistence for f in h.persistence.findings if f.tier is t) for t in Tier
    }
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
            "incidents": incidents,
            "suppressed": sum(len(h.suppressed) for h in hosts),
            "persistence": persist,
        },
        "hosts": [host_json(h) for h in hosts],
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
