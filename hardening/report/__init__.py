"""Reports over a results document: HTML, JUnit XML, SARIF 2.1.0, Markdown; waivers, frameworks, diff.

Everything here is a pure function of a :class:`ResultsDoc` (see :mod:`.document`);
the CLI (``hardening.report_cli``) does the file I/O.

Example::

    doc = apply_waivers(load_results(path), load_waivers(wpath), date.today())
    html = render_html(doc, load_framework("nist"))
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported when first used (PEP 562): ``harden audit`` imports only the modules it renders with.
_WHERE = {
    "DiffResult": "diff",
    "diff_results": "diff",
    "ResultsDoc": "document",
    "ResultsError": "document",
    "dump_results": "document",
    "load_results": "document",
    "parse_results": "document",
    "Framework": "frameworks",
    "FrameworkError": "frameworks",
    "group_by_framework": "frameworks",
    "load_framework": "frameworks",
    "render_html": "html",
    "render_junit": "junit",
    "render_markdown": "markdown",
    "render_sarif": "sarif",
    "Waiver": "waivers",
    "WaiverError": "waivers",
    "apply_waivers": "waivers",
    "load_waivers": "waivers",
    "parse_waivers": "waivers",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hardening.report.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'hardening.report' has no attribute {name!r}")


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
