"""services.least_privilege remediation: which accounts and web roots harden_service_privilege may touch.

The check proposes (``remedy``) the service accounts that run an exposed service with a login
shell or sudo rights, and the web roots such an account may write; :func:`validate` is what the
planner runs on those variables when it reads them back from a results.json (anyone could have
edited it): plain account names, never root; web roots only under the directories web servers
serve from. The role checks again on the host (a system account, not root, not kept by policy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hardening.model import Remedy

ROLE = "harden_service_privilege"
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
WEBROOT_PREFIXES = ("/var/www/", "/srv/", "/usr/share/nginx/")


def plain_account(name: Any) -> bool:
    return isinstance(name, str) and bool(_ACCOUNT.fullmatch(name)) and name != "root"


def plain_webroot(path: Any) -> bool:
    if not isinstance(path, str) or "\x00" in path or not path.startswith(WEBROOT_PREFIXES):
        return False
    parts = path.rstrip("/").split("/")[1:]
    return len(parts) >= 2 and not any(p in ("", ".", "..") for p in parts)


def remedy(nologin: list[str], sudo: list[str], webroots: list[str], notes: list[str]) -> Remedy:
    return Remedy(ROLE, validate(
        {"harden_service_privilege_nologin": nologin, "harden_service_privilege_sudo": sudo,
         "harden_service_privilege_webroots": webroots}, notes), tuple(notes))  # fmt: skip


def validate(variables: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The variables a results.json gives harden_service_privilege, re-checked (the rest dropped with a note)."""
    out: dict[str, Any] = {}
    for key in ("harden_service_privilege_nologin", "harden_service_privilege_sudo"):
        names: list[str] = []
        raw = variables.get(key)
        for n in raw if isinstance(raw, list) else []:
            if plain_account(n):
                if n not in names:
                    names.append(n)
            else:
                notes.append(f"ignored account {str(n)[:60]!r} (not a plain account name, or root)")
        out[key] = names
    roots: list[str] = []
    raw = variables.get("harden_service_privilege_webroots")
    for p in raw if isinstance(raw, list) else []:
        if plain_webroot(p):
            if p not in roots:
                roots.append(p.rstrip("/"))
        else:
            notes.append(f"ignored web root {str(p)[:120]!r} (only plain paths under {', '.join(WEBROOT_PREFIXES)})")
    out["harden_service_privilege_webroots"] = roots
    return out
