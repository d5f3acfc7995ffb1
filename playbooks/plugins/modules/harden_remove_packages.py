#!/usr/bin/python
# harden_netcat: remove netcat packages, and nothing else, ever.
# Runs on the managed host (Ansible copies it there); the pure functions below are unit
# tested on the controller (tests/remediation/test_netcat_guard.py).
"""Remove packages only when the removal is exactly what was planned.

Refuses, with a message that says why, when a package is Essential, Priority
required/important, Protected (dpkg), listed by dnf's protected.d, or matches a protected
pattern; and when the package manager's own simulation (``apt-get -s remove``,
``rpm -e --test`` and ``dnf remove --assumeno``) would remove anything beyond the planned
packages (e.g. busybox, which initramfs-tools needs). Packages that are not installed are
left alone (idempotent). Check mode runs the guard and the simulation, never the removal.
"""

from __future__ import annotations

import fnmatch
import glob
import re

DOCUMENTATION = r"""
module: harden_remove_packages
short_description: Remove planned packages after a guard and a simulation
description:
  - Refuses Essential, Priority required/important and Protected packages, and packages
    matching a protected pattern.
  - Simulates the removal first and refuses when it would remove anything else.
options:
  name:
    description: Packages to remove (bare names).
    type: list
    elements: str
    required: true
  protected:
    description: fnmatch patterns of packages never to remove.
    type: list
    elements: str
    default: []
  important_ok:
    description: Packages whose Priority important does not block their removal.
    type: list
    elements: str
    default: []
author: harden
"""

EXAMPLES = r"""
- name: Remove netcat packages
  harden_remove_packages:
    name: [netcat-traditional]
    protected: ["openssh-*", "sudo"]
"""

RETURN = r"""
removed:
  description: Packages removed (or that would be, in check mode).
  type: list
  returned: always
"""

PACKAGE = re.compile(r"[a-z0-9][a-z0-9+._-]*")


def invalid_names(names: list[str]) -> list[str]:
    """Names that are not plain package names (an option, a path, a glob, a space)."""
    return [n for n in names if not PACKAGE.fullmatch(n)]


def protected_hits(names: list[str], patterns: list[str]) -> list[str]:
    """``name (pattern)`` for each name matching a protected pattern.

    >>> protected_hits(["socat", "openssh-server"], ["openssh-*"])
    ['openssh-server (protected pattern openssh-*)']
    """
    out = []
    for n in names:
        hit = next((p for p in patterns if fnmatch.fnmatchcase(n, p)), None)
        if hit is not None:
            out.append(f"{n} (protected pattern {hit})")
    return out


DPKG_FORMAT = r"${Package}\t${Essential}\t${Priority}\t${Protected}\t${db:Status-Abbrev}\n"


def parse_dpkg_query(text: str) -> dict[str, tuple[str, str, str, str]]:
    """``dpkg-query -W -f DPKG_FORMAT`` lines: {package: (essential, priority, protected, status)}."""
    out: dict[str, tuple[str, str, str, str]] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and parts[0]:
            out[parts[0]] = (parts[1].strip(), parts[2].strip(), parts[3].strip(), parts[4].strip())
    return out


def dpkg_installed(info: dict[str, tuple[str, str, str, str]], names: list[str]) -> list[str]:
    """The planned names dpkg has installed (status ``ii``, ``iU``, ``iF``, ``hi``...: not ``un``/``rc``)."""
    return [n for n in names if n in info and len(info[n][3]) >= 2 and info[n][3][1] not in "nc"]


def dpkg_refusals(
    info: dict[str, tuple[str, str, str, str]], names: list[str], important_ok: tuple[str, ...] = ()
) -> list[str]:
    """Why each of ``names`` must never be removed by this role (Essential, Priority, Protected).

    ``important_ok`` names packages whose Priority ``important`` is no reason to keep them
    (Debian and Ubuntu ship netcat-openbsd as important); required, Essential and Protected
    are never waived.

    >>> dpkg_refusals({"bash": ("yes", "required", "", "ii"), "socat": ("", "optional", "", "ii")},
    ...               ["bash", "socat"])
    ['bash (Essential: yes)']
    """
    out = []
    for n in names:
        essential, priority, protected, _ = info.get(n, ("", "", "", ""))
        if essential.lower() == "yes":
            out.append(f"{n} (Essential: yes)")
        elif priority.lower() == "required" or (priority.lower() == "important" and n not in important_ok):
            out.append(f"{n} (Priority: {priority})")
        elif protected.lower() == "yes":
            out.append(f"{n} (Protected: yes)")
    return out


def parse_apt_simulation(text: str) -> tuple[list[str], list[str]]:
    """(packages apt would remove, other actions) from ``apt-get -s remove`` output.

    >>> parse_apt_simulation("Remv busybox [1:1.35]\\nRemv initramfs-tools [0.142]\\n")
    (['busybox', 'initramfs-tools'], [])
    """
    removed: list[str] = []
    other: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] in ("Remv", "Purg") and len(words) > 1:
            removed.append(words[1].split(":", 1)[0])
        elif words[0] in ("Inst", "Conf"):
            other.append(line.strip())
    return removed, other


def beyond_plan(planned: list[str], removed: list[str]) -> list[str]:
    """What a transaction would remove that was not planned."""
    return sorted(set(removed) - set(planned))


def parse_dnf_remove_count(text: str) -> int | None:
    """Packages ``dnf remove --assumeno`` would remove (dnf 4 and dnf 5 summaries), None if unread.

    >>> parse_dnf_remove_count("Transaction Summary\\n=====\\nRemove  3 Packages\\n")
    3
    >>> parse_dnf_remove_count("Transaction Summary:\\n Removing:           1 package\\n")
    1
    """
    m = re.search(r"^\s*Remov(?:e|ing):?\s+(\d+)\s+[Pp]ackages?\b", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def rpm_installed(out: str, names: list[str]) -> list[str]:
    """The planned names ``rpm -q --qf '%{NAME}\\n'`` printed as installed (a line that is exactly the
    name; "package socat is not installed" is not).

    >>> rpm_installed("nmap-ncat\\npackage socat is not installed\\n", ["nmap-ncat", "socat"])
    ['nmap-ncat']
    """
    lines = {ln.strip() for ln in out.splitlines()}
    return [n for n in names if n in lines]


def dnf_protected(texts: list[str]) -> set[str]:
    """Package names listed in dnf's ``protected.d/*.conf`` files (comments and blanks skipped)."""
    return {ln.strip() for t in texts for ln in t.splitlines() if ln.strip() and not ln.strip().startswith("#")}


# ------------------------------------------------------------------------------ the module


def _run(module, argv, check_rc=False):  # noqa: ANN001 (Ansible module glue)
    env = {"LC_ALL": "C", "LANG": "C", "DEBIAN_FRONTEND": "noninteractive"}
    rc, out, err = module.run_command(argv, environ_update=env, check_rc=check_rc)
    return rc, out, err


def _debian(module, names):  # noqa: ANN001
    important_ok = tuple(module.params["important_ok"])
    rc, out, err = _run(module, ["dpkg-query", "-W", "-f", DPKG_FORMAT, *names])
    info = parse_dpkg_query(out)
    installed = dpkg_installed(info, names)
    if not installed:
        return [], f"not installed: {', '.join(names)}"
    refused = dpkg_refusals(info, installed, important_ok)
    if refused:
        module.fail_json(msg="REFUSED: never removed by harden: " + "; ".join(refused), refused=refused)
    rc, out, err = _run(module, ["apt-get", "-s", "-o", "Debug::NoLocking=1", "remove", *installed])
    if rc != 0:
        module.fail_json(msg=f"REFUSED: the simulation (apt-get -s remove) failed: {err.strip()[:500]}")
    removed, other = parse_apt_simulation(out)
    extra = beyond_plan(installed, removed)
    if extra or other:
        module.fail_json(
            msg=(
                f"REFUSED: removing {', '.join(installed)} would also remove {', '.join(extra) or '-'}"
                f"{' and do: ' + '; '.join(other[:5]) if other else ''} (apt-get -s remove). Remove them "
                "by hand if that is really wanted, or list the tool in harden_allowed_binaries."
            ),
            would_remove=removed,
        )
    if module.check_mode:
        return installed, "check mode: simulation only"
    _run(module, ["apt-get", "-y", "-q", "remove", *installed], check_rc=True)
    return installed, ""


def _rpm(module, names):  # noqa: ANN001
    rc, out, err = _run(module, ["rpm", "-q", "--qf", "%{NAME}\\n", *names])
    installed = rpm_installed(out, names)
    if not installed:
        return [], f"not installed: {', '.join(names)}"
    texts = []
    for path in glob.glob("/etc/dnf/protected.d/*.conf") + glob.glob("/etc/yum/protected.d/*.conf"):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                texts.append(fh.read(65536))
        except OSError:
            continue
    prot = sorted(set(installed) & dnf_protected(texts))
    if prot:
        module.fail_json(msg="REFUSED: protected by dnf (protected.d): " + ", ".join(prot))
    rc, out, err = _run(module, ["rpm", "-e", "--test", *installed])
    if rc != 0:
        module.fail_json(
            msg=f"REFUSED: other packages need {', '.join(installed)} (rpm -e --test): {(err or out).strip()[:500]}"
        )
    dnf = module.get_bin_path("dnf") or module.get_bin_path("yum")
    keep = "--setopt=clean_requirements_on_remove=False"
    if dnf:
        rc, out, err = _run(module, [dnf, "remove", "--assumeno", keep, *installed])
        count = parse_dnf_remove_count(out)
        if count is None or count != len(installed):
            module.fail_json(
                msg=(
                    f"REFUSED: {dnf} would remove {count if count is not None else 'an unknown number of'} "
                    f"packages for {len(installed)} planned ({', '.join(installed)})"
                )
            )
    if module.check_mode:
        return installed, "check mode: simulation only"
    if dnf:
        _run(module, [dnf, "-y", "remove", keep, *installed], check_rc=True)
    else:
        _run(module, ["rpm", "-e", *installed], check_rc=True)
    return installed, ""


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "protected": {"type": "list", "elements": "str", "default": []},
            "important_ok": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    names = list(dict.fromkeys(module.params["name"]))
    bad = invalid_names(names)
    if bad:
        module.fail_json(msg=f"REFUSED: not plain package names: {bad!r}")
    hits = protected_hits(names, module.params["protected"])
    if hits:
        module.fail_json(msg="REFUSED: never removed by harden: " + "; ".join(hits), refused=hits)
    if not names:
        module.exit_json(changed=False, removed=[])
    if module.get_bin_path("dpkg-query"):
        removed, note = _debian(module, names)
    elif module.get_bin_path("rpm"):
        removed, note = _rpm(module, names)
    else:
        module.fail_json(msg="REFUSED: neither dpkg nor rpm on this host")
    module.exit_json(changed=bool(removed), removed=removed, msg=note)


if __name__ == "__main__":
    main()
