"""appcontrol.enforced: is a mandatory access control (SELinux or AppArmor) ENFORCING right now?

Judges the running mode (selinuxfs, AppArmor's loaded profiles), not the config file alone
(OpenSCAP's mistake), and then whether that mode survives a reboot: SELinux enforcing now but
``SELINUX=permissive`` in /etc/selinux/config, or ``enforcing=0`` on the kernel command line,
boots permissive, so it fails ("will not survive a reboot"). AppArmor passes with at least one
profile in enforce (or kill) mode; all-complain fails. A host whose profiles could not be read
(not root) is an error, never a pass.

Example::

    verdict = evaluate(gather(sections), Policy())
"""

from __future__ import annotations

from hardening.facts import appcontrol as appcontrol_facts
from hardening.facts.appcontrol import AppControlFacts
from hardening.facts.linux import LinuxFacts, facts_json
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

# Evidence: every section the collector piece prints, with its stderr.
SECTIONS = tuple(s for name in appcontrol_facts.SECTIONS for s in (name, name + "!err"))

_HOWTO = (
    "enable one: on Debian/Ubuntu install apparmor (+ apparmor-profiles), make sure the kernel "
    "has it in its LSM list (lsm=...,apparmor), reboot and put the profiles of exposed services in "
    "enforce mode (aa-enforce); on RHEL-likes set SELINUX=enforcing in /etc/selinux/config and reboot"
)


def _cmdline_blocks(c: AppControlFacts) -> list[str]:
    """Kernel parameters that switch SELinux or AppArmor off (or to permissive) at boot."""
    out = []
    p = c.cmdline
    if p.get("selinux") == "0":
        out.append("selinux=0 disables SELinux")
    if p.get("enforcing") == "0":
        out.append("enforcing=0 boots SELinux permissive")
    if p.get("apparmor") == "0":
        out.append("apparmor=0 disables AppArmor")
    if "security" in p and p["security"] not in ("selinux", "apparmor"):
        out.append(f"security={p['security']} selects neither SELinux nor AppArmor")
    if "lsm" in p:
        names = p["lsm"].split(",")
        if "selinux" not in names and "apparmor" not in names:
            out.append(f"lsm={p['lsm']} lists neither selinux nor apparmor")
    return out


def _evidence(c: AppControlFacts, excerpt: str) -> Evidence:
    se, aa = c.selinux, c.apparmor
    return Evidence(
        facts_json(
            {
                "uid": c.uid,
                "cmdline": dict(c.cmdline),
                "cmdline_blocks": _cmdline_blocks(c),
                "lsm": list(c.lsm) if c.lsm is not None else None,
                "securityfs_mounted": c.securityfs_mounted,
                "process_label": c.process_label,
                "selinux_running": se.running,
                "selinux_enforce": se.enforce,
                "selinux_config": se.config_mode,
                "selinux_type": se.config_type,
                "getenforce": se.getenforce,
                "apparmor_enabled": aa.module_enabled,
                "apparmor_profile_counts": aa.counts(),
                "apparmor_enforced_profiles": aa.enforced,
                "apparmor_error": aa.profiles_error,
            }
        ),
        excerpt,
    )


def _selinux_verdict(c: AppControlFacts) -> tuple[Status, str] | None:
    se = c.selinux
    if se.enforce is None:
        return None
    if se.enforce == 0:
        return (
            Status.FAIL,
            "SELinux is running in permissive mode: denials are logged, nothing is blocked; run "
            "setenforce 1 and set SELINUX=enforcing in /etc/selinux/config",
        )
    if c.cmdline.get("enforcing") == "0":
        return (
            Status.FAIL,
            "SELinux is enforcing now, but the kernel command line has enforcing=0: it boots "
            "permissive and will not survive a reboot; remove enforcing=0 from the boot loader config",
        )
    if se.config_mode != "enforcing":
        found = f"SELINUX={se.config_mode}" if se.config_mode else "no SELINUX= setting"
        if se.config_mode is None:
            found = "no /etc/selinux/config"
        return (
            Status.FAIL,
            f"SELinux is enforcing now, but the boot configuration has {found}: this will not "
            "survive a reboot; set SELINUX=enforcing in /etc/selinux/config",
        )
    return (
        Status.PASS,
        f"SELinux is enforcing (running mode and /etc/selinux/config agree, policy {se.config_type or '?'})",
    )


def _apparmor_verdict(c: AppControlFacts) -> tuple[Status, str] | None:
    aa = c.apparmor
    if not aa.module_enabled:
        return None
    if aa.profiles is None:
        if c.uid != 0:
            return (
                Status.ERROR,
                f"AppArmor is enabled but its profile list is readable only by root ({aa.profiles_error}): "
                "rerun the audit with privilege escalation (ansible_become=true)",
            )
        if not c.securityfs_mounted:
            return (
                Status.ERROR,
                "AppArmor is enabled but securityfs is not mounted, so its profiles cannot be read: "
                "mount -t securityfs securityfs /sys/kernel/security (normally done at boot) and rerun",
            )
        return Status.ERROR, f"AppArmor is enabled but its profiles cannot be read: {aa.profiles_error}"
    counts = aa.counts()
    summary = ", ".join(f"{n} {mode}" for mode, n in sorted(counts.items())) or "no profiles"
    if aa.enforced:
        return Status.PASS, f"AppArmor is enabled with {aa.enforced} profile(s) enforcing ({summary})"
    return (
        Status.FAIL,
        f"AppArmor is enabled but no profile is in enforce mode ({summary}): complain mode only logs; "
        "put the profiles of exposed services in enforce mode (aa-enforce /etc/apparmor.d/...)",
    )


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    """Judge SELinux first (if running), then AppArmor; neither enforcing is a fail."""
    c = facts.appcontrol
    evidence = _evidence(c, facts.sections.excerpt(*SECTIONS))
    blocks = _cmdline_blocks(c)
    se = _selinux_verdict(c)
    aa = _apparmor_verdict(c)
    for verdict in (se, aa):
        if verdict and verdict[0] == Status.PASS:
            return Verdict(Status.PASS, verdict[1], evidence)
    found = [v for v in (se, aa) if v]
    if found:
        status = Status.ERROR if any(v[0] == Status.ERROR for v in found) else Status.FAIL
        return Verdict(status, "; ".join(v[1] for v in found), evidence)
    if c.selinux.enforce_error:
        return Verdict(
            Status.ERROR,
            f"/sys/fs/selinux/enforce exists but could not be read ({c.selinux.enforce_error}): "
            "rerun the audit as root",
            evidence,
        )
    label = c.process_label or ""
    if label.count(":") >= 3 and c.selinux.enforce is None:
        return Verdict(
            Status.ERROR,
            f"processes carry an SELinux label ({label}) but selinuxfs is not mounted, so the mode "
            "cannot be read: mount selinuxfs on /sys/fs/selinux and rerun",
            evidence,
        )
    why = ["SELinux is not running (no /sys/fs/selinux)"]
    if c.selinux.config_mode:
        why[0] += f" although /etc/selinux/config says SELINUX={c.selinux.config_mode}"
    if c.apparmor.module_enabled is False:
        why.append("AppArmor is built in but disabled (/sys/module/apparmor/parameters/enabled = N)")
    else:
        why.append("AppArmor is not in this kernel (no /sys/module/apparmor)")
    if c.lsm is not None:
        why.append(f"active LSMs: {','.join(c.lsm)}")
    why += [f"kernel command line: {b}" for b in blocks]
    return Verdict(
        Status.FAIL,
        "no mandatory access control is enforcing: " + "; ".join(why) + f". To fix, {_HOWTO}",
        evidence,
    )
