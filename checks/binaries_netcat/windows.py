"""binaries.netcat on Windows: nc.exe, nc64.exe, ncat.exe, netcat.exe, socat.exe on the host.

Searched on PATH and, bounded in depth, under the system drive root, Users (and each profile's
Temp and Downloads deeper), ProgramData, the Temp folders, C:\\Tools, Program Files and the
user-writable folders under Windows, folder by folder without following directory reparse points
(the legacy junctions under C:\\Users deny listing to everyone); files that are reparse points are
names like any other. A copy under Users, ProgramData or a Temp folder looks dropped. Each finding
carries its SHA-256 and Authenticode status; the names the host reports are re-checked here, and a
netcat-like name at a path the controller cannot use (UNC, ``\\\\?\\``) is an error, never ignored.
Policy ``harden_allowed_binaries`` tolerates names (``ncat.exe``) or full paths. A search that hit
access-denied folders, other listing errors, or its time/folder bound on the host, is incomplete:
no finding then is an error, not a pass; with findings it is said in the fail.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy.from_vars({"harden_allowed_binaries": ["ncat.exe"]}))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hardening.checks.binaries_netcat import allowed_only

from hardening.facts.windows import WinBinary, WinBinaryFacts, WindowsFacts
from hardening.model import Evidence, Remedy, Status, Verdict
from hardening.policy import Policy

AREAS = ("binaries",)


def _allowed(b: WinBinary, policy: Policy) -> str:
    for entry in policy.allowed_binaries:
        e = entry.lower()
        if e == b.path.lower() or e in (b.name.lower(), b.name.lower().removesuffix(".exe")):
            return entry
    return ""


def _describe(b: WinBinary) -> str:
    where = {"dropped": "in a user-writable place: looks dropped", "local": "installed", "system": "in Windows"}
    signed = f"signed by {b.signer}" if b.signature == "Valid" and b.signer else f"signature {b.signature or 'unknown'}"
    return f"{b.path} ({where[b.location]}; {signed}; sha256 {b.sha256[:16] or '?'}...)"


def _search_gap(bf: WinBinaryFacts) -> str:
    """Why "nothing found" does not mean "nothing there" ("" when the search covered every place)."""
    gaps = []
    if bf.unusable:
        gaps.append(
            f"{len(bf.unusable)} netcat-like name(s) at a path that is not a plain local one, not judged here: "
            + "; ".join(bf.unusable[:5])
        )
    if bf.other_errors:
        gaps.append(f"{bf.other_errors} folders could not be listed (I/O error, vanished, path too long)")
    if bf.incomplete:
        gaps.append(f"the search stopped early ({bf.incomplete})")
    if bf.access_denied:
        where = f" ({', '.join(bf.denied[:5])}{', ...' if len(bf.denied) > 5 else ''})" if bf.denied else ""
        gaps.append(
            f"{bf.access_denied} folders could not be listed{where}: audit with an administrator, or grant it "
            "list access there"
        )
    return "; ".join(gaps)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    bf = facts.binaries
    allowed = [(b, _allowed(b, policy)) for b in bf.found if _allowed(b, policy)]
    findings = sorted((b for b in bf.found if not _allowed(b, policy)), key=lambda b: (b.location != "dropped", b.path))
    ev = Evidence(
        {
            "findings": [b.to_json() for b in findings],
            "allowed": [{**b.to_json(), "allowed_by": by} for b, by in allowed],
            "searched": list(bf.searched),
            "access_denied": bf.access_denied,
            "denied_folders": list(bf.denied),
            "reparse_points_not_followed": bf.reparse_skipped,
            "ignored_entries": list(bf.ignored),
            "unusable_entries": list(bf.unusable),
            "other_errors": bf.other_errors,
            "incomplete": bf.incomplete,
            "policy_allowed_binaries": list(policy.allowed_binaries),
        },
        facts.excerpt(*AREAS, limit=2500),
    )
    gap = _search_gap(bf)
    if findings:
        dropped = sum(1 for b in findings if b.location == "dropped")
        head = f"{len(findings)} netcat-like binar{'y' if len(findings) == 1 else 'ies'} found"
        if dropped:
            head += f", {dropped} in a user-writable place (investigate: looks dropped)"
        return Verdict(
            Status.FAIL,
            f"{head}: "
            + "; ".join(_describe(b) for b in findings)
            + ". Keep a copy as evidence and delete them (or uninstall Nmap's ncat), or list tolerated ones in "
            "harden_allowed_binaries." + (f" The search was also incomplete: {gap}." if gap else ""),
            ev,
            _remedy(findings),
        )
    if gap:
        head = "cannot tell" if bf.unusable else "no netcat-like found, but the search is incomplete"
        return Verdict(Status.ERROR, f"{head}: {gap}", ev)
    if allowed:
        return allowed_only([f"{_describe(b)} (allowed by {by})" for b, by in allowed], ev)
    return Verdict(
        Status.PASS,
        "no nc.exe, nc64.exe, ncat.exe, netcat.exe or socat.exe in the places searched (PATH and a depth-bounded "
        f"search from {len(bf.searched)} folders: "
        + ", ".join(bf.searched[-8:])
        + (", ..." if len(bf.searched) > 8 else "")
        + "); a copy elsewhere on the disk is not seen",
        ev,
    )


ROLE = "harden_win_netcat"
_SHA256 = re.compile(r"^[0-9A-Fa-f]{64}$")
# a local absolute path (C:\...), no device, UNC or stream syntax, no control characters
_WIN_PATH = re.compile(r"^[A-Za-z]:\\(?:[^\\/:*?\"<>|\x00-\x1f]+\\)*[^\\/:*?\"<>|\x00-\x1f]+$")


def _remedy(findings: list[WinBinary]) -> Remedy:
    """harden_win_netcat's variables: each found file with the hash it must still have."""
    files = [{"path": b.path, "sha256": b.sha256.lower()} for b in findings if _SHA256.fullmatch(b.sha256)]
    notes = tuple(
        f"{b.path!r}: no SHA-256 in the audit; not quarantined" for b in findings if not _SHA256.fullmatch(b.sha256)
    )
    return Remedy(ROLE, {"harden_win_netcat_files": files}, notes)


def validate_remedy(variables: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The files a results.json asks harden_win_netcat to quarantine, re-checked (plain local paths, SHA-256)."""
    out: list[dict[str, str]] = []
    raw = variables.get("harden_win_netcat_files")
    for entry in raw if isinstance(raw, list) else []:
        path = entry.get("path") if isinstance(entry, Mapping) else None
        sha = entry.get("sha256") if isinstance(entry, Mapping) else None
        if not (isinstance(path, str) and _WIN_PATH.fullmatch(path) and ".." not in path.split("\\")):
            notes.append(f"ignored quarantine entry {str(path)[:200]!r} (not a plain local path)")
        elif not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
            notes.append(f"ignored quarantine entry {path!r} (no SHA-256)")
        elif path.lower() not in {e["path"].lower() for e in out}:
            out.append({"path": path, "sha256": sha.lower()})
    return {"harden_win_netcat_files": out}
