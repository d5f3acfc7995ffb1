"""``harden report`` and ``harden diff``: options, messages and exit codes (the work is in :mod:`hardening.report`).

Exit codes: 0 clean; 1 a failing check at/above ``--fail-on`` (report) or a regression
(diff); 2 bad input (results file, waivers file, framework name, options); 3 a host not
fully audited (report with ``--fail-on``).

Example::

    harden report reports/today/results.json --format html,sarif,md --waivers waivers.yml
    harden diff reports/yesterday/results.json reports/today/results.json
"""

from __future__ import annotations

import sys
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
from hardening.model import Severity
from hardening.report.document import (
    ResultsError,
    load_results,
)
from hardening.report.frameworks import FrameworkError, framework_names
from hardening.report.waivers import WaiverError
from hardening.report.write import (  # re-exported: the work lives in hardening.report.write
    FILE_NAMES as FILE_NAMES,
)
from hardening.report.write import gate as gate
from hardening.report.write import load_inputs as load_inputs
from hardening.report.write import render as render
from hardening.report.write import reports_after_run as reports_after_run
from hardening.report.write import write_report as write_report
from hardening.report.write import write_reports as write_reports
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING


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

    Exit 1 on regressions (a check failing in NEW that was not failing in OLD, or still failing with new findings).
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
