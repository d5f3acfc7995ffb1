"""Reports over a results document: HTML, JUnit XML, SARIF 2.1.0, Markdown; waivers, frameworks, diff.

Everything here is a pure function of a :class:`ResultsDoc` (see :mod:`.document`);
the CLI (``hardening.report_cli``) does the file I/O.

Example::

    doc = apply_waivers(load_results(path), load_waivers(wpath), date.today())
    html = render_html(doc, load_framework("nist"))
"""

from hardening.report.diff import DiffResult, diff_results
from hardening.report.document import ResultsDoc, ResultsError, dump_results, load_results, parse_results
from hardening.report.frameworks import Framework, FrameworkError, group_by_framework, load_framework
from hardening.report.html import render_html
from hardening.report.junit import render_junit
from hardening.report.markdown import render_markdown
from hardening.report.sarif import render_sarif
from hardening.report.waivers import Waiver, WaiverError, apply_waivers, load_waivers, parse_waivers

__all__ = [
    "DiffResult",
    "Framework",
    "FrameworkError",
    "ResultsDoc",
    "ResultsError",
    "Waiver",
    "WaiverError",
    "apply_waivers",
    "diff_results",
    "dump_results",
    "group_by_framework",
    "load_framework",
    "load_results",
    "load_waivers",
    "parse_results",
    "parse_waivers",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_sarif",
]
