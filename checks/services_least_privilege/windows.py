"""services.least_privilege (Windows): services listening for the network run as LocalSystem.

Every socket listening on a non-loopback address (TCP listeners, UDP endpoints) is traced to its
process (OwningProcess) and the services hosted in it (Win32_Service ProcessId). A finding:

- a **service running as LocalSystem** whose program is not part of Windows (outside
  ``%SystemRoot%``): an exploit in it is SYSTEM. Windows' own listeners (lsass, services,
  svchost-hosted Windows services, the spooler, System for SMB/HTTP.sys) are reported in the
  evidence, not judged: they are the operating system, whose attack surface is reduced by
  disabling features, not by changing accounts;
- a **process that is no service** running as SYSTEM with such a listener;
- an **IIS application pool** whose identity is LocalSystem (its w3wp.exe runs every request of the
  sites in it as SYSTEM).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hardening.facts.windows import WindowsFacts
from hardening.facts.windows_listeners import WinListenerFacts
from hardening.model import Evidence, Remedy, Status, Verdict
from hardening.policy import Policy

ROLE = "harden_win_service_privilege"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._$-]{0,79}$")


def validate_remedy(variables: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The pool and service names a results.json gives the role, re-checked (plain names only)."""
    out: dict[str, Any] = {}
    for key in ("harden_win_service_privilege_app_pools", "harden_win_service_privilege_services"):
        raw = variables.get(key)
        names: list[str] = []
        for n in raw if isinstance(raw, list) else []:
            if isinstance(n, str) and _NAME.fullmatch(n):
                if n not in names:
                    names.append(n)
            else:
                notes.append(f"ignored name {str(n)[:80]!r} (not a plain service or pool name)")
        out[key] = names
    return out


SYSTEM_PID = 4  # the kernel: SMB, HTTP.sys (IIS, WinRM) listen here


def _windows_path(path: str) -> bool:
    p = path.strip().strip('"').lower().replace("/", "\\")
    return p.startswith(("c:\\windows\\", "%systemroot%\\", "\\systemroot\\", "%windir%\\"))


def evaluate(facts: WindowsFacts, policy: Policy) -> Verdict:
    lf: WinListenerFacts = facts.listeners
    exposed = [x for x in lf.listeners if not x.loopback]
    by_pid: dict[int, list[str]] = {}
    for x in exposed:
        by_pid.setdefault(x.pid, []).append(x.label())
    findings: list[str] = []
    os_listeners: list[str] = []
    fix_services: list[str] = []
    fix_pools: list[str] = []
    for pid, labels in sorted(by_pid.items()):
        where = ", ".join(sorted(set(labels))[:4])
        if pid == SYSTEM_PID:
            os_listeners.append(f"System (kernel: SMB, HTTP.sys) on {where}")
            continue
        services = [s for s in lf.services if s.pid == pid]
        proc = lf.processes.get(pid)
        if services:
            for s in services:
                if not s.local_system:
                    continue
                if _windows_path(s.path):
                    os_listeners.append(f"{s.name} (Windows, LocalSystem) on {where}")
                else:
                    findings.append(
                        f"service {s.name} ({s.path.strip()[:120]}) runs as LocalSystem and listens on {where}"
                    )
                    fix_services.append(s.name)
        elif proc is not None and proc.owner.lower() in ("nt authority\\system", "nt-autorität\\system"):
            if _windows_path(proc.path):
                os_listeners.append(f"{proc.name} (Windows, SYSTEM) on {where}")
            else:
                findings.append(f"{proc.name} ({proc.path[:120]}) runs as SYSTEM and listens on {where}")
    pools = lf.app_pools or ()
    for pool in pools:
        if pool.identity.lower() == "localsystem":
            findings.append(
                f"IIS application pool {pool.name!r} runs as LocalSystem: every request of its sites runs as SYSTEM"
            )
            fix_pools.append(pool.name)
    ev = Evidence(
        {
            "exposed_listeners": [x.label() + f" pid {x.pid}" for x in exposed][:50],
            "windows_listeners_as_system": os_listeners,
            "app_pools": [{"name": p.name, "identity": p.identity} for p in pools],
            "iis_problem": lf.iis_problem,
        },
        facts.excerpt("listeners", limit=3000),
    )
    if findings:
        notes: list[str] = []
        variables = validate_remedy(
            {
                "harden_win_service_privilege_app_pools": fix_pools,
                "harden_win_service_privilege_services": fix_services,
            },
            notes,
        )
        return Verdict(Status.FAIL, "; ".join(findings), ev, Remedy(ROLE, variables, tuple(notes)))
    if lf.iis_problem:
        return Verdict(
            Status.ERROR, f"IIS is installed but its application pools could not be read: {lf.iis_problem}", ev
        )
    what = f"{len(by_pid)} processes listen for the network; no non-Windows service or IIS pool runs as LocalSystem"
    return Verdict(Status.PASS, what, ev)
