"""Fold a host's samples into one hunt result: detections with sightings, watch-only patterns, incidents (pure).

A one-snapshot hunt is a timeline of one sample; ``--watch`` adds one sample per interval.
Per sample the snapshot is scored (:func:`hardening.hunt.score.score`) and suppressed; the
same process (pid and start time) seen again is one detection: its highest tier, every reason
it had, and when it was seen (:class:`~hardening.hunt.incident.Seen`: first and last sample
time, and which samples). Only the processes that matter are kept between samples (detected
ones, their ancestors and children, the owners of outbound connections), so memory follows the
findings, not the length of the watch.

Across samples the timeline also sees what no single snapshot can:

- **beacons**: at least :data:`BEACON_MIN` short TCP connections (each seen open for at most half
  the period) from one executable (same command line) to one destination, opened at a regular
  interval (every gap within ``max(sampling interval + 1 s, 25 %)`` of the period or of a multiple
  of it: a missed beat);
- **long-lived low-volume sessions**: an outbound connection open for at least
  :data:`LONG_LIVED_S` seconds and 3 samples that moved at most :data:`LOW_RATE` bytes/s while
  watched (bytes from ``ss -tie``, section ``hunt.ss``; without ss the bytes are unknown and
  only processes already detected get the "long-lived" evidence).

Tiers of these patterns (a detection that already exists keeps its tier and gains the reason):
shell, netcat-like or interpreter running inline code: medium; any other executable: low;
raised to medium by an ugly detail (destination port 4444/1337/..., executable in /tmp,
/var/tmp, /dev/shm or deleted, destination outside ``harden_approved_networks``); a destination
inside the approved networks is no finding at all; on a workstation-role host a plain low
pattern is not reported. Never high: periodic and idle connections are also what agents do.

Example::

    tl = Timeline("web1", HuntContext(), suppressions=(), interval=2)
    for index, (snapshot, traffic, when) in enumerate(samples):
        tl.add(snapshot, traffic, index, when)
    result = tl.result()
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from hardening.hunt.incident import Incident, Key, Seen, build_incidents, key_of
from hardening.hunt.model import Detection, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.score import _UGLY_DIRS, SUSPICIOUS_PORTS, HuntContext, kind, score
from hardening.hunt.suppress import Suppression, apply_suppressions
from hardening.lines import iter_lines
from hardening.model import Platform

BEACON_MIN = 3  # connections that make a beacon
LONG_LIVED_S = 30.0  # seconds a connection must stay open (while watched) to be long-lived
LOW_RATE = 512.0  # bytes per second (in + out) under which a long-lived connection is low-volume
MAX_CONNECTIONS = 50_000  # outbound connections tracked per host
MAX_PROCESSES = 20_000  # processes kept per host between samples
MAX_WARNINGS = 20
MAX_REASONS = 32  # per detection, after merging samples
ANCESTORS = 8

_DIGITS = re.compile(r"\d+")
_SS_INODE = re.compile(r"\bino:(\d{1,20})\b")
_SS_FIELD = re.compile(r"\b(bytes_received|bytes_acked|bytes_sent):(\d{1,20})\b")


@dataclass(frozen=True)
class Traffic:
    """Bytes a TCP socket moved since it opened (``ss -tie``: bytes_received; bytes_acked, else bytes_sent)."""

    bytes_in: int
    bytes_out: int

    @property
    def total(self) -> int:
        return self.bytes_in + self.bytes_out


def parse_ss(text: str) -> dict[int, Traffic]:
    """Traffic by socket inode from ``ss -tine`` output: a socket line (``ino:N``) and its indented
    tcp_info line(s). Sockets without byte counters (an old ss or kernel) are left out.

    >>> parse_ss("0 0 10.0.0.5:51000 203.0.113.9:4444 ino:77 sk:1 <->\\n\\t cubic bytes_acked:12 bytes_received:40\\n")
    {77: Traffic(bytes_in=40, bytes_out=12)}
    """
    out: dict[int, Traffic] = {}
    records: list[list[str]] = []
    for line in iter_lines(text):
        if line[:1] in (" ", "\t") and records:
            records[-1].append(line)
        elif line.strip():
            records.append([line])
    for rec in records:
        joined = " ".join(rec)
        m = _SS_INODE.search(joined)
        if not m or int(m.group(1)) == 0:
            continue
        fields = dict(_SS_FIELD.findall(joined))
        out_bytes = fields.get("bytes_acked", fields.get("bytes_sent"))
        if "bytes_received" in fields or out_bytes is not None:
            out[int(m.group(1))] = Traffic(int(fields.get("bytes_received", 0)), int(out_bytes or 0))
    return out


@dataclass
class _Conn:
    """One outbound TCP connection followed across samples (mutable: the timeline's own bookkeeping)."""

    inode: int
    remote: str
    address: str
    port: int
    owner: Key
    group: tuple[str, str, str]  # (executable, command line, destination): the beacon key
    seen: Seen
    first_traffic: Traffic | None
    last_traffic: Traffic | None

    @property
    def held(self) -> float:
        if self.seen.first is None or self.seen.last is None:
            return 0.0
        return self.seen.last - self.seen.first


@dataclass(frozen=True)
class Watched:
    """A host's hunt after every sample: what ``harden hunt`` reports for it."""

    detections: tuple[Detection, ...]
    suppressed: tuple[Detection, ...]
    incidents: tuple[Incident, ...]
    seen: Mapping[Key, Seen]
    warnings: tuple[str, ...]
    samples: int
    processes: int
    sockets: int
    first: float | None = None
    last: float | None = None
    traffic_known: bool = False
    host_seconds: float | None = None  # the collector's run time on the host, summed over the samples


def _exe(proc: Process) -> str:
    return proc.exe.removesuffix(" (deleted)") or proc.comm


def _inbound(sock: TcpSocket, listening: frozenset[tuple[str, int]]) -> bool:
    port = sock.local.port
    return any(p == port and (a == sock.local.address or a in ("0.0.0.0", "::")) for a, p in listening)


def _merge(old: Detection, new: Detection) -> Detection:
    """One detection of the same process seen twice: the higher tier's fields, every reason once."""
    hi, lo = (new, old) if new.severity.rank > old.severity.rank else (old, new)
    reasons = tuple(dict.fromkeys(hi.reasons + lo.reasons))[:MAX_REASONS]
    return replace(hi, reasons=reasons, remote=hi.remote or lo.remote)


class Timeline:
    """The fold of one host's samples (see the module). ``interval``: seconds between samples (None for
    a single snapshot); ``host`` is the inventory name (incident ids, suppressions). Mutable while
    samples come in; :meth:`result` is the frozen outcome."""

    def __init__(
        self,
        host: str,
        ctx: HuntContext | None = None,
        suppressions: Sequence[Suppression] = (),
        interval: float | None = None,
    ) -> None:
        self.host = host
        self.ctx = ctx or HuntContext()
        self.suppressions = tuple(suppressions)
        self.interval = interval
        self._kept: dict[Key, Detection] = {}
        self._hidden: dict[Key, Detection] = {}
        self._seen: dict[Key, Seen] = {}
        self._procs: dict[int, Process] = {}
        self._conns: dict[int, _Conn] = {}
        self._self: set[int] = set()
        self._warnings: dict[str, tuple[str, int]] = {}  # by shape (digits blanked): (first text, samples)
        self._samples = self._processes = self._sockets = 0
        self._first: float | None = None
        self._last: float | None = None
        self._platform = Platform.LINUX
        self._hostname = ""
        self._traffic = False
        self._dropped_conns = self._dropped_procs = 0
        self._host_seconds: float | None = None

    @property
    def samples(self) -> int:
        """Samples folded in so far."""
        return self._samples

    def warn(self, message: str) -> None:
        """Note a warning once: the same warning with other numbers in a later sample counts as the same."""
        shape = _DIGITS.sub("#", message)
        text, count = self._warnings.get(shape, (message, 0))
        self._warnings[shape] = (text, count + 1)

    def add(self, snapshot: Snapshot, traffic: Mapping[int, Traffic], index: int, when: float | None) -> None:
        """Fold one sample in (``when``: the host's Unix time of the sample, None when unknown)."""
        self._samples += 1
        self._processes = max(self._processes, len(snapshot.processes))
        self._sockets = max(self._sockets, len(snapshot.sockets))
        if when is not None:
            self._first = when if self._first is None else min(self._first, when)
            self._last = when if self._last is None else max(self._last, when)
        self._platform, self._hostname = snapshot.platform, snapshot.hostname or self._hostname
        self._traffic = self._traffic or bool(traffic)
        self._self |= snapshot.self_pids
        if snapshot.host_seconds is not None:
            self._host_seconds = (self._host_seconds or 0.0) + snapshot.host_seconds
        for w in snapshot.warnings:
            self.warn(w)
        found = score(snapshot, self.ctx)
        kept, hidden = apply_suppressions(found, self.host, self.suppressions)
        for store, dets in ((self._kept, kept), (self._hidden, hidden)):
            for d in dets:
                k = key_of(d.pid, d.start_time)
                store[k] = _merge(store[k], d) if k in store else d
                self._seen[k] = self._seen.get(k, Seen()).add(index, when)
        owners = self._follow(snapshot, traffic, index, when)
        self._keep(snapshot, {d.pid for d in found}, owners)

    def _follow(self, snapshot: Snapshot, traffic: Mapping[int, Traffic], index: int, when: float | None) -> set[int]:
        """Track every outbound non-loopback TCP connection; the pids holding one."""
        listening = frozenset((s.local.address, s.local.port) for s in snapshot.sockets.values() if s.listening)
        owners: set[int] = set()
        for pid, proc in snapshot.processes.items():
            if pid in snapshot.self_pids:
                continue
            for _, inode in proc.sockets:
                sock = snapshot.sockets.get(inode)
                if sock is None or not sock.connected or sock.remote.loopback or sock.remote.unspecified:
                    continue
                if _inbound(sock, listening):
                    continue
                owners.add(pid)
                conn = self._conns.get(inode)
                if conn is None:
                    if len(self._conns) >= MAX_CONNECTIONS:
                        self._dropped_conns += 1
                        continue
                    remote = str(sock.remote)
                    conn = _Conn(
                        inode,
                        remote,
                        sock.remote.address,
                        sock.remote.port,
                        key_of(pid, proc.start_time),
                        (_exe(proc), proc.cmdline[:256], remote),
                        Seen(),
                        traffic.get(inode),
                        None,
                    )
                    self._conns[inode] = conn
                if index not in conn.seen.samples:
                    conn.seen = conn.seen.add(index, when)
                    conn.last_traffic = traffic.get(inode, conn.last_traffic)
                    conn.first_traffic = conn.first_traffic or conn.last_traffic
        return owners

    def _keep(self, snapshot: Snapshot, detected: set[int], owners: set[int]) -> None:
        """Keep the processes incidents and patterns need: detected ones and connection owners, their
        ancestors, and the descendants of detected ones."""
        wanted: set[int] = set()
        for pid in detected | owners:
            wanted.add(pid)
            wanted.update(a.pid for a in snapshot.ancestors(pid, limit=ANCESTORS))
        kids = snapshot.children()
        level = list(detected)
        for _ in range(4):
            level = [c for p in level for c in kids.get(p, ()) if c not in wanted][:256]
            wanted.update(level)
        for pid in wanted:
            proc = snapshot.processes.get(pid)
            if proc is None:
                continue
            old = self._procs.get(pid)
            if old is not None and old.start_time != proc.start_time:
                old_key = key_of(pid, old.start_time)
                if (old_key in self._kept or old_key in self._hidden) and pid not in detected:
                    continue  # a reused pid: keep the detected process's entry
            elif old is None and len(self._procs) >= MAX_PROCESSES:
                self._dropped_procs += 1
                continue
            self._procs[pid] = proc

    # --- after the last sample -----------------------------------------------------------------

    def _ugly(self, proc: Process, address: str, port: int) -> list[str]:
        out = []
        if port in SUSPICIOUS_PORTS:
            out.append(f"destination port {port} is a common reverse-shell port")
        exe = proc.exe.removesuffix(" (deleted)")
        if proc.exe.endswith(" (deleted)"):
            out.append(f"its executable {exe} was deleted after start")
        elif exe.startswith(_UGLY_DIRS):
            out.append(f"its executable runs from {exe}")
        if self.ctx.approved and self.ctx.approved_for(address) is None:
            out.append(f"destination {address} is outside the approved networks")
        return out

    def _pattern(self, owner: Key, address: str, port: int, remote: str, what: str, seen: Seen) -> Detection | None:
        """A detection for a watch-only pattern held by ``owner`` (None when its tier rules say nothing)."""
        proc = self._procs.get(owner[0])
        if proc is None or key_of(proc.pid, proc.start_time) != owner or self.ctx.approved_for(address) is not None:
            return None
        k = kind(proc)
        inline = k == "interpreter" and any(a in ("-c", "-e", "-r", "-E") for a in proc.argv[1:2])
        ugly = self._ugly(proc, address, port)
        tier = Tier.MEDIUM if k in ("shell", "netcat") or inline or ugly else Tier.LOW
        if tier is Tier.LOW and self.ctx.workstation:
            return None
        ancestors = Snapshot(self._platform, self._procs, {}).ancestors(proc.pid, limit=6)
        self._seen[owner] = self._seen.get(owner, Seen()).merge(seen)
        return Detection(
            pid=proc.pid,
            process=proc.comm,
            severity=tier,
            reasons=(what, *ugly),
            remote=remote,
            ppid=proc.ppid,
            user=proc.user,
            exe=proc.exe,
            cmdline=proc.cmdline,
            parents=tuple(f"{a.comm}({a.pid})" for a in ancestors),
            start_time=proc.start_time,
            extra={"kind": k},
            container=proc.container,
        )

    def _beacons(self) -> list[tuple[Key, str, _Conn, Seen]]:
        """(owner, reason, a connection, sightings) for each beacon: see the module for the rule."""
        groups: dict[tuple[str, str, str], list[_Conn]] = {}
        for c in self._conns.values():
            if c.seen.first is not None:
                groups.setdefault(c.group, []).append(c)
        out = []
        step = self.interval or 0.0
        for (exe, _, remote), conns in groups.items():
            if len(conns) < BEACON_MIN:
                continue
            conns.sort(key=lambda c: c.seen.first or 0.0)
            starts = [c.seen.first or 0.0 for c in conns]
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            if min(gaps) <= 0:
                continue
            period = statistics.median(gaps)
            slack = max(step + 1.0, 0.25 * period)
            regular = all(abs(g - max(1, round(g / period)) * period) <= slack for g in gaps)
            short = all(c.held <= period / 2 for c in conns)
            if not (regular and short and period >= step):
                continue
            seen = Seen()
            for c in conns:
                seen = seen.merge(c.seen)
            reason = (
                f"beacon: {len(conns)} short connections from {exe} to {remote}, one every ~{period:.0f} s "
                f"(sampled every {step:g} s)"
            )
            owners = list(dict.fromkeys(c.owner for c in conns))[-16:]
            out += [(o, reason, conns[-1], seen) for o in owners]
        return out

    def _long_lived(self) -> list[tuple[Key, str, _Conn, bool]]:
        """(owner, reason, connection, low-volume known) for each long-lived connection."""
        out = []
        for c in self._conns.values():
            if c.held < LONG_LIVED_S or c.seen.count < 3:
                continue
            a, b = c.first_traffic, c.last_traffic
            if a is None or b is None:
                out.append((c.owner, f"its connection to {c.remote} stayed open {c.held:.0f} s while watched "
                            "(bytes unknown: no ss on the host)", c, False))  # fmt: skip
                continue
            moved_in, moved_out = max(0, b.bytes_in - a.bytes_in), max(0, b.bytes_out - a.bytes_out)
            rate = (moved_in + moved_out) / c.held
            if rate > LOW_RATE:
                continue
            out.append(
                (
                    c.owner,
                    f"long-lived low-volume session: its connection to {c.remote} stayed open {c.held:.0f} s while "
                    f"watched and moved {moved_in} B in, {moved_out} B out ({rate:.0f} B/s: a session, not a transfer)",
                    c,
                    True,
                )
            )
        return out

    def _patterns(self) -> list[Detection]:
        """Watch-only evidence: reasons added to existing detections, new detections for the rest."""
        new: dict[Key, Detection] = {}
        found = [(o, r, c, s, True) for o, r, c, s in self._beacons()]
        found += [(o, r, c, c.seen, low) for o, r, c, low in self._long_lived()]
        for owner, reason, conn, seen, may_create in found:
            for store in (self._kept, self._hidden):
                if owner in store:
                    d = store[owner]
                    store[owner] = replace(d, reasons=tuple(dict.fromkeys((*d.reasons, reason)))[:MAX_REASONS])
                    break
            else:
                if owner in new:
                    d = new[owner]
                    new[owner] = replace(d, reasons=tuple(dict.fromkeys((*d.reasons, reason))))
                elif may_create:
                    det = self._pattern(owner, conn.address, conn.port, conn.remote, reason, seen)
                    if det is not None:
                        new[owner] = det
        return list(new.values())

    def result(self) -> Watched:
        """Everything the samples showed: detections (highest tier first), incidents, warnings."""
        extra = self._patterns()
        kept, hidden = apply_suppressions(extra, self.host, self.suppressions)
        for store, dets in ((self._kept, kept), (self._hidden, hidden)):
            for d in dets:
                store[key_of(d.pid, d.start_time)] = d
        for k in list(self._hidden):
            if k in self._kept:  # kept in one sample (a higher tier than the rule allows): kept
                del self._hidden[k]
        if self._dropped_conns:
            self.warn(f"{self._dropped_conns} outbound connections not followed (over {MAX_CONNECTIONS} per host)")
        if self._dropped_procs:
            self.warn(f"{self._dropped_procs} processes not kept between samples (over {MAX_PROCESSES} per host)")
        order = sorted(self._kept.values(), key=lambda d: (-d.severity.rank, d.pid, d.start_time or 0.0))
        universe = Snapshot(self._platform, self._procs, {}, frozenset(self._self), self._hostname)
        incidents = build_incidents(self.host, order, universe, self._seen)
        warnings = [
            text + (f" (in {count} of {self._samples} samples)" if self._samples > 1 and count > 1 else "")
            for text, count in self._warnings.values()
        ]
        if len(warnings) > MAX_WARNINGS:
            warnings = [*warnings[: MAX_WARNINGS - 1], f"... and {len(warnings) - MAX_WARNINGS + 1} more warnings"]
        return Watched(
            detections=tuple(order),
            suppressed=tuple(sorted(self._hidden.values(), key=lambda d: (-d.severity.rank, d.pid))),
            incidents=incidents,
            seen=dict(self._seen),
            warnings=tuple(warnings),
            samples=self._samples,
            processes=self._processes,
            sockets=self._sockets,
            first=self._first,
            last=self._last,
            traffic_known=self._traffic,
            host_seconds=round(self._host_seconds, 2) if self._host_seconds is not None else None,
        )


def fold(
    host: str,
    samples: Iterable[tuple[Snapshot, Mapping[int, Traffic], int, float | None]],
    ctx: HuntContext | None = None,
    suppressions: Sequence[Suppression] = (),
    interval: float | None = None,
) -> Watched:
    """:class:`Timeline` over ``(snapshot, traffic, index, when)`` samples, in one call."""
    tl = Timeline(host, ctx, suppressions, interval)
    for snapshot, traffic, index, when in samples:
        tl.add(snapshot, traffic, index, when)
    return tl.result()
