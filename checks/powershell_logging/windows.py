"""powershell.logging: Script Block Logging, Module Logging for every module, and no PowerShell v2.

Read from the machine policy keys (``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\PowerShell``):
``ScriptBlockLogging\\EnableScriptBlockLogging=1``; ``ModuleLogging\\EnableModuleLogging=1``
with ``*`` among ``ModuleNames``. When PowerShell 7 is installed, its own key
(``...\\PowerShellCore\\ScriptBlockLogging``) must enable it too, or defer to the Windows
PowerShell setting (``UseWindowsPowerShellPolicySetting=1``). The PowerShell 2.0 engine
logs nothing and must be disabled or removed: optional features ``MicrosoftWindowsPowerShellV2Root``
and ``MicrosoftWindowsPowerShellV2`` (client; a name this edition does not know is not
installed) and, on Server, the ``PowerShell-V2`` role feature (``Get-WindowsFeature``).

Example::

    verdict = evaluate(gather(parse_output(text)), Policy())
"""

from __future__ import annotations

from hardening.facts.windows import NOT_PRESENT, WindowsFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

AREAS = ("powershell",)
_OFF = ("Disabled", "DisabledWithPayloadRemoved", NOT_PRESENT)


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    ps = facts.powershell
    missing = []
    sbl = ps.script_block_logging or {}
    if sbl.get("EnableScriptBlockLogging") != "1":
        missing.append("Script Block Logging is off (ScriptBlockLogging\\EnableScriptBlockLogging is not 1)")
    ml = ps.module_logging or {}
    names = set((ps.module_names or {}).values()) | set((ps.module_names or {}).keys())
    if ml.get("EnableModuleLogging") != "1":
        missing.append("Module Logging is off (ModuleLogging\\EnableModuleLogging is not 1)")
    elif "*" not in names:
        missing.append("Module Logging does not cover every module (no '*' in ModuleLogging\\ModuleNames)")
    if ps.pwsh:
        core = ps.core_script_block_logging or {}
        if core.get("EnableScriptBlockLogging") != "1" and core.get("UseWindowsPowerShellPolicySetting") != "1":
            missing.append(
                f"PowerShell 7 is installed ({ps.pwsh[0]}) but its policy key (PowerShellCore\\ScriptBlockLogging) "
                "neither enables logging nor defers to Windows PowerShell's"
            )
    v2_on = [n for n, state in ps.v2_features.items() if state not in _OFF]
    if v2_on:
        missing.append(
            "the PowerShell 2.0 engine is installed (" + ", ".join(f"{n}={ps.v2_features[n]}" for n in v2_on) + ")"
        )
    ev = Evidence(ps.to_json(), facts.excerpt(*AREAS, limit=2500))
    if missing:
        return Verdict(
            Status.FAIL,
            "; ".join(missing) + ". Set the policies (GPO: Administrative Templates > Windows Components > "
            "Windows PowerShell) and Disable-WindowsOptionalFeature -Online -FeatureName "
            "MicrosoftWindowsPowerShellV2Root.",
            ev,
        )
    if not ps.v2_features:
        why = ps.v2_problem or "Get-WindowsOptionalFeature returned no PowerShell 2.0 feature"
        return Verdict(
            Status.ERROR,
            f"Script Block and Module Logging are on, but whether PowerShell 2.0 is installed is unknown ({why}); "
            "the audit account must be an administrator",
            ev,
        )
    return Verdict(
        Status.PASS,
        "Script Block Logging and Module Logging (all modules) are on; PowerShell 2.0 is "
        + ", ".join(f"{n}={s}" for n, s in ps.v2_features.items()),
        ev,
    )
