"""JUnit XML: one testcase per host × check, failure/error/skipped as CI systems read them."""

import xml.etree.ElementTree as ET
from pathlib import Path

from hardening.report.document import load_results
from hardening.report.junit import render_junit
from hardening.report.text import xml_safe

GOLDEN = Path(__file__).parents[1] / "golden" / "report"


def _cases(xml: str):
    root = ET.fromstring(xml.encode())
    assert root.tag == "testsuites"
    return root, root.findall("./testsuite/testcase")


def test_lab_golden_one_testcase_per_host_and_check():
    doc = load_results(GOLDEN / "results.json")
    root, cases = _cases(render_junit(doc))
    assert len(cases) == 4 * 6
    assert len(root.findall(".//failure")) == 17
    assert len(root.findall(".//error")) == 1  # hardened: audit.auditd (no kernel audit in a container)
    assert root.get("tests") == "24" and root.get("failures") == "17" and root.get("errors") == "1"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"hardened", "default", "ufw", "half"}
    assert suites["default"].get("failures") == "6"
    (err,) = suites["hardened"].findall(".//error")
    assert "audit" in err.get("message")
    fail = next(c for c in suites["half"] if c.get("name", "").startswith("egress.default_deny"))
    assert fail.find("failure").get("type") == "critical"
    assert "ct state new accept" in fail.find("failure").text
    for suite in suites.values():  # counts agree with the elements
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))


def test_hostile_host_data_is_well_formed_xml_and_unreachable_host_errors():
    doc = load_results(GOLDEN / "hostile.json")
    xml = render_junit(doc)
    assert "\x1b" not in xml and "\x00" not in xml and "\ufffe" not in xml
    root, cases = _cases(xml)  # parses: no illegal characters, markup escaped
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    evil = suites["web<script>alert(1)</script>|01"]  # round-trips as text, not markup
    failures = evil.findall("testcase/failure")
    assert len(failures) == 6
    assert all("<script>alert('x')</script>" in f.text and "]]>" in f.text for f in failures)
    gone = suites["gone|<b>x</b>"]
    assert len(gone.findall("testcase")) == 6 and len(gone.findall("testcase/error")) == 6
    assert all(e.get("type") == "unreachable" for e in gone.iter("error"))
    assert len(cases) == 6 * 6


def test_unreachable_host_in_a_fleet_with_no_results_still_errors():
    doc = load_results(GOLDEN / "hostile.json")
    from dataclasses import replace

    only_gone = replace(doc, hosts=tuple(h for h in doc.hosts if h.name.startswith("gone")))
    _, cases = _cases(render_junit(only_gone))
    assert len(cases) == 1 and cases[0].find("error") is not None


def _whole_tree(doc):
    """junit.xml as it was rendered before it was streamed: one tree, ET.indent, ET.tostring
    (the totals counted from the elements themselves)."""
    from hardening.report.junit import _REACHABILITY, _case, check_meta

    check_ids = doc.check_ids()
    root = ET.Element("testsuites", {"name": "harden"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for host in doc.hosts:
        attrs = {"name": xml_safe(host.name), "hostname": xml_safe(host.name), "timestamp": doc.started_at}
        suite = ET.SubElement(root, "testsuite", attrs)
        if host.address:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", {"name": "address", "value": xml_safe(host.address)})
        ids = (check_ids if not host.audited else tuple(c.id for c in host.checks)) or (_REACHABILITY,)
        for cid in ids:
            c = host.check(cid)
            if c is None and host.audited:
                continue
            meta = check_meta(cid, host.platform, c or doc.any_result(cid))
            _case(suite, host, cid, c, meta.title if meta else "")
        cases = suite.findall("testcase")
        counts = {"tests": len(cases)}
        for k, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            counts[k] = sum(x.find(tag) is not None for x in cases)
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{host.duration_s:.3f}")
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def test_junit_is_written_suite_by_suite_as_the_whole_tree_was(tmp_path):
    """junit.xml is streamed one host's testsuite at a time: byte for byte the whole tree's text,
    for audited, unreachable, hostile, waived and empty documents, also as written to the file."""
    from dataclasses import replace
    from datetime import date

    from hardening.model import HostResult, HostStatus, Platform
    from hardening.report.waivers import apply_waivers, parse_waivers
    from hardening.report.write import write_report

    lab, hostile = load_results(GOLDEN / "results.json"), load_results(GOLDEN / "hostile.json")
    waivers = parse_waivers(
        "- {check: appcontrol.enforced, hosts: hardened, justification: ok, expires: 2027-01-01}\n"
        "- {check: audit.auditd, hosts: all, justification: container, expires: 2020-01-01}\n"
    )
    bare = HostResult("bare", Platform.LINUX, HostStatus.OK, address="")  # audited, no check at all
    docs = [
        lab,
        hostile,
        replace(hostile, hosts=tuple(h for h in hostile.hosts if h.name.startswith("gone"))),
        apply_waivers(lab, waivers, date(2026, 6, 1)),
        replace(lab, hosts=(*lab.hosts, bare)),
        replace(lab, hosts=()),
    ]
    for i, doc in enumerate(docs):
        want = _whole_tree(doc)
        assert render_junit(doc) == want, i
        write_report(doc, "junit", None, tmp_path / f"{i}.xml")
        assert (tmp_path / f"{i}.xml").read_bytes() == want.encode(), i
