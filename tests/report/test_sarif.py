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


def _whole_log(doc):
    """harden.sarif as it was rendered before it was streamed: the whole log, then json.dumps."""
    from hardening.report import sarif as s

    ids = doc.check_ids()
    index = {cid: i for i, cid in enumerate(ids)}
    results, notes = [], []
    for host in doc.hosts:
        notes += s._notifications(host, index)
        results += [
            s._result(host, c, index[c.id]) for c in host.checks if c.status.value in ("fail", "waived", "error")
        ]
    if len(results) > s.MAX_RESULTS:
        results.sort(key=lambda r: r["kind"] != "fail")
        left = f"{len(results) - s.MAX_RESULTS} results left out: code scanning takes {s.MAX_RESULTS}"
        notes.append({"level": "warning", "message": {"text": left}})
        results = results[: s.MAX_RESULTS]
    driver = {"name": "harden", "version": doc.tool_version, "semanticVersion": doc.tool_version}
    run = {
        "tool": {"driver": {**driver, "rules": [s._rule(doc, cid) for cid in ids]}},
        "invocations": [
            {
                "executionSuccessful": not notes and doc.complete,
                "startTimeUtc": s._utc(doc.started_at),
                "endTimeUtc": s._utc(doc.finished_at),
                "toolExecutionNotifications": notes,
            }
        ],
        "automationDetails": {"id": s.automation_id(doc)},
        "results": results,
        "properties": {"inventory": doc.inventory, "hosts": [h.name for h in doc.hosts]},
    }
    log = {"$schema": s.SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("limit", [25_000, 7, 0])
def test_sarif_is_written_result_by_result_as_the_whole_log_was(tmp_path, monkeypatch, limit):
    """harden.sarif is streamed one result and notification at a time: byte for byte the whole
    log's text, for audited, hostile, unreachable, waived and empty documents, past the result
    limit too (failures first, then the rest, cut), also as written to the file."""
    from dataclasses import replace
    from datetime import date

    from hardening.report import sarif
    from hardening.report.waivers import apply_waivers, parse_waivers
    from hardening.report.write import write_report

    monkeypatch.setattr(sarif, "MAX_RESULTS", limit)
    lab, hostile = load_results(GOLDEN / "results.json"), load_results(GOLDEN / "hostile.json")
    waivers = parse_waivers(
        "- {check: appcontrol.enforced, hosts: hardened, justification: ok, expires: 2027-01-01}\n"
        "- {check: audit.auditd, hosts: all, justification: container, expires: 2020-01-01}\n"
    )
    trap = replace(lab, inventory='"toolExecutionNotifications": "\x00harden notifications\x00"')
    docs = [lab, hostile, apply_waivers(lab, waivers, date(2026, 6, 1)), replace(lab, hosts=()), trap]
    docs.append(replace(hostile, hosts=tuple(h for h in hostile.hosts if h.name.startswith("gone"))))
    for i, doc in enumerate(docs):
        want = _whole_log(doc)
        assert render_sarif(doc) == want, i
        write_report(doc, "sarif", None, tmp_path / f"{i}.sarif")
        assert (tmp_path / f"{i}.sarif").read_bytes() == want.encode(), i
