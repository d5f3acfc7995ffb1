"""Framework mappings as data: they name real checks; the report groups by requirement."""

import subprocess
import sys
from pathlib import Path

import pytest
from hardening.checks import linux_checks, windows_checks

from hardening.report.document import load_results
from hardening.report.frameworks import (
    FrameworkError,
    all_frameworks,
    check_guide,
    group_by_framework,
    load_framework,
)
from hardening.report.html import render_html

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
HARDEN = str(Path(sys.executable).parent / "harden")
CHECK_IDS = {c.meta.id for c in linux_checks()}
WINDOWS_IDS = {c.meta.id for c in windows_checks()}


def test_every_mapping_names_existing_checks_and_every_check_has_guidance():
    names = {f.name for f in all_frameworks()}
    assert names == {"nist-800-53", "cis-debian-12", "cis-windows-server-2022", "mitre-attack"}
    for fw in all_frameworks():
        assert fw.mapped_checks() <= CHECK_IDS | WINDOWS_IDS, fw.name
        assert len({r.id for r in fw.requirements}) == len(fw.requirements)
        assert all(r.checks for r in fw.requirements), fw.name  # no requirement without evidence
    for cid in CHECK_IDS:
        g = check_guide(cid, "linux")
        assert g.rationale and g.remediation and g.snippet, cid
    for cid in WINDOWS_IDS:
        g = check_guide(cid, "windows")
        assert g.rationale and g.remediation and g.snippet and g.language == "powershell", cid


def test_check_references_agree_with_the_mappings():
    """A check citing NIST X or ATT&CK T is listed under X / T in that framework's file."""
    files = {f.aliases[0]: f for f in all_frameworks()}
    for check in (*linux_checks(), *windows_checks()):
        for ref in check.meta.references:
            fw = files[ref.framework]
            req = next((r for r in fw.requirements if r.id == ref.id), None)
            assert req is not None and req.counts(check.meta.id, check.meta.platform), (check.meta.id, ref.id)


def test_group_by_nist_on_the_lab_golden():
    view = group_by_framework(load_results(GOLDEN / "results.json"), load_framework("nist-800-53"))
    rows = {r.requirement.id: r for r in view.rows}
    sc75 = rows["SC-7(5)"]
    assert sc75.status == "fail"
    assert set(sc75.failing) == {
        ("default", "egress.default_deny"), ("default", "egress.allowlist"),
        ("half", "egress.default_deny"), ("half", "egress.allowlist"),
    }  # fmt: skip
    assert rows["AU-2"].errors == (("hardened", "audit.auditd"),)
    assert view.unmapped == ()
    cis = group_by_framework(load_results(GOLDEN / "results.json"), load_framework("cis"))
    assert cis.unmapped == ("dns.query_logging",)


def test_requirement_whose_checks_all_pass_passes_and_unrun_is_not_assessed():
    doc = load_results(GOLDEN / "results.json")
    hardened = doc.__class__(**{**doc.__dict__, "hosts": (doc.hosts[0],)})
    rows = {r.requirement.id: r for r in group_by_framework(hardened, load_framework("attack")).rows}
    assert rows["T1095"].status == "pass"  # egress.default_deny passes on hardened
    assert rows["T1071.004"].status == "pass"
    empty = doc.__class__(**{**doc.__dict__, "hosts": ()})
    assert {r.status for r in group_by_framework(empty, load_framework("attack")).rows} == {"not_assessed"}


def test_unknown_framework_is_an_error_listing_the_known_ones(tmp_path):
    with pytest.raises(FrameworkError, match="nist-800-53"):
        load_framework("iso27001")
    r = subprocess.run(
        [HARDEN, "report", str(GOLDEN / "results.json"), "--out", str(tmp_path), "--framework", "iso27001"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unknown framework 'iso27001'" in r.stderr


def test_html_grouped_by_attack():
    html = render_html(load_results(GOLDEN / "results.json"), load_framework("attack"))
    assert "By MITRE ATT&amp;CK Enterprise" in html and "T1059.004" in html
