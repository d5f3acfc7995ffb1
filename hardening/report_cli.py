"""``harden report`` and ``harden diff``, and :func:`write_reports` (used by ``harden audit``).

Exit codes: 0 clean; 1 a failing check at/above ``--fail-on`` (report) or a regression
(diff); 2 bad input (results file, waivers file, framework name, options); 3 a host not
fully audited (report with ``--fail-on``).

Example::

    harden report reports/today/results.json --format html,sarif,md --waivers waivers.yml
    harden diff reports/yesterday/results.json reports/today/results.json
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import click

from hardening.cli_options import (
    FORMATS,
    SEVERITIES,
    format_option,
    framework_option,
    parse_formats,
    waivers_option,
)
from hardening.model import HostStatus, Severity, Status
from hardening.report.document import (
    ResultsDoc,
    ResultsError,
    dump_results,
    load_results,
    write_results,
    written_results,
)
from hardening.report.frameworks import Framework, FrameworkError, framework_names, load_framework
from hardening.report.waivers import Waiver, WaiverError, apply_waivers, load_waivers
from hardening.results import (
    EXIT_BAD_INPUT,
    EXIT_CLEAN,
    EXIT_FAILING,
    EXIT_INCOMPLETE,
    ResultsWriter,
    write_atomic,
)

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
    """Write one report format to ``path`` (atomically). HTML and JSON are streamed, host by host."""
    from hardening.report import html

    if fmt == "html":
        write_atomic(path, html.html_chunks(doc, framework))
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
        doc = apply_waivers(doc, waivers, today or date.today())
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


def _fail(msg: str) -> None:
    from hardening.report.text import terminal_safe

    click.echo(f"harden: error: {terminal_safe(msg)}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint="--today") from None


@click.command("report")
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False))
@format_option()
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Output directory (default: the directory of RESULTS).",
)
@waivers_option
@framework_option
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Also gate like audit: exit 1 when a (not waived) check at/above this severity fails, 3 when a host "
    "was not fully audited.",
)
@click.option("--today", metavar="YYYY-MM-DD", help="Date waiver expiry is judged on (default: today).")
def report_cmd(
    results: Path,
    formats: tuple[str, ...],
    out_dir: Path | None,
    waivers_file: Path | None,
    framework: str | None,
    fail_on: str | None,
    today: str | None,
) -> None:
    """Re-render the reports of RESULTS (a results.json) without auditing again."""
    day = _today(today)
    try:
        doc = load_results(results)
        waivers, fw = load_inputs(waivers_file, framework)
    except (ResultsError, WaiverError, FrameworkError) as exc:
        _fail(str(exc))
        return
    out = out_dir if out_dir is not None else results.parent
    doc, paths = write_reports(doc, out, formats, fw, waivers, day)
    for p in paths:
        click.echo(str(p))
    expired = sum(1 for h in doc.hosts for c in h.checks if c.waiver is not None and c.waiver.expired)
    if expired:
        click.echo(f"harden: {expired} result(s) matched only expired waivers: they count as failing", err=True)
    if fail_on is not None:
        sys.exit(gate(doc, Severity(fail_on)))


@click.command("diff")
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "md", "json"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="info",
    show_default=True,
    help="Exit 1 when a check at/above this severity is newly failing.",
)
def diff_cmd(old: Path, new: Path, fmt: str, fail_on: str) -> None:
    """Compare two results.json: newly failing, fixed, still failing, hosts added or gone.

    Exit 1 on regressions (a check failing in NEW that was not failing in OLD).
    """
    from hardening.report.diff import diff_results, render_diff_json, render_diff_markdown, render_diff_text

    try:
        a, b = load_results(old), load_results(new)
    except ResultsError as exc:
        _fail(str(exc))
        return
    d = diff_results(a, b)
    render_fn = {"text": render_diff_text, "md": render_diff_markdown, "json": render_diff_json}[fmt]
    click.echo(render_fn(d), nl=False)
    sys.exit(EXIT_FAILING if d.regressions(Severity(fail_on)) else EXIT_CLEAN)


__all__ = [
    "FILE_NAMES",
    "FORMATS",
    "diff_cmd",
    "framework_names",
    "gate",
    "parse_formats",
    "report_cmd",
    "write_reports",
]
