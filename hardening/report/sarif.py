"""SARIF 2.1.0: a rule per check, a result per failing (or waived) host × check.

Hosts are not source files, so results carry a logical location (the host) rather than
a physical one; waived results carry an accepted external suppression; checks in error
and hosts not fully audited become tool execution notifications (they are not findings,
and ``executionSuccessful`` is false).

Example::

    Path("harden.sarif").write_text(render_sarif(doc), encoding="utf-8")
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hardening.model import CheckResult, Severity, Status
from hardening.report.document import ResultsDoc
from hardening.report.frameworks import check_guide
from hardening.report.text import strip_control

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads properties["security-severity"] (0.0-10.0)
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_FW = {"attack": "ATT&CK", "nist": "NIST-800-53", "cis": "CIS"}


def _utc(ts: str) -> str:
    return ts.replace("+00:00", "Z")


def _rule(meta: CheckResult) -> dict[str, Any]:
    guide = check_guide(meta.id)
    rule: dict[str, Any] = {
        "id": meta.id,
        "shortDescription": {"text": meta.title},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": {
            "tags": ["security", *(f"{_FW.get(r.framework, r.framework)}:{r.id}" for r in meta.references)],
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "severity": meta.severity.value,
        },
    }
    if guide.rationale:
        rule["fullDescription"] = {"text": guide.rationale}
    if guide.remediation:
        text = guide.remediation + (f"\n\n{guide.snippet}" if guide.snippet else "")
        md = guide.remediation + (f"\n\n```{guide.language}\n{guide.snippet}\n```" if guide.snippet else "")
        rule["help"] = {"text": text, "markdown": md}
    return rule


def _fingerprint(host: str, check_id: str) -> str:
    return hashlib.sha256(f"{host}\x00{check_id}".encode()).hexdigest()


def render_sarif(doc: ResultsDoc) -> str:
    """A SARIF 2.1.0 log (JSON text) with one run of harden over ``doc``."""
    ids = doc.check_ids()
    metas = [m for cid in ids if (m := doc.check_meta(cid)) is not None]
    index = {m.id: i for i, m in enumerate(metas)}
    results: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for host in doc.hosts:
        if not host.audited:
            notes.append(
                {
                    "level": "error",
                    "message": {
                        "text": strip_control(f"{host.name}: not fully audited ({host.status}): {host.message}")
                    },
                    "properties": {"host": host.name, "hostStatus": host.status.value},
                }
            )
        for c in host.checks:
            if c.status is Status.ERROR:
                notes.append(
                    {
                        "level": "error",
                        "message": {"text": strip_control(f"{host.name}: {c.id}: {c.message}")},
                        "descriptor": {"id": c.id, "index": index[c.id]},
                        "properties": {"host": host.name},
                    }
                )
            if c.status not in (Status.FAIL, Status.WAIVED):
                continue
            result: dict[str, Any] = {
                "ruleId": c.id,
                "ruleIndex": index[c.id],
                "level": LEVEL[c.severity],
                "kind": "fail",
                "message": {"text": strip_control(c.message)},
                "locations": [{"logicalLocations": [{"name": strip_control(host.name), "kind": "module"}]}],
                "partialFingerprints": {"hardenHostCheck/v1": _fingerprint(host.name, c.id)},
                "properties": {"host": host.name, "address": host.address, "severity": c.severity.value},
            }
            if c.waiver is not None and not c.waiver.expired:
                result["suppressions"] = [
                    {
                        "kind": "external",
                        "status": "accepted",
                        "justification": strip_control(
                            f"{c.waiver.justification} (until {c.waiver.expires.isoformat()}"
                            + (f", by {c.waiver.by})" if c.waiver.by else ")")
                        ),
                    }
                ]
            elif c.waiver is not None:
                result["properties"]["waiverExpired"] = c.waiver.expires.isoformat()
            results.append(result)
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "harden",
                        "version": doc.tool_version,
                        "semanticVersion": doc.tool_version,
                        "rules": [_rule(m) for m in metas],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not notes and doc.complete,
                        "startTimeUtc": _utc(doc.started_at),
                        "endTimeUtc": _utc(doc.finished_at),
                        "toolExecutionNotifications": notes,
                    }
                ],
                "results": results,
                "properties": {"inventory": doc.inventory, "hosts": [h.name for h in doc.hosts]},
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
