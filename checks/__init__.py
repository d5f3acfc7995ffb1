"""Check modules. Installed as ``hardening.checks``.

A check is one module here named after its id (``egress.default_deny`` ->
``egress_default_deny.py``) that defines:

- ``META``: a :class:`hardening.model.CheckMeta` (id, title, severity, rationale, references);
- ``evaluate(facts, policy) -> Verdict``: a pure function over parsed host facts
  (:class:`hardening.facts.linux.LinuxFacts`) and the host's :class:`hardening.policy.Policy`.

The collector piece a check relies on lives with the facts it parses
(``hardening/facts/<area>.sh`` + ``<area>.py``); the remediation role is named in
``META`` once remediation lands.

Example::

    >>> [c.meta.id for c in linux_checks()][:2]
    ['egress.default_deny', 'egress.allowlist']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hardening.model import CheckMeta, Verdict

LINUX_CHECK_MODULES = (
    "egress_default_deny",
    "egress_allowlist",
    "dns_query_logging",
    "audit_auditd",
    "appcontrol_enforced",
    "binaries_netcat",
)

# Windows hosts (ansible_connection=winrm): the shared ids judged over WindowsFacts, and their own.
WINDOWS_CHECK_MODULES = (
    "win_egress_default_deny",
    "win_egress_allowlist",
    "win_dns_query_logging",
    "audit_sysmon",
    "powershell_language_mode",
    "powershell_logging",
    "win_appcontrol_enforced",
    "win_binaries_netcat",
)


@dataclass(frozen=True)
class Check:
    meta: CheckMeta
    evaluate: Callable[[Any, Any], Verdict]


def _load(name: str) -> Check:
    mod = importlib.import_module(f"{__name__}.{name}")
    return Check(meta=mod.META, evaluate=mod.evaluate)


def linux_checks() -> tuple[Check, ...]:
    """Every Linux check, in report order."""
    return tuple(_load(n) for n in LINUX_CHECK_MODULES)


def windows_checks() -> tuple[Check, ...]:
    """Every Windows check, in report order (``evaluate(facts: WindowsFacts, policy)``)."""
    return tuple(_load(n) for n in WINDOWS_CHECK_MODULES)
