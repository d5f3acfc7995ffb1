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

from hardening.model import Platform, Severity, Status
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
_FW = {"attack": "ATT&CK", "nist": "NIST-800-53", "cis": "CIS", "cis-windows": "CIS-Windows"}


def _utc(ts: str) -> str:
    return ts.replace("+00:00", "Z")


def _rule(doc: ResultsDoc, check_id: str) -> dict[str, Any]:
    """A rule for ``check_id``: its rationale and fix for each platform the document's hosts have.

    With hosts of both platforms the texts are labelled per platform (a Windows finding never
    shows only the nftables fix).
    """
    title, severity, references = doc.column(check_id)
    present = [p for p in Platform if p in doc.check_platforms(check_id)]
    guides = [(p, check_guide(check_id, p)) for p in present]
    label = len(guides) > 1
    rationale = [f"{p.value.capitalize()}: {g.rationale}" if label else g.rationale for p, g in guides if g.rationale]
    texts, mds = [], []
    for p, g in guides:
        if not g.remediation:
            continue
        head = f"{p.value.capitalize()}: {g.remediation}" if label else g.remediation
        texts.append(head + (f"\n\n{g.snippet}" if g.snippet else ""))
        mds.append(head + (f"\n\n```{g.language}\n{g.snippet}\n```" if g.snippet else ""))
    rule: dict[str, Any] = {
        "id": check_id,
        "shortDescription": {"text": title},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {
            "tags": ["security", *(f"{_FW.get(r.framework, r.framework)}:{r.id}" for r in references)],
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity.value,
        },
    }
    if rationale:
        rule["fullDescription"] = {"text": "\n\n".join(rationale)}
    if texts:
        rule["help"] = {"text": "\n\n".join(texts), "markdown": "\n\n".join(mds)}
    return rule


def _fingerprint(host: str, check_id: str) -> str:
    return hashlib.sha256(f"{host}\x00{check_id}".encode()).hexdigest()


def render_sarif(doc: ResultsDoc) -> str:
    """A SARIF 2.1.0 log (JSON text) with one run of harden over ``doc``."""
    ids = doc.check_ids()
    index = {cid: i for i, cid in enumerate(ids)}
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
                        "rules": [_rule(doc, cid) for cid in ids],
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
