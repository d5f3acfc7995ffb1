"""binaries.netcat remediation: what harden_netcat removes and quarantines, and its validation.

:func:`remedy` turns the check's findings into the role's variables (in the check, from its
own facts); :func:`validate` is what the planner runs on those variables when it reads them
back from a results.json, which is an input file anyone could have edited: only plain netcat
package names and plain absolute paths with a content hash (files) or a target (links) pass.
The role checks everything again on the host before it changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hardening.facts.binaries import NETCAT_PACKAGES, managed_link
from hardening.model import Remedy

ROLE = "harden_netcat"
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _finding_packages(f: Mapping[str, Any], notes: list[str]) -> set[str]:
    """The removable packages of one finding, re-checked here: plain names of netcat packages."""
    out: set[str] = set()
    for raw in f.get("removable_packages") or []:
        name = str(raw).split(":", 1)[0]
        if not _PACKAGE.fullmatch(name) or name not in NETCAT_PACKAGES:
            notes.append(f"ignored package name {name!r} (not a netcat package)")
        else:
            out.add(name)
    return out


def _quarantine_entry(f: Mapping[str, Any], np: Mapping[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """What the role gets for one unpackaged name: the link or the file, as itself."""
    path = str(np.get("path") or "")
    kind = str(np.get("kind") or "")
    root_only = np.get("root_only") is True
    if not path.startswith("/") or "\x00" in path or any(c in ("", ".", "..") for c in path.split("/")[1:]):
        notes.append(f"ignored path {path!r} (not a plain absolute path)")
        return None
    if kind == "symlink":
        target = str(np.get("link_target") or "")
        if managed_link(kind, root_only, target):
            notes.append(f"{path!r}: alternatives link, left to the package manager")
            return None
        return {"path": path, "kind": "symlink", "link_target": target, "root_only": root_only}
    if kind == "file":
        sha = str(f.get("sha256") or "")
        if not _SHA256.fullmatch(sha):
            notes.append(f"{path!r}: no sha256 in the audit; not quarantined (re-audit as root)")
            return None
        entry: dict[str, Any] = {"path": path, "kind": "file", "sha256": sha, "root_only": root_only}
        return entry | _uid_of(np)
    notes.append(f"{path!r}: neither a file nor a link ({kind!r}); look at it by hand")
    return None


def netcat_targets(facts: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """(packages to remove, files and links to quarantine, notes) from binaries.netcat findings.

    Each name a binary was found under is judged as itself (``paths`` in the evidence): a
    package is removed only when the audit proved it removable (a path it owns itself, in a
    root-only directory, and a netcat package by name: re-checked here); an unpackaged link
    or copy is quarantined as itself, never what it points at; a packaged file that is not
    removable is left for a person. Findings from an older harden (no ``paths``) plan
    nothing: re-audit.
    """
    packages: list[str] = []
    files: list[dict[str, Any]] = []
    notes: list[str] = []
    findings = facts.get("findings")
    for f in findings if isinstance(findings, list) else []:
        if not isinstance(f, Mapping):
            continue
        named = f.get("paths")
        if not isinstance(named, list):
            notes.append(f"{str(f.get('real_path'))!r}: audited by an older harden (no per-path owners): re-audit")
            continue
        removable = _finding_packages(f, notes)
        for p in sorted(removable):
            if p not in packages:
                packages.append(p)
        for np in named:
            if not isinstance(np, Mapping):
                continue
            owners = {str(o).split(":", 1)[0] for o in np.get("packages") or []}
            if owners:
                if not (owners & removable and np.get("root_only") is True):
                    notes.append(
                        f"{str(np.get('path'))!r} belongs to {', '.join(sorted(owners))}: not removed "
                        "automatically (not a netcat package, or not where only root writes); look at it by hand"
                    )
                continue
            entry = _quarantine_entry(f, np, notes)
            if entry is not None and entry["path"] not in {e["path"] for e in files}:
                files.append(entry)
    return packages, files, notes


def _uid_of(raw: Mapping[str, Any]) -> dict[str, int]:
    """``{"uid": N}`` when ``raw`` names a plain non-negative uid (the file's owner the role re-checks), else {}."""
    uid = raw.get("uid")
    return {"uid": uid} if isinstance(uid, int) and not isinstance(uid, bool) and uid >= 0 else {}


def remedy(findings: list[dict[str, Any]]) -> Remedy:
    """The role's variables for the check's findings (evidence form, see ``linux._json``)."""
    packages, files, notes = netcat_targets({"findings": findings})
    return Remedy(ROLE, {"harden_netcat_packages": packages, "harden_netcat_files": files}, tuple(notes))


def _plain_path(path: Any) -> bool:
    return (
        isinstance(path, str)
        and path.startswith("/")
        and "\x00" not in path
        and not any(c in ("", ".", "..") for c in path.split("/")[1:])
    )


def _valid_entry(raw: Any, notes: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping) or not _plain_path(raw.get("path")):
        notes.append(f"ignored quarantine entry {str(raw)[:200]!r} (not a plain absolute path)")
        return None
    entry: dict[str, Any] = {"path": raw["path"], "kind": raw.get("kind"), "root_only": raw.get("root_only") is True}
    if raw.get("kind") == "symlink" and isinstance(raw.get("link_target"), str) and raw["link_target"]:
        if managed_link("symlink", entry["root_only"], raw["link_target"]):
            notes.append(f"{raw['path']!r}: alternatives link, left to the package manager")
            return None
        entry["link_target"] = raw["link_target"]
        return entry
    if raw.get("kind") == "file" and isinstance(raw.get("sha256"), str) and _SHA256.fullmatch(raw["sha256"]):
        entry["sha256"] = raw["sha256"]
        return entry | _uid_of(raw)
    notes.append(f"ignored quarantine entry for {raw['path']!r} (neither a hashed file nor a link)")
    return None


def validate(variables: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The variables a results.json gives harden_netcat, re-checked (anything else is dropped with a note)."""
    packages: list[str] = []
    raw_packages = variables.get("harden_netcat_packages")
    for raw in raw_packages if isinstance(raw_packages, list) else []:
        name = str(raw)
        if _PACKAGE.fullmatch(name) and name in NETCAT_PACKAGES:
            if name not in packages:
                packages.append(name)
        else:
            notes.append(f"ignored package name {name[:80]!r} (not a netcat package)")
    files: list[dict[str, Any]] = []
    raw_files = variables.get("harden_netcat_files")
    for raw in raw_files if isinstance(raw_files, list) else []:
        entry = _valid_entry(raw, notes)
        if entry is not None and entry["path"] not in {f["path"] for f in files}:
            files.append(entry)
    return {"harden_netcat_packages": packages, "harden_netcat_files": files}
