"""SARIF that GitHub code scanning accepts: the schema, and GitHub's documented upload requirements.

GitHub's "SARIF support for code scanning" page lists what an upload needs beyond the
schema: a tool driver name, rules with ids, results with ruleId and message text, at least
one location with ``physicalLocation.artifactLocation.uri`` (and a region with startLine when
a region is given), partialFingerprints for stable alerts, runAutomationDetails.id for the
category, at most 25,000 results per run and 20 runs per file.
"""

import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from sarif_github import github_problems

from hardening.model import HostStatus, Status
from hardening.report.document import ResultsDoc, load_results
from hardening.report.sarif import MAX_RESULTS, automation_id, host_uri, render_sarif

GOLDEN = Path(__file__).parents[1] / "golden" / "report"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(resources.files("hardening.schemas").joinpath("sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft7Validator(schema)


def _check(validator, doc: ResultsDoc) -> dict:
    log = json.loads(render_sarif(doc))
    assert not list(validator.iter_errors(log))
    assert github_problems(log) == []
    return log


def test_lab_golden_meets_githubs_upload_requirements(validator):
    doc = load_results(GOLDEN / "results.json")
    (run,) = _check(validator, doc)["runs"]
    assert run["automationDetails"]["id"] == automation_id(doc)
    fails = [r for r in run["results"] if r["kind"] == "fail"]
    assert len(fails) == 17
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in fails}
    assert uris == {host_uri(h) for h in ("default", "half", "ufw", "hardened")} & uris


def test_an_unaudited_host_keeps_its_alerts_open_with_the_same_fingerprints(validator):
    doc = load_results(GOLDEN / "results.json")
    before = {
        (r["properties"]["host"], r["ruleId"]): r["partialFingerprints"]
        for r in json.loads(render_sarif(doc))["runs"][0]["results"]
    }
    half = next(h for h in doc.hosts if h.name == "half")
    down = replace(
        half,
        status=HostStatus.UNREACHABLE,
        message="connection refused",
        checks=tuple(replace(c, status=Status.ERROR, message="host not audited") for c in half.checks),
    )
    later = replace(doc, hosts=tuple(down if h.name == "half" else h for h in doc.hosts))
    (run,) = _check(validator, later)["runs"]
    opened = {(r["properties"]["host"], r["ruleId"]): r for r in run["results"] if r["properties"]["host"] == "half"}
    assert len(opened) == len(half.checks)  # every check of the host is still a result
    for key, r in opened.items():
        assert r["kind"] == "open" and r["level"] == "none"
        if key in before:
            assert r["partialFingerprints"] == before[key]  # the alert is matched, not closed as fixed
    assert run["invocations"][0]["executionSuccessful"] is False


def test_host_uris_are_stable_relative_and_escaped():
    assert host_uri("web1.example.com") == "hosts/web1.example.com"
    assert host_uri("../../etc/passwd") == "hosts/..%2F..%2Fetc%2Fpasswd"
    assert host_uri("a\x1b[31mb") == host_uri("a\x1b[31mb")
    assert "/" not in host_uri("x/y").removeprefix("hosts/")


def test_automation_category_comes_from_the_inventory_name():
    doc = load_results(GOLDEN / "results.json")
    assert automation_id(replace(doc, inventory="/srv/ansible/prod web.ini")).startswith("harden/prod-web/")


def test_results_are_capped_at_githubs_limit_failures_first(validator, monkeypatch):
    import hardening.report.sarif as sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 5)
    log = json.loads(render_sarif(load_results(GOLDEN / "results.json")))
    (run,) = log["runs"]
    assert len(run["results"]) == 5 and all(r["kind"] == "fail" for r in run["results"])
    assert any("left out" in n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"])
    assert MAX_RESULTS == 25_000
