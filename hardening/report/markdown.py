"""Markdown summary for a ticket or a PR comment: posture, totals, matrix, findings.

Host data is escaped for GitHub-flavoured Markdown (pipes, backticks, markup, newlines
in cells); evidence stays in the HTML report, messages are shortened.

Example::

    print(render_markdown(doc))
"""

from __future__ import annotations

from hardening.report.document import ResultsDoc
from hardening.report.frameworks import Framework, group_by_framework
from hardening.report.text import md_cell, md_text, shorten
from hardening.report.view import build_view

_ICON = {
    "pass": "✅ pass",
    "fail": "❌ FAIL",
    "error": "⚠️ error",
    "waived": "💤 waived",
    "not_applicable": "➖ n/a",
    "missing": "⛔ not audited",
    "not_assessed": "➖ not assessed",
}
_VERDICT = {"pass": "✅", "fail": "❌", "incomplete": "⚠️"}


def render_markdown(doc: ResultsDoc, framework: Framework | None = None, max_message: int = 240) -> str:
    """A GitHub-flavoured Markdown summary of ``doc`` (grouped by ``framework`` when given)."""
    v = build_view(doc)
    p = v.posture
    out = [
        f"## {_VERDICT[p.verdict]} harden: {p.verdict.upper()} — {md_text(p.headline)}",
        "",
        f"Inventory `{md_text(doc.inventory).replace('`', '')}`"
        + (f" (limit {md_text(doc.limit)})" if doc.limit else "")
        + f" · audited {md_text(doc.started_at)} · harden {md_text(doc.tool_version)}"
        + ("" if doc.complete else " · **run interrupted: partial results**"),
        "",
        "| Severity | Failing | Waived |",
        "|---|---:|---:|",
        *(f"| {b.severity} | {b.failing} | {b.waived} |" for b in v.bars),
        "",
        "| Host | " + " | ".join(md_cell(c.id) for c in v.columns) + " |",
        "|---|" + "---|" * len(v.columns),
    ]
    for row in v.matrix:
        host = md_cell(row.host) + ("" if row.host_status == "ok" else f" ({md_cell(row.host_status)})")
        cells = [_ICON.get(c.status, md_cell(c.status)) + ("\\*" if c.label.endswith("*") else "") for c in row.cells]
        out.append(f"| {host} | " + " | ".join(cells) + " |")
    if any(c.label.endswith("*") for r in v.matrix for c in r.cells):
        out += ["", "\\* a waiver for this check expired: it no longer applies."]
    if framework is not None:
        fv = group_by_framework(doc, framework)
        out += ["", f"### By {md_text(framework.title)}", "", "| Requirement | Status | Failing |", "|---|---|---|"]
        for r in fv.rows:
            failing = ", ".join(f"{md_cell(h)}: {md_cell(c)}" for h, c in r.failing) or "—"
            out.append(
                f"| {md_cell(r.requirement.id)} {md_cell(r.requirement.title)} | {_ICON.get(r.status, r.status)} "
                f"| {failing} |"
            )
        if fv.unmapped:
            out += ["", "Not mapped in this framework: " + ", ".join(md_text(c) for c in fv.unmapped)]
    for sev, findings in v.findings:
        out += ["", f"### {sev.capitalize()}"]
        for f in findings:
            refs = ", ".join(md_text(f"{r.framework.upper()} {r.id}") for r in f.references)
            out += ["", f"**{md_text(f.check_id)}** — {md_text(f.title)}" + (f" ({refs})" if refs else "")]
            for it in f.items:
                line = f"- {_ICON[it.status]} **{md_text(it.host)}**: {md_text(shorten(it.message, max_message))}"
                if it.waiver is not None:
                    w = it.waiver
                    state = "EXPIRED on" if w.expired else "waived until"
                    line += f" — _{state} {w.expires.isoformat()}: {md_text(shorten(w.justification, 160))}_"
                out.append(line)
            if f.guide.remediation:
                out.append(f"- Fix: {md_text(shorten(f.guide.remediation, 400))}")
    out += ["", "_Full evidence and remediation snippets: report.html; machine-readable: results.json._", ""]
    return "\n".join(out)
