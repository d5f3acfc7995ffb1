"""JUnit XML: one testcase per host × check, failure/error/skipped as CI systems read them."""

import xml.etree.ElementTree as ET
from pathlib import Path

from hardening.report.document import load_results
from hardening.report.junit import render_junit

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
