"""binaries.netcat: netcat-likes (nc, ncat, netcat, socat, busybox nc) present on the host.

One finding per real binary (all its names), with its package owner (dpkg, with the
merged-/usr spelling resolved, or rpm), whether it can run a program on connect (-e,
--sh-exec, socat EXEC) and where it sits: an unpackaged copy in /tmp, /dev/shm or a home
directory looks dropped. Policy ``harden_allowed_binaries`` tolerates names or paths.

Example::

    verdict = evaluate(gather(sections), Policy.from_vars({"harden_allowed_binaries": ["socat"]}))
"""

from __future__ import annotations

from hardening.checks.binaries_netcat import allowed_only
from hardening.checks.binaries_netcat.remedy import remedy as netcat_remedy
from hardening.checks.binaries_netcat.remedy import validate as validate_remedy  # the planner re-checks with it

from hardening.facts.binaries import Binary
from hardening.facts.linux import LinuxFacts
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

SECTIONS = ("binaries.found", "binaries.dpkg")


def _allowed(b: Binary, policy: Policy) -> str:
    """The policy entry that tolerates ``b``, or "".

    A name entry (``socat``) matches only names in root-only directories (``/usr/bin/socat``,
    root's alternatives link ``/usr/bin/nc``): a user's ``ln -s /usr/bin/nc.traditional
    /tmp/socat`` must not make netcat-traditional "allowed by socat", nor a user's own copy in
    ``~/bin/socat`` pass as the tolerated socat. A path entry matches that exact path (the
    operator named it).
    """
    trusted = [n.path for n in b.paths if n.root_only] if b.paths else [*b.names, b.real_path]
    names = {n.rsplit("/", 1)[-1] for n in trusted}
    for entry in policy.allowed_binaries:
        if entry.startswith("/"):
            if entry in b.names or entry == b.real_path:
                return entry
        elif entry in names:
            return entry
    return ""


def _owner(b: Binary) -> str:
    if b.packages:
        text = "package " + ", ".join(b.packages)
        if not b.removable_packages:
            text += " (not removed automatically: not a netcat package, or not in a root-only directory)"
        return text
    if not b.owner_known:
        return "package owner unknown (no dpkg or rpm)"
    links = [n for n in b.paths if n.kind == "symlink"]
    if links and b.target_packages:
        return (
            "unpackaged link to a file of package "
            + ", ".join(b.target_packages)
            + " (the link is judged as itself, not by its target)"
        )
    if b.location == "dropped":
        return "unpackaged — no package owns it, and it sits where users write: looks dropped"
    return "unpackaged — no package owns it"


def _show(path: str) -> str:
    """A path as a person can read it: quoted when it holds spaces or control characters."""
    return repr(path) if any(c.isspace() or not c.isprintable() for c in path) else path


def _describe(b: Binary) -> str:
    names = ", ".join(_show(n) for n in b.names)
    real = "" if b.real_path in b.names else f" -> {_show(b.real_path)}"
    if b.exec_support == "yes":
        ex = f"can run a program on connect ({b.exec_how})"
    elif b.exec_support == "no":
        ex = f"cannot run a program itself ({b.exec_how}; lower weight)"
    else:
        ex = f"exec support unknown ({b.exec_how})"
    return f"{names}{real} [{b.flavor}]: {_owner(b)}; {ex}"


def _remedy(findings: list[Binary]) -> str:
    pkgs = sorted({p for b in findings for p in b.removable_packages})
    loose = [_show(n.path) for b in findings for n in b.paths if not n.packages and not n.managed_link]
    manual = [_show(n.path) for b in findings for n in b.paths if n.packages and not b.removable_packages]
    steps = []
    if pkgs:
        steps.append(f"remove the packages ({' '.join(pkgs)})")
    if loose:
        steps.append(f"quarantine the unpackaged files and links ({', '.join(loose)}) after keeping them as evidence")
    if manual:
        steps.append(f"look at the packaged files by hand ({', '.join(manual)})")
    steps.append("or list tolerated ones in harden_allowed_binaries")
    text = "; ".join(steps)
    return text[0].upper() + text[1:]


def _json(b: Binary, allowed_by: str) -> dict[str, object]:
    return {
        "real_path": b.real_path,
        "names": list(b.names),
        "flavor": b.flavor,
        "exec_support": b.exec_support,
        "exec_how": b.exec_how,
        "busybox_nc": b.busybox_nc,
        "packages": list(b.packages),
        "removable_packages": list(b.removable_packages),
        "target_packages": list(b.target_packages),
        "paths": [n.to_json() for n in b.paths],
        "location": b.location,
        "sha256": b.sha256,
        "size": b.size,
        "allowed_by": allowed_by,
    }


def _rank(b: Binary) -> tuple[int, int, str]:
    return (
        {"dropped": 0, "local": 1, "system": 2}[b.location] + (0 if not b.packages else 3),
        {"yes": 0, "unknown": 1, "no": 2}[b.exec_support],
        b.real_path,
    )


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    """Judge netcat-likes on the host (see module docstring)."""
    bf = facts.binaries
    candidates = sorted((b for b in bf.binaries if b.is_netcat), key=_rank)
    harmless = [b for b in bf.binaries if not b.is_netcat]
    allowed = [(b, _allowed(b, policy)) for b in candidates if _allowed(b, policy)]
    findings = [b for b in candidates if not _allowed(b, policy)]
    ev = Evidence(
        {
            "findings": [_json(b, "") for b in findings],
            "allowed": [_json(b, by) for b, by in allowed],
            "busybox_without_nc": [b.real_path for b in harmless],
            "package_db": bf.package_db,
            "incomplete": bf.incomplete,
            "policy_allowed_binaries": list(policy.allowed_binaries),
        },
        facts.sections.excerpt(*SECTIONS),
    )
    if findings:
        dropped = [b for b in findings if b.location == "dropped" and not b.packages]
        head = f"{len(findings)} netcat-like binar{'y' if len(findings) == 1 else 'ies'} found"
        if dropped:
            head += f", {len(dropped)} unpackaged in a user-writable place (investigate: looks dropped)"
        msg = f"{head}: " + "; ".join(_describe(b) for b in findings) + f". {_remedy(findings)}"
        if allowed:
            msg += f" (allowed by policy: {', '.join(b.real_path for b, _ in allowed)})"
        if bf.incomplete:
            msg += f" (search incomplete: {bf.incomplete})"
        return Verdict(Status.FAIL, msg, ev, netcat_remedy([_json(b, "") for b in findings]))
    if bf.incomplete:
        return Verdict(
            Status.ERROR,
            f"no netcat-like found, but the search was incomplete: {bf.incomplete} — run the audit as root",
            ev,
        )
    if allowed:
        return allowed_only([f"{_describe(b)} (allowed by {by})" for b, by in allowed], ev)
    extra = f" (busybox without an nc applet: {', '.join(b.real_path for b in harmless)})" if harmless else ""
    return Verdict(
        Status.PASS,
        "no nc, ncat, netcat, socat or busybox nc on PATH, in /usr/local, /opt, /tmp, /var/tmp, /dev/shm "
        f"or home directories{extra}",
        ev,
    )


__all__ = ["evaluate", "validate_remedy"]
