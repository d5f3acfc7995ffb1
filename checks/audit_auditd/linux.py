"""audit.auditd: is every process start, outbound connect and persistence write recorded?

Judges the LOADED rules (``auditctl -l``) when the kernel answers, and the persisted rules
(``/etc/audit/rules.d``, what ``augenrules --load`` installs at boot) always: coverage that
exists only in memory does not survive a reboot, and coverage only on disk is not in force.
Rules are read for their effect: first match wins on the exit list, so an earlier blanket
``never`` rule, ``-a task,never`` or an ``exclude`` of SYSCALL records cancels later rules,
and an execve rule narrowed to ``auid>=1000`` misses every shell a compromised service spawns
(their auid is unset).

Where the kernel audit is unavailable (a container: audit is not namespaced and needs
CAP_AUDIT_CONTROL in the initial namespaces) the verdict is never pass: ``fail`` when the
persisted rules are insufficient anyway (fixing them is actionable everywhere), else ``error``
(the logging depends on the container host's kernel rules, which cannot be seen from inside).

The rule-coverage engine is :mod:`hardening.auditd`.

Example::

    verdict = evaluate(gather(sections), Policy())
"""

from __future__ import annotations

from hardening.auditd import PERSISTENCE_TARGETS, Coverage, coverage, fix_lines, fix_text, required_arches
from hardening.facts.audit import AuditFacts, RuleSet, parse_rules
from hardening.facts.linux import LinuxFacts, facts_json
from hardening.model import Evidence, Status, Verdict
from hardening.policy import Policy

SECTIONS = (
    "audit.bins",
    "audit.pkg",
    "audit.pkg_from",
    "sensors.packages",
    "audit.boot",
    "audit.is_enabled",
    "audit.procs",
    "audit.env",
    "audit.status",
    "audit.status!err",
    "audit.rules_loaded",
    "audit.rules_loaded!err",
    "audit.rules_d_dir",
    "audit.rules_d_dir!err",
    "audit.rules_d",
    "audit.augenrules_check",
)


def _describe_missing(cov: Coverage, machine: str, where: str) -> str:
    if cov.suppressed_by:
        return f"{where} record nothing: {cov.suppressed_by}; remove that rule"
    text = f"{where} miss {', '.join(cov.missing)}"
    fixes = fix_text(cov.missing, machine)
    if fixes:
        text += f" (add to /etc/audit/rules.d/50-harden.rules: {fixes}; then run augenrules --load)"
    if cov.notes:
        text += " [" + "; ".join(cov.notes[:3]) + "]"
    return text


def _evidence(a: AuditFacts, extra: dict[str, object], sections_excerpt: str) -> Evidence:
    facts: dict[str, object] = {
        "installed": a.installed,
        "package": a.package,
        "enabled_at_boot": a.boot.enabled,
        "boot_links": list(a.boot.links),
        "systemctl_is_enabled": a.boot.is_enabled,
        "auditd_pids": list(a.pids),
        "kernel_state": a.kernel.state,
        "kernel_reason": a.kernel.reason,
        "kernel_enabled": a.kernel.enabled,
        "immutable": a.kernel.enabled == 2,
        "kernel_daemon_pid": a.kernel.pid,
        "lost": a.kernel.lost,
        "persisted_source": a.persisted_source,
        "persisted_files": list(a.persisted_files),
        "persisted_enable": a.persisted.enable if a.persisted else None,
        "augenrules_check": a.augenrules_check,
        "loaded_rule_count": len(a.loaded.rules) if a.loaded else None,
        "persisted_rule_count": len(a.persisted.rules) if a.persisted else None,
        "unparsed_rules": list((a.persisted.unparsed if a.persisted else ()) + (a.loaded.unparsed if a.loaded else ())),
        "container_markers": list(a.container_markers),
        "cap_audit_control": a.has_audit_control,
    }
    facts.update(extra)
    return Evidence(facts_json(facts), sections_excerpt)


def _unavailable_reason(a: AuditFacts) -> str:
    hints = []
    if a.has_audit_control is False:
        hints.append("CAP_AUDIT_CONTROL is not in the effective capabilities")
    if a.container_markers:
        hints.append("container marker " + ", ".join(a.container_markers))
    why = f"auditctl: {a.kernel.reason}"
    return why + (f"; {'; '.join(hints)}" if hints else "")


def evaluate(facts: LinuxFacts, policy: Policy) -> Verdict:
    """Judge auditd on one host (see the module docstring)."""
    a = facts.audit
    excerpt = facts.sections.excerpt(*SECTIONS)
    early = _unjudgeable(a, excerpt)
    if early is not None:
        return early
    assert a.persisted is not None  # _unjudgeable returns a verdict when it is
    persisted = coverage(a.persisted, a.machine)
    base = {
        "persisted_covered": list(persisted.covered),
        "persisted_missing": list(persisted.missing),
        "persisted_notes": list(persisted.notes),
    }
    if a.kernel.state != "available":
        return _without_kernel(a, persisted, base, excerpt)
    return _with_kernel(a, persisted, base, excerpt)


def _unjudgeable(a: AuditFacts, excerpt: str) -> Verdict | None:
    """The verdict when auditd is absent or its state cannot be read; None when the rules can be judged."""
    if not a.installed:
        return Verdict(
            Status.FAIL,
            "auditd is not installed (no auditctl/auditd, no package): nothing records process starts "
            "or outbound connections; install it (apt-get install auditd / dnf install audit), add "
            "execve, connect and persistence-path rules under /etc/audit/rules.d and enable the service",
            _evidence(a, {}, excerpt),
        )
    if a.kernel.state == "needs_root":
        return Verdict(
            Status.ERROR,
            f"cannot read the audit state without root ({a.kernel.reason}; /etc/audit is root-only): "
            "rerun the audit with privilege escalation (ansible_become=true)",
            _evidence(a, {}, excerpt),
        )
    if a.persisted is None:
        return Verdict(
            Status.ERROR,
            f"cannot judge the persisted audit rules: {a.persisted_error}; rerun the audit as root",
            _evidence(a, {}, excerpt),
        )
    return None


def _without_kernel(a: AuditFacts, persisted: Coverage, base: dict[str, object], excerpt: str) -> Verdict:
    """No kernel audit here (a container): never pass; fail when the persisted setup is insufficient anyway."""
    if a.kernel.state == "unavailable":
        intro = (
            "the kernel audit subsystem is unavailable here, so nothing on this host is recorded "
            f"by an auditd running here ({_unavailable_reason(a)}); this is a container or a "
            "kernel without audit support"
        )
    else:
        intro = f"the kernel audit state could not be read ({a.kernel.reason})"
    if not persisted.complete or not a.boot.enabled:
        problems = []
        if not persisted.complete:
            problems.append(_describe_missing(persisted, a.machine, "the persisted rules"))
        if not a.boot.enabled:
            problems.append("auditd is not enabled at boot (systemctl enable auditd)")
        return Verdict(
            Status.FAIL,
            intro + ". The persisted configuration is insufficient as well: " + "; ".join(problems),
            _evidence(a, base, excerpt),
        )
    return Verdict(
        Status.ERROR,
        intro + f". The persisted rules ({a.persisted_source}) cover execve, outbound connect and "
        "the persistence paths, but whether anything is logged depends on the audit rules of the "
        "kernel this runs on: audit the container host (or a VM) instead",
        _evidence(a, base, excerpt),
    )


def _daemon_problems(a: AuditFacts) -> list[str]:
    """What is wrong with the kernel audit state, the daemon and its boot setup."""
    problems = []
    if a.kernel.enabled == 0:
        problems.append(
            "auditing is disabled in the kernel (auditctl -s: enabled 0): run auditctl -e 1 (or start "
            "auditd) and make sure the kernel command line has no audit=0"
        )
    if not a.running:
        problems.append("auditd is not running: start it (systemctl start auditd / service auditd start)")
    elif not a.kernel.pid:
        problems.append("an auditd process exists but the kernel has no registered audit daemon (pid 0)")
    if not a.boot.enabled:
        how = "unmask and enable" if a.boot.masked else "enable"
        problems.append(f"auditd is not enabled at boot: {how} it (systemctl {how.split()[-1]} auditd)")
    return problems


def _with_kernel(a: AuditFacts, persisted: Coverage, base: dict[str, object], excerpt: str) -> Verdict:
    """The kernel answers: the loaded rules, the daemon, and what survives a reboot."""
    assert a.persisted is not None
    loaded_rules = a.loaded or RuleSet()
    loaded = coverage(loaded_rules, a.machine)
    only_loaded = sorted(loaded_rules.canonical() - a.persisted.canonical())
    only_persisted = sorted(a.persisted.canonical() - loaded_rules.canonical())
    extra = {
        **base,
        "loaded_covered": list(loaded.covered),
        "loaded_missing": list(loaded.missing),
        "loaded_notes": list(loaded.notes),
        "rules_only_loaded": only_loaded[:50],
        "rules_only_persisted": only_persisted[:50],
    }
    problems = _daemon_problems(a)
    if not loaded.complete:
        problems.append(_describe_missing(loaded, a.machine, "the loaded rules"))
    lost_on_reboot = [m for m in persisted.missing if m not in loaded.missing]
    if lost_on_reboot:
        problems.append(
            f"the persisted rules ({a.persisted_source or 'none'}) miss {', '.join(lost_on_reboot)}: "
            "coverage now in the kernel will not survive a reboot; write it to /etc/audit/rules.d"
        )
    diff = ""
    if only_loaded or only_persisted:
        diff = (
            f"; loaded and persisted rules differ ({len(only_loaded)} only loaded, "
            f"{len(only_persisted)} only persisted)"
        )
    if problems:
        return Verdict(Status.FAIL, "; ".join(problems) + diff, _evidence(a, extra, excerpt))
    lock = (
        "rules are immutable until reboot (-e 2)"
        if a.kernel.enabled == 2
        else "consider -e 2 (immutable) so an attacker with root cannot delete the rules"
    )
    return Verdict(
        Status.PASS,
        f"auditd is running and enabled at boot; the loaded rules record execve "
        f"({'+'.join(required_arches(a.machine))}), outbound connect (IPv4+IPv6) and writes to "
        f"{len(PERSISTENCE_TARGETS)} persistence paths; {lock}{diff}",
        _evidence(a, extra, excerpt),
    )


__all__ = ["Coverage", "coverage", "evaluate", "fix_lines", "parse_rules", "required_arches"]  # engine re-exported
