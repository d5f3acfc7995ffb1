"""appcontrol.enforced on Windows: does WDAC or AppLocker enforce what may run?

WDAC: ``Win32_DeviceGuard.UsermodeCodeIntegrityPolicyEnforcementStatus`` = 2 (1 is audit
mode; kernel-only code integrity does not stop a dropped nc.exe), unless the audit's own
PowerShell ran in FullLanguage under it (script enforcement disabled, or an allow-all policy:
see ``WinAppControlFacts.wdac_script_gap``). AppLocker: the effective
policy enforces the Exe and Script collections (``EnforcementMode=Enabled``, or
``NotConfigured`` with rules, which AppLocker enforces) and the Application Identity service
(AppIDSvc) runs — without it no AppLocker rule is applied. Msi, Dll and Appx collections are
reported. ``AuditOnly`` only logs.

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.facts.windows import WindowsFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("appcontrol",)
REQUIRED = ("Exe", "Script")


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    ac = facts.appcontrol
    collections = {
        c.type: {"mode": c.enforcement_mode, "rules": c.rules, "enforced": c.enforced, "allow_all": c.allow_all}
        for c in ac.applocker
    }
    ev = Evidence(
        {
            "code_integrity": ac.code_integrity,
            "usermode_code_integrity": ac.usermode_code_integrity,
            "applocker": collections,
            "appidsvc": ac.appidsvc_status,
            "audit_session_language_mode": ac.session_language_mode,
            "__PSLockdownPolicy": ac.lockdown_policy,
            "remoting_session": ac.remoting,
            "problems": [p for p in (ac.device_guard_problem, ac.applocker_problem) if p],
        },
        facts.excerpt(*AREAS, limit=3000),
    )
    if ac.wdac_script_gap:
        return Verdict(
            Status.FAIL,
            ac.wdac_script_gap + ". Remove option 11 and enforce a policy that allows only what is needed.",
            ev,
        )
    if ac.usermode_code_integrity == 2 and not ac.clm_unproven:
        return Verdict(
            Status.PASS, "WDAC enforces user-mode code integrity (UsermodeCodeIntegrityPolicyEnforcementStatus=2)", ev
        )
    gaps = []
    for kind in REQUIRED:
        c = ac.collection(kind)
        if c is None:
            gaps.append(f"no {kind} rule collection")
        elif not c.enforced:
            gaps.append(f"{kind} collection is {c.enforcement_mode} ({c.rules} rules)")
        elif c.allow_all:
            gaps.append(f"{kind} collection is enforced but allows everything ({c.allow_all})")
    applocker = not gaps and ac.appidsvc_status == "Running"
    if ac.usermode_code_integrity == 2 and not applocker:
        return Verdict(
            Status.ERROR,
            f"cannot tell whether WDAC enforces scripts: {ac.clm_unproven}. Audit over WinRM (WinRS) with "
            "__PSLockdownPolicy unset, or check the WDAC policy for option 11 (Disabled:Script Enforcement).",
            ev,
        )
    if applocker:
        extra = [f"{c.type}={c.enforcement_mode}" for c in ac.applocker if c.type not in REQUIRED]
        return Verdict(
            Status.PASS,
            "AppLocker enforces the Exe and Script collections and AppIDSvc runs"
            + (f" (other collections: {', '.join(extra)})" if extra else ""),
            ev,
        )
    if ac.device_guard_problem and ac.applocker_problem:
        return Verdict(
            Status.ERROR, f"application control state unknown: {ac.device_guard_problem}; {ac.applocker_problem}", ev
        )
    why = []
    if ac.usermode_code_integrity == 1:
        why.append("WDAC is in audit mode (UMCI=1)")
    else:
        why.append(f"WDAC does not enforce user-mode code integrity (UMCI={ac.usermode_code_integrity})")
    if ac.applocker_problem:
        why.append(ac.applocker_problem)
    elif not ac.applocker:
        why.append("no AppLocker policy")
    else:
        why.extend(f"AppLocker: {g}" for g in gaps)
        if not gaps:
            why.append(f"AppLocker rules are enforced but AppIDSvc is {ac.appidsvc_status or 'unknown'}: not applied")
    return Verdict(
        Status.FAIL,
        "No application control is enforced: "
        + "; ".join(why)
        + ". Deploy a WDAC policy in enforced mode, or AppLocker Exe and Script rules with EnforcementMode=Enabled "
        "and AppIDSvc set to Automatic and running.",
        ev,
    )
