"""What every human-facing report shows, computed once: posture, matrix, totals, findings.

Pure functions over a :class:`ResultsDoc`; the HTML and Markdown renderers only lay
these values out.

Example::

    v = build_view(doc)
    v.posture.verdict, v.posture.headline   # ('fail', '17 failing checks on 4 of 4 hosts; ...')
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from hardening.model import Evidence, PackedFacts, Platform, Reference, Severity, Status, WaiverNote
from hardening.report.document import ResultsDoc
from hardening.report.frameworks import CheckGuide, check_guide, check_meta
from hardening.report.text import readable_json

SEVERITIES = tuple(sorted(Severity, key=lambda s: -s.rank))  # critical first


@dataclass(frozen=True)
class Posture:
    verdict: str  # "pass" | "fail" | "incomplete"
    headline: str
    hosts: int
    hosts_audited: int
    counts: dict[str, int]  # check status -> count over all host × check
    expired_waivers: int


@dataclass(frozen=True)
class Cell:
    status: str  # a Status value, or "missing" (host not audited, no result)
    label: str
    title: str  # tooltip: the message, shortened


@dataclass(frozen=True)
class MatrixRow:
    host: str
    host_status: str
    host_message: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    severity: str


@dataclass(frozen=True)
class FindingItem:
    host: str
    status: str
    message: str
    evidence: Evidence
    waiver: WaiverNote | None

    @property
    def facts_json(self) -> str:
        """The facts, indented; computed when the report writes the item (not held for the fleet)."""
        facts = self.evidence.facts
        if isinstance(facts, PackedFacts):  # after an audit: the same text on many hosts is laid out once
            return _readable_text(facts.text)
        return readable_json(self.evidence.facts_dict())

    @property
    def excerpt(self) -> str:
        return self.evidence.excerpt


@lru_cache(maxsize=256)
def _readable_text(text: str) -> str:
    return readable_json(json.loads(text))


@dataclass(frozen=True)
class Finding:
    """One check that fails, errs or is waived somewhere, with every affected host."""

    check_id: str
    title: str
    severity: str
    references: tuple[Reference, ...]
    guide: CheckGuide
    items: tuple[FindingItem, ...]

    def refs(self, framework: str) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.framework == framework)


@dataclass(frozen=True)
class Bar:
    severity: str
    failing: int
    waived: int


@dataclass(frozen=True)
class View:
    posture: Posture
    columns: tuple[Column, ...]
    matrix: tuple[MatrixRow, ...]
    bars: tuple[Bar, ...]
    findings: tuple[tuple[str, tuple[Finding, ...]], ...]  # (severity, findings), critical first
    unreachable: tuple[MatrixRow, ...]


_LABEL = {
    "pass": "pass",
    "fail": "FAIL",
    "error": "error",
    "not_applicable": "n/a",
    "waived": "waived",
    "missing": "—",
}


def posture(doc: ResultsDoc) -> Posture:
    counts = Counter(c.status.value for h in doc.hosts for c in h.checks)
    audited = sum(h.audited for h in doc.hosts)
    failing = counts.get("fail", 0)
    failing_hosts = sum(any(c.failing for c in h.checks) for h in doc.hosts)
    expired = sum(1 for h in doc.hosts for c in h.checks if c.waiver is not None and c.waiver.expired)
    n = len(doc.hosts)
    errors = counts.get("error", 0)

    def plural(k: int, word: str) -> str:
        return f"{k} {word}{'s' * (k != 1)}"

    gaps = []
    if audited < n:
        gaps.append(f"{plural(n - audited, 'host')} not fully audited")
    if errors:
        gaps.append(f"{plural(errors, 'check')} in error (not judged)")
    if not doc.complete:
        gaps.append("run interrupted")
    if failing:
        verdict = "fail"
        headline = f"{plural(failing, 'failing check')} on {failing_hosts} of {plural(n, 'host')}"
    elif gaps:
        verdict = "incomplete"
        headline = "no failing check, but the audit is incomplete"
    else:
        verdict = "pass"
        headline = f"every check passes on all {plural(n, 'host')}"
    if gaps:
        headline += "; " + ", ".join(gaps)
    return Posture(verdict, headline, n, audited, dict(counts), expired)


def build_view(doc: ResultsDoc) -> View:
    columns = []
    for cid in doc.check_ids():
        title, severity, _ = doc.column(cid)
        columns.append(Column(cid, title, severity.value))
    rows = []
    shared: dict[Cell, Cell] = {}  # a fleet's hosts mostly have the same cells: each distinct one is kept once
    for h in doc.hosts:
        cells = []
        for col in columns:
            c = h.check(col.id)
            if c is None:
                cell = Cell("missing", _LABEL["missing"], h.message or h.status.value)
            else:
                title = c.message if c.waiver is None else f"{c.message} [waiver: {c.waiver.justification}]"
                label = _LABEL[c.status.value] + ("*" if c.waiver is not None and c.waiver.expired else "")
                cell = Cell(c.status.value, label, title[:400])
            cells.append(shared.setdefault(cell, cell))
        rows.append(MatrixRow(h.name, h.status.value, h.message, tuple(cells)))
    bars = []
    for sev in SEVERITIES:
        results = [c for h in doc.hosts for c in h.checks if c.severity is sev]
        bars.append(
            Bar(
                sev.value,
                sum(c.status is Status.FAIL for c in results),
                sum(c.status is Status.WAIVED for c in results),
            )
        )
    findings = []
    for sev in SEVERITIES:
        group = []
        for col in columns:
            if col.severity != sev.value:
                continue
            group += _findings(doc, col)
        if group:
            findings.append((sev.value, tuple(group)))
    unreachable = tuple(r for r in rows if r.host_status != "ok")
    return View(posture(doc), tuple(columns), tuple(rows), tuple(bars), tuple(findings), unreachable)


def _findings(doc: ResultsDoc, col: Column) -> list[Finding]:
    """The check's failing, erring and waived hosts: one finding per platform (its own title, references and fix)."""
    out = []
    for platform in Platform:
        hits = [
            (h, c)
            for h in doc.hosts
            if h.platform is platform
            for c in h.checks
            if c.id == col.id and c.status in (Status.FAIL, Status.ERROR, Status.WAIVED)
        ]
        if not hits:
            continue
        meta = check_meta(col.id, platform, hits[0][1])
        assert meta is not None  # a result always describes an unknown check
        items = tuple(FindingItem(h.name, c.status.value, c.message, c.evidence, c.waiver) for h, c in hits)
        out.append(Finding(col.id, meta.title, col.severity, meta.references, check_guide(col.id, platform), items))
    return out
