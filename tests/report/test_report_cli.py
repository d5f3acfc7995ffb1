"""harden audit writes the reports (--format, --waivers, --framework); harden report re-renders."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
from hardening.checks import linux_checks

from hardening.report_cli import parse_formats
from hardening.results import results_schema

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
HARDEN = str(Path(sys.executable).parent / "harden")


def harden(*args):
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_parse_formats():
    assert parse_formats("html,json") == ("html", "json")
    assert parse_formats("all") == ("html", "json", "junit", "sarif", "md")
    r = harden("report", GOLDEN / "results.json", "--format", "html,pdf")
    assert r.returncode == 2 and "pdf" in r.stderr


def test_audit_default_formats_are_html_and_json(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("gone ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n")
    r = harden("audit", inv, "--out", tmp_path / "o", "--timeout", "5")
    assert r.returncode == 3, r.stderr
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"hosts.jsonl", "report.html", "results.json"} <= names
    assert not names & {"junit.xml", "harden.sarif", "report.md"}
    assert "not fully audited" in (tmp_path / "o" / "report.html").read_text()


def test_audit_all_formats_with_waivers_and_framework(tmp_path):
    """A local audit of this machine: every report is written; waivers rewrite results.json."""
    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  hosts:\n    controller:\n      ansible_connection: local\n")
    w = tmp_path / "w.yml"
    w.write_text("- {check: '*', hosts: controller, justification: lab machine, expires: 2099-12-31, by: ci}\n")
    out = tmp_path / "o"
    r = harden(
        "audit", inv, "--out", out, "--format", "all", "--waivers", w, "--framework", "nist", "--fail-on", "info"
    )  # fmt: skip
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "results.json", "junit.xml", "harden.sarif", "report.md"} <= names
    doc = json.loads((out / "results.json").read_text())
    jsonschema.validate(doc, results_schema())
    statuses = {c["status"] for c in doc["hosts"][0]["checks"]}
    assert "fail" not in statuses  # every failure here is waived ...
    assert r.returncode == 0, (r.returncode, statuses, r.stderr[-800:])  # ... so nothing fails the gate
    root = ET.parse(out / "junit.xml").getroot()
    assert len(root.findall(".//testcase")) == len(linux_checks()) and not root.findall(".//failure")
    assert "By NIST SP 800-53" in (out / "report.html").read_text()


def test_report_rerenders_in_place_by_default(tmp_path):
    src = tmp_path / "results.json"
    src.write_text((GOLDEN / "results.json").read_text())
    r = harden("report", src, "--format", "md,junit")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "report.md", "results.json"]
    assert r.stdout.split() == [str(tmp_path / "report.md"), str(tmp_path / "junit.xml")]
    r = harden("report", src, "--format", "md", "--fail-on", "critical")
    assert r.returncode == 1  # default and half fail egress.default_deny
