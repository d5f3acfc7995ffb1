"""binaries.netcat on Windows: nc.exe, nc64.exe, ncat.exe, netcat.exe, socat.exe on the host.

Searched on PATH and, bounded in depth, under the system drive root, Users, ProgramData,
Windows\\Temp, C:\\Temp, C:\\Tools and Program Files. A copy under Users, ProgramData or a
Temp folder looks dropped. Each finding carries its SHA-256 and Authenticode status. Policy
``harden_allowed_binaries`` tolerates names (``ncat.exe``) or full paths. A search that hit
access-denied folders is incomplete: no finding then is an error, not a pass.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy.from_vars({"harden_allowed_binaries": ["ncat.exe"]}))
"""

from __future__ import annotations

from hardening.facts.sections import FactError
from hardening.facts.windows import WinBinary, WindowsFacts, error_verdict
from hardening.model import CheckMeta, Evidence, Platform, Reference, Severity, Status, Verdict
from hardening.policy import Policy

META = CheckMeta(
    id="binaries.netcat",
    title="No netcat-like tools (nc.exe, ncat.exe, socat.exe) outside policy",
    severity=Severity.MEDIUM,
    rationale=(
        "nc.exe -e cmd.exe and ncat --sh-exec give a reverse shell in one command; a copy in a user "
        "profile, ProgramData or Temp is a typical dropped tool."
    ),
    references=(
        Reference("attack", "T1059", "Command and Scripting Interpreter"),
        Reference("attack", "T1105", "Ingress Tool Transfer"),
        Reference("nist", "CM-7", "Least Functionality"),
    ),
    platforms=frozenset({Platform.WINDOWS}),
)

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


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    bf = facts.binaries
    if isinstance(bf, FactError):
        return error_verdict(bf, facts, *AREAS)
    allowed = [(b, _allowed(b, policy)) for b in bf.found if _allowed(b, policy)]
    findings = sorted((b for b in bf.found if not _allowed(b, policy)), key=lambda b: (b.location != "dropped", b.path))
    ev = Evidence(
        {
            "findings": [b.to_json() for b in findings],
            "allowed": [{**b.to_json(), "allowed_by": by} for b, by in allowed],
            "searched": list(bf.searched),
            "access_denied": bf.access_denied,
            "policy_allowed_binaries": list(policy.allowed_binaries),
        },
        facts.excerpt(*AREAS, limit=2500),
    )
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
            "harden_allowed_binaries.",
            ev,
        )
    if bf.access_denied:
        return Verdict(
            Status.ERROR,
            f"no netcat-like found, but {bf.access_denied} folders could not be read: audit with an administrator",
            ev,
        )
    if allowed:
        return Verdict(
            Status.PASS,
            "only netcat-likes allowed by policy: "
            + "; ".join(f"{_describe(b)} (allowed by {by})" for b, by in allowed),
            ev,
        )
    return Verdict(
        Status.PASS,
        "no nc.exe, nc64.exe, ncat.exe, netcat.exe or socat.exe on PATH or in " + ", ".join(bf.searched[-8:]),
        ev,
    )
