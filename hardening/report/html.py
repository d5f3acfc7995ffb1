"""The HTML report: one self-contained page (inline CSS and SVG, no script, no network).

Rendered with Jinja2 (autoescape on) from ``templates/report.html.j2``, loaded through
``importlib.resources`` from the installed ``hardening.templates`` package data.

Example::

    Path("report.html").write_text(render_html(doc), encoding="utf-8")
    # or, without the whole page in memory: f.writelines(html_chunks(doc))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2
import markupsafe

from hardening.report.document import ResultsDoc
from hardening.report.frameworks import Framework, group_by_framework
from hardening.report.text import strip_control
from hardening.report.view import Bar, build_view

_TEMPLATES = "hardening.templates"

SEVERITY_COLORS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#3b82f6",
    "info": "#64748b",
}


def _load_template(name: str) -> str:
    try:
        return resources.files(_TEMPLATES).joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise jinja2.TemplateNotFound(name) from None


def _no_controls(value: object) -> object:
    """Every ``{{ }}`` output: host strings lose ANSI escapes and control characters (a NUL is an
    HTML parse error; an escape fires when someone ``cat``s the report). Markup is ours: kept."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return strip_control(value)
    return value


@cache
def environment() -> jinja2.Environment:
    """Jinja2 environment over the packaged templates; autoescape on for everything."""
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_no_controls,
    )


@dataclass(frozen=True)
class SvgBar:
    label: str
    y: int
    fail_w: float
    waived_w: float
    failing: int
    waived: int
    color: str


@dataclass(frozen=True)
class SvgChart:
    width: int
    height: int
    bar_x: int
    bar_max: int
    bars: tuple[SvgBar, ...]


def severity_chart(bars: tuple[Bar, ...], width: int = 420) -> SvgChart:
    """Geometry of the horizontal severity bar chart (failing solid, waived hatched)."""
    bar_x, row_h = 78, 30
    bar_max = width - bar_x - 64
    top = max((b.failing + b.waived for b in bars), default=0) or 1
    out = tuple(
        SvgBar(
            label=b.severity,
            y=8 + i * row_h,
            fail_w=round(bar_max * b.failing / top, 1),
            waived_w=round(bar_max * b.waived / top, 1),
            failing=b.failing,
            waived=b.waived,
            color=SEVERITY_COLORS[b.severity],
        )
        for i, b in enumerate(bars)
    )
    return SvgChart(width, 16 + len(bars) * row_h, bar_x, bar_max, out)


def warm_up() -> None:
    """Compile the report template now (e.g. while hosts are being audited): about 0.1 s."""
    environment().get_template("report.html.j2")


def render_html(doc: ResultsDoc, framework: Framework | None = None) -> str:
    """The whole report as one HTML document (string)."""
    return "".join(html_chunks(doc, framework))


def html_chunks(doc: ResultsDoc, framework: Framework | None = None) -> Iterator[str]:
    """The report as it is rendered, piece by piece: written straight to a file, a 1,000-host report
    never exists as one string (evidence is formatted per finding as the template reaches it)."""
    view = build_view(doc)
    env = environment()
    return env.get_template("report.html.j2").generate(
        doc=doc,
        view=view,
        chart=severity_chart(view.bars),
        colors=SEVERITY_COLORS,
        framework=group_by_framework(doc, framework) if framework else None,
        css=markupsafe.Markup(_load_template("report.css")),  # our own file, not host data
    )
