"""auditd facts: installation, boot enablement, daemon, kernel status, loaded and persisted rules.

Parses the ``audit.*`` sections of ``audit.sh``. Rules (``auditctl -l`` output and rules files)
become :class:`AuditRule` values; judging what they cover is the check's job
(``checks/audit_auditd.py``).

The kernel's audit subsystem is reached over netlink and needs ``CAP_AUDIT_CONTROL`` in the
initial namespaces. Three outcomes of ``auditctl -s`` are told apart (:class:`KernelAudit`):
``available`` (status read), ``needs_root`` (not uid 0: the audit ran without become),
``unavailable`` (uid 0 but refused: a container, or a kernel without audit).

Example::

    >>> rs = parse_rules("-a always,exit -F arch=b64 -S execve,execveat -k exec\\n-e 2\\n")
    >>> sorted(rs.rules[0].syscalls), rs.rules[0].arches, rs.enable
    (['execve', 'execveat'], ('b64',), 2)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hardening.facts.areas import FactArea
from hardening.facts.sections import RC_NOT_FOUND, FactError, Sections, iter_lines, marked, parse_uint, require_sections
from hardening.model import Platform

CAP_AUDIT_CONTROL = 30
# Every section audit.sh prints, whatever the host has (audit.is_enabled, the one of
# audit.is_enabled and audit.is_active that the parser reads, comes only when systemd runs).
SECTIONS = (
    "audit.bins",
    "audit.pkg",
    "audit.boot",
    "audit.procs",
    "audit.env",
    "audit.status",
    "audit.rules_loaded",
    "audit.rules_d_dir",
    "audit.rules_d",
    "audit.audit_rules",
    "audit.augenrules_check",
)
# Shell functions that end in ":" or printf: any other exit code means they broke.
_ALWAYS_ZERO = ("audit.bins", "audit.boot", "audit.procs", "audit.env")

_ARCH_ALIASES = {
    "b64": "b64",
    "x86_64": "b64",
    "aarch64": "b64",
    "ppc64": "b64",
    "ppc64le": "b64",
    "s390x": "b64",
    "riscv64": "b64",
    "b32": "b32",
    "i386": "b32",
    "i486": "b32",
    "i586": "b32",
    "i686": "b32",
    "arm": "b32",
    "armeb": "b32",
    "armv7l": "b32",
    "ppc": "b32",
    "s390": "b32",
}
_LISTS = frozenset({"exit", "task", "user", "exclude", "filesystem", "io_uring", "entry"})
_ACTIONS = frozenset({"always", "never", "possible"})
_FIELD_RE = re.compile(r"^([A-Za-z0-9_]+)(!=|>=|<=|&=|=|>|<|&)(.*)$")
# Fields whose values auditctl -l prints as hex (a0..a3) or where -1/unset/4294967295 are one value.
_ARG_FIELDS = frozenset({"a0", "a1", "a2", "a3"})
_UNSET_FIELDS = frozenset({"auid", "loginuid", "ses", "sessionid"})
_CONTROL_WITH_VALUE = {
    "-b": "backlog_limit",
    "-f": "failure",
    "-e": "enable",
    "-r": "rate_limit",
    "--backlog_wait_time": "backlog_wait_time",
}
_CONTROL_FLAGS = {
    "-D": "delete_all",
    "--loginuid-immutable": "loginuid_immutable",
    "-c": "continue",
    "-i": "ignore_errors",
    "--reset-lost": "reset_lost",
}


@dataclass(frozen=True)
class AuditField:
    """One ``-F name<op>value`` (or ``-C a<op>b`` with ``name="compare"``) filter of a rule."""

    name: str
    op: str
    value: str

    def canonical(self) -> str:
        """The filter as ``auditctl -l`` prints it (args in hex, unset as -1)."""
        value = self.value
        if self.name in _ARG_FIELDS:
            num = _int(value)
            value = f"0x{num & 0xFFFFFFFF:X}" if num is not None else value
        elif self.name in _UNSET_FIELDS and value in ("unset", "4294967295", "-1"):
            value = "-1"
        elif (num := _int(value)) is not None:
            value = str(num)
        if self.name == "compare":
            return f"-C {value}"
        return f"-F {self.name}{self.op}{value}"

    def int_value(self) -> int | None:
        return _int(self.value)


@dataclass(frozen=True)
class AuditRule:
    """One audit rule, from a rules file line or an ``auditctl -l`` line.

    ``kind`` is ``syscall`` (``-a``/``-A``) or ``watch`` (``-w``); file-system watches written
    as ``-a always,exit -F path=... -F perm=...`` stay ``syscall`` rules with those fields.

    Example::

        >>> r = parse_rule("-w /etc/cron.d/ -p wa -k persistence")
        >>> (r.kind, r.path, r.perms, r.keys)
        ('watch', '/etc/cron.d', 'wa', ('persistence',))
    """

    text: str
    kind: str  # "syscall" | "watch"
    action: str = ""  # always | never | possible
    list: str = ""  # exit | task | user | exclude | filesystem | io_uring
    prepend: bool = False  # -A: inserted at the head of its list
    arches: tuple[str, ...] = ()  # normalised: "b64" / "b32"; () = no arch filter
    syscalls: frozenset[str] = frozenset()  # names as written; "all"; empty = none given
    fields: tuple[AuditField, ...] = ()  # every filter except arch and key
    keys: tuple[str, ...] = ()
    path: str = ""  # -w path
    perms: str = ""  # -p perms ("" = all)

    def canonical(self) -> str:
        """A normal form shared by rules files and ``auditctl -l`` output, for comparing them."""
        keys = "".join(f" -k {k}" for k in sorted(self.keys))
        if self.kind == "watch" or self._is_watch_like():
            path = self.path or next(f.value for f in self.fields if f.name in ("path", "dir"))
            perms = self.perms or next((f.value for f in self.fields if f.name == "perm"), "")
            return f"-w {_norm_path(path)} -p {_norm_perms(perms)}{keys}"
        parts = [f"-a {self.action},{self.list}"]
        parts += [f"-F arch={a}" for a in self.arches]
        if self.syscalls:
            parts.append("-S " + ",".join(sorted(self.syscalls)))
        parts += sorted(f.canonical() for f in self.fields)
        return " ".join(parts) + keys

    def _is_watch_like(self) -> bool:
        # auditctl -l prints "-a always,exit -F dir=X -F perm=wa -F key=k" back as "-w X -p wa -k k".
        names = {f.name for f in self.fields}
        return (
            self.kind == "syscall"
            and self.action == "always"
            and self.list == "exit"
            and not self.arches
            and self.syscalls <= {"all"}
            and "perm" in names
            and bool(names & {"path", "dir"})
            and names <= {"path", "dir", "perm"}
        )

    def field_values(self, name: str) -> tuple[AuditField, ...]:
        return tuple(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class RuleSet:
    """Rules in load order, plus the control settings and lines that did not parse."""

    rules: tuple[AuditRule, ...] = ()
    controls: Mapping[str, str] = field(default_factory=dict)
    unparsed: tuple[str, ...] = ()

    @property
    def enable(self) -> int | None:
        """The last ``-e`` value (0 disables audit at load, 2 locks the rules), or None."""
        return _int(self.controls.get("enable", ""))

    def canonical(self) -> frozenset[str]:
        return frozenset(r.canonical() for r in self.rules)


@dataclass(frozen=True)
class KernelAudit:
    """The kernel side, from ``auditctl -s``."""

    state: str  # "available" | "unavailable" | "needs_root" | "unknown"
    reason: str = ""  # auditctl's own words when not available
    enabled: int | None = None  # 0 off, 1 on, 2 on and immutable
    failure: int | None = None
    pid: int | None = None  # the registered audit daemon, 0 = none
    lost: int | None = None
    backlog_limit: int | None = None


@dataclass(frozen=True)
class BootFacts:
    """What would start auditd at boot."""

    systemd_running: bool
    is_enabled: str | None  # `systemctl is-enabled` answer when systemd runs, else None
    links: tuple[str, ...]  # wants/rc/runlevel links found ("path -> target")
    masked: bool

    @property
    def enabled(self) -> bool:
        if self.masked:
            return False
        if self.is_enabled is not None:
            return self.is_enabled in ("enabled", "enabled-runtime", "alias", "generated", "indirect")
        return any(not link.startswith("/etc/systemd/system/auditd.service") for link in self.links)


@dataclass(frozen=True)
class AuditFacts:
    """Everything the audit.auditd check needs, parsed from one collector run."""

    uid: int | None
    machine: str  # uname -m
    tools: Mapping[str, str]  # auditctl/auditd/augenrules -> path (absent ones omitted)
    package: str  # "auditd 1:3.0.9-1 install ok installed", "" when not installed
    boot: BootFacts
    pids: tuple[int, ...]  # processes named auditd
    kernel: KernelAudit
    loaded: RuleSet | None  # auditctl -l; None unless the kernel answered
    persisted: RuleSet | None  # what loads at boot; None when unreadable
    persisted_source: str  # "/etc/audit/rules.d" or "/etc/audit/audit.rules" or ""
    persisted_files: tuple[str, ...]
    persisted_error: str  # why persisted is None
    augenrules_check: str  # augenrules --check's verdict, "" when not run
    capeff: int | None
    container_markers: tuple[str, ...]

    @property
    def installed(self) -> bool:
        return "auditctl" in self.tools or "auditd" in self.tools or bool(self.package)

    @property
    def running(self) -> bool:
        return bool(self.pids)

    @property
    def has_audit_control(self) -> bool | None:
        return None if self.capeff is None else bool(self.capeff >> CAP_AUDIT_CONTROL & 1)


def _int(text: str) -> int | None:
    t = text.strip()
    try:
        return int(t, 16) if t.lower().startswith(("0x", "-0x")) else int(t)
    except ValueError:
        return None


def _norm_path(path: str) -> str:
    p = re.sub(r"/+", "/", path)
    return p.rstrip("/") or "/"


def _norm_perms(perms: str) -> str:
    chars = set(perms) if perms else set("rwxa")
    return "".join(c for c in "rwxa" if c in chars)


def parse_rule(line: str) -> AuditRule:
    """One rule line (rules file or ``auditctl -l``). Raises ValueError on anything else."""
    tokens = line.split()
    kind = ""
    action = lst = path = perms = ""
    prepend = False
    arches: list[str] = []
    syscalls: set[str] = set()
    fields: list[AuditField] = []
    keys: list[str] = []
    i = 0
    while i < len(tokens):
        opt = tokens[i]
        if i + 1 >= len(tokens):
            raise ValueError(f"option {opt} has no value")
        val = tokens[i + 1]
        i += 2
        if opt in ("-a", "-A"):
            kind, prepend = "syscall", opt == "-A"
            parts = val.split(",")
            action = next((p for p in parts if p in _ACTIONS), "")
            lst = next((p for p in parts if p in _LISTS), "")
            if len(parts) != 2 or not action or not lst:
                raise ValueError(f"bad list,action {val!r}")
        elif opt == "-w":
            kind, path = "watch", val
        elif opt == "-p":
            if not re.fullmatch(r"[rwxa]+", val):
                raise ValueError(f"bad permissions {val!r}")
            perms = val
        elif opt == "-S":
            syscalls.update(s for s in val.split(",") if s)
        elif opt == "-k":
            keys.append(val)
        elif opt == "-C":
            m = _FIELD_RE.match(val)
            if not m:
                raise ValueError(f"bad comparison {val!r}")
            fields.append(AuditField("compare", m.group(2), val))
        elif opt == "-F":
            m = _FIELD_RE.match(val)
            if not m:
                raise ValueError(f"bad field {val!r}")
            name, op, value = m.groups()
            if name == "arch":
                if value not in _ARCH_ALIASES or op != "=":
                    raise ValueError(f"unknown arch {value!r}")
                arches.append(_ARCH_ALIASES[value])
            elif name in ("key", "filterkey"):
                keys.append(value)
            else:
                fields.append(AuditField(name, op, value))
        else:
            raise ValueError(f"unknown option {opt!r}")
    if kind == "watch" and (action or syscalls or fields):
        raise ValueError("a -w watch takes only -p and -k")
    if not kind:
        raise ValueError("neither -a nor -w")
    return AuditRule(
        text=line.strip(),
        kind=kind,
        action=action,
        list=lst,
        prepend=prepend,
        arches=tuple(arches),
        syscalls=frozenset(syscalls),
        fields=tuple(fields),
        keys=tuple(keys),
        path=_norm_path(path) if path else "",
        perms=perms,
    )


def parse_rules(text: str) -> RuleSet:
    """Rules file text or ``auditctl -l`` output into a :class:`RuleSet`, in load order.

    Comment and blank lines are skipped; control lines (``-D``, ``-b``, ``-e`` ...) go to
    ``controls`` (the last one wins, as when loading); bad lines go to ``unparsed``.
    """
    rules: list[AuditRule] = []
    controls: dict[str, str] = {}
    unparsed: list[str] = []
    for raw in iter_lines(text):
        line = raw.strip()
        if not line or line.startswith("#") or line == "No rules" or line.startswith("==> "):
            continue
        tokens = line.split()
        head = tokens[0]
        if head in _CONTROL_FLAGS and len(tokens) == 1:
            controls[_CONTROL_FLAGS[head]] = "1"
            continue
        if head in _CONTROL_WITH_VALUE and len(tokens) == 2:
            controls[_CONTROL_WITH_VALUE[head]] = tokens[1]
            continue
        try:
            rules.append(parse_rule(line))
        except ValueError:
            unparsed.append(line)
    return RuleSet(tuple(rules), controls, tuple(unparsed))


def _file_blocks(text: str) -> list[tuple[str, str]]:
    """Split ``==> path <==`` blocks (``_h_files`` output) into (path, content)."""
    blocks: list[tuple[str, str]] = []
    for m in re.finditer(r"^==> (.+?) <==\n(.*?)(?=^==> .+? <==\n|\Z)", text, re.MULTILINE | re.DOTALL):
        blocks.append((m.group(1), m.group(2)))
    return blocks


def _version_key(name: str) -> list[tuple[int, int, str]]:
    """Approximates ``ls -v`` (natural sort), the order augenrules concatenates rules.d in."""
    # Digit runs compare by value (length of the unpadded run, then its text): no int(), so a
    # hostile 5,000-digit file name cannot raise.
    return [
        (0, len(p.lstrip("0")), p.lstrip("0")) if p[0] in "0123456789" else (1, 0, p)
        for p in re.split(r"([0-9]+)", name)
        if p
    ]


def _kernel(sections: Sections, uid: int | None, capeff: int | None) -> KernelAudit:
    rc = sections.rc("audit.status")
    text = sections.text("audit.status")
    lines = [
        line.strip()
        for name in ("audit.status", "audit.rules_loaded")
        for line in iter_lines(sections.stderr(name))
        if line.strip()
    ]
    err = " ".join(dict.fromkeys(lines))  # auditctl -s and -l often say the same thing
    if rc == RC_NOT_FOUND or rc is None:
        return KernelAudit("unknown", "auditctl is not installed" if rc == RC_NOT_FOUND else "no output")
    if rc == 0:
        values: dict[str, str] = {}
        for line in iter_lines(text):
            parts = line.split()
            if len(parts) >= 2:
                values.setdefault(parts[0], parts[1])
        enabled_word = values.get("enabled", "")
        enabled = {"disable": 0, "enabled": 1, "enabled+immutable": 2}.get(enabled_word, _int(enabled_word))
        if enabled not in (0, 1, 2):
            raise FactError(f"auditctl -s printed no valid 'enabled' value: {text.strip()[:200]!r}")
        return KernelAudit(
            "available",
            enabled=enabled,
            failure=_int(values.get("failure", "")),
            pid=parse_uint(values.get("pid", "")),
            lost=_int(values.get("lost", "")),
            backlog_limit=_int(values.get("backlog_limit", "")),
        )
    reason = err or f"auditctl -s exited {rc}"
    if uid != 0:
        return KernelAudit("needs_root", reason)
    return KernelAudit("unavailable", reason)


def _boot(sections: Sections) -> BootFacts:
    lines = [ln.strip() for ln in iter_lines(sections.text("audit.boot")) if ln.strip()]
    systemd = "systemd running" in lines
    links = tuple(ln.split(" ", 1)[1] for ln in lines if ln.startswith(("link ", "file ")))
    is_enabled = None
    if systemd and sections.rc("audit.is_enabled") not in (None, RC_NOT_FOUND):
        is_enabled = (sections.text("audit.is_enabled").strip().splitlines() or [""])[0]
    masked = is_enabled == "masked" or any(
        ln.startswith("/etc/systemd/system/auditd.service -> /dev/null") for ln in links
    )
    return BootFacts(systemd, is_enabled, links, masked)


def _env(sections: Sections) -> tuple[int | None, tuple[str, ...]]:
    capeff = None
    markers: list[str] = []
    for line in iter_lines(sections.text("audit.env")):
        parts = line.split()
        if len(parts) == 2 and parts[0] == "CapEff":
            try:
                capeff = int(parts[1], 16)
            except ValueError:
                capeff = None
        elif len(parts) == 2 and parts[0] == "marker":
            markers.append(parts[1])
    return capeff, tuple(markers)


def _persisted(sections: Sections) -> tuple[RuleSet | None, str, tuple[str, ...], str]:
    dir_rc = sections.rc("audit.rules_d_dir")
    if dir_rc == 0 and sections.rc("audit.rules_d") != 0:
        why = sections.stderr("audit.rules_d").strip()[:200] or f"rc={sections.rc('audit.rules_d')}"
        return None, "", (), f"a file in /etc/audit/rules.d is unreadable: {why}"
    if dir_rc == 0:
        blocks = _file_blocks(sections.text("audit.rules_d"))
        blocks.sort(key=lambda b: _version_key(b[0].rsplit("/", 1)[-1]))
        text = "".join(content + "\n" for _, content in blocks)
        return parse_rules(text), "/etc/audit/rules.d", tuple(p for p, _ in blocks), ""
    if dir_rc == RC_NOT_FOUND:
        rc = sections.rc("audit.audit_rules")
        if rc == 0:
            text = sections.text("audit.audit_rules")
            return parse_rules(text), "/etc/audit/audit.rules", ("/etc/audit/audit.rules",), ""
        if rc == RC_NOT_FOUND:
            return RuleSet(), "", (), ""
        why = sections.stderr("audit.audit_rules").strip() or f"rc={rc}"
        return None, "", (), f"/etc/audit/audit.rules is unreadable: {why}"
    why = sections.stderr("audit.rules_d_dir").strip() or f"rc={dir_rc}"
    return None, "", (), f"/etc/audit/rules.d is unreadable: {why}"


def pkg_from_sensors(sections: Sections) -> bool:
    """audit.sh said (section audit.pkg_from) that the sensors piece's dpkg-query lists auditd."""
    return marked(sections, "audit.pkg_from", "sensors")


def required_sections(sections: Sections) -> tuple[str, ...]:
    """The sections :func:`parse` cannot do without, for this run of the collector."""
    if pkg_from_sensors(sections):
        return (*(n for n in SECTIONS if n != "audit.pkg"), "sensors.packages")
    return SECTIONS


def _package_line(sections: Sections) -> str:
    """The first line of what ``dpkg-query -W -f '${Package} ${Version} ${Status}\\n' auditd``
    (or ``rpm -q audit``) printed, "" when it failed.

    When the sensors piece listed auditd (``${Package} ${db:Status-Status} ${Version} ${Status}``,
    exit 1 when some other package is unknown), the same line without its second field.

    >>> from hardening.facts.sections import parse_sections
    >>> out = "@@n B audit.pkg_from\\nsensors\\n@@n E audit.pkg_from 0\\n@@n B sensors.packages\\n"
    >>> out += "auditd installed 1:3.0.9-1 install ok installed\\n@@n E sensors.packages 1\\n"
    >>> _package_line(parse_sections(out, "n"))
    'auditd 1:3.0.9-1 install ok installed'
    """
    if not pkg_from_sensors(sections):
        if sections.rc("audit.pkg") != 0:
            return ""
        return (sections.text("audit.pkg").strip().splitlines() or [""])[0]
    rc = sections.rc("sensors.packages")
    if rc is None:
        raise FactError("the package list (sensors.packages) was cut short: rerun the audit")
    if rc not in (0, 1):
        return ""
    for line in iter_lines(sections.text("sensors.packages")):
        name, _, rest = line.strip().partition(" ")
        _status, _, tail = rest.partition(" ")
        if name.split(":", 1)[0] == "auditd" and tail:
            return f"{name} {tail}"
    return ""


def parse(sections: Sections) -> AuditFacts:
    """Parse the ``audit.*`` sections. Raises :class:`FactError` when they are missing or garbled."""
    if "audit.bins" not in sections or "audit.status" not in sections:
        raise FactError("the collector output has no audit sections (output cut short?): rerun the audit")
    require_sections(sections, "audit", required_sections(sections))
    if "systemd running" in sections.text("audit.boot").splitlines():
        require_sections(sections, "audit", ("audit.is_enabled",))
    for name in _ALWAYS_ZERO:
        if sections.rc(name) != 0:
            err = sections.stderr(name).strip()[:200]
            raise FactError(f"the collector step {name} failed (exit {sections.rc(name)}): {err}")
    uid = parse_uint(sections.text("meta.id")) if sections.rc("meta.id") == 0 else None
    uname = sections.text("meta.uname").split()
    machine = uname[-1] if uname else ""
    tools = {}
    for line in iter_lines(sections.text("audit.bins")):
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[1] != "-":
            tools[parts[0]] = parts[1]
    first = _package_line(sections)
    package = ""
    # dpkg: "auditd VERSION install ok installed"; rpm: "audit-3.0.7-4.el9.x86_64"
    if (first.endswith(" installed") and " not-installed" not in first) or first.startswith("audit-"):
        package = first
    capeff, markers = _env(sections)
    kernel = _kernel(sections, uid, capeff)
    loaded = None
    if kernel.state == "available" and sections.rc("audit.rules_loaded") == 0:
        loaded = parse_rules(sections.text("audit.rules_loaded"))
    elif kernel.state == "available":
        why = sections.stderr("audit.rules_loaded").strip() or f"rc={sections.rc('audit.rules_loaded')}"
        raise FactError(f"auditctl -s worked but auditctl -l failed: {why}")
    persisted, source, files, perr = _persisted(sections)
    pids = []
    for line in iter_lines(sections.text("audit.procs")):
        parts = line.split()
        pid = parse_uint(parts[0]) if len(parts) == 2 and parts[1] == "auditd" else None
        if pid is not None:
            pids.append(pid)
    check = ""
    if sections.rc("audit.augenrules_check") not in (None, RC_NOT_FOUND):
        out = sections.text("audit.augenrules_check").strip()
        check = out.split(": ", 1)[1] if ": " in out else out
    return AuditFacts(
        uid=uid,
        machine=machine,
        tools=tools,
        package=package,
        boot=_boot(sections),
        pids=tuple(pids),
        kernel=kernel,
        loaded=loaded,
        persisted=persisted,
        persisted_source=source,
        persisted_files=files,
        persisted_error=perr,
        augenrules_check=check,
        capeff=capeff,
        container_markers=markers,
    )


# Shown when parsing fails: the sensors piece's package list stands in for audit.pkg when shared.
EXCERPT = (*SECTIONS, "audit.pkg_from", "sensors.packages")
AREAS = (FactArea("audit", Platform.LINUX, parse, SECTIONS, order=30, piece="audit", excerpt=EXCERPT),)
