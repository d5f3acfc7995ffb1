"""Typed results shared by every part of harden.

Nothing here does I/O. A check produces a :class:`Verdict`; the runner joins it with
the check's :class:`CheckMeta` into a :class:`CheckResult`; a host's results and its
connection outcome make a :class:`HostResult`.

Example::

    >>> v = Verdict(Status.FAIL, "no output filter", Evidence({"nft": "absent"}))
    >>> v.status.value
    'fail'
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

JSON = Any  # a JSON-serialisable value (dict/list/str/int/float/bool/None)


class Status(StrEnum):
    """Outcome of one check on one host."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"


class Severity(StrEnum):
    """How bad a failing check is; ordered by :attr:`rank`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class HostStatus(StrEnum):
    """How far the audit of a host got. Only ``ok`` means every check was judged."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    TIMEOUT = "timeout"
    ERROR = "error"


class Platform(StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"


@dataclass(frozen=True)
class Reference:
    """A pointer into a framework: ``Reference("attack", "T1071")``."""

    framework: str  # "attack" | "cis" | "nist"
    id: str
    title: str = ""

    def to_json(self) -> dict[str, str]:
        return {"framework": self.framework, "id": self.id, "title": self.title}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Reference:
        return cls(raw["framework"], raw["id"], raw.get("title", ""))


@dataclass(frozen=True)
class Fix:
    """How to fix a failing check by hand: a summary and a snippet (in ``language``)."""

    summary: str
    language: str = ""
    snippet: str = ""


@dataclass(frozen=True)
class CheckMeta:
    """What a check is on one platform, independent of any host (``checks/<id>/check.yaml``)."""

    id: str
    title: str
    severity: Severity
    rationale: str
    references: tuple[Reference, ...]
    platform: Platform = Platform.LINUX
    role: str = ""  # the remediation role that fixes it on this platform
    stage: int = 0  # the role's place in the run order (lower runs first)
    fix: Fix = Fix("")


@dataclass(frozen=True)
class Remedy:
    """What remediation a failed check asks for: its role and the variables the role needs.

    An evaluation returns it with its verdict (``Verdict.remedy``); it is stored in the
    results (``remediation``) and read back by the planner, which takes the role from the
    check registry and re-validates every variable (results.json is an input file).
    """

    role: str
    variables: Mapping[str, JSON] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Why the role cannot run for this host until the policy says more (e.g. no harden_log_collectors):
    # the planner leaves the role out and says this, so one refusal does not stop the host's other roles.
    blocked: str = ""

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"role": self.role, "variables": dict(self.variables), "notes": list(self.notes)}
        return out | ({"blocked": self.blocked} if self.blocked else {})

    @classmethod
    def from_json(cls, raw: Any) -> Remedy | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("role"), str):
            return None
        variables = raw.get("variables")
        notes = raw.get("notes")
        blocked = raw.get("blocked")
        return cls(
            raw["role"],
            dict(variables) if isinstance(variables, Mapping) else {},
            tuple(str(n) for n in notes) if isinstance(notes, list) else (),
            blocked if isinstance(blocked, str) else "",
        )


class PackedFacts(Mapping[str, JSON]):
    """Evidence facts kept as compact JSON text, decoded again on each access.

    Reports over a whole fleet hold every host's evidence at once; as text it takes a
    fraction of the memory of the parsed dicts (1,000 hosts: tens of MB instead of hundreds).
    Read it whole with :meth:`unpack` (``dict(packed)`` would decode once per key).
    """

    __slots__ = ("text",)

    def __init__(self, facts: Mapping[str, JSON]) -> None:
        self.text = json.dumps(dict(facts), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def of_text(cls, text: str) -> PackedFacts:
        """Facts already held as compact JSON text (not decoded to check: the caller wrote it)."""
        packed = cls.__new__(cls)
        packed.text = text
        return packed

    def unpack(self) -> dict[str, JSON]:
        return json.loads(self.text)  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> JSON:
        return self.unpack()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.unpack())

    def __len__(self) -> int:
        return len(self.unpack())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedFacts):
            return self.text == other.text or self.unpack() == other.unpack()
        return isinstance(other, Mapping) and self.unpack() == dict(other)

    __hash__ = None  # type: ignore[assignment]  # a mapping, like dict

    def __repr__(self) -> str:
        return f"PackedFacts({self.text[:60]}{'...' if len(self.text) > 60 else ''})"


@dataclass(frozen=True)
class Evidence:
    """What the verdict rests on: parsed facts plus a raw excerpt of collector output."""

    facts: Mapping[str, JSON] = field(default_factory=dict)
    excerpt: str = ""

    def facts_dict(self) -> dict[str, JSON]:
        """The facts as a plain dict (decoded once when packed)."""
        return self.facts.unpack() if isinstance(self.facts, PackedFacts) else dict(self.facts)

    def packed(self) -> Evidence:
        """The same evidence with its facts held as text (see :class:`PackedFacts`)."""
        if isinstance(self.facts, PackedFacts) or not self.facts:
            return self
        return Evidence(PackedFacts(self.facts), self.excerpt)

    def to_json(self) -> dict[str, JSON]:
        return {"facts": self.facts_dict(), "excerpt": self.excerpt}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Evidence:
        return cls(dict(raw.get("facts", {})), raw.get("excerpt", ""))


@dataclass(frozen=True)
class Verdict:
    """A check's judgement before metadata is attached."""

    status: Status
    message: str
    evidence: Evidence = field(default_factory=Evidence)
    remedy: Remedy | None = None  # variables for the remediation role (the runner fills the role)


@dataclass(frozen=True)
class WaiverNote:
    """A waiver that matched one host x check: applied (``expired`` false) or expired."""

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

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WaiverNote:
        return cls(
            justification=raw["justification"],
            expires=date.fromisoformat(raw["expires"]),
            by=raw.get("by", ""),
            pattern=raw.get("pattern", ""),
            expired=bool(raw.get("expired", False)),
        )


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: Status
    severity: Severity
    title: str
    message: str
    evidence: Evidence
    references: tuple[Reference, ...]
    waiver: WaiverNote | None = None  # set by `--waivers` (see hardening.report.waivers)
    remedy: Remedy | None = None  # on a failed check: the role that fixes it and its variables

    @property
    def failing(self) -> bool:
        """True for a real failure; a waived check is not failing."""
        return self.status is Status.FAIL

    @classmethod
    def of(cls, meta: CheckMeta, verdict: Verdict) -> CheckResult:
        """The result of ``meta``'s check; a failure carries its remedy (role from ``meta``)."""
        remedy = None
        if verdict.status is Status.FAIL and meta.role:
            given = verdict.remedy or Remedy(meta.role)
            remedy = Remedy(meta.role, given.variables, given.notes, given.blocked)
        return cls(
            id=meta.id,
            status=verdict.status,
            severity=meta.severity,
            title=meta.title,
            message=verdict.message,
            evidence=verdict.evidence,
            references=meta.references,
            remedy=remedy,
        )

    def to_json(self) -> dict[str, JSON]:
        return (
            {
                "id": self.id,
                "status": self.status.value,
                "severity": self.severity.value,
                "title": self.title,
                "message": self.message,
                "evidence": self.evidence.to_json(),
                "references": [r.to_json() for r in self.references],
            }
            | ({"waiver": self.waiver.to_json()} if self.waiver is not None else {})
            | ({"remediation": self.remedy.to_json()} if self.remedy is not None else {})
        )

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckResult:
        """Read one check of a (schema-valid) results.json."""
        return cls(
            id=raw["id"],
            status=Status(raw["status"]),
            severity=Severity(raw["severity"]),
            title=raw["title"],
            message=raw["message"],
            evidence=Evidence.from_json(raw["evidence"]),
            references=tuple(Reference.from_json(r) for r in raw["references"]),
            waiver=WaiverNote.from_json(raw["waiver"]) if raw.get("waiver") else None,
            remedy=Remedy.from_json(raw.get("remediation")),
        )


@dataclass(frozen=True)
class HostResult:
    """Everything known about one host after an audit.

    ``checks`` never holds a ``pass`` unless ``status`` is ``ok``: a host that could
    not be fully audited is never reported as passing (see :func:`HostResult.failed`).
    """

    name: str
    platform: Platform
    status: HostStatus
    message: str = ""
    address: str = ""
    checks: tuple[CheckResult, ...] = ()
    duration_s: float = 0.0
    groups: tuple[str, ...] = ()  # the inventory groups of the host (waivers may name them)

    def to_json(self) -> dict[str, JSON]:
        return (
            {
                "name": self.name,
                "platform": self.platform.value,
                "status": self.status.value,
                "message": self.message,
                "address": self.address,
                "duration_s": round(self.duration_s, 3),
            }
            | ({"groups": list(self.groups)} if self.groups else {})
            | {"checks": [c.to_json() for c in self.checks]}
        )

    @property
    def audited(self) -> bool:
        """Only ``ok`` hosts were fully judged."""
        return self.status is HostStatus.OK

    def check(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def packed(self) -> HostResult:
        """This result with every check's evidence facts held as text (reports at fleet scale)."""
        return replace(self, checks=tuple(replace(c, evidence=c.evidence.packed()) for c in self.checks))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HostResult:
        """Read one host of a (schema-valid) results.json."""
        return cls(
            name=raw["name"],
            platform=Platform(raw["platform"]),
            status=HostStatus(raw["status"]),
            message=raw.get("message", ""),
            address=raw.get("address", ""),
            checks=tuple(CheckResult.from_json(c) for c in raw["checks"]),
            duration_s=float(raw.get("duration_s", 0.0)),
            groups=tuple(str(g) for g in raw.get("groups") or ()),
        )
