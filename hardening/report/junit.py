"""JUnit XML: one testsuite per host, one testcase per host × check.

``fail`` -> ``<failure>``; ``error`` -> ``<error>``; a host not fully audited gets an
``<error>`` testcase for every check it has no result for; ``waived`` and
``not_applicable`` -> ``<skipped>``. Text is made legal XML 1.0 (controls and ANSI
escapes stripped); ElementTree escapes markup.

Example::

    Path("junit.xml").write_text(render_junit(doc), encoding="utf-8")
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

from hardening.model import CheckResult, HostResult, Status
from hardening.report.document import ResultsDoc
from hardening.report.frameworks import check_meta
from hardening.report.text import shorten, xml_safe

_REACHABILITY = "host.reachable"


def _text(c: CheckResult) -> str:
    parts = [c.message]
    if c.waiver is not None and c.waiver.expired:
        parts.append(f"(waiver expired {c.waiver.expires.isoformat()}: {c.waiver.justification})")
    if c.evidence.excerpt:
        parts += ["", "evidence (collector output):", c.evidence.excerpt]
    return xml_safe("\n".join(parts))


def _kind(host: HostResult, c: CheckResult | None) -> str | None:
    """Which total a testcase counts in: ``failures``, ``errors``, ``skipped`` or none (a pass)."""
    if c is None:  # host not fully audited: no verdict for this check
        return "errors"
    if c.status is Status.FAIL:
        return "failures"
    if c.status is Status.ERROR:
        return "errors"
    if c.status in (Status.NOT_APPLICABLE, Status.WAIVED):
        return "skipped"
    return None


def _case(suite: ET.Element, host: HostResult, check_id: str, c: CheckResult | None, title: str) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": xml_safe(host.name), "name": xml_safe(f"{check_id}: {title}" if title else check_id)},
    )
    if c is None:  # host not fully audited: no verdict for this check
        err = ET.SubElement(
            case, "error", {"type": host.status.value, "message": xml_safe(shorten(host.message or host.status, 500))}
        )
        err.text = xml_safe(f"{host.name} was not fully audited ({host.status.value}): {host.message}")
    elif c.status is Status.FAIL:
        el = ET.SubElement(case, "failure", {"type": c.severity.value, "message": xml_safe(shorten(c.message, 500))})
        el.text = _text(c)
    elif c.status is Status.ERROR:
        el = ET.SubElement(case, "error", {"type": "check_error", "message": xml_safe(shorten(c.message, 500))})
        el.text = _text(c)
    elif c.status is Status.WAIVED and c.waiver is not None:
        msg = f"waived until {c.waiver.expires.isoformat()}: {c.waiver.justification}"
        ET.SubElement(case, "skipped", {"message": xml_safe(shorten(msg, 500))})
    elif c.status in (Status.NOT_APPLICABLE, Status.WAIVED):
        ET.SubElement(case, "skipped", {"message": xml_safe(shorten(c.message, 500))})


def _cases(host: HostResult, check_ids: tuple[str, ...]) -> Iterator[tuple[str, CheckResult | None]]:
    """The host's testcases: (check id, its result, or None when the host has no verdict for it)."""
    ids = check_ids if not host.audited else tuple(c.id for c in host.checks)
    if not ids:  # unreachable host and no check ran anywhere: still one error
        ids = (_REACHABILITY,)
    for cid in ids:
        c = host.check(cid)
        if c is None and host.audited:
            continue
        yield cid, c


def _counts(host: HostResult, check_ids: tuple[str, ...]) -> dict[str, int]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for _, c in _cases(host, check_ids):
        counts["tests"] += 1
        kind = _kind(host, c)
        if kind is not None:
            counts[kind] += 1
    return counts


def _suite(doc: ResultsDoc, host: HostResult, check_ids: tuple[str, ...]) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        {"name": xml_safe(host.name), "hostname": xml_safe(host.name), "timestamp": doc.started_at},
    )
    if host.address:  # properties come first (JUnit/Ant schema order)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "address", "value": xml_safe(host.address)})
    for cid, c in _cases(host, check_ids):
        meta = check_meta(cid, host.platform, c or doc.any_result(cid))
        _case(suite, host, cid, c, meta.title if meta else "")
    for k, v in _counts(host, check_ids).items():
        suite.set(k, str(v))
    suite.set("time", f"{host.duration_s:.3f}")
    return suite


def junit_chunks(doc: ResultsDoc) -> Iterator[str]:
    """JUnit XML (``<testsuites>``) for ``doc``, one host's ``<testsuite>`` at a time: the totals
    first (a pass over the verdicts, no evidence read), then each suite built, written and dropped,
    so a 10,000-host report never exists as one tree or one string. The text is what
    ``ET.indent`` and ``ET.tostring`` give for the whole tree."""
    check_ids = doc.check_ids()
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host in doc.hosts:
        for k, v in _counts(host, check_ids).items():
            totals[k] += v
    root = ET.Element("testsuites", {"name": "harden", **{k: str(v) for k, v in totals.items()}})
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    if not doc.hosts:
        yield ET.tostring(root, encoding="unicode") + "\n"
        return
    head = ET.tostring(root, encoding="unicode", short_empty_elements=False)
    yield head[: -len("</testsuites>")]
    for host in doc.hosts:
        suite = _suite(doc, host, check_ids)
        ET.indent(suite, level=1)
        yield "\n  " + ET.tostring(suite, encoding="unicode")
    yield "\n</testsuites>\n"


def render_junit(doc: ResultsDoc) -> str:
    """JUnit XML (``<testsuites>``) for ``doc``: CI systems show each failing host × check."""
    return "".join(junit_chunks(doc))
