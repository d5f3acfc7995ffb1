"""Framework views and the per-check guide (rationale + fix), from the check registry.

A framework file (``hardening/frameworks/<name>.yaml``) declares its requirements; the checks
behind each requirement come from the checks' own references (``checks/<id>/check.yaml``),
per platform: a Windows host's ``egress.default_deny`` counts for the CIS Windows benchmark,
not for CIS Debian.

Example::

    fw = load_framework("nist")
    rows = group_by_framework(doc, fw)   # one row per requirement, worst status first
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from hardening.frameworks import FrameworkError as FrameworkError  # re-exported: the CLI maps it to exit 2
from hardening.frameworks import FrameworkFile, framework_files
from hardening.model import CheckMeta, CheckResult, Platform, Status
from hardening.report.document import ResultsDoc


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    checks: tuple[str, ...]  # check ids, in report order
    platforms: Mapping[str, frozenset[Platform]]  # check id -> platforms on which it counts

    def counts(self, check_id: str, platform: Platform) -> bool:
        """Does a result of ``check_id`` on a ``platform`` host give evidence for this requirement?"""
        return platform in self.platforms.get(check_id, frozenset())


@dataclass(frozen=True)
class Framework:
    name: str
    title: str
    aliases: tuple[str, ...]
    requirements: tuple[Requirement, ...]
    platforms: frozenset[Platform] = frozenset(Platform)

    def mapped_checks(self) -> frozenset[str]:
        """Every check id some requirement names."""
        return frozenset(c for r in self.requirements for c in r.checks)


def _framework(f: FrameworkFile) -> Framework:
    from hardening.checks import registry

    reqs = []
    for rid, title in f.requirements:
        on: dict[str, set[Platform]] = {}
        for d in registry():
            for platform, check in d.platforms.items():
                if any(r.framework == f.short and r.id == rid for r in check.meta.references):
                    on.setdefault(d.id, set()).add(platform)
        reqs.append(Requirement(rid, title, tuple(on), {k: frozenset(v) for k, v in on.items()}))
    return Framework(f.name, f.title, f.aliases, tuple(reqs), f.platforms)


@cache
def all_frameworks() -> tuple[Framework, ...]:
    """Every framework shipped in ``hardening/frameworks``, its requirements mapped to checks."""
    return tuple(_framework(f) for f in framework_files())


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
        results = [(h.name, c) for h in doc.hosts for c in h.checks if req.counts(c.id, h.platform)]
        # a host not fully audited whose mapped checks are missing counts as an error for the requirement
        missing = [
            (h.name, cid)
            for h in doc.hosts
            if not h.audited
            for cid in req.checks
            if h.check(cid) is None and req.counts(cid, h.platform)
        ]
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
    mapped = {(cid, p) for r in fw.requirements for cid, ps in r.platforms.items() for p in ps}
    unmapped = tuple(
        dict.fromkeys(
            c.id for h in doc.hosts if h.platform in fw.platforms for c in h.checks if (c.id, h.platform) not in mapped
        )
    )
    return FrameworkView(fw, tuple(rows), unmapped)


@dataclass(frozen=True)
class CheckGuide:
    """What a report says about a check beyond its results: why it matters and how to fix it."""

    rationale: str = ""
    remediation: str = ""
    snippet: str = ""
    language: str = ""


def check_meta(check_id: str, platform: Platform | str, result: CheckResult | None = None) -> CheckMeta | None:
    """A check's metadata on ``platform`` from the registry.

    A result of a check this harden does not know (a results.json from another version) is
    described by its own title, severity and references, with no rationale or fix.
    """
    from hardening.checks import registry

    meta = registry().meta(check_id, platform)
    if meta is not None or result is None:
        return meta
    return CheckMeta(result.id, result.title, result.severity, "", result.references)


def check_guide(check_id: str, platform: Platform | str) -> CheckGuide:
    """Rationale and fix of ``check_id`` on ``platform`` (empty for a check the registry lacks)."""
    meta = check_meta(check_id, platform)
    if meta is None:
        return CheckGuide()
    return CheckGuide(meta.rationale, meta.fix.summary, meta.fix.snippet, meta.fix.language)
