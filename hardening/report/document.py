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
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hardening.model import JSON, HostStatus, Platform, Reference, Severity, Status
from hardening.results import SCHEMA_ID, results_schema


class ResultsError(Exception):
    """A results file that cannot be read or does not follow ``harden.results/v1`` (exit 2)."""


@dataclass(frozen=True)
class WaiverNote:
    """A waiver that matched one host × check: applied (``expired`` false) or expired."""

    justification: str
    expires: date
    by: str
    pattern: str
    expired: bool

    def to_json(self) -> dict[str, JSON]:
        return {
            "justification": self.justification,
            "expires": self.expires.isoformat(),
            "by": self.by,
            "pattern": self.pattern,
            "expired": self.expired,
        }


@dataclass(frozen=True)
class CheckDoc:
    """One check's result on one host, as written in results.json."""

    id: str
    status: Status
    severity: Severity
    title: str
    message: str
    facts: Mapping[str, JSON] = field(default_factory=dict)
    excerpt: str = ""
    references: tuple[Reference, ...] = ()
    waiver: WaiverNote | None = None

    @property
    def failing(self) -> bool:
        """True for a real failure; a waived check is not failing."""
        return self.status is Status.FAIL

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "id": self.id,
            "status": self.status.value,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "evidence": {"facts": dict(self.facts), "excerpt": self.excerpt},
            "references": [r.to_json() for r in self.references],
        }
        if self.waiver is not None:
            out["waiver"] = self.waiver.to_json()
        return out


@dataclass(frozen=True)
class HostDoc:
    """One host: how far its audit got and its check results."""

    name: str
    platform: Platform
    status: HostStatus
    message: str = ""
    address: str = ""
    duration_s: float = 0.0
    checks: tuple[CheckDoc, ...] = ()

    @property
    def audited(self) -> bool:
        """Only ``ok`` hosts were fully judged."""
        return self.status is HostStatus.OK

    def check(self, check_id: str) -> CheckDoc | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_json(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "platform": self.platform.value,
            "status": self.status.value,
            "message": self.message,
            "address": self.address,
            "duration_s": self.duration_s,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass(frozen=True)
class ResultsDoc:
    """A whole results.json."""

    tool_version: str
    started_at: str
    finished_at: str
    inventory: str
    limit: str | None
    complete: bool
    hosts: tuple[HostDoc, ...]

    def check_ids(self) -> tuple[str, ...]:
        """Every check id in the document, in first-seen order (the report's column order)."""
        seen: dict[str, None] = {}
        for h in self.hosts:
            for c in h.checks:
                seen.setdefault(c.id)
        return tuple(seen)

    def check_meta(self, check_id: str) -> CheckDoc | None:
        """Any result of ``check_id`` (for its title, severity and references)."""
        return next((c for h in self.hosts for c in h.checks if c.id == check_id), None)

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {
            "schema": SCHEMA_ID,
            "tool": {"name": "harden", "version": self.tool_version},
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "inventory": self.inventory,
            "limit": self.limit,
            "complete": self.complete,
            "summary": {
                "hosts": len(self.hosts),
                "host_status": dict(Counter(h.status.value for h in self.hosts)),
                "check_status": dict(Counter(c.status.value for h in self.hosts for c in h.checks)),
            },
            "hosts": [h.to_json() for h in self.hosts],
        }
        notes = [c.waiver for h in self.hosts for c in h.checks if c.waiver is not None]
        if notes:
            out["summary"]["waivers"] = {  # type: ignore[index]
                "applied": sum(not n.expired for n in notes),
                "expired": sum(n.expired for n in notes),
            }
        return out


def _check(raw: Mapping[str, Any]) -> CheckDoc:
    w = raw.get("waiver")
    waiver = (
        WaiverNote(
            justification=w["justification"],
            expires=date.fromisoformat(w["expires"]),
            by=w.get("by", ""),
            pattern=w.get("pattern", ""),
            expired=bool(w.get("expired", False)),
        )
        if w
        else None
    )
    return CheckDoc(
        id=raw["id"],
        status=Status(raw["status"]),
        severity=Severity(raw["severity"]),
        title=raw["title"],
        message=raw["message"],
        facts=dict(raw["evidence"].get("facts", {})),
        excerpt=raw["evidence"].get("excerpt", ""),
        references=tuple(Reference(r["framework"], r["id"], r.get("title", "")) for r in raw["references"]),
        waiver=waiver,
    )


def _host(raw: Mapping[str, Any]) -> HostDoc:
    return HostDoc(
        name=raw["name"],
        platform=Platform(raw["platform"]),
        status=HostStatus(raw["status"]),
        message=raw.get("message", ""),
        address=raw.get("address", ""),
        duration_s=float(raw.get("duration_s", 0.0)),
        checks=tuple(_check(c) for c in raw["checks"]),
    )


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
            hosts=tuple(_host(h) for h in data["hosts"]),
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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not JSON: {exc}") from exc
    return parse_results(data, str(path))


def dump_results(doc: ResultsDoc) -> str:
    """results.json text for ``doc`` (indented, UTF-8, trailing newline)."""
    return json.dumps(doc.to_json(), indent=2, ensure_ascii=False) + "\n"
