"""The auditd rule-coverage engine: does a rule set record what a reverse shell does?

Pure: a parsed :class:`~hardening.facts.audit.RuleSet` and the host's machine type in, a
:class:`Coverage` out. Rules are read for their effect: first match wins on the exit list, so
an earlier blanket ``never`` rule, ``-a task,never`` or an ``exclude`` of SYSCALL records cancels
later rules, and an execve rule narrowed to ``auid>=1000`` misses every shell a compromised
service spawns (their auid is unset). The check ``audit.auditd`` judges the loaded and the
persisted rules with it.

Example::

    >>> cov = coverage(parse_rules("-a always,exit -F arch=b64 -S execve -k exec"), "x86_64")
    >>> "execve (b32)" in cov.missing
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hardening.facts.audit import AuditField, AuditRule, RuleSet, parse_rules


@dataclass(frozen=True)
class WatchTarget:
    """A persistence location; any of ``paths`` (or a watched ancestor directory) covers it."""

    group: str
    paths: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.paths[0]


PERSISTENCE_TARGETS = (
    WatchTarget("cron", ("/etc/crontab",)),
    WatchTarget("cron", ("/etc/cron.d",)),
    WatchTarget("cron", ("/etc/cron.hourly",)),
    WatchTarget("cron", ("/etc/cron.daily",)),
    WatchTarget("cron", ("/etc/cron.weekly",)),
    WatchTarget("cron", ("/etc/cron.monthly",)),
    WatchTarget("cron", ("/var/spool/cron", "/var/spool/cron/crontabs")),
    WatchTarget("systemd units", ("/etc/systemd/system",)),
    WatchTarget("systemd units", ("/usr/lib/systemd/system",)),
    WatchTarget("shell rc", ("/etc/profile",)),
    WatchTarget("shell rc", ("/etc/profile.d",)),
    WatchTarget("shell rc", ("/etc/bash.bashrc",)),
    WatchTarget("ssh keys", ("/root/.ssh", "/root/.ssh/authorized_keys")),
)

# Fields a connect rule may carry and still record every outbound connection it names:
# the executable (rules keyed by shells/interpreters) and the result.
_CONNECT_OK_FIELDS = frozenset({"exe", "success", "exit"})
_ADDRLEN = {"IPv4": 16, "IPv6": 28}
_SUPPRESSING_MSGTYPES = frozenset({"SYSCALL", "1300"})


@dataclass(frozen=True)
class Coverage:
    """What a rule set records. ``missing`` items are short names ("execve (b32)")."""

    covered: tuple[str, ...]
    missing: tuple[str, ...]
    notes: tuple[str, ...]
    suppressed_by: str = ""  # a rule that switches all syscall records off

    @property
    def complete(self) -> bool:
        return not self.missing


def required_arches(machine: str) -> tuple[str, ...]:
    """ABIs whose execve must be audited: both on x86_64/aarch64 (32-bit binaries run there)."""
    if machine in ("x86_64", "aarch64"):
        return ("b64", "b32")
    if machine.endswith("64") or machine == "s390x":
        return ("b64",)
    return ("b32",) if machine else ("b64", "b32")


def _native(machine: str) -> str:
    return "b32" if required_arches(machine) == ("b32",) else "b64"


def _exit_order(rules: Iterable[AuditRule]) -> list[AuditRule]:
    """Exit-list rules in evaluation order: ``-A`` rules go to the head (last one first)."""
    exits = [r for r in rules if r.kind == "watch" or r.list == "exit"]
    head = [r for r in exits if r.prepend][::-1]
    return head + [r for r in exits if not r.prepend]


def _global_suppressor(rules: Iterable[AuditRule]) -> str:
    for r in rules:
        if r.kind != "syscall":
            continue
        if r.list == "task" and r.action == "never" and not r.fields:
            return f"'{r.text}' turns syscall auditing off for every task"
        if r.list == "exclude" and (
            not r.fields
            or all(f.name == "msgtype" and f.op == "=" and f.value in _SUPPRESSING_MSGTYPES for f in r.fields)
        ):
            return f"'{r.text}' drops every SYSCALL record"
    return ""


def _matches(rule: AuditRule, arch: str, syscall: str, native: str) -> bool:
    if rule.kind != "syscall":
        return False
    arch_ok = arch in rule.arches if rule.arches else arch == native
    return arch_ok and (not rule.syscalls or "all" in rule.syscalls or syscall in rule.syscalls)


def _field_admits(f: AuditField, value: int) -> bool | None:
    """Whether numeric filter ``f`` lets ``value`` through; None when not numeric."""
    want = f.int_value()
    if want is None:
        return None
    return {
        "=": value == want,
        "!=": value != want,
        ">": value > want,
        "<": value < want,
        ">=": value >= want,
        "<=": value <= want,
        "&": bool(value & want),
        "&=": value & want == want,
    }.get(f.op)


def _execve_ok(rule: AuditRule) -> str:
    """ "" when an always-rule records every execve it matches, else why not."""
    if rule.fields:
        return "narrowed by " + " ".join(f.canonical() for f in rule.fields)
    return ""


def _connect_ok(family: str) -> Callable[[AuditRule], str]:
    def check(rule: AuditRule) -> str:
        bad = []
        for f in rule.fields:
            if f.name == "a2":
                if not _field_admits(f, _ADDRLEN[family]):
                    bad.append(f"{f.canonical()} excludes {family} (addrlen {_ADDRLEN[family]})")
            elif f.name not in _CONNECT_OK_FIELDS:
                bad.append(f"narrowed by {f.canonical()}")
        return "; ".join(bad)

    return check


def _syscall_item(
    order: list[AuditRule], arch: str, syscall: str, native: str, ok: Callable[[AuditRule], str]
) -> tuple[bool, list[str]]:
    notes: list[str] = []
    for r in order:
        if not _matches(r, arch, syscall, native):
            continue
        if r.action == "never":
            if not r.fields:
                return False, [*notes, f"'{r.text}' comes first and suppresses {syscall} ({arch})"]
            notes.append(f"'{r.text}' suppresses part of {syscall} ({arch})")
        elif r.action == "always":
            why = ok(r)
            if not why:  # covered: earlier near-misses no longer matter
                exe = [f.value for f in r.fields if f.name == "exe"]
                return True, [f"{syscall} ({arch}) recorded only for exe {', '.join(exe)}"] if exe else []
            if syscall in r.syscalls:  # rules for other things (file watches) match "all" too
                notes.append(f"'{r.text}': {why}")
    return False, notes


def _alias(path: str) -> str:
    """Merged /usr: /lib, /bin, /sbin name the same directories as /usr/lib, /usr/bin, /usr/sbin."""
    for short in ("/lib", "/bin", "/sbin"):
        if path == short or path.startswith(short + "/"):
            return "/usr" + path
    return path


def _under(path: str, watched: str) -> bool:
    p, w = _alias(path), _alias(watched.rstrip("/") or "/")
    return p == w or p.startswith(w.rstrip("/") + "/")


def _watch_item(order: list[AuditRule], target: WatchTarget, native: str) -> tuple[bool, list[str]]:
    notes: list[str] = []
    for r in order:
        if r.kind == "syscall" and r.action == "never" and not r.fields:
            if (not r.arches or native in r.arches) and (not r.syscalls or "all" in r.syscalls):
                return False, [*notes, f"'{r.text}' comes first and suppresses every syscall"]
            continue
        if r.kind == "watch":
            if any(_under(p, r.path) for p in target.paths) and (not r.perms or "w" in r.perms):
                return True, []
            continue
        if r.action != "always" or r.list != "exit":
            continue
        paths = [f for f in r.fields if f.name in ("path", "dir") and f.op == "="]
        hit = any(
            (_under(p, f.value) if f.name == "dir" else _alias(p) == _alias(f.value.rstrip("/")))
            for f in paths
            for p in target.paths
        )
        if not hit:
            continue
        perm = "".join(f.value for f in r.fields if f.name == "perm")
        extra = [f for f in r.fields if f.name not in ("path", "dir", "perm")]
        if perm and "w" not in perm:
            continue
        if extra:
            notes.append(f"'{r.text}': narrowed by " + " ".join(f.canonical() for f in extra))
            continue
        return True, []
    return False, notes


def coverage(rules: RuleSet, machine: str) -> Coverage:
    """What ``rules`` record on a ``machine`` (uname -m): execve, outbound connect, persistence."""
    native = _native(machine)
    order = _exit_order(rules.rules)
    covered: list[str] = []
    missing: list[str] = []
    notes: list[str] = []
    killer = _global_suppressor(rules.rules)
    if killer:
        notes.append(killer)
    items: list[tuple[str, tuple[bool, list[str]]]] = []
    for arch in required_arches(machine):
        items.append((f"execve ({arch})", _syscall_item(order, arch, "execve", native, _execve_ok)))
    for family in ("IPv4", "IPv6"):
        items.append((f"connect ({family})", _syscall_item(order, native, "connect", native, _connect_ok(family))))
    for target in PERSISTENCE_TARGETS:
        items.append((f"watch {target.name}", _watch_item(order, target, native)))
    for name, (ok, item_notes) in items:
        (covered if ok and not killer else missing).append(name)
        notes.extend(n for n in item_notes if n not in notes)
    if rules.enable == 0:
        missing.append("-e 0 disables auditing when these rules load")
    return Coverage(tuple(covered), tuple(missing), tuple(notes), killer)


_FIX_RULES = {
    "execve": "-a always,exit -F arch={arch} -S execve,execveat -k exec",
    "connect (IPv4)": "-a always,exit -F arch={native} -S connect -F a2=16 -k net_connect",
    "connect (IPv6)": "-a always,exit -F arch={native} -S connect -F a2=28 -k net_connect",
}


def fix_lines(missing: Iterable[str], machine: str) -> list[str]:
    """Rules-file lines that would add the missing items (for the message)."""
    native = _native(machine)
    lines = []
    for item in missing:
        if item.startswith("execve ("):
            lines.append(_FIX_RULES["execve"].format(arch=item[8:-1]))
        elif item in _FIX_RULES:
            lines.append(_FIX_RULES[item].format(native=native))
        elif item.startswith("watch "):
            lines.append(f"-w {item[6:]} -p wa -k persistence")
    return lines


def fix_text(missing: Iterable[str], machine: str) -> str:
    """The fix lines, with the watches folded into one pattern to keep the message short."""
    fixes = fix_lines(missing, machine)
    rules = [f for f in fixes if not f.startswith("-w ")]
    watched = [f.split()[1] for f in fixes if f.startswith("-w ")]
    if watched:
        rules.append(f"-w PATH -p wa -k persistence for PATH in {' '.join(watched)}")
    return "; ".join(rules)


__all__ = ["PERSISTENCE_TARGETS", "Coverage", "WatchTarget", "coverage", "fix_lines", "parse_rules", "required_arches"]
