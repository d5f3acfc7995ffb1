"""SARIF 2.1.0 validated against the published schema shipped in hardening/schemas."""

import json
from datetime import date
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from hardening.report.document import load_results
from hardening.report.sarif import render_sarif
from hardening.report.waivers import apply_waivers, load_waivers

GOLDEN = Path(__file__).parents[1] / "golden" / "report"


@pytest.fixture(scope="module")
def validator():
    text = resources.files("hardening.schemas").joinpath("sarif-schema-2.1.0.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    assert "SARIF" in schema["title"] and "2.1.0" in schema["title"]
    return jsonschema.Draft4Validator(schema)


def _valid(validator, text):
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=str)
    assert not errors, errors[0]
    return log


def test_lab_golden_is_valid_sarif_with_a_rule_per_check_and_result_per_failure(validator):
    log = _valid(validator, render_sarif(load_results(GOLDEN / "results.json")))
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "egress.default_deny", "egress.allowlist", "dns.query_logging",
        "audit.auditd", "appcontrol.enforced", "binaries.netcat",
    ]  # fmt: skip
    assert len([r for r in run["results"] if r["kind"] == "fail"]) == 17  # and one open result per check in error
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    crit = [r for r in run["results"] if r["ruleId"] == "egress.default_deny"]
    assert {r["locations"][0]["logicalLocations"][0]["name"] for r in crit} == {"default", "half"}
    assert all(r["level"] == "error" for r in crit)
    assert "T1071" in " ".join(rules[0]["properties"]["tags"])
    assert "nftables" in rules[0]["help"]["markdown"]
    # the container's audit error is not a finding but is reported, and the run is not "successful"
    (inv,) = run["invocations"]
    assert inv["executionSuccessful"] is False
    assert any("audit.auditd" in n["message"]["text"] for n in inv["toolExecutionNotifications"])


def test_waived_results_carry_an_accepted_suppression(validator):
    doc = apply_waivers(load_results(GOLDEN / "results.json"), load_waivers(GOLDEN / "waivers.yml"), date(2026, 12, 1))
    log = _valid(validator, render_sarif(doc))
    suppressed = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert {(r["properties"]["host"], r["ruleId"]) for r in suppressed} == {
        ("ufw", "binaries.netcat"), ("ufw", "dns.query_logging"), ("half", "dns.query_logging"),
    }  # fmt: skip
    assert all(r["suppressions"][0]["status"] == "accepted" for r in suppressed)
    expired = [r for r in log["runs"][0]["results"] if "waiverExpired" in r["properties"]]
    assert [(r["properties"]["host"], r["ruleId"]) for r in expired] == [("hardened", "appcontrol.enforced")]


def test_hostile_doc_is_valid_sarif_without_control_characters(validator):
    text = render_sarif(load_results(GOLDEN / "hostile.json"))
    log = _valid(validator, text)
    assert "\\u001b" not in text and "\\u0000" not in text
    texts = [r["message"]["text"] for r in log["runs"][0]["results"]]
    assert any("<script>alert('x')</script>" in t for t in texts)  # JSON carries it as data


def test_schema_rejects_a_broken_log(validator):
    log = json.loads(render_sarif(load_results(GOLDEN / "results.json")))
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(log))
