"""The results document (``harden.results/v1``) as typed, immutable values.

Every renderer works on a :class:`ResultsDoc`, never on raw JSON. :func:`load_results`
reads and schema-validates a results.json; :meth:`ResultsDoc.to_json` writes it back
(schema-valid, including waivers), so ``load -> apply_waivers -> to_json`` round-trips.

Example::

    doc = load_results(Path("reports/today/results.json"))
    [(h.name, c.id, c.status.value) for h in doc.hosts for c in h.checks]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardening import hostjson
from hardening.model import JSON, CheckResult, HostResult, Platform, Reference, Severity
from hardening.results import (
    SCHEMA_ID,
    ResultsWriter,
    document_chunks,
    host_text,
    results_schema,
    summary,
    write_document,
)


class ResultsError(Exception):
    """A results file that cannot be read or does not follow ``harden.results/v1`` (exit 2)."""


@dataclass(frozen=True)
class ResultsDoc:
    """A whole results.json."""

    tool_version: str
    started_at: str
    finished_at: str
    inventory: str
    limit: str | None
    complete: bool
    hosts: tuple[HostResult, ...]

    def check_ids(self) -> tuple[str, ...]:
        """Every check id in the document, in the registry's report order (unknown ids last, as first seen)."""
        from hardening.checks import registry

        seen: dict[str, None] = {}
        for h in self.hosts:
            for c in h.checks:
                seen.setdefault(c.id)
        reg = registry()
        return tuple(sorted(seen, key=reg.order))  # sorted() is stable: unknown ids keep their order

    def check_platforms(self, check_id: str) -> frozenset[Platform]:
        """The platforms of the hosts that have a result for ``check_id``."""
        return frozenset(h.platform for h in self.hosts if h.check(check_id) is not None)

    def any_result(self, check_id: str) -> CheckResult | None:
        """Some result of ``check_id`` (describes a check the registry does not know)."""
        return next((c for h in self.hosts for c in h.checks if c.id == check_id), None)

    def column(self, check_id: str) -> tuple[str, Severity, tuple[Reference, ...]]:
        """Title, severity and references of a check over this document's hosts, from the registry.

        The title is the platform's own when only one platform's hosts ran the check, the
        check's neutral title over a mixed fleet; references are those of every platform present.
        """
        from hardening.checks import registry

        d = registry().get(check_id)
        platforms = self.check_platforms(check_id)
        if d is None or not platforms & set(d.platforms):
            r = self.any_result(check_id)
            return (r.title, r.severity, r.references) if r else (check_id, Severity.INFO, ())
        refs = tuple(dict.fromkeys(ref for p, c in d.platforms.items() if p in platforms for ref in c.meta.references))
        first = next(iter(d.platforms.values())).meta
        return d.title_on(platforms), first.severity, refs

    def to_json(self) -> dict[str, JSON]:
        return {**self.head_json(), "hosts": [h.to_json() for h in self.hosts]}

    def head_json(self) -> dict[str, JSON]:
        """The document without ``hosts`` (which come last in results.json)."""
        out: dict[str, JSON] = {
            "schema": SCHEMA_ID,
            "tool": {"name": "harden", "version": self.tool_version},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "inventory": self.inventory,
            "limit": self.limit,
            "complete": self.complete,
            "summary": summary(self.hosts),
        }
        notes = [c.waiver for h in self.hosts for c in h.checks if c.waiver is not None]
        if notes:
            out["summary"]["waivers"] = {  # type: ignore[index]
                "applied": sum(not n.expired for n in notes),
                "expired": sum(n.expired for n in notes),
            }
        return out


def parse_results(data: Any, source: str = "results") -> ResultsDoc:
    """Validate ``data`` (decoded JSON) against the results schema and type it.

    Raises :class:`ResultsError` naming the first schema violation and where it is.
    """
    import jsonschema

    if isinstance(data, Mapping) and data.get("schema") not in (None, SCHEMA_ID):
        raise ResultsError(f"{source}: schema {data.get('schema')!r} is not {SCHEMA_ID}")
    validator = jsonschema.Draft202012Validator(results_schema())
    err = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ResultsError(f"{source}: not a valid {SCHEMA_ID} document: at {where}: {err.message}")
    try:
        return ResultsDoc(
            tool_version=data["tool"]["version"],
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            inventory=data["inventory"],
            limit=data.get("limit"),
            complete=bool(data.get("complete", True)),
            hosts=tuple(HostResult.from_json(h).packed() for h in data["hosts"]),
        )
    except (KeyError, ValueError, TypeError) as exc:  # schema-valid but semantically broken (e.g. a bad date)
        raise ResultsError(f"{source}: not a valid {SCHEMA_ID} document: {exc!r}") from exc


def load_results(path: Path) -> ResultsDoc:
    """Read and validate a results.json; any problem is a :class:`ResultsError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from exc
    try:
        data = hostjson.loads(text)  # an edited file may spell a lone surrogate
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON: {exc}") from exc
    return parse_results(data, str(path))


def dump_results(doc: ResultsDoc) -> str:
    """results.json text for ``doc`` (UTF-8, one host per line, trailing newline)."""
    return "".join(document_chunks(doc.head_json(), (host_text(h) for h in doc.hosts)))


def write_results(doc: ResultsDoc, path: Path) -> None:
    """Write ``doc`` to ``path`` atomically, byte for byte :func:`dump_results`, one host in memory at a time."""
    write_document(path, doc.head_json(), (host_text(h) for h in doc.hosts))


def written_results(writer: ResultsWriter) -> ResultsDoc:
    """The document a closed :class:`ResultsWriter` wrote, read back from its stream host by host with
    packed evidence: what the reports after an audit work on, never the whole results.json parsed at once.
    Not schema-validated again: the writer built it from typed results."""
    head = writer.head
    return ResultsDoc(
        tool_version=head["tool"]["version"],
        started_at=head["started_at"],
        finished_at=head["finished_at"],
        inventory=head["inventory"],
        limit=head["limit"],
        complete=head["complete"],
        hosts=tuple(writer.spilled_hosts()),
    )
