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


def _case(suite: ET.Element, host: HostResult, check_id: str, c: CheckResult | None, title: str) -> dict[str, int]:
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
        return {"errors": 1}
    if c.status is Status.FAIL:
        el = ET.SubElement(case, "failure", {"type": c.severity.value, "message": xml_safe(shorten(c.message, 500))})
        el.text = _text(c)
        return {"failures": 1}
    if c.status is Status.ERROR:
        el = ET.SubElement(case, "error", {"type": "check_error", "message": xml_safe(shorten(c.message, 500))})
        el.text = _text(c)
        return {"errors": 1}
    if c.status is Status.WAIVED and c.waiver is not None:
        msg = f"waived until {c.waiver.expires.isoformat()}: {c.waiver.justification}"
        ET.SubElement(case, "skipped", {"message": xml_safe(shorten(msg, 500))})
        return {"skipped": 1}
    if c.status in (Status.NOT_APPLICABLE, Status.WAIVED):
        ET.SubElement(case, "skipped", {"message": xml_safe(shorten(c.message, 500))})
        return {"skipped": 1}
    return {}


def render_junit(doc: ResultsDoc) -> str:
    """JUnit XML (``<testsuites>``) for ``doc``: CI systems show each failing host × check."""
    check_ids = doc.check_ids()
    root = ET.Element("testsuites", {"name": "harden"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host in doc.hosts:
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": xml_safe(host.name), "hostname": xml_safe(host.name), "timestamp": doc.started_at},
        )
        if host.address:  # properties come first (JUnit/Ant schema order)
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", {"name": "address", "value": xml_safe(host.address)})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        ids = check_ids if not host.audited else tuple(c.id for c in host.checks)
        if not ids:  # unreachable host and no check ran anywhere: still one error
            ids = (_REACHABILITY,)
        for cid in ids:
            c = host.check(cid)
            if c is None and host.audited:
                continue
            counts["tests"] += 1
            meta = check_meta(cid, host.platform, c or doc.any_result(cid))
            for k, v in _case(suite, host, cid, c, meta.title if meta else "").items():
                counts[k] += v
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", str(counts["errors"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", f"{host.duration_s:.3f}")
        for k in totals:
            totals[k] += counts[k]
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
