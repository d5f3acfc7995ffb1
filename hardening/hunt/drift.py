"""Drift since a baseline (``harden hunt --baseline DIR``): what a host shows, what is new since the
hunts before, and how that moves a live detection's tier. Pure: the files are
:mod:`hardening.hunt.baseline`; the wiring is :mod:`hardening.hunt.run`.

**Observations.** A :class:`Category` is a pure function from one hunt sample of a host
(:class:`HostView`: the parsed snapshot and, on Linux, the collector's sections) to stable string
keys, each with a human-readable description (and optionally the processes that showed it). The
registry :data:`CATEGORIES` holds them in report order:

==============  ============================================================  ========
category        key                                                           platform
==============  ============================================================  ========
``listen``      ``tcp *:22 /usr/sbin/sshd`` (+ `` @podman:web`` in a          both
                container, by name/image, never by its id)
``pairs``       ``/usr/sbin/cron > /usr/bin/dash`` (parent > child exe)       both
``outbound``    ``/usr/bin/curl -> tcp 198.18.0.1:443``                       both
``users``       ``alice uid=1000 shell=/bin/bash``                            Linux
``ssh_keys``    ``alice ssh-ed25519 SHA256:...`` (+ `` [command,from]``)      Linux
``cron``        ``/etc/cron.d/x: * * * * * root /usr/local/bin/job``          Linux
``modules``     ``nf_tables``                                                 Linux
==============  ============================================================  ========

**Extension point** (how ``persistence`` came in, or any other): write a function
``(HostView) -> Mapping[str, str | Item] | None`` (None: could not be read this time, so nothing
is compared or learned for it; ``{}``: read and empty) and append a :class:`Category` to
:data:`CATEGORIES` (see :func:`observe_persistence`).

A baseline that predates a category learns it silently on its next hunt (reported as a category
started, never as drift). Keys must be stable across hunts and must not carry a pid, a start time,
an ephemeral port, a container id or a secret.

Example::

    >>> obs = Observer()
    >>> obs.add(HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {})), first=True)
    >>> sorted(obs.result().items)
    ['listen', 'outbound', 'pairs']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from hardening.facts.sections import Sections, parse_uint
from hardening.hunt.authkeys import mask_secrets, parse_authorized_key
from hardening.hunt.incident import MAX_REASONS, Incident, Key, key_of
from hardening.hunt.model import Detection, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.persistence import Persistence
from hardening.lines import iter_lines
from hardening.model import Platform

MAX_KEYS = 4096  # keys kept per category and host (a warning says when more were seen)
MAX_TEXT = 300  # characters of a key or a description
RAISE_MIN_HUNTS = 3  # a baseline of fewer hunts raises nothing: it has not seen enough
LOWER_MIN_SEEN = 5  # a pattern seen in at least this many earlier hunts lowers a detection one tier
DEFAULT_EPHEMERAL = (32768, 60999)  # Linux's default ip_local_port_range, when the host's is unknown
WINDOWS_EPHEMERAL = (49152, 65535)  # Windows' default dynamic port range (netsh int ipv4 show dynamicport tcp)
BOTH = frozenset({Platform.LINUX, Platform.WINDOWS})
LINUX = frozenset({Platform.LINUX})


@dataclass(frozen=True)
class HostView:
    """One sample of one host as the categories read it: the parsed snapshot and, on Linux, the
    collector's sections (None on Windows)."""

    platform: Platform
    snapshot: Snapshot
    sections: Sections | None = None
    persistence: Persistence | None = None  # parsed once per hunt, in the first sample


@dataclass(frozen=True)
class Item:
    """An observation's description and the processes (``key_of(pid, start)``) that showed it."""

    description: str
    owners: frozenset[Key] = frozenset()


Observe = Callable[[HostView], Mapping[str, "str | Item"] | None]


@dataclass(frozen=True)
class Category:
    """A kind of observation. ``per_sample``: observed in every sample of a watch (what processes do);
    otherwise in the first sample only (files read once per hunt). ``scoring``: its keys tie a live
    detection (through the processes that showed them) to the baseline: tier adjustment."""

    name: str
    title: str
    observe: Observe
    per_sample: bool = False
    platforms: frozenset[Platform] = LINUX
    scoring: bool = False


# --- what a process is, where it runs ------------------------------------------------------------


def _clip(text: str) -> str:
    text = text.replace("\n", "?").replace("\0", "?")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _key(text: str) -> str:
    """A key, at most :data:`MAX_TEXT` characters: a longer one keeps its start and a digest of the
    whole (two long lines that differ only past the cut stay two keys: an appended payload is new)."""
    text = text.replace("\n", "?").replace("\0", "?")
    if len(text) <= MAX_TEXT:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return text[: MAX_TEXT - 17] + "... #" + digest


def exe_of(proc: Process) -> str:
    """The executable path for a key (`` (deleted)`` dropped: an upgraded binary is the same
    program); ``[comm]`` when the exe is unknown (a kernel thread, or not readable)."""
    exe = proc.exe.removesuffix(" (deleted)")
    return exe or f"[{proc.comm}]"


def own_containers(snapshot: Snapshot) -> frozenset[str]:
    """The container ids the hunt itself runs in (hunting inside a container: that container is
    "the host" of this view, its processes get no qualifier)."""
    return frozenset(p.container.id for pid in snapshot.self_pids if (p := snapshot.processes.get(pid)) and p.container)


def where_of(proc: Process, own_netns: str, own: frozenset[str] = frozenset()) -> str:
    """`` @podman:web`` (a container by name, else image, else ``?``; ``k8s:ns/container`` in a pod:
    pod names carry random suffixes; never the id, which changes when the container is recreated),
    `` @netns`` (another network namespace, no container), "" (the host, or the container the hunt
    itself runs in: ``own``)."""
    c = proc.container
    if c is not None and c.id not in own:
        if c.namespace or c.k8s_container:
            return f" @k8s:{c.namespace or '?'}/{c.k8s_container or c.name or '?'}"
        return f" @{c.runtime}:{c.name or c.image or '?'}"
    if c is None and proc.netns and own_netns and proc.netns != own_netns:
        return " @netns"
    return ""


def _addr(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _ephemeral(snapshot: Snapshot) -> tuple[int, int]:
    if snapshot.ephemeral is not None:
        return snapshot.ephemeral
    return WINDOWS_EPHEMERAL if snapshot.platform is Platform.WINDOWS else DEFAULT_EPHEMERAL


def _listening(snapshot: Snapshot) -> frozenset[tuple[str, str, int]]:
    return frozenset((s.netns, s.local.address, s.local.port) for s in snapshot.sockets.values() if s.listening)


def _inbound(sock: TcpSocket, listening: frozenset[tuple[str, str, int]], eph: tuple[int, int]) -> bool:
    """Accepted rather than connected (as the scorer judges it): its local port is listened on in its
    namespace, or its local port is fixed while the peer's is ephemeral."""
    port, ns = sock.local.port, sock.netns
    if sock.proto == "tcp" and any(
        n == ns and p == port and (a == sock.local.address or a in ("0.0.0.0", "::")) for n, a, p in listening
    ):
        return True
    return not eph[0] <= port <= eph[1] and eph[0] <= sock.remote.port <= eph[1]


def ours(snapshot: Snapshot) -> frozenset[int]:
    """The hunt's own footprint: the collector, its children and its ancestor chain (the SSH session,
    sudo), except init and the daemons on that chain (an ancestor holding a listening socket, such as
    the sshd that accepted the session: it runs whether we hunt or not)."""
    listening = {s.inode for s in snapshot.sockets.values() if s.listening}
    daemons = {p.pid for p in snapshot.processes.values() if any(i in listening for _, i in p.sockets)}
    return frozenset(snapshot.self_pids - daemons - {1})


def _holders(snapshot: Snapshot) -> dict[int, list[Process]]:
    out: dict[int, list[Process]] = {}
    for proc in snapshot.processes.values():
        for _, inode in proc.sockets:
            out.setdefault(inode, []).append(proc)
    return out


# --- the categories ------------------------------------------------------------------------------


def observe_listen(view: HostView) -> dict[str, Item]:
    """Listening TCP sockets, and UDP sockets bound to a port outside the ephemeral range and not
    connected: protocol, address (``*`` for any), port and the executable of each holder."""
    snap = view.snapshot
    eph = _ephemeral(snap)
    holders = _holders(snap)
    mine, own = ours(snap), own_containers(snap)
    ns_where = {p.netns: where_of(p, snap.netns, own) for p in snap.processes.values() if p.netns}
    out: dict[str, Item] = {}
    for sock in snap.sockets.values():
        if sock.proto == "udp":
            if sock.connected or sock.local.port == 0 or eph[0] <= sock.local.port <= eph[1]:
                continue
        elif not sock.listening:
            continue
        addr = "*" if sock.local.unspecified else _addr(sock.local.address)
        procs = [p for p in holders.get(sock.inode, []) if p.pid not in mine]
        if not procs and sock.inode in holders:
            continue  # held by the collector only
        if procs:
            sites = {(exe_of(p), where_of(p, snap.netns, own)) for p in procs}
        else:  # no process we can see holds it (kernel socket, or its holder not readable)
            sites = {("(no process seen)", ns_where.get(sock.netns, "") if sock.netns != snap.netns else "")}
        owners = frozenset(key_of(p.pid, p.start_time) for p in procs)
        for exe, where in sites:
            key = _key(f"{sock.proto} {addr}:{sock.local.port} {exe}{where}")
            out[key] = Item(_clip(f"{exe} listens on {sock.proto} {addr}:{sock.local.port}{where}"), owners)
    return out


def observe_pairs(view: HostView) -> dict[str, Item]:
    """Parent > child by executable, for every process that is not the hunt's own (:func:`ours`) and
    has a readable executable (kernel threads have none)."""
    snap = view.snapshot
    mine, own = ours(snap), own_containers(snap)
    out: dict[str, Item] = {}
    for proc in snap.processes.values():
        if proc.pid in mine or not proc.exe:
            continue
        parent = snap.processes.get(proc.ppid)
        if parent is None:
            continue
        where = where_of(proc, snap.netns, own)
        key = _key(f"{exe_of(parent)} > {exe_of(proc)}{where}")
        old = out.get(key)
        owners = frozenset({key_of(proc.pid, proc.start_time)}) | (old.owners if old else frozenset())
        out[key] = Item(_clip(f"{exe_of(parent)} started {exe_of(proc)}{where}"), owners)
    return out


def observe_outbound(view: HostView) -> dict[str, Item]:
    """Outbound connections (TCP connected, UDP ``connect()``ed) to a non-loopback peer, per
    executable: ``exe -> proto address:port``. The local (ephemeral) port never counts; a remote
    port in the ephemeral range is keyed ``address:ephemeral`` (a peer's dynamic port, e.g. FTP
    passive data, would otherwise make every connection new); accepted connections are inbound."""
    snap = view.snapshot
    eph = _ephemeral(snap)
    listening = _listening(snap)
    mine, own = ours(snap), own_containers(snap)
    out: dict[str, Item] = {}
    for proc in snap.processes.values():
        if proc.pid in mine:
            continue
        for _, inode in proc.sockets:
            sock = snap.sockets.get(inode)
            if sock is None or not sock.connected or sock.remote.loopback or sock.remote.unspecified:
                continue
            if _inbound(sock, listening, eph):
                continue
            rport = "ephemeral" if eph[0] <= sock.remote.port <= eph[1] else str(sock.remote.port)
            where = where_of(proc, snap.netns, own)
            dest = f"{sock.proto} {_addr(sock.remote.address)}:{rport}"
            key = _key(f"{exe_of(proc)} -> {dest}{where}")
            old = out.get(key)
            owners = frozenset({key_of(proc.pid, proc.start_time)}) | (old.owners if old else frozenset())
            out[key] = Item(_clip(f"{exe_of(proc)} connected to {dest}{where}"), owners)
    return out


def _passwd(view: HostView) -> str | None:
    if view.sections is None:
        return None
    sec = view.sections.get("hunt.passwd")
    return sec.text if sec is not None and sec.rc == 0 else None


def observe_users(view: HostView) -> dict[str, str] | None:
    """``/etc/passwd``: name, uid and shell (a new account, a uid changed to 0, a shell given to a
    service account)."""
    text = _passwd(view)
    if text is None:
        return None
    out: dict[str, str] = {}
    for line in iter_lines(text):
        parts = line.split(":")
        if len(parts) < 7 or not parts[0] or (uid := parse_uint(parts[2])) is None:
            continue
        name, home, shell = parts[0], parts[5], parts[6]
        out[_key(f"{name} uid={uid} shell={shell}")] = _clip(f"user {name} (uid {uid}, home {home}, shell {shell})")
    return out


def _records(text: str) -> Iterable[tuple[str, str]]:
    for line in iter_lines(text):
        kind, sep, rest = line.partition("\t")
        if sep:
            yield kind, rest


def _drift_section(view: HostView, name: str) -> str | None:
    if view.sections is None:
        return None
    sec = view.sections.get(name)
    return sec.text if sec is not None and sec.rc == 0 else None


def observe_ssh_keys(view: HostView) -> dict[str, str] | None:
    """Every key of ``~/.ssh/authorized_keys`` and ``authorized_keys2`` of every passwd user, by user
    and fingerprint; options (``command=``, ``from=``, ...) are part of the key by name, their
    values (secrets masked) in the description."""
    text = _drift_section(view, "hunt.drift.keys")
    if text is None:
        return None
    out: dict[str, str] = {}
    user = ""
    for kind, rest in _records(text):
        if kind == "U":
            user = rest
            continue
        if kind != "K" or not user:
            continue
        key = parse_authorized_key(rest)
        if key is None:
            continue
        names = ",".join(sorted({n for n, _ in key.options}))
        values = " ".join(f'{n}="{mask_secrets(v)}"' if v is not None else n for n, v in key.options)
        # the option values (masked) are part of the key through a digest: a from= widened or a
        # command= replaced on a known key is new
        tag = hashlib.sha256(values.encode("utf-8", "surrogateescape")).hexdigest()[:8] if values else ""
        k = _key(f"{user} {key.keytype} {key.fingerprint}" + (f" [{names}]#{tag}" if names else ""))
        desc = f"{user}: {key.keytype} {key.fingerprint} {key.comment}".rstrip()
        out[k] = _clip(desc + (f" options {values}" if values else ""))
    return out


def observe_cron(view: HostView) -> dict[str, str] | None:
    """Each non-comment line of the system crontab, ``/etc/cron.d`` and the user spools, by file
    (whitespace collapsed, secrets masked). A minimal view: issue 21's persistence entries score
    what such lines run; this only says that one is new."""
    text = _drift_section(view, "hunt.drift.cron")
    if text is None:
        return None
    out: dict[str, str] = {}
    path = ""
    for kind, rest in _records(text):
        if kind == "F":
            path = rest
        elif kind == "C" and path:
            line = mask_secrets(" ".join(rest.split()))
            out[_key(f"{path}: {line}")] = _clip(f"cron entry in {path}: {line}")
    return out


def observe_modules(view: HostView) -> dict[str, str] | None:
    """Loaded kernel modules by name (``/proc/modules``; a kernel built without loadable modules has
    no such file: nothing can be loaded, an empty set)."""
    if view.sections is None or (sec := view.sections.get("hunt.drift.modules")) is None:
        return None
    if sec.rc == 127:
        return {}
    text = sec.text if sec.rc == 0 else None
    if text is None:
        return None
    out: dict[str, str] = {}
    for line in iter_lines(text):
        name = line.split(" ", 1)[0]
        if re.fullmatch(r"[\w-]{1,64}", name):
            out[name] = f"kernel module {name}"
    return out


_CRONTAB = re.compile(r"/etc/crontab\Z|/etc/cron\.d/[^/]+\Z|/var/spool/cron/(crontabs/)?[^/]+\Z")


def observe_persistence(view: HostView) -> dict[str, str] | None:
    """Every rated persistence entry (:mod:`hardening.hunt.persistence`: low and above; package-owned
    ordinary files are only counted there), keyed by kind, path and a digest of the lines that rated
    it: a new entry, or a changed one, is new. Not read at all: None. Read in part (a cap hit, an
    odd file name): what was read is compared and learned (nothing is ever learned as gone), so a
    planted odd name cannot switch this category off."""
    p = view.persistence
    if p is None or not p.read:
        return None
    out: dict[str, str] = {}
    for f in p.findings:
        e = f.entry
        if view.platform is Platform.LINUX and _CRONTAB.match(e.path):
            continue  # line by line in ``cron`` (package-owned crontabs too): one new line, one item
        # the evidence lines (at most 3) and every reason (one per rated line, all lines): a payload
        # added to a file that already shows 3 rated lines still changes the key
        rated = "\n".join([t for _, t in e.lines] + list(f.reasons))
        digest = hashlib.sha256(rated.encode("utf-8", "replace")).hexdigest()[:12]
        first = mask_secrets(" ".join(e.lines[0][1].split())) if e.lines else ""
        tier = f.tier.value if f.tier is not None else "info"
        out[_key(f"{e.kind} {e.path} #{digest}")] = _clip(f"{tier} {e.kind} {e.path}" + (f": {first}" if first else ""))
    return out


#: The categories, in report order (see the module for how to add one).
CATEGORIES: tuple[Category, ...] = (
    Category("listen", "listening services", observe_listen, per_sample=True, platforms=BOTH, scoring=True),
    Category("pairs", "process parent > child", observe_pairs, per_sample=True, platforms=BOTH, scoring=True),
    Category("outbound", "outbound destinations", observe_outbound, per_sample=True, platforms=BOTH, scoring=True),
    Category("users", "users", observe_users),
    Category("ssh_keys", "SSH authorized keys", observe_ssh_keys),
    Category("cron", "cron entries", observe_cron),
    Category("persistence", "persistence entries", observe_persistence, platforms=BOTH),
    Category("modules", "kernel modules", observe_modules),
)


def drift_warnings(sections: Sections) -> list[str]:
    """What the drift facts could not see: symlinked files (not read), caps hit."""
    out: list[str] = []
    for name, what in (("hunt.drift.keys", "authorized_keys"), ("hunt.drift.cron", "crontab")):
        sec = sections.get(name)
        if sec is None:
            continue
        links = [rest for kind, rest in _records(sec.text) if kind == "L"]
        if links:
            out.append(f"drift: {len(links)} {what} files are symlinks, not read (e.g. {_clip(links[0])})")
        if any(kind == "cap" for kind, _ in _records(sec.text)):
            out.append(
                f"drift: more {what} files (or passwd users) than the collector reads: some are not in the baseline"
            )
        more = [rest for kind, rest in _records(sec.text) if kind == "more"]
        if more:
            out.append(
                f"drift: {len(more)} {what} files have more lines or bytes than the collector reads: "
                f"their later lines are not compared (e.g. {_clip(more[0])})"
            )
        if len(sec.text.encode("utf-8", "surrogateescape")) >= 4194304 - 1:
            out.append(f"drift: {name} hit the 4 MiB cap: some {what} lines are not in the baseline")
    return out


# --- one host's observations over the samples of a hunt -----------------------------------------


@dataclass(frozen=True)
class Observed:
    """What a hunt saw of one host, per category (only the categories that could be read), and which
    scoring keys each process showed (``key_of(pid, start)`` -> (category, key))."""

    items: Mapping[str, Mapping[str, str]]
    by_process: Mapping[Key, frozenset[tuple[str, str]]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class Observer:
    """Accumulates a host's observations over the samples of a hunt (mutable; :meth:`result` is frozen).

    Per-sample categories are the union over samples; the others are read in the first usable
    sample only. At most :data:`MAX_KEYS` keys per category (a warning says so)."""

    def __init__(self, categories: Sequence[Category] | None = None) -> None:
        self.categories = tuple(CATEGORIES if categories is None else categories)
        self._items: dict[str, dict[str, str]] = {}
        self._owners: dict[tuple[str, str], set[Key]] = {}
        self._dropped: dict[str, int] = {}
        self._once_done = False
        self._warnings: list[str] = []

    def add(self, view: HostView, first: bool) -> None:
        """Fold one sample in; ``first``: it is the first usable sample (the once-per-hunt facts)."""
        once = first and not self._once_done
        for cat in self.categories:
            if view.platform not in cat.platforms or not (cat.per_sample or once):
                continue
            found = cat.observe(view)
            if found is None:
                if once:
                    self._warnings.append(f"drift: {cat.title} could not be read: not compared, not learned")
                continue
            have = self._items.setdefault(cat.name, {})
            for key, value in found.items():
                item = value if isinstance(value, Item) else Item(value)
                if key not in have and len(have) >= MAX_KEYS:
                    self._dropped[cat.name] = self._dropped.get(cat.name, 0) + 1
                    continue
                have.setdefault(key, _clip(item.description))
                if cat.scoring and item.owners:
                    self._owners.setdefault((cat.name, key), set()).update(item.owners)
        if once:
            self._once_done = True
            if view.sections is not None:
                self._warnings += drift_warnings(view.sections)

    def result(self) -> Observed:
        by_process: dict[Key, set[tuple[str, str]]] = {}
        for ck, owners in self._owners.items():
            for owner in owners:
                by_process.setdefault(owner, set()).add(ck)
        warnings = list(self._warnings)
        for name, n in sorted(self._dropped.items()):
            warnings.append(f"drift: {n} more {name} observations than the {MAX_KEYS} kept: not compared")
        return Observed(
            {c: dict(sorted(v.items())) for c, v in self._items.items()},
            {k: frozenset(v) for k, v in by_process.items()},
            tuple(dict.fromkeys(warnings)),
        )


# --- the baseline and the comparison -------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One observation in a baseline: how many hunts saw it, first and last (UTC, ISO 8601)."""

    count: int
    first: str
    last: str
    description: str


@dataclass(frozen=True)
class Baseline:
    """What a host showed over ``hunts`` hunts (a category present and empty: read, nothing seen)."""

    host: str
    hunts: int
    created: str
    updated: str
    categories: Mapping[str, Mapping[str, Entry]]


@dataclass(frozen=True)
class NewItem:
    category: str
    key: str
    description: str


class DriftStatus(StrEnum):
    CREATED = "created"  # no baseline: this hunt started it (nothing reported as drift)
    COMPARED = "compared"  # compared with the baseline
    MISSING = "missing"  # no baseline and --baseline-readonly: nothing compared
    ERROR = "error"  # the baseline is unreadable or the hunt incomplete: nothing compared (never "no drift")


@dataclass(frozen=True)
class Drift:
    """One host's drift: ``new`` observations per category (compared only), ``hunts`` in the baseline
    before this one, whether this hunt was ``learned``, what was ``withheld`` from learning (tied to
    a high incident), the categories ``started`` (first recorded), and the tier adjustments made."""

    status: DriftStatus
    baseline: str
    hunts: int = 0
    since: str = ""
    new: tuple[NewItem, ...] = ()
    learned: bool = False
    withheld: tuple[NewItem, ...] = ()
    started: tuple[str, ...] = ()
    message: str = ""
    adjusted: int = 0  # detections whose tier the baseline moved


def compare(baseline: Baseline, observed: Observed) -> tuple[tuple[NewItem, ...], tuple[str, ...]]:
    """(new observations, categories the baseline has never recorded): a category the baseline lacks
    is started, not drift (a baseline older than the category)."""
    new: list[NewItem] = []
    started: list[str] = []
    for cat, items in observed.items.items():
        known = baseline.categories.get(cat)
        if known is None:
            started.append(cat)
            continue
        new += [NewItem(cat, k, d) for k, d in items.items() if k not in known]
    return tuple(new), tuple(started)


def learn(
    baseline: Baseline | None, host: str, observed: Observed, now: str, skip: frozenset[tuple[str, str]] = frozenset()
) -> Baseline:
    """The baseline after this hunt: every observed key counted once more (new ones first seen now),
    except ``skip`` (not learned: neither added nor counted)."""
    cats: dict[str, dict[str, Entry]] = {c: dict(v) for c, v in (baseline.categories if baseline else {}).items()}
    for cat, items in observed.items.items():
        have = cats.setdefault(cat, {})
        for key, desc in items.items():
            if (cat, key) in skip:
                continue
            old = have.get(key)
            have[key] = Entry(old.count + 1, old.first, now, desc) if old else Entry(1, now, now, desc)
    return Baseline(
        host,
        (baseline.hunts if baseline else 0) + 1,
        baseline.created if baseline else now,
        now,
        {c: dict(sorted(v.items())) for c, v in sorted(cats.items())},
    )


def tied_to(incidents: Iterable[Incident], observed: Observed, tier: Tier = Tier.HIGH) -> frozenset[tuple[str, str]]:
    """The scoring keys shown by the processes of incidents of ``tier`` (detections and their
    children; a recurring incident's spawner is left out: it may be a service's worker)."""
    out: set[tuple[str, str]] = set()
    for inc in incidents:
        if inc.severity is not tier:
            continue
        for m in inc.members:
            if m.role != "spawner":
                out |= observed.by_process.get(key_of(m.pid, m.start_time), frozenset())
    return frozenset(out)


def _day(iso: str) -> str:
    return iso[:10]


def adjust_tier(d: Detection, observed: Observed, baseline: Baseline, lower_after: int = LOWER_MIN_SEEN) -> Detection:
    """A detection moved one tier by what the baseline knows of its pattern (the scoring keys its
    process showed: exe -> destination, parent > child, listener):

    - some key was never seen, in a baseline of at least :data:`RAISE_MIN_HUNTS` hunts: raised one
      tier (low to medium, medium to high; a high keeps its tier), reason ``never seen on this host
      before: KEY``;
    - every key was seen in at least ``lower_after`` earlier hunts: lowered one tier, reason ``seen in
      N earlier hunts since DATE: KEY`` (one step only, so a high never drops below medium; a high's
      pattern reaches the baseline only when someone learned it on purpose, see :func:`tied_to`).
    """
    keys = sorted(observed.by_process.get(key_of(d.pid, d.start_time), frozenset()))
    if not keys:
        return d
    entries = [(c, k, baseline.categories.get(c, {}).get(k)) for c, k in keys]
    unseen = [k for c, k, e in entries if e is None and c in baseline.categories]
    if unseen and baseline.hunts >= RAISE_MIN_HUNTS:
        tier = {Tier.LOW: Tier.MEDIUM, Tier.MEDIUM: Tier.HIGH, Tier.HIGH: Tier.HIGH}[d.severity]
        reason = f"never seen on this host before: {unseen[0]}" + (f" (+{len(unseen) - 1})" if len(unseen) > 1 else "")
        return replace(d, severity=tier, reasons=(reason, *d.reasons))
    seen = [e for _, _, e in entries if e is not None]
    if len(seen) == len(entries) and min(e.count for e in seen) >= lower_after:
        n = min(e.count for e in seen)
        since = max(e.first for e in seen)
        reason = f"seen in {n} earlier hunts since {_day(since)}: {keys[0][1]}"
        return replace(d, severity=d.severity.lower(), reasons=(reason, *d.reasons))
    return d


def adjust(
    detections: Sequence[Detection],
    incidents: Sequence[Incident],
    observed: Observed,
    baseline: Baseline,
    lower_after: int = LOWER_MIN_SEEN,
) -> tuple[tuple[Detection, ...], tuple[Incident, ...], int]:
    """Every detection adjusted (:func:`adjust_tier`), each incident's members and tier following its
    detections (an incident's tier is its highest detection's), the baseline's reasons first; and
    how many detections moved or gained a reason."""
    moved: dict[Key, Detection] = {}
    out: list[Detection] = []
    for d in detections:
        new = adjust_tier(d, observed, baseline, lower_after)
        if new is not d:
            moved[key_of(d.pid, d.start_time)] = new
        out.append(new)
    out.sort(key=lambda d: (-d.severity.rank, d.pid, d.start_time or 0.0))
    incs: list[Incident] = []
    for inc in incidents:
        members, extra = [], []
        for m in inc.members:
            new = moved.get(key_of(m.pid, m.start_time))
            if new is not None and m.severity is not None:
                members.append(replace(m, severity=new.severity))
                extra.append(new.reasons[0])
            else:
                members.append(m)
        if not extra:
            incs.append(inc)
            continue
        tiers = [m.severity for m in members if m.severity is not None]
        severity = max(tiers, key=lambda t: t.rank) if tiers else inc.severity
        reasons = tuple(dict.fromkeys((*extra, *inc.reasons)))[:MAX_REASONS]
        root = next((m for m in members if m.pid == inc.root.pid), inc.root)
        incs.append(replace(inc, members=tuple(members), severity=severity, reasons=reasons, root=root))
    incs.sort(key=lambda i: -i.severity.rank)
    return tuple(out), tuple(incs), len(moved)
