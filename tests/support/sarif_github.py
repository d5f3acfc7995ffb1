"""GitHub code scanning's documented upload requirements for SARIF, beyond the 2.1.0 schema.

From GitHub's "SARIF support for code scanning" page: a tool driver name, rules with ids,
results with ruleId and message text, at least one location with
``physicalLocation.artifactLocation.uri`` (and a region with startLine when a region is given),
partialFingerprints for stable alerts, runAutomationDetails.id for the category, at most 25,000
results per run and 20 runs per file. Used by tests/report/test_sarif_github.py (the lab golden)
and the lab tests that upload-check a fresh audit's SARIF.
"""

from __future__ import annotations


def github_problems(log: dict) -> list[str]:
    """Why GitHub code scanning would reject (or mis-track) this SARIF log; empty when it would not."""
    problems = []
    if log.get("version") != "2.1.0":
        problems.append("version must be 2.1.0")
    runs = log.get("runs") or []
    if len(runs) > 20:
        problems.append("more than 20 runs")
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            problems.append("tool.driver.name missing")
        rule_ids = [r.get("id") for r in driver.get("rules", [])]
        if len(set(rule_ids)) != len(rule_ids) or not all(rule_ids):
            problems.append("rule ids missing or repeated")
        if not run.get("automationDetails", {}).get("id", "").count("/"):
            problems.append("automationDetails.id has no category")
        results = run.get("results", [])
        if len(results) > 25_000:
            problems.append("more than 25,000 results")
        for r in results:
            where = f"{r.get('ruleId')}@{r.get('properties', {}).get('host')}"
            if r.get("ruleId") not in rule_ids:
                problems.append(f"{where}: ruleId not a rule")
            if not r.get("message", {}).get("text"):
                problems.append(f"{where}: no message text")
            if not r.get("partialFingerprints"):
                problems.append(f"{where}: no partialFingerprints")
            locs = r.get("locations") or []
            phys = [loc.get("physicalLocation") for loc in locs if loc.get("physicalLocation")]
            if not phys:
                problems.append(f"{where}: no physical location")
            for p in phys:
                uri = p.get("artifactLocation", {}).get("uri", "")
                if not uri or "://" in uri or uri.startswith("/"):
                    problems.append(f"{where}: artifact uri {uri!r} not a non-empty relative URI")
                if "region" in p and not (
                    isinstance(p["region"].get("startLine"), int) and p["region"]["startLine"] >= 1
                ):
                    problems.append(f"{where}: region without startLine")
    return problems
