"""Compliance frameworks as data, and the per-check guide (rationale + remediation).

Framework files live in ``hardening/frameworks/<name>.yaml`` (package data)::

    name: nist-800-53
    title: NIST SP 800-53 Rev. 5
    aliases: [nist]
    requirements:
      - id: SC-7(5)
        title: "Boundary Protection | Deny by Default — Allow by Exception"
        checks: [egress.default_deny, egress.allowlist]

Example::

    fw = load_framework("nist")
    rows = group_by_framework(doc, fw)   # one row per requirement, worst status first
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hardening.model import Status
from hardening.report.document import ResultsDoc

_PACKAGE = "hardening.frameworks"


class FrameworkError(Exception):
    """Unknown framework name or a broken mapping file (exit 2)."""


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    name: str
    title: str
    aliases: tuple[str, ...]
    requirements: tuple[Requirement, ...]

    def mapped_checks(self) -> frozenset[str]:
        """Every check id some requirement names."""
        return frozenset(c for r in self.requirements for c in r.checks)


def _yaml(name: str) -> Any:
    import yaml

    text = resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _framework(data: Any, source: str) -> Framework:
    try:
        reqs = tuple(
            Requirement(str(r["id"]), str(r["title"]), tuple(str(c) for c in r["checks"])) for r in data["requirements"]
        )
        return Framework(str(data["name"]), str(data["title"]), tuple(data.get("aliases", ())), reqs)
    except (KeyError, TypeError) as exc:
        raise FrameworkError(f"{source}: bad framework mapping: missing {exc}") from exc


@cache
def all_frameworks() -> tuple[Framework, ...]:
    """Every framework shipped in ``hardening/frameworks`` (remediation.yaml aside)."""
    files = sorted(
        f.name for f in resources.files(_PACKAGE).iterdir() if f.name.endswith(".yaml") and f.name != "remediation.yaml"
    )
    return tuple(_framework(_yaml(n), n) for n in files)


def framework_names() -> tuple[str, ...]:
    return tuple(n for f in all_frameworks() for n in (f.name, *f.aliases))


def load_framework(name: str) -> Framework:
    """The framework called ``name`` or one of its aliases (``nist``, ``cis``, ``attack``)."""
    for f in all_frameworks():
        if name == f.name or name in f.aliases:
            return f
    raise FrameworkError(f"unknown framework {name!r}; known: {', '.join(framework_names())}")


# worst first: a requirement shows the worst status of its checks over all hosts
_ORDER = (Status.FAIL, Status.ERROR, Status.WAIVED, Status.PASS, Status.NOT_APPLICABLE)
NOT_ASSESSED = "not_assessed"


@dataclass(frozen=True)
class RequirementRow:
    """A requirement's standing over the fleet."""

    requirement: Requirement
    status: str  # a Status value, or "not_assessed" when none of its checks ran
    failing: tuple[tuple[str, str], ...]  # (host, check id)
    errors: tuple[tuple[str, str], ...]
    waived: tuple[tuple[str, str], ...]
    hosts_judged: int

    def by_check(self, pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(host, check)`` pairs as ``(check, hosts)``, in the requirement's check order."""
        return tuple(
            (cid, hosts) for cid in self.requirement.checks if (hosts := tuple(h for h, c in pairs if c == cid))
        )


@dataclass(frozen=True)
class FrameworkView:
    framework: Framework
    rows: tuple[RequirementRow, ...]
    unmapped: tuple[str, ...]  # checks in the results that this framework does not map


def group_by_framework(doc: ResultsDoc, fw: Framework) -> FrameworkView:
    """Each requirement of ``fw`` with the worst status of its checks across the hosts."""
    rows = []
    for req in fw.requirements:
        results = [(h.name, c) for h in doc.hosts for c in h.checks if c.id in req.checks]
        # a host not fully audited whose mapped checks are missing counts as an error for the requirement
        missing = [(h.name, cid) for h in doc.hosts if not h.audited for cid in req.checks if h.check(cid) is None]
        statuses = {c.status for _, c in results} | ({Status.ERROR} if missing else set())
        status = next((s.value for s in _ORDER if s in statuses), NOT_ASSESSED)
        rows.append(
            RequirementRow(
                requirement=req,
                status=status,
                failing=tuple((h, c.id) for h, c in results if c.status is Status.FAIL),
                errors=tuple((h, c.id) for h, c in results if c.status is Status.ERROR) + tuple(missing),
                waived=tuple((h, c.id) for h, c in results if c.status is Status.WAIVED),
                hosts_judged=len({h for h, _ in results}),
            )
        )
    unmapped = tuple(c for c in doc.check_ids() if c not in fw.mapped_checks())
    return FrameworkView(fw, tuple(rows), unmapped)


@dataclass(frozen=True)
class CheckGuide:
    """What a report says about a check beyond its results: why it matters and how to fix it."""

    rationale: str = ""
    remediation: str = ""
    snippet: str = ""
    language: str = ""


@cache
def _remediation() -> Mapping[str, Any]:
    data = _yaml("remediation.yaml")
    return data if isinstance(data, Mapping) else {}


@cache
def _rationales() -> Mapping[str, str]:
    from hardening.checks import linux_checks

    return {c.meta.id: c.meta.rationale for c in linux_checks()}


def check_guide(check_id: str) -> CheckGuide:
    """Rationale (from the check's META) and remediation excerpt (remediation.yaml) for ``check_id``."""
    rem = _remediation().get(check_id) or {}
    return CheckGuide(
        rationale=_rationales().get(check_id, ""),
        remediation=str(rem.get("summary", "")).strip(),
        snippet=str(rem.get("snippet", "")).rstrip(),
        language=str(rem.get("language", "")),
    )
