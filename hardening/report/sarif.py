"""SARIF 2.1.0: a rule per check, a result per failing (or waived) host × check.

Hosts are not source files: each result carries the host as a logical location and, for
GitHub code scanning, a stable physical one (``hosts/<host>``, line 1); the run carries
``automationDetails.id`` (category: the inventory). Waived results carry an accepted external
suppression. Checks in error and hosts not fully audited are tool execution notifications and
also results of kind ``open`` with the failure's fingerprint, so code scanning does not close
their alerts as fixed (``executionSuccessful`` is false).

Example::

    Path("harden.sarif").write_text(render_sarif(doc), encoding="utf-8")
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hardening.model import CheckResult, HostResult, Platform, Severity, Status
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


#: GitHub code scanning accepts at most this many results in a run (documented upload limit)
MAX_RESULTS = 25_000


def host_uri(host: str) -> str:
    """A stable relative URI for a host: code scanning wants a physical location per result.

    >>> host_uri("web 1/x")
    'hosts/web%201%2Fx'
    """
    return "hosts/" + quote(strip_control(host), safe="")


def _location(host: HostResult) -> dict[str, Any]:
    return {
        "physicalLocation": {"artifactLocation": {"uri": host_uri(host.name)}, "region": {"startLine": 1}},
        "logicalLocations": [{"name": strip_control(host.name), "kind": "module"}],
    }


def _suppression(c: CheckResult) -> dict[str, Any]:
    assert c.waiver is not None
    by = f", by {c.waiver.by})" if c.waiver.by else ")"
    return {
        "kind": "external",
        "status": "accepted",
        "justification": strip_control(f"{c.waiver.justification} (until {c.waiver.expires.isoformat()}{by}"),
    }


def _result(host: HostResult, c: CheckResult, index: int) -> dict[str, Any]:
    """A failing or waived check (kind fail), or one that could not be judged (kind open).

    An unjudged check keeps its result, with the same fingerprint as a failure: code scanning
    closes as fixed an alert whose result disappears, and a host that could not be audited
    has fixed nothing.
    """
    judged = c.status in (Status.FAIL, Status.WAIVED)
    message = c.message if judged else f"not judged on {host.name} ({host.status.value}): {c.message}"
    result: dict[str, Any] = {
        "ruleId": c.id,
        "ruleIndex": index,
        "level": LEVEL[c.severity] if judged else "none",  # SARIF: a kind other than fail has level none
        "kind": "fail" if judged else "open",
        "message": {"text": strip_control(message)},
        "locations": [_location(host)],
        "partialFingerprints": {"hardenHostCheck/v1": _fingerprint(host.name, c.id)},
        "properties": {"host": host.name, "address": host.address, "severity": c.severity.value},
    }
    if c.waiver is not None and not c.waiver.expired:
        result["suppressions"] = [_suppression(c)]
    elif c.waiver is not None:
        result["properties"]["waiverExpired"] = c.waiver.expires.isoformat()
    return result


def _notifications(host: HostResult, index: Mapping[str, int]) -> list[dict[str, Any]]:
    """What stopped harden from judging this host or some of its checks (tool execution notifications)."""
    notes: list[dict[str, Any]] = []
    if not host.audited:
        notes.append(
            {
                "level": "error",
                "message": {"text": strip_control(f"{host.name}: not fully audited ({host.status}): {host.message}")},
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
    return notes


def automation_id(doc: ResultsDoc) -> str:
    """``runAutomationDetails.id``: code scanning's category (before the last ``/``) and this run.

    The category is the inventory's file name, so audits of different inventories uploaded to
    one repository keep separate alerts.
    """
    stem = Path(doc.inventory).name.rsplit(".", 1)[0] or "inventory"
    category = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in stem)[:100]
    return f"harden/{category}/{doc.started_at}"


def _reported(c: CheckResult) -> bool:
    return c.status in (Status.FAIL, Status.WAIVED, Status.ERROR)


def _results(doc: ResultsDoc, index: Mapping[str, int], total: int) -> Iterator[dict[str, Any]]:
    """The run's results, one at a time: every failing, waived or unjudged host × check in host
    order; past :data:`MAX_RESULTS` (``total`` is their number) the failures first, then the rest,
    cut at the limit (what a stable sort on ``kind != "fail"`` and a slice give)."""
    if total <= MAX_RESULTS:
        for host in doc.hosts:
            yield from (_result(host, c, index[c.id]) for c in host.checks if _reported(c))
        return
    left = MAX_RESULTS
    for fail in (True, False):
        for host in doc.hosts:
            for c in host.checks:
                if _reported(c) and (c.status in (Status.FAIL, Status.WAIVED)) is fail:
                    if left == 0:
                        return
                    left -= 1
                    yield _result(host, c, index[c.id])


def _notes(doc: ResultsDoc, index: Mapping[str, int], total: int) -> Iterator[dict[str, Any]]:
    for host in doc.hosts:
        yield from _notifications(host, index)
    if total > MAX_RESULTS:
        yield {
            "level": "warning",
            "message": {"text": f"{total - MAX_RESULTS} results left out: code scanning takes {MAX_RESULTS}"},
        }


def sarif_chunks(doc: ResultsDoc) -> Iterator[str]:
    """A SARIF 2.1.0 log (JSON text) with one run of harden over ``doc``, piece by piece: the
    notifications and results are encoded one at a time into the document's indented text (the
    same bytes as ``json.dumps(log, indent=2)``), so 10,000 hosts' results are never held at once."""
    ids = doc.check_ids()
    index = {cid: i for i, cid in enumerate(ids)}
    total = sum(_reported(c) for h in doc.hosts for c in h.checks)
    any_note = total > MAX_RESULTS or any(
        not h.audited or any(c.status is Status.ERROR for c in h.checks) for h in doc.hosts
    )
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
                        "executionSuccessful": not any_note and doc.complete,
                        "startTimeUtc": _utc(doc.started_at),
                        "endTimeUtc": _utc(doc.finished_at),
                        "toolExecutionNotifications": _NOTES,
                    }
                ],
                "automationDetails": {"id": automation_id(doc)},
                "results": _RESULTS,
                "properties": {"inventory": doc.inventory, "hosts": [h.name for h in doc.hosts]},
            }
        ],
    }
    text = json.dumps(log, indent=2, ensure_ascii=False) + "\n"
    for key, placeholder, items in (
        ("toolExecutionNotifications", _NOTES, _notes(doc, index, total)),
        ("results", _RESULTS, _results(doc, index, total)),
    ):
        # the key and the quotes around it are the encoder's own: no host string encodes to them
        marker = f'"{key}": {json.dumps(placeholder)}'
        at = text.index(marker) + len(marker) - len(json.dumps(placeholder))
        before, text = text[:at], text[at + len(json.dumps(placeholder)) :]
        yield before
        yield from _json_list(items, before)
    yield text


# placeholders for the two lists streamed into the text (JSON-encoded as "\u0000...")
_NOTES = "\x00harden notifications\x00"
_RESULTS = "\x00harden results\x00"


def _json_list(items: Iterator[dict[str, Any]], before: str) -> Iterator[str]:
    """``items`` as the list ``json.dumps(..., indent=2)`` writes where ``before`` ends (a key's line)."""
    line = before[before.rindex("\n") + 1 :]
    pad = " " * (len(line) - len(line.lstrip(" ")))
    inner = "\n" + pad + "  "
    first = True
    for item in items:  # JSON text has no raw newline inside a string: each one is the encoder's
        yield ("[" if first else ",") + inner + json.dumps(item, indent=2, ensure_ascii=False).replace("\n", inner)
        first = False
    yield "[]" if first else "\n" + pad + "]"


def render_sarif(doc: ResultsDoc) -> str:
    """A SARIF 2.1.0 log (JSON text) with one run of harden over ``doc``, ready for GitHub code scanning."""
    return "".join(sarif_chunks(doc))
