"""powershell.language_mode: is Constrained Language Mode enforced by application control?

CLM that holds comes from system lockdown: WDAC user-mode code integrity enforced
(``Win32_DeviceGuard.UsermodeCodeIntegrityPolicyEnforcementStatus`` = 2) or AppLocker with
its Script collection enforced and the Application Identity service (AppIDSvc) running.
The audit runs powershell.exe through WinRS (a plain process, no PowerShell session
configuration), so its language mode is the system's lockdown as it applies to the audit
account (over PSRP, the session configuration's mode, which system lockdown can only lower).
It is judged in one case: FullLanguage under UMCI=2 means the WDAC policy does not
enforce scripts (option 11 ``Disabled:Script Enforcement``, or an allow-all policy), and the
check fails. Under AppLocker an administrator's session is FullLanguage by the default rules,
so it proves nothing there.
``__PSLockdownPolicy`` (an undocumented environment variable) is trivially bypassed: it is
reported as a weak signal, never a pass. A ConstrainedLanguage session under UMCI=2 is proof of
script enforcement only over WinRS with that variable unset; with it set, or over PSRP (whose
endpoint may set its own LanguageMode), it is an error (cannot tell) unless AppLocker enforces
Script rules that are not allow-all. See ``WinAppControlFacts.clm_unproven``.

Enforcing CLM breaks later Ansible runs on the host unless its content is signed: order that
remediation last.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.facts.windows import WindowsFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("appcontrol", "powershell")


def _applocker_scripts(ac) -> tuple[bool, str]:  # noqa: ANN001
    """(True, "") when AppLocker enforces Script rules that restrict something, with AppIDSvc running;
    else (False, why)."""
    script = ac.collection("Script")
    if ac.applocker_problem:
        return False, ac.applocker_problem
    if script is None:
        return False, "AppLocker has no Script rule collection"
    if not script.enforced:
        return False, f"AppLocker Script collection is {script.enforcement_mode} with {script.rules} rules"
    if script.allow_all:
        return False, f"AppLocker Script collection is enforced but allows everything ({script.allow_all})"
    if ac.appidsvc_status != "Running":
        return False, (
            f"AppLocker Script rules are enforced but AppIDSvc is {ac.appidsvc_status or 'unknown'}: "
            "rules are not applied"
        )
    return True, ""


def enforcement(facts: WindowsFacts) -> tuple[str, list[str]]:
    """("wdac"|"applocker"|"unproven"|"", notes): what enforces system lockdown, and what falls short.

    "unproven": WDAC is enforced (UMCI=2) but whether it enforces scripts cannot be told (see
    ``WinAppControlFacts.clm_unproven``) and AppLocker does not enforce them either.
    """
    ac = facts.optional("appcontrol")
    if ac is None:
        return "", [str(facts.error("appcontrol"))]
    notes = []
    if ac.wdac_script_gap:
        return "", [ac.wdac_script_gap]
    applocker, why = _applocker_scripts(ac)
    if ac.usermode_code_integrity == 2:
        if not ac.clm_unproven:
            return "wdac", notes
        if applocker:
            return "applocker", [ac.clm_unproven]
        return "unproven", [ac.clm_unproven, why]
    if ac.usermode_code_integrity == 1:
        notes.append("WDAC user-mode code integrity is in audit mode (UMCI=1)")
    elif ac.device_guard_problem:
        notes.append(ac.device_guard_problem)
    if applocker:
        return "applocker", notes
    notes.append(why)
    return "", notes


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    ac = facts.appcontrol
    ps = facts.optional("powershell")
    lockdown = "" if ps is None else ps.lockdown_policy_machine
    session = "" if ps is None else ps.session_language_mode
    by, notes = enforcement(facts)
    ev = Evidence(
        {
            "enforced_by": by,
            "usermode_code_integrity": ac.usermode_code_integrity,
            "applocker_script": None
            if ac.collection("Script") is None
            else {
                "mode": ac.collection("Script").enforcement_mode,
                "rules": ac.collection("Script").rules,
                "allow_all": ac.collection("Script").allow_all,
            },
            "remoting_session": ac.remoting,
            "appidsvc": ac.appidsvc_status,
            "__PSLockdownPolicy": lockdown,
            "audit_session_language_mode": session,
            "notes": notes,
        },
        facts.excerpt(*AREAS, limit=2500),
    )
    note = f" (the audit session itself ran in {session})" if session else ""
    if by == "wdac":
        return Verdict(
            Status.PASS, "WDAC enforces user-mode code integrity (UMCI=2): PowerShell runs in CLM" + note, ev
        )
    if by == "unproven":
        return Verdict(
            Status.ERROR,
            "cannot tell whether Constrained Language Mode is enforced: "
            + "; ".join(notes)
            + ". Audit over WinRM (WinRS) with __PSLockdownPolicy unset, or check the WDAC policy for option 11 "
            "(Disabled:Script Enforcement) on the host.",
            ev,
        )
    if by == "applocker":
        return Verdict(
            Status.PASS, "AppLocker enforces Script rules and AppIDSvc runs: PowerShell runs in CLM" + note, ev
        )
    if ac.device_guard_problem and ac.applocker_problem:
        return Verdict(
            Status.ERROR,
            f"application control state unknown: {ac.device_guard_problem}; {ac.applocker_problem}",
            ev,
        )
    weak = ""
    if lockdown.strip() in ("4", "0x4"):
        weak = (
            " __PSLockdownPolicy=4 is set machine-wide: a weak signal only (undocumented, bypassed by "
            "any process that clears the variable), not enforcement."
        )
    return Verdict(
        Status.FAIL,
        "Constrained Language Mode is not enforced: "
        + "; ".join(notes)
        + "."
        + weak
        + " Enforce a WDAC policy (or AppLocker Script rules with AppIDSvc running). This breaks unsigned "
        "Ansible content on the host: do it last." + note,
        ev,
    )
