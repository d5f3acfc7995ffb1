"""Writing reports: render each format, write them atomically, gate the exit code.

Used by ``harden report``, ``harden audit`` and ``harden judge`` (their CLIs only parse
options, call these and map errors to exit codes).

Example::

    doc, paths = write_reports(load_results(path), Path("out"), ("html", "sarif"))
    sys.exit(gate(doc, Severity.HIGH))
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from hardening.model import HostStatus, Severity, Status
from hardening.report.document import ResultsDoc, dump_results, write_results, written_results
from hardening.report.frameworks import Framework, load_framework
from hardening.report.waivers import Waiver, apply_waivers, load_waivers, unmatched_waivers
from hardening.results import EXIT_CLEAN, EXIT_FAILING, EXIT_INCOMPLETE, ResultsWriter, write_atomic

FILE_NAMES = {
    "html": "report.html",
    "json": "results.json",
    "junit": "junit.xml",
    "sarif": "harden.sarif",
    "md": "report.md",
}


def gate(doc: ResultsDoc, fail_on: Severity) -> int:
    """3 if a host was not fully audited, else 1 if a check fails at/above ``fail_on``, else 0.

    A waived check does not count as failing; an expired waiver leaves the check failing.
    """
    if any(h.status is not HostStatus.OK for h in doc.hosts):
        return EXIT_INCOMPLETE
    if any(c.status is Status.FAIL and c.severity.rank >= fail_on.rank for h in doc.hosts for c in h.checks):
        return EXIT_FAILING
    return EXIT_CLEAN


def write_report(doc: ResultsDoc, fmt: str, framework: Framework | None, path: Path) -> None:
    """Write one report format to ``path`` (atomically). HTML, JSON, JUnit and SARIF are streamed, host by host."""
    from hardening.report import html, junit, sarif

    if fmt == "html":
        write_atomic(path, html.html_chunks(doc, framework))
    elif fmt == "junit":
        write_atomic(path, junit.junit_chunks(doc))
    elif fmt == "sarif":
        write_atomic(path, sarif.sarif_chunks(doc))
    elif fmt == "json":
        write_results(doc, path)
    else:
        write_atomic(path, (render(doc, fmt, framework),))


def render(doc: ResultsDoc, fmt: str, framework: Framework | None) -> str:
    """The text of one report format."""
    from hardening.report import html, junit, markdown, sarif

    if fmt == "html":
        return html.render_html(doc, framework)
    if fmt == "json":
        return dump_results(doc)
    if fmt == "junit":
        return junit.render_junit(doc)
    if fmt == "sarif":
        return sarif.render_sarif(doc)
    if fmt == "md":
        return markdown.render_markdown(doc, framework)
    raise ValueError(f"unknown format {fmt!r}")


def write_reports(
    doc: ResultsDoc,
    out_dir: Path,
    formats: Iterable[str],
    framework: Framework | None = None,
    waivers: Iterable[Waiver] | None = None,
    today: date | None = None,
) -> tuple[ResultsDoc, tuple[Path, ...]]:
    """Apply ``waivers`` (as of ``today``), write each format into ``out_dir``; return the doc and paths.

    With waivers, results.json is rewritten with them (so it stays the record of what
    the report shows) even when ``json`` is not among ``formats``.
    """
    if waivers is not None:
        waivers = tuple(waivers)
        doc = apply_waivers(doc, waivers, today or date.today())
        for w in unmatched_waivers(doc, waivers):  # progress and warnings go to stderr
            sys.stderr.write(f"harden: warning: waiver for {w.check} on {w.hosts!r} matches no host and check\n")
    formats = tuple(formats)
    if waivers is not None and "json" not in formats:
        formats = ("json", *formats)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / FILE_NAMES[fmt]
        write_report(doc, fmt, framework, path)
        paths.append(path)
    return doc, tuple(paths)


def reports_after_run(
    writer: ResultsWriter,
    formats: Iterable[str],
    framework: Framework | None,
    waivers: Iterable[Waiver] | None,
) -> ResultsDoc:
    """The reports of a run that just closed ``writer`` (``harden audit``, ``harden judge``).

    Works on the hosts the writer streamed, read back one at a time with their evidence held
    as text: memory stays flat at fleet size. results.json is the writer's own unless waivers
    change it.
    """
    doc = written_results(writer)
    if waivers is None:
        formats = tuple(f for f in formats if f != "json")
    doc, _ = write_reports(doc, writer.out_dir, formats, framework, waivers)
    return doc


def load_inputs(
    waivers_file: Path | None, framework_name: str | None
) -> tuple[tuple[Waiver, ...] | None, Framework | None]:
    """Load ``--waivers`` and ``--framework`` (raises WaiverError / FrameworkError)."""
    waivers = load_waivers(waivers_file) if waivers_file is not None else None
    framework = load_framework(framework_name) if framework_name else None
    return waivers, framework
