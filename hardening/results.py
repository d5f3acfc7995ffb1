"""results.json (schema ``harden.results/v1``): writing, streaming, exit codes.

Each host's result is appended to ``hosts.jsonl`` the moment it finishes, so an
interrupted run keeps what it had; ``results.json`` is written at the end (atomically),
also when the run is interrupted (then ``complete`` is false). ``harden audit --resume DIR``
reads ``hosts.jsonl`` back (:func:`read_streamed`) and audits only the hosts missing.

Example::

    with ResultsWriter(out_dir, inventory="inv.ini") as w:
        for r in audit_fleet(...):
            w.add(r)
    exit_code(w.hosts, fail_on=Severity.HIGH)
"""

from __future__ import annotations

import json
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from hardening import __version__, hostjson
from hardening.model import CheckResult, Evidence, HostResult, HostStatus, PackedFacts, Severity, Status

SCHEMA_ID = "harden.results/v1"

EXIT_CLEAN = 0
EXIT_FAILING = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


def results_schema() -> dict[str, Any]:
    text = resources.files("hardening.schemas").joinpath("results.v1.json").read_text(encoding="utf-8")
    return json.loads(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def summary(hosts: Iterable[HostResult]) -> dict[str, Any]:
    hosts = list(hosts)
    return {
        "hosts": len(hosts),
        "host_status": dict(Counter(h.status.value for h in hosts)),
        "check_status": dict(Counter(c.status.value for h in hosts for c in h.checks)),
    }


def exit_code(hosts: Iterable[HostResult], fail_on: Severity) -> int:
    """3 if a host was not fully audited, else 1 if a check failed at/above ``fail_on``, else 0."""
    hosts = list(hosts)
    if any(h.status is not HostStatus.OK for h in hosts):
        return EXIT_INCOMPLETE
    if any(c.status is Status.FAIL and c.severity.rank >= fail_on.rank for h in hosts for c in h.checks):
        return EXIT_FAILING
    return EXIT_CLEAN


def document(
    hosts: Iterable[HostResult], inventory: str, limit: str | None, started_at: str, complete: bool
) -> dict[str, Any]:
    hosts = list(hosts)
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "harden", "version": __version__},
        "started_at": started_at,
        "finished_at": _now(),
        "inventory": inventory,
        "limit": limit,
        "complete": complete,
        "summary": summary(hosts),
        "hosts": [h.to_json() for h in hosts],
    }


class Spill:
    """An anonymous temporary file holding evidence for the reports after a run (see
    :class:`SpilledEvidence`): a 10,000-host fleet's evidence (≈ 45 KB a host) stays on disk,
    not in memory. Deleted when the last evidence that refers to it is gone."""

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the evidence in it
        self._end = 0

    def add(self, facts: Any, excerpt: str) -> SpilledEvidence:
        """Store the facts as compact JSON text (what :class:`PackedFacts` holds) and the excerpt."""
        return SpilledEvidence(self.add_host(((facts, excerpt),)), 0)

    def add_host(self, evidence: Iterable[tuple[Any, str]]) -> SpilledHost:
        """Store one host's evidence, each ``(facts, excerpt)`` as :meth:`add` does; where each is
        goes in one array for the host (``SpilledEvidence(host, i)`` is the i-th)."""
        where = array("q")
        chunks = []
        for facts, excerpt in evidence:
            text = json.dumps(facts, ensure_ascii=False, separators=(",", ":")).encode("utf-8") if facts else b""
            raw = excerpt.encode("utf-8", "surrogatepass")
            where.extend((self._end, len(text), len(raw)))
            self._end += len(text) + len(raw)
            chunks += (text, raw)
        self._file.write(b"".join(chunks))
        self._file.flush()
        return SpilledHost(self, where)

    def read(self, at: int, length: int) -> str:
        return os.pread(self._file.fileno(), length, at).decode("utf-8", "surrogatepass")


class SpilledHost:
    """Where one host's evidence is in a :class:`Spill`: (offset, facts length, excerpt length) per check."""

    __slots__ = ("spill", "where")

    def __init__(self, spill: Spill, where: array[int]) -> None:
        self.spill = spill
        self.where = where


class SpilledEvidence(Evidence):
    """:class:`Evidence` read from a :class:`Spill` on each access (facts as
    :class:`PackedFacts`, never decoded here); equal to any Evidence with the same facts and excerpt.
    Holds only its host's :class:`SpilledHost` and its index there (a fleet has hundreds of thousands)."""

    __slots__ = ("_host", "_index")

    def __init__(self, host: SpilledHost, index: int) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_index", index)

    def _place(self) -> tuple[int, int, int]:
        where, i = self._host.where, 3 * self._index
        return where[i], where[i + 1], where[i + 2]

    @property  # type: ignore[override]
    def facts(self) -> Mapping[str, Any]:
        at, facts_len, _ = self._place()
        return PackedFacts.of_text(self._host.spill.read(at, facts_len)) if facts_len else {}

    @property  # type: ignore[override]
    def excerpt(self) -> str:
        at, facts_len, excerpt_len = self._place()
        return self._host.spill.read(at + facts_len, excerpt_len) if excerpt_len else ""

    def packed(self) -> Evidence:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evidence):
            return NotImplemented
        return other.facts_dict() == self.facts_dict() and other.excerpt == self.excerpt

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        at, facts_len, excerpt_len = self._place()
        return f"SpilledEvidence(at {at}, {facts_len} + {excerpt_len} bytes)"


def slim(host: HostResult) -> HostResult:
    """``host`` without its checks' evidence (the bulk of a result); what a writer keeps in memory."""
    if all(not c.evidence.facts and not c.evidence.excerpt for c in host.checks):
        return host
    return replace(host, checks=tuple(replace(c, evidence=Evidence()) for c in host.checks))


_NO_EVIDENCE = Evidence()


class SlimResults:
    """Slim copies of host results (no evidence) that share what hosts have in common.

    A fleet's hosts mostly get the same verdicts: the same check, status and message (and the
    same remedy) on thousands of hosts. Each distinct slim check result is kept once and every
    host's tuple of checks points to it, so a 10,000-host run holds a few thousand check
    results, not 10,000 times twenty. Shared only when equal (``==``, remedy variables
    included); at most ``limit`` distinct ones are remembered (past it, new ones are kept per host).
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._checks: dict[tuple[Any, ...], CheckResult] = {}
        self._groups: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._limit = limit

    def host(self, host: HostResult) -> HostResult:
        checks = tuple(self.check(c) for c in host.checks)
        groups = self._groups.setdefault(host.groups, host.groups) if len(self._groups) < self._limit else host.groups
        if groups is host.groups and all(a is b for a, b in zip(checks, host.checks, strict=True)):
            return host
        return replace(host, checks=checks, groups=groups)

    def check(self, c: CheckResult) -> CheckResult:
        if c.evidence is not _NO_EVIDENCE:
            c = replace(c, evidence=_NO_EVIDENCE)
        key = (c.id, c.status, c.severity, c.title, c.message, c.references, c.waiver, _remedy_key(c))
        kept = self._checks.get(key)
        if kept is not None and kept == c:
            return kept
        if kept is None and len(self._checks) < self._limit:
            self._checks[key] = c
        return c


def _remedy_key(c: CheckResult) -> str | None:
    """The remedy as text, for :class:`SlimResults`' key (equality is checked on a match)."""
    if c.remedy is None:
        return None
    return json.dumps(c.remedy.to_json(), sort_keys=True, ensure_ascii=False, default=repr)


def document_chunks(head: dict[str, Any], host_texts: Iterable[str]) -> Iterator[str]:
    """results.json as text: ``head`` (the document without ``hosts``) indented, then ``hosts`` with
    one host per line, each the compact JSON text given (as in hosts.jsonl).

    One host per line keeps a 1,000-host file greppable and diffable by host, and lets it be
    written from the stream without decoding and re-encoding every host (the indenting JSON
    encoder is pure Python: seconds at that scale).
    """
    text = json.dumps({**head, "hosts": []}, indent=2, ensure_ascii=False)
    if not text.endswith('"hosts": []\n}'):  # pragma: no cover - json.dumps keeps key order
        raise ValueError("unexpected results document layout")
    yield text[: -len("[]\n}")]
    first = True
    for host in host_texts:
        yield ("[\n    " if first else ",\n    ") + host
        first = False
    yield "[]\n}\n" if first else "\n  ]\n}\n"


def host_text(host: HostResult) -> str:
    """One host's compact JSON text (a line of hosts.jsonl, a line of results.json)."""
    return json.dumps(host.to_json(), ensure_ascii=False)


def write_atomic(path: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` to ``path`` through a temporary file and a rename: readers see the old
    file or the whole new one, never a half-written one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.writelines(chunks)
    os.replace(tmp, path)


def write_document(path: Path, head: dict[str, Any], host_texts: Iterable[str]) -> None:
    """Write results.json atomically (see :func:`document_chunks`), one host in memory at a time."""
    write_atomic(path, document_chunks(head, host_texts))


STREAM_NAME = "hosts.jsonl"


def read_streamed(out_dir: Path) -> list[HostResult]:
    """The host results an earlier run streamed to ``out_dir/hosts.jsonl`` (for ``--resume``).

    The last line for a host wins (``--retry-failed`` appends a new one); a line that does not
    parse — the torn last line of a killed run — is skipped, so that host is audited again.
    A missing file is an empty list.
    """
    path = out_dir / STREAM_NAME
    if not path.is_file():
        return []
    by_name: dict[str, HostResult] = {}
    # Lines end at "\n" only: a host's text may hold U+2028 or U+0085, which json.dumps leaves
    # as they are and str.splitlines() would take for line ends (that host then audited again).
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        try:
            host = HostResult.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        by_name.pop(host.name, None)
        by_name[host.name] = host
    return list(by_name.values())


class ResultsWriter:
    """Streams host results to ``DIR/hosts.jsonl`` and writes ``DIR/results.json`` on close.

    ``previous`` (``--resume``): results already in ``DIR/hosts.jsonl``; they are kept in
    results.json and the stream is appended to instead of started anew. A host added again
    replaces its previous result.
    """

    def __init__(
        self, out_dir: Path, inventory: str, limit: str | None = None, previous: Iterable[HostResult] | None = None
    ) -> None:
        self.out_dir = out_dir
        self.inventory = inventory
        self.limit = limit
        self.started_at = _now()
        self._slim = SlimResults()
        self.hosts: list[HostResult] = [self._slim.host(h) for h in previous or ()]
        self._names = {h.name for h in self.hosts}
        self.complete = False
        self.head: dict[str, Any] = {}  # the document without hosts, set by close()
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / STREAM_NAME
        resuming = previous is not None
        torn = resuming and path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self._stream = path.open("ab" if resuming else "wb")
        if torn:  # a killed run left half a line: end it, so the next record stands on its own
            self._stream.write(b"\n")
        # Where each host's line starts, for the lines this writer writes: reading them back needs
        # no parse to find them. What comes before ``_start`` (a resumed run's) is scanned then.
        self._start = self._stream.tell()
        self._offsets: dict[str, int] = {}

    @property
    def results_path(self) -> Path:
        return self.out_dir / "results.json"

    def add(self, host: HostResult) -> None:
        """Append ``host`` to the stream; only a slim copy (no evidence) stays in memory."""
        text = host_text(host) + "\n"
        try:
            line = text.encode("utf-8")
        except UnicodeEncodeError:  # a parser let a lone surrogate through: never lose the run for it
            line = hostjson.scrub(text).encode("utf-8")
        self._offsets[host.name] = self._stream.tell()
        self._stream.write(line)
        self._stream.flush()
        if host.name in self._names:  # added again (--retry-failed): the new result replaces the old
            self.hosts = [h for h in self.hosts if h.name != host.name]
        self._names.add(host.name)
        self.hosts.append(self._slim.host(host))

    def close(self) -> Path:
        """Write results.json from the stream, one host at a time (memory stays flat at any fleet size)."""
        self._stream.close()
        self.hosts = [self._slim.host(h) for h in self.hosts]
        head = document((), self.inventory, self.limit, self.started_at, self.complete)
        head["summary"] = summary(self.hosts)
        self.head = head
        write_document(self.results_path, head, self._host_lines())
        return self.results_path

    def packed_hosts(self) -> Iterator[HostResult]:
        """Every host's full result as written (evidence included, held as text: see ``HostResult.packed``),
        read back from the stream one host at a time, in results.json order."""
        for line in self._host_lines():
            yield HostResult.from_json(json.loads(line)).packed()

    def spilled_hosts(self) -> Iterator[HostResult]:
        """Like :meth:`packed_hosts`, but each host is the slim copy this writer already holds with
        its evidence in a :class:`Spill` (a temporary file): the reports of a 10,000-host run hold
        no evidence in memory, and no second copy of the hosts' messages."""
        spill = Spill()
        for kept, line in zip(self.hosts, self._host_lines(), strict=True):
            raw = json.loads(line)
            checks = raw.get("checks") or []
            if raw.get("name") != kept.name or [c.get("id") for c in checks] != [c.id for c in kept.checks]:
                host = HostResult.from_json(raw)  # the stream says otherwise (cannot happen): the stream wins
            else:
                host = kept
                checks = checks if len(checks) == len(kept.checks) else []
            evidence = [c.get("evidence") or {} for c in checks]
            spilled = spill.add_host((e.get("facts") or {}, e.get("excerpt") or "") for e in evidence)
            yield replace(
                host,
                checks=tuple(
                    replace(c, evidence=SpilledEvidence(spilled, i)) if e.get("facts") or e.get("excerpt") else c
                    for i, (c, e) in enumerate(zip(host.checks, evidence, strict=True))
                ),
            )

    def _host_lines(self) -> Iterator[str]:
        """The JSON line of each host in :attr:`hosts` order: the last parseable line per host name
        (a line this writer wrote is found where it wrote it, without parsing the stream again)."""
        path = self.out_dir / STREAM_NAME
        offsets: dict[str, int] = {}
        with path.open("rb") as f:
            pos = 0
            while pos < self._start:  # a resumed run's lines
                raw = f.readline()
                if not raw:
                    break
                try:
                    name = json.loads(raw)["name"]
                except (ValueError, KeyError, TypeError):
                    name = None
                if isinstance(name, str):
                    offsets[name] = pos
                pos += len(raw)
            offsets.update(self._offsets)
            for h in self.hosts:
                if h.name in offsets:
                    f.seek(offsets[h.name])
                    yield f.readline().decode("utf-8").rstrip("\r\n")
                else:  # not in the stream (cannot happen unless the file was changed): what memory holds
                    yield host_text(h)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.complete = exc_type is None
        self.close()
