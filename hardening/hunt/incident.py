"""One incident per reverse shell: relay, shell and children grouped, with one tier and a stable id (pure).

Detections are per process; a reverse shell is several processes (``socat`` and the ``bash`` it
runs, ``nc`` and the ``sh -i`` reading its pipe, a webshell's worker and the shells it spawns).
:func:`build_incidents` groups them:

- a detected process joins the nearest detected ancestor (at most :data:`LINK_HOPS` levels up,
  never across a session boundary such as sshd, cron, systemd or a container shim, nor the
  collector's own session);
- detected processes whose stdin/stdout/stderr are the same pipe (``pipe:[inode]``) are joined
  (``sh -i | openssl s_client``, fifo + nc), and so are the pids a detection names in its
  ``extra["peers"]`` (space-separated) when a scorer links processes some other way;
- every undetected descendant of a member (``ls``, ``cat /etc/shadow`` run from the shell) is
  listed as a child (at most :data:`CHILD_DEPTH` levels, :data:`MAX_PROCESSES` processes);
- groups whose roots were spawned by the same process (not init, not a session boundary),
  run the same executable and talk to the same destination are one *recurring* incident under
  that spawner: per-command shells of a webshell, a loop reopening a reverse shell.

The incident's tier is the highest of its detections; its reasons are theirs, strongest first,
each once.

Incident ids (``i-`` and 8 hex digits) are stable: the first 32 bits of
``sha256(host NUL root-pid NUL root-start NUL recurring)``, where host is the inventory name,
root the incident's topmost process (the spawner of a recurring one), root-start its start time
in Unix seconds with two decimals (``-`` when unknown) and recurring ``""``, or
``executable NUL destination`` for a recurring incident. The same process tree hunted again
gets the same id (``harden respond`` will find an incident by it); a reused pid has another
start time, so another id.

Example::

    for inc in build_incidents("web1", detections, snapshot):
        print(inc.id, inc.severity.value, inc.tree, inc.remotes)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hardening.hunt.model import Detection, Process, Snapshot, Tier
from hardening.hunt.score import BOUNDARIES

ID_PREFIX = "i-"
LINK_HOPS = 3  # levels up a detected process looks for a detected ancestor
CHILD_DEPTH = 4  # levels of undetected descendants listed
MAX_PROCESSES = 48  # processes listed per incident
MAX_REASONS = 32  # reasons kept per incident (each detection keeps all of its own)
# Parents that start many unrelated things: never the spawner of a recurring incident.
INIT_LIKE = BOUNDARIES | frozenset(
    {
        "tini", "dumb-init", "catatonit", "docker-init", "s6-svscan", "s6-supervise", "runsv", "runsvdir",
        "supervisord", "podman", "pause", "anacron", "atd", "systemd-run", "xinetd", "inetd", "kthreadd",
    }
)  # fmt: skip

Key = tuple[int, str]  # (pid, start time as in the id): one process, even across a pid reuse


def start_text(start: float | None) -> str:
    """A start time as incident ids and keys write it: Unix seconds, two decimals; ``-`` when unknown.

    >>> start_text(1765000123.456), start_text(None)
    ('1765000123.46', '-')
    """
    return "-" if start is None else f"{start:.2f}"


def key_of(pid: int, start: float | None) -> Key:
    return pid, start_text(start)


def incident_id(host: str, pid: int, start: float | None, recurring: str = "") -> str:
    """The id of the incident rooted at process ``pid`` started at ``start`` on ``host`` (see the module).

    >>> incident_id("web1", 4242, 1765000123.0)
    'i-8a629f93'
    """
    text = "\0".join((host, str(pid), start_text(start), recurring))
    return ID_PREFIX + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]


@dataclass(frozen=True)
class Seen:
    """When a detection or incident was seen: host Unix times of its first and last sample, and which
    samples (0 = the first; a one-snapshot hunt has only sample 0)."""

    first: float | None = None
    last: float | None = None
    samples: frozenset[int] = frozenset()

    @property
    def count(self) -> int:
        return len(self.samples)

    def add(self, index: int, when: float | None) -> Seen:
        return self.merge(Seen(when, when, frozenset({index})))

    def merge(self, other: Seen) -> Seen:
        firsts = [t for t in (self.first, other.first) if t is not None]
        lasts = [t for t in (self.last, other.last) if t is not None]
        return Seen(min(firsts) if firsts else None, max(lasts) if lasts else None, self.samples | other.samples)


@dataclass(frozen=True)
class Member:
    """A process of an incident. ``role``: the detection's kind (shell, interpreter, netcat, service,
    other) for a detected process, ``child`` for an undetected descendant, ``spawner`` for the parent of
    a recurring incident's occurrences. ``severity`` is None for a process that is no detection."""

    pid: int
    ppid: int
    process: str
    role: str
    severity: Tier | None = None
    exe: str = ""
    cmdline: str = ""
    user: str = ""
    start_time: float | None = None

    @property
    def label(self) -> str:
        return f"{self.process}({self.pid})"


@dataclass(frozen=True)
class Incident:
    """One reverse shell (or one recurring pattern) on one host: its processes, tier, evidence."""

    id: str
    host: str
    severity: Tier
    root: Member
    members: tuple[Member, ...]
    remotes: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    container: str = ""
    occurrences: int = 1  # distinct process trees merged (recurring: > 1)
    seen: Seen = field(default_factory=Seen)
    truncated: bool = False  # more processes than MAX_PROCESSES

    @property
    def detections(self) -> tuple[int, ...]:
        """Pids of the incident's detections (members with a severity)."""
        return tuple(m.pid for m in self.members if m.severity is not None)

    @property
    def tree(self) -> str:
        """A short process-tree summary: ``socat(812) > bash(813) +1``, ``sh(700) > 3x bash``."""
        detected = [m for m in self.members if m.severity is not None]
        if self.root.role == "spawner":
            names = dict.fromkeys(m.process for m in detected)
            what = "/".join(list(names)[:2])
            extra = len(self.members) - 1 - len(detected)
            return f"{self.root.label} > {self.occurrences}x {what}" + (f" +{extra}" if extra > 0 else "")
        below = [m for m in detected if m.pid != self.root.pid]
        # the strongest detection under the root, the deepest of those (the shell the relay runs)
        top = max(
            below,
            key=lambda m: (m.severity.rank if m.severity else 0, len(_chain(self.members, self.root, m)), -m.pid),
            default=self.root,
        )
        chain = _chain(self.members, self.root, top)
        shown = [m.label for m in chain] if len(chain) <= 3 else [chain[0].label, "..", chain[-1].label]
        rest = len(self.members) - len(chain)
        return " > ".join(shown) + (f" +{rest}" if rest > 0 else "")


def _chain(members: Sequence[Member], root: Member, top: Member) -> list[Member]:
    """The members from ``root`` down to ``top`` following ppid links (just [root, top] when broken)."""
    by_pid = {m.pid: m for m in members}
    path = [top]
    cur = top
    while cur.pid != root.pid and cur.ppid in by_pid and len(path) < len(members):
        cur = by_pid[cur.ppid]
        path.append(cur)
    if cur.pid != root.pid:
        return [root, top] if top.pid != root.pid else [root]
    return path[::-1]


class _Union:
    def __init__(self, items: Iterable[int]) -> None:
        self.parent = {i: i for i in items}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(" (deleted)")


def _stops(proc: Process, snapshot: Snapshot) -> bool:
    """A process a link or a recurrence never goes through: init, a session boundary, our own session."""
    return proc.pid <= 1 or proc.pid in snapshot.self_pids or _base(proc.comm) in INIT_LIKE


def _member(proc: Process | None, d: Detection | None, role: str) -> Member:
    if proc is None:
        assert d is not None
        return Member(d.pid, d.ppid, d.process, role, d.severity, d.exe, d.cmdline, d.user, d.start_time)
    return Member(
        proc.pid,
        proc.ppid,
        proc.comm,
        role,
        d.severity if d is not None else None,
        proc.exe,
        proc.cmdline[:1024],
        proc.user,
        proc.start_time,
    )


@dataclass(frozen=True)
class _Group:
    root: int
    pids: tuple[int, ...]  # detected pids


def _groups(dets: Mapping[int, Detection], snapshot: Snapshot) -> list[_Group]:
    procs = snapshot.processes
    uf = _Union(dets)
    linked: dict[int, int] = {}
    for pid in dets:
        for anc in snapshot.ancestors(pid, limit=LINK_HOPS):
            if anc.pid in dets:
                linked[pid] = anc.pid
                uf.join(pid, anc.pid)
                break
            if _stops(anc, snapshot):
                break
    pipes: dict[str, int] = {}
    for pid in dets:
        proc = procs.get(pid)
        for target in proc.stdio if proc else ():
            if target.startswith("pipe:["):
                uf.join(pid, pipes.setdefault(target, pid))
        for peer in dets[pid].extra.get("peers", "").split():
            if peer.isdigit() and int(peer) in dets:
                uf.join(pid, int(peer))
    comps: dict[int, list[int]] = {}
    for pid in sorted(dets):
        comps.setdefault(uf.find(pid), []).append(pid)
    out = []
    for pids in comps.values():
        tops = [p for p in pids if p not in linked]

        def order(p: int) -> tuple[float, int]:
            start = procs[p].start_time if p in procs else dets[p].start_time
            return (start if start is not None else float("inf"), p)

        out.append(_Group(min(tops or pids, key=order), tuple(pids)))
    return out


def _descendants(snapshot: Snapshot, roots: Iterable[int], skip: set[int], room: int) -> list[int]:
    """Undetected descendants of ``roots``, breadth first, at most CHILD_DEPTH levels and ``room`` pids."""
    kids = snapshot.children()
    out: list[int] = []
    level = list(roots)
    for _ in range(CHILD_DEPTH):
        nxt = []
        for pid in level:
            for child in kids.get(pid, ()):
                if child in skip or child in snapshot.self_pids:
                    continue
                skip.add(child)
                if len(out) >= room:
                    return out
                out.append(child)
                nxt.append(child)
        level = nxt
    return out


def _exe_key(member: Member) -> str:
    return member.exe.removesuffix(" (deleted)") or member.process


def container_label(d: Detection) -> str:
    """The container a detection runs in, as a short label (``podman:web``), "" on the host."""
    return d.container.label if d.container is not None else ""


def _ordered(ds: Iterable[Detection]) -> list[Detection]:
    return sorted(ds, key=lambda d: (-d.severity.rank, d.pid))


def _remote(dets: Mapping[int, Detection], g: _Group) -> str:
    """The destination of a group: its strongest detection's that has one."""
    return next((d.remote for d in _ordered(dets[p] for p in g.pids) if d.remote), "")


def _recurrences(dets: Mapping[int, Detection], snapshot: Snapshot) -> list[tuple[Process | None, list[_Group]]]:
    """Groups that recur under one spawner, as (spawner, its groups); the rest as (None, [group...]).

    Groups whose roots run the same executable to the same destination recur when their roots have
    an ancestor in common within LINK_HOPS undetected levels (the nearest such one is the spawner:
    ``sh`` looping over ``bash -c 'bash -i >& /dev/tcp/...'`` spawns each shell through a fresh
    ``bash -c``); init, session boundaries and our own session are never spawners.
    """
    procs = snapshot.processes
    buckets: dict[tuple[str, str], list[tuple[_Group, list[int]]]] = {}
    alone: list[_Group] = []
    for g in _groups(dets, snapshot):
        root = procs.get(g.root)
        chain = []
        for anc in snapshot.ancestors(g.root, limit=LINK_HOPS) if root is not None else ():
            if _stops(anc, snapshot) or anc.pid in dets:
                break
            chain.append(anc.pid)
        if root is None or not chain:
            alone.append(g)
            continue
        exe = root.exe.removesuffix(" (deleted)") or root.comm
        buckets.setdefault((exe, _remote(dets, g)), []).append((g, chain))
    out: list[tuple[Process | None, list[_Group]]] = [(None, alone)]
    for members in buckets.values():
        shared: dict[int, int] = {}
        for _, chain in members:
            for pid in chain:
                shared[pid] = shared.get(pid, 0) + 1
        under: dict[int, list[_Group]] = {}
        for g, chain in members:
            spawner = next((pid for pid in chain if shared[pid] > 1), None)
            if spawner is None:
                alone.append(g)
            else:
                under.setdefault(spawner, []).append(g)
        out += [(procs[pid], groups) for pid, groups in under.items()]
    return out


def build_incidents(
    host: str, detections: Iterable[Detection], snapshot: Snapshot, seen: Mapping[Key, Seen] | None = None
) -> tuple[Incident, ...]:
    """The incidents of ``detections`` (already suppressed: pass only those kept) over ``snapshot``'s
    process tree, highest tier first. ``seen`` (by :func:`key_of`) gives each its sightings."""
    dets: dict[int, Detection] = {}
    for d in detections:
        if d.pid not in dets or d.severity.rank > dets[d.pid].severity.rank:
            dets[d.pid] = d
    if not dets:
        return ()
    procs = snapshot.processes
    seen = seen or {}
    incidents: list[Incident] = []
    for spawner, groups in _recurrences(dets, snapshot):
        if spawner is None:
            incidents += [_incident(host, [g], None, dets, snapshot, seen) for g in groups]
        else:
            root = procs[groups[0].root]
            remote = _remote(dets, groups[0])
            exe = root.exe.removesuffix(" (deleted)") or root.comm
            incidents.append(_incident(host, groups, spawner, dets, snapshot, seen, f"{exe}\0{remote}"))
    first = {i.id: i.seen.first for i in incidents}
    return tuple(
        sorted(incidents, key=lambda i: (-i.severity.rank, first[i.id] if first[i.id] is not None else 0.0, i.id))
    )


def _incident(
    host: str,
    groups: Sequence[_Group],
    spawner: Process | None,
    dets: Mapping[int, Detection],
    snapshot: Snapshot,
    seen: Mapping[Key, Seen],
    recurring: str = "",
) -> Incident:
    procs = snapshot.processes
    detected = [p for g in groups for p in g.pids]
    ordered = _ordered(dets[p] for p in detected)
    members: list[Member] = [_member(spawner, None, "spawner")] if spawner is not None else []
    # each group: the processes between the spawner and its root, the root, the other detected processes;
    # then the undetected descendants of them all
    for g in groups:
        if spawner is not None:
            between = []
            for anc in snapshot.ancestors(g.root, limit=LINK_HOPS):
                if anc.pid == spawner.pid:
                    break
                between.append(anc)
            members += [_member(a, None, "child") for a in reversed(between)]
        for pid in sorted(g.pids, key=lambda p: (p != g.root, p)):
            d = dets[pid]
            members.append(_member(procs.get(pid), d, d.extra.get("kind", "other")))
    skip = set(dets) | {m.pid for m in members}
    room = max(0, MAX_PROCESSES - len(members))
    kids = _descendants(snapshot, detected, skip, room + 1)
    truncated = len(kids) > room or len(members) > MAX_PROCESSES
    members += [_member(procs[p], None, "child") for p in kids[:room]]
    reasons = list(dict.fromkeys(r for d in ordered for r in d.reasons))
    if len(reasons) > MAX_REASONS:
        more = len(reasons) - MAX_REASONS + 1
        reasons = [*reasons[: MAX_REASONS - 1], f"... {more} more reasons (see this incident's detections)"]
    sightings = Seen()
    for d in ordered:
        sightings = sightings.merge(seen.get(key_of(d.pid, d.start_time), Seen()))
    top = members[0]  # the spawner, or the first group's root
    return Incident(
        id=incident_id(host, top.pid, top.start_time, recurring),
        host=host,
        severity=ordered[0].severity,
        root=top,
        members=tuple(members[:MAX_PROCESSES]),
        remotes=tuple(dict.fromkeys(d.remote for d in ordered if d.remote)),
        reasons=tuple(reasons),
        container=next((c for d in ordered if (c := container_label(d))), ""),
        occurrences=len(groups),
        seen=sightings,
        truncated=truncated,
    )
