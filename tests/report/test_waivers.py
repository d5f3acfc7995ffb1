"""Waivers: in force, expired, Ansible-style host patterns, required fields; gating and schema."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from hardening.model import Severity, Status
from hardening.report.document import dump_results, load_results
from hardening.report.waivers import WaiverError, apply_waivers, host_matches, load_waivers, parse_waivers
from hardening.report_cli import gate
from hardening.results import results_schema

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
HARDEN = str(Path(sys.executable).parent / "harden")
DAY = date(2026, 12, 1)


def _status(doc, host, check):
    return next(c for h in doc.hosts if h.name == host for c in h.checks if c.id == check)


@pytest.fixture
def waived():
    return apply_waivers(load_results(GOLDEN / "results.json"), load_waivers(GOLDEN / "waivers.yml"), DAY)


def test_waiver_in_force_waives_and_expired_one_does_not(waived):
    nc = _status(waived, "ufw", "binaries.netcat")
    assert nc.status is Status.WAIVED and nc.waiver.by == "alice@example.com" and not nc.waiver.expired
    ac = _status(waived, "hardened", "appcontrol.enforced")
    assert ac.status is Status.FAIL and ac.waiver.expired and ac.waiver.expires == date(2026, 10, 31)
    # glob check id and "all:!default": half and ufw waived, default excluded, hardened passes anyway
    assert _status(waived, "half", "dns.query_logging").status is Status.WAIVED
    assert _status(waived, "default", "dns.query_logging").status is Status.FAIL
    assert _status(waived, "hardened", "dns.query_logging").status is Status.PASS
    assert _status(waived, "hardened", "dns.query_logging").waiver is None
    # not matched host: untouched
    assert _status(waived, "default", "binaries.netcat").status is Status.FAIL


def test_waived_results_json_is_schema_valid_and_reapplying_is_exact(waived):
    data = json.loads(dump_results(waived))
    jsonschema.validate(data, results_schema())
    assert data["summary"]["check_status"]["waived"] == 3
    assert data["summary"]["waivers"] == {"applied": 3, "expired": 1}
    again = apply_waivers(waived, load_waivers(GOLDEN / "waivers.yml"), DAY)
    assert again == waived
    cleared = apply_waivers(waived, (), DAY)  # a new (empty) waivers file replaces the old ones
    assert cleared == load_results(GOLDEN / "results.json")


def test_waived_check_does_not_count_as_failing():
    doc = load_results(GOLDEN / "results.json")
    hardened_only = doc.__class__(**{**doc.__dict__, "hosts": (doc.hosts[0],)})
    assert gate(hardened_only, Severity.HIGH) == 1  # appcontrol.enforced fails
    w = parse_waivers("- {check: appcontrol.enforced, hosts: hardened, justification: ok, expires: 2027-01-01}")
    assert gate(apply_waivers(hardened_only, w, DAY), Severity.HIGH) == 0
    assert gate(apply_waivers(hardened_only, w, date(2027, 1, 2)), Severity.HIGH) == 1  # expired the day after
    assert gate(apply_waivers(hardened_only, w, date(2027, 1, 1)), Severity.HIGH) == 0  # in force on its last day


def test_error_is_never_waived():
    doc = load_results(GOLDEN / "results.json")
    w = parse_waivers("- {check: audit.auditd, hosts: all, justification: container, expires: 2099-01-01}")
    assert _status(apply_waivers(doc, w, DAY), "hardened", "audit.auditd").status is Status.ERROR


@pytest.mark.parametrize(
    ("host", "pattern", "expected"),
    [
        ("web-01", "web*", True),
        ("web-01", "all", True),
        ("web-01", "db*,web-0[12]", True),
        ("web-01", "web*:!web-01", False),
        ("web-01", "*:&*-01", True),
        ("web-02", "*:&*-01", False),
        ("web-01", "db*", False),
        ("Web-01", "web*", False),
    ],
)
def test_ansible_style_host_patterns(host, pattern, expected):
    assert host_matches(host, pattern) is expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("- {check: a.b, hosts: all, expires: 2027-01-01}", "justification is required"),
        ("- {check: a.b, hosts: all, justification: '  ', expires: 2027-01-01}", "justification is required"),
        ("- {check: a.b, hosts: all, justification: x}", "expires is required"),
        ("- {check: a.b, hosts: all, justification: x, expires: soon}", "expires must be a date"),
        ("- {check: a.b, justification: x, expires: 2027-01-01}", "hosts is required"),
        ("- {check: a.b, hosts: all, justification: x, expires: 2027-01-01, reason: y}", "unknown key"),
        ("waivers: {check: a.b}", "expected a list"),
        ("waivers: [oops", "not YAML"),
    ],
)
def test_bad_waivers_are_errors(text, needle):
    with pytest.raises(WaiverError, match=needle):
        parse_waivers(text, "w.yml")


def test_cli_missing_justification_exits_2_before_auditing(tmp_path):
    w = tmp_path / "w.yml"
    w.write_text("waivers:\n  - check: egress.allowlist\n    hosts: all\n    expires: 2027-01-01\n")
    r = subprocess.run(
        [HARDEN, "report", str(GOLDEN / "results.json"), "--out", str(tmp_path / "o"), "--waivers", str(w)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "justification is required" in r.stderr and "w.yml" in r.stderr
    assert not (tmp_path / "o").exists()
    inv = tmp_path / "inv.ini"
    inv.write_text("gone ansible_host=127.0.0.1 ansible_port=1\n")
    r = subprocess.run(
        [HARDEN, "audit", str(inv), "--out", str(tmp_path / "a"), "--waivers", str(w)], capture_output=True, text=True
    )
    assert r.returncode == 2 and "justification is required" in r.stderr
    assert not (tmp_path / "a").exists()  # nothing audited


def test_cli_report_with_waivers_gates_and_says_expired(tmp_path):
    w = tmp_path / "w.yml"
    w.write_text(
        "waivers:\n"
        "  - {check: '*', hosts: 'default:half:ufw', justification: accepted for the demo, expires: 2027-01-01}\n"
        "  - {check: appcontrol.enforced, hosts: hardened, justification: no LSM, expires: 2026-11-01}\n"
    )
    args = [HARDEN, "report", str(GOLDEN / "results.json"), "--out", str(tmp_path), "--waivers", str(w)]
    r = subprocess.run([*args, "--today", "2026-12-01", "--fail-on", "high"], capture_output=True, text=True)
    assert r.returncode == 1, r.stderr  # the expired waiver leaves hardened's appcontrol.enforced failing
    doc = load_results(tmp_path / "results.json")
    assert _status(doc, "hardened", "appcontrol.enforced").waiver.expired
    assert "expired" in r.stderr
    html = (tmp_path / "report.html").read_text()
    assert "Waiver EXPIRED on 2026-11-01" in html
    r = subprocess.run([*args, "--today", "2026-10-01", "--fail-on", "high"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr  # every failure waived (the audit error is not a failure, as in audit)
    assert "expired" not in r.stderr


def test_waivers_name_inventory_groups_and_unmatched_ones_are_warned(tmp_path):
    from dataclasses import replace as _replace

    from hardening.report.waivers import Waiver, apply_waivers, unmatched_waivers
    from hardening.report.write import write_reports

    doc = load_results(GOLDEN / "results.json")
    doc = _replace(
        doc, hosts=tuple(_replace(h, groups=("dmz",) if h.name == "half" else ("internal",)) for h in doc.hosts)
    )
    by_group = Waiver("egress.*", "dmz:!ufw", "DMZ hosts are filtered upstream", date(2027, 1, 31))
    typo = Waiver("egress.*", "dzm", "typo in the group name", date(2027, 1, 31))
    waived = apply_waivers(doc, [by_group, typo], date(2026, 12, 1))
    status = {(h.name, c.id): c.status for h in waived.hosts for c in h.checks}
    assert status[("half", "egress.default_deny")] is Status.WAIVED
    assert status[("default", "egress.default_deny")] is Status.FAIL
    assert unmatched_waivers(waived, [by_group, typo]) == (typo,)
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        write_reports(doc, tmp_path, ("json",), waivers=[by_group, typo], today=date(2026, 12, 1))
    assert "waiver for egress.* on 'dzm' matches no host" in err.getvalue()
    assert load_results(tmp_path / "results.json").hosts[0].groups  # groups kept in results.json
