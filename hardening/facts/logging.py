"""Log-forwarding facts (Linux): where rsyslog, syslog-ng, systemd-journal-upload and auditd's
dispatcher send this host's logs, and what they send.

Parses the ``logging.*`` sections of ``logging.sh``. Which forwarders RUN is not read here (the
``processes`` area identifies them by executable). Sources:

- rsyslog (rsyslog.conf(5), https://www.rsyslog.com/doc/configuration/): ``/etc/rsyslog.conf``
  read in order, ``$IncludeConfig PATTERN`` and ``include(file="PATTERN")`` replaced by the
  matching files in name order (only files under ``/etc/rsyslog.d`` are collected; other patterns
  are reported), ``#`` comment lines and ``/* */`` comments dropped; forwarding actions are
  RainerScript ``action(type="omfwd" target= port= protocol=)`` or ``type="omrelp"`` (RELP, TCP),
  over several lines, and the legacy ``SELECTOR @host[:port]`` (UDP) / ``@@host[:port]`` (TCP);
  ``&`` repeats the previous selector.
  A selector (``auth,authpriv.*;mail.none``) is read into the facilities it sends at ``info``;
  an action under an ``if``/property filter is partial. Actions inside a ``ruleset()`` no
  ``input()`` binds and no ``call`` reaches never run. ``input(type="imfile" File= Facility=)``
  feeds a file into syslog (facility ``local0`` by default).
- syslog-ng: ``destination NAME { network("host" port() transport()) | tcp() | udp() |
  syslog() }`` used by a ``log { ... destination(NAME); }`` path (a ``filter()`` in it: partial).
- systemd-journal-upload: ``URL=`` in ``journal-upload.conf`` (default port 19532): the whole journal.
- auditd plugins (auditd.conf(5), auditd-plugins(5)): ``/etc/audit/plugins.d/*.conf``
  (``/etc/audisp/plugins.d`` before auditd 3) with ``active = yes``: ``audisp-remote``
  (``remote_server``, ``port`` default 60, in ``audisp-remote.conf``), ``af_unix`` (a socket a local
  agent reads), ``syslog`` (audit records into syslog).

Example::

    >>> fw = rsyslog_forwards([("/etc/rsyslog.conf", "auth,authpriv.* @@192.0.2.10:6514\\n")])
    >>> [(f.host, f.port, f.proto, sorted(f.facilities)) for f in fw.actions]
    [('192.0.2.10', 6514, 'tcp', ['auth', 'authpriv'])]
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from hardening.allowlist.evidence import destination
from hardening.facts.areas import FactArea
from hardening.facts.sections import Sections, iter_lines, require_sections
from hardening.facts.sensors import file_blocks
from hardening.model import Platform

CAP = 4194304  # HLK in logging.sh
SECTIONS = ("logging.rsyslog", "logging.syslog_ng", "logging.journal_upload", "logging.audisp", "logging.resolve")
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
_PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_PRIO_ALIASES = {"panic": "emerg", "error": "err", "warn": "warning", "*": "debug"}
MAX_ACTIONS = 256


@dataclass(frozen=True)
class Forward:
    """One forwarding action: where, how, and which messages go there."""

    forwarder: str  # rsyslog | syslog-ng | journal-upload | audisp-remote
    host: str  # an IP address or a host name as configured ("" when unusable)
    port: int
    proto: str  # tcp | udp
    facilities: frozenset[str]  # syslog facilities sent at info (all of FACILITIES = everything)
    filtered: bool  # under a property/expression filter: only some of those messages
    source: str  # "path: statement" (bounded)

    @property
    def everything(self) -> bool:
        return not self.filtered and self.facilities >= frozenset(FACILITIES)


@dataclass(frozen=True)
class ImFile:
    path: str
    facility: str


@dataclass(frozen=True)
class RsyslogConfig:
    actions: tuple[Forward, ...]
    imfiles: tuple[ImFile, ...]
    files: tuple[str, ...]  # files read, in order
    unread: tuple[str, ...]  # include patterns that name files harden did not collect
    inactive: tuple[str, ...]  # forwarding actions in rulesets nothing binds


# ------------------------------------------------------------------------------ selectors


def selector_facilities(selector: str) -> frozenset[str]:
    """Facilities a legacy selector sends at priority ``info``.

    >>> sorted(selector_facilities("*.info;mail.none;authpriv.none"))[:3]
    ['auth', 'cron', 'daemon']
    >>> sorted(selector_facilities("auth,authpriv.*"))
    ['auth', 'authpriv']
    """
    chosen: set[str] = set()
    for part in selector.split(";"):
        fac, dot, prio = part.strip().rpartition(".")
        if not dot:
            continue
        prio = prio.strip().lower()
        negate = prio.startswith("!")
        prio = prio.lstrip("!=")
        prio = _PRIO_ALIASES.get(prio, prio)
        names = set(FACILITIES) if fac.strip() == "*" else {f.strip().lower() for f in fac.split(",")}
        names &= set(FACILITIES)
        if prio == "none" or negate:
            chosen -= names
        elif prio in _PRIORITIES and _PRIORITIES.index(prio) >= _PRIORITIES.index("info"):
            chosen |= names
        elif prio in _PRIORITIES:
            chosen -= names  # "=err" or "crit": info messages of these are not sent
    return frozenset(chosen)


# ------------------------------------------------------------------------------ rsyslog


def _strip_comments(text: str) -> str:
    """Drop ``#`` comment lines and ``/* */`` comments (not inside strings, not on ``$`` directive lines,
    where ``/etc/rsyslog.d/*.conf`` is a glob, as rsyslog's lexer reads it)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            out.append("")
        else:
            out.append(line)
    joined = "\n".join(out)
    if "/*" not in joined:  # the scan below changes only what a "/*" starts
        return joined
    res: list[str] = []
    i, n = 0, len(joined)
    quote = ""
    directive = False
    line_start = True
    while i < n:
        c = joined[i]
        if c == "\n":
            directive, line_start, quote = False, True, ""
            res.append(c)
            i += 1
            continue
        if line_start and not c.isspace():
            directive = c == "$"
            line_start = False
        if quote:
            if c == "\\" and i + 1 < n:
                res.append(joined[i : i + 2])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'" and not directive:
            quote = c
        elif c == "/" and joined.startswith("/*", i) and not directive:
            end = joined.find("*/", i + 2)
            end = n if end < 0 else end + 2
            res.append("\n" * joined.count("\n", i, end))
            i = end
            continue
        res.append(c)
        i += 1
    return "".join(res)


_INCLUDE_LEGACY = re.compile(r"^\s*\$IncludeConfig\s+(\S+)", re.MULTILINE)
_INCLUDE_RS = re.compile(r'include\s*\(\s*file\s*=\s*"([^"]+)"[^)]*\)', re.IGNORECASE)
_PARAM = re.compile(r'([A-Za-z.]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _expand(path: str, files: Mapping[str, str], seen: set[str], unread: list[str], depth: int = 0) -> str:
    """The text of ``path`` with its includes replaced by the included files, in order."""
    if depth > 8 or path in seen:
        return ""
    seen.add(path)
    text = _strip_comments(files.get(path, ""))

    def sub(m: re.Match[str]) -> str:
        pattern = m.group(1)
        hits = sorted(p for p in files if fnmatch.fnmatch(p, pattern) or p == pattern)
        if not hits and not pattern.startswith("/etc/rsyslog.d/"):
            unread.append(pattern)
        return "\n".join(_expand(h, files, seen, unread, depth + 1) for h in hits) + "\n"

    text = _INCLUDE_LEGACY.sub(sub, text)
    return _INCLUDE_RS.sub(sub, text)


def _balanced(text: str, start: int) -> int:
    """Index after the parenthesis group that opens at ``text[start] == '('`` (strings respected)."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _port(text: str, default: int) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else default


def _legacy_target(words: str) -> tuple[str, int, str] | None:
    m = re.match(r"(@@?)(?:\([^)]*\))?(\[[0-9A-Fa-f:.]+\]|[^\s:;]+)(?::(\d+))?", words)
    if not m:
        return None
    return m.group(2), _port(m.group(3) or "", 514), "tcp" if m.group(1) == "@@" else "udp"


LOCAL_INPUTS = frozenset({"imuxsock", "imjournal", "imklog", "imfile", "imkmsg"})
_SKIP_OBJECTS = (
    "module",
    "global",
    "template",
    "main_queue",
    "lookup_table",
    "parser",
    "timezone",
    "dyn_stats",
    "percentile_stats",
    "set",
    "unset",
    "reset",
    "foreach",
)
_SELECTOR = re.compile(r"[A-Za-z0-9_*,;.!=]+")


@dataclass
class _Walk:
    """State of one pass over an rsyslog configuration."""

    root: str
    bound: set[str]
    actions: list[Forward]
    inactive: list[str]
    imfiles: list[ImFile]
    rulesets: list[tuple[str, int]]  # (name, brace depth it opened at)
    filters: list[int]  # brace depths of open `if ... then {` blocks
    depth: int = 0
    pending_filter: bool = False  # `if ... then` (or a property filter) applies to the next statement
    last_selector: str = ""

    def add(self, host: str, port: int, proto: str, facilities: frozenset[str], statement: str) -> None:
        filtered = bool(self.filters) or self.pending_filter
        self.pending_filter = False
        fwd = Forward("rsyslog", destination(host) or "", port, proto, facilities, filtered,
                      f"{self.root}: {' '.join(statement.split())[:200]}")  # fmt: skip
        ruleset = self.rulesets[-1][0] if self.rulesets else ""
        if ruleset and ruleset != "RSYSLOG_DefaultRuleset" and ruleset not in self.bound:
            self.inactive.append(f"{fwd.source} (ruleset {ruleset!r}: no local input or call uses it)")
        elif len(self.actions) < MAX_ACTIONS:
            self.actions.append(fwd)

    def brace(self, c: str) -> None:
        if c == "{":
            self.depth += 1
            return
        self.depth -= 1
        if self.rulesets and self.rulesets[-1][1] == self.depth:
            self.rulesets.pop()
        while self.filters and self.filters[-1] >= self.depth:
            self.filters.pop()


_OBJECT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_THEN = re.compile(r"\bthen\b")
_STATEMENT_END = re.compile(r"[\n{}]")
_PROPERTY_FILTER = re.compile(r':[^,\n]+,\s*!?[A-Za-z_-]+,\s*"(?:[^"\\\n]|\\.)*"')


def _object(text: str, i: int) -> tuple[str, int, dict[str, str]] | None:
    """``name(...)`` at ``text[i:]``: (lower-case name, index after it, its parameters)."""
    m = _OBJECT.match(text, i)
    if not m:
        return None
    end = _balanced(text, m.end() - 1)
    params = {k.lower(): v for k, v in _PARAM.findall(text[i:end])}
    return m.group(1).lower(), end, params


def _statement_facilities(selector: str) -> frozenset[str]:
    return selector_facilities(selector) if selector else frozenset(FACILITIES)


def rsyslog_forwards(blocks: list[tuple[str, str]]) -> RsyslogConfig:
    """The forwarding actions of an rsyslog configuration (``==> path <==`` blocks)."""
    files = dict(blocks)
    unread: list[str] = []
    seen: set[str] = set()
    root = "/etc/rsyslog.conf" if "/etc/rsyslog.conf" in files else (blocks[0][0] if blocks else "")
    text = _expand(root, files, seen, unread) if root else ""
    # Rulesets that see this host's own messages: bound to a local input, or called.
    bound = {m.group(1) for m in re.finditer(r"\bcall\s+([A-Za-z0-9_.-]+)", text)}
    for m in re.finditer(r"\binput\s*\(", text):
        obj = _object(text, m.start())
        if obj and obj[2].get("type", "").lower() in LOCAL_INPUTS and obj[2].get("ruleset"):
            bound.add(obj[2]["ruleset"])
    w = _Walk(root, bound, [], [], [], [], [])
    i, n = 0, len(text)
    selector = ""  # the legacy selector of the current line
    line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            selector, line_start = "", True
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        at_line_start, line_start = line_start, False
        if c in "{}":
            w.brace(c)
            i += 1
            continue
        if c == "$":  # legacy directive: one line
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        obj = _object(text, i)
        if obj is not None and obj[0] == "ruleset":
            brace = text.find("{", obj[1])
            w.rulesets.append((obj[2].get("name", ""), w.depth))
            i = obj[1] if brace < 0 else brace
            continue
        if obj is not None and obj[0] == "input":
            if obj[2].get("type", "").lower() == "imfile" and obj[2].get("file"):
                w.imfiles.append(ImFile(obj[2]["file"], obj[2].get("facility", "local0").lower()))
            i = obj[1]
            continue
        if obj is not None and obj[0] == "action":
            p = obj[2]
            kind = p.get("type", "").lower()
            if kind in ("omfwd", "omrelp") and p.get("target"):
                # omrelp is RELP over TCP (port 514 unless set); omfwd is UDP unless protocol="tcp"
                proto = "tcp" if kind == "omrelp" or p.get("protocol", "udp").lower() == "tcp" else "udp"
                w.add(
                    p["target"], _port(p.get("port", ""), 514), proto, _statement_facilities(selector), text[i : obj[1]]
                )
            else:
                w.pending_filter = False
            i = obj[1]
            continue
        if obj is not None and obj[0] in _SKIP_OBJECTS:
            i = obj[1]
            continue
        if text.startswith("if", i) and (i + 2 >= n or not text[i + 2].isalnum()):
            then = _THEN.search(text, i)
            i = n if then is None else then.end()
            j = i
            while j < n and text[j].isspace():
                j += 1
            if j < n and text[j] == "{":
                i = j
                w.filters.append(w.depth)
            else:
                w.pending_filter = True
            continue
        if c == ":":  # property-based filter: `:msg, contains, "x"  ACTION`
            m = _PROPERTY_FILTER.match(text, i)
            w.pending_filter = True
            i = m.end() if m else i + 1
            continue
        if c == "&":
            selector = w.last_selector
            i += 1
            continue
        if c == "@":
            end = text.find("\n", i)
            end = n if end < 0 else end
            target = _legacy_target(text[i:end].split()[0] if text[i:end].split() else "")
            if target:
                w.add(target[0], target[1], target[2], _statement_facilities(selector), text[i:end])
            i = end
            continue
        m = _SELECTOR.match(text, i)
        if m and "." in m.group(0) and at_line_start:
            selector = m.group(0)
            w.last_selector = selector
            i = m.end()
            continue
        # anything else (stop, ~, a file action, a word): to the end of the statement
        m = _STATEMENT_END.search(text, i + 1)
        w.pending_filter = False
        i = n if m is None else m.start()
    return RsyslogConfig(tuple(w.actions), tuple(w.imfiles), tuple(sorted(seen)), tuple(unread), tuple(w.inactive))


# ------------------------------------------------------------------------------ syslog-ng


def syslog_ng_forwards(blocks: list[tuple[str, str]]) -> tuple[Forward, ...]:
    """Network destinations of syslog-ng that a ``log`` path uses."""
    text = "\n".join(_strip_comments(t) for _, t in blocks)
    dests: dict[str, list[tuple[str, int, str]]] = {}
    for m in re.finditer(r"destination\s+([A-Za-z0-9_]+)\s*\{(.*?)\}\s*;", text, re.DOTALL):
        for d in re.finditer(r'\b(network|tcp6?|udp6?|syslog)\s*\(\s*"([^"]+)"([^;]*)', m.group(2)):
            driver, host, rest = d.group(1), d.group(2), d.group(3)
            port = re.search(r"port\s*\(\s*(\d+)\s*\)", rest)
            transport = re.search(r'transport\s*\(\s*"?(\w+)"?\s*\)', rest)
            proto = "udp" if driver.startswith("udp") else "tcp"
            if driver in ("network", "syslog"):
                t = transport.group(1).lower() if transport else ("udp" if driver == "network" else "tcp")
                proto = "tcp" if t in ("tcp", "tls") else "udp"
            default = 601 if driver == "syslog" else 514
            dests.setdefault(m.group(1), []).append((host, _port(port.group(1) if port else "", default), proto))
    out: list[Forward] = []
    path = blocks[0][0] if blocks else "/etc/syslog-ng/syslog-ng.conf"
    for m in re.finditer(r"\blog\s*\{(.*?)\}\s*;", text, re.DOTALL):
        body = m.group(1)
        filtered = bool(re.search(r"\bfilter\s*\(", body))
        for used in re.findall(r"destination\s*\(\s*([A-Za-z0-9_]+)\s*\)", body):
            for host, port, proto in dests.get(used, []):
                out.append(
                    Forward("syslog-ng", destination(host) or "", port, proto, frozenset(FACILITIES), filtered,
                            f"{path}: destination {used}")
                )  # fmt: skip
    return tuple(out[:MAX_ACTIONS])


# ------------------------------------------------------------------------------ journal-upload, audisp


def journal_upload_url(blocks: list[tuple[str, str]]) -> Forward | None:
    url = ""
    for _, text in blocks:  # later drop-ins override
        for line in iter_lines(_strip_comments(text)):
            key, sep, value = line.partition("=")
            if sep and key.strip() == "URL":
                url = value.strip()
    if not url:
        return None
    try:
        u = urlsplit(url if "://" in url else f"https://{url}")
        port = u.port or 19532
    except ValueError:
        return None
    if not u.hostname:
        return None
    return Forward("journal-upload", destination(u.hostname) or "", port, "tcp", frozenset(FACILITIES), False,
                   f"journal-upload.conf: URL={url[:200]}")  # fmt: skip


@dataclass(frozen=True)
class AuditPlugin:
    file: str
    active: bool
    path: str  # the program, or builtin_af_unix / builtin_syslog
    args: str

    @property
    def kind(self) -> str:
        p = self.path.rsplit("/", 1)[-1]
        if p == "audisp-remote":
            return "remote"
        if p in ("builtin_af_unix", "audisp-af_unix", "af_unix"):
            return "af_unix"
        if p in ("builtin_syslog", "audisp-syslog"):
            return "syslog"
        return "other"


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in iter_lines(_strip_comments(text)):
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def audit_plugins(blocks: list[tuple[str, str]]) -> tuple[tuple[AuditPlugin, ...], Forward | None]:
    plugins: list[AuditPlugin] = []
    remote: Forward | None = None
    for path, text in blocks:
        kv = _kv(text)
        if path.endswith("/audisp-remote.conf"):
            host = kv.get("remote_server", "")
            if host and remote is None:
                remote = Forward("audisp-remote", destination(host) or "", _port(kv.get("port", ""), 60), "tcp",
                                 frozenset(), False, f"{path}: remote_server = {host[:100]}")  # fmt: skip
            continue
        if "/plugins.d/" in path and "path" in kv:
            plugins.append(AuditPlugin(path, kv.get("active", "no").lower() == "yes", kv["path"], kv.get("args", "")))
    return tuple(plugins), remote


# ------------------------------------------------------------------------------ the area


@dataclass(frozen=True)
class LoggingFacts:
    rsyslog: RsyslogConfig | None  # None: no /etc/rsyslog.conf
    syslog_ng: tuple[Forward, ...] | None
    journal_upload: Forward | None
    audit_plugins: tuple[AuditPlugin, ...]
    audisp_remote: Forward | None
    resolved: Mapping[str, tuple[str, ...]]  # host name -> addresses (the host's own resolver)
    problems: tuple[str, ...]


def _resolved(text: str) -> dict[str, tuple[str, ...]]:
    """``name address`` lines (getent ahosts on the host): addresses only, 16 names, 16 addresses each."""
    import ipaddress

    out: dict[str, list[str]] = {}
    for line in iter_lines(text):
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            addr = str(ipaddress.ip_address(parts[1]))
        except ValueError:
            continue
        if len(out) < 16 or parts[0].lower() in out:
            out.setdefault(parts[0].lower(), []).append(addr)
    return {k: tuple(dict.fromkeys(v))[:16] for k, v in out.items()}


def parse(sections: Sections) -> LoggingFacts:
    require_sections(sections, "logging", SECTIONS)
    problems = [f"{n} hit the {CAP // 1048576} MiB cap" for n in SECTIONS if len(sections[n].body) >= CAP]
    for name in SECTIONS[:4]:
        if sections.rc(name) != 0:
            problems.append(f"{name}: a file could not be read: {sections.stderr(name).strip()[:200]}")
    rs = file_blocks(sections.text("logging.rsyslog"))
    ng = file_blocks(sections.text("logging.syslog_ng"))
    plugins, remote = audit_plugins(file_blocks(sections.text("logging.audisp")))
    return LoggingFacts(
        # without rsyslog.conf rsyslog is not installed (a package may still drop files in rsyslog.d)
        rsyslog=rsyslog_forwards(rs) if any(p == "/etc/rsyslog.conf" for p, _ in rs) else None,
        syslog_ng=syslog_ng_forwards(ng) if ng else None,
        journal_upload=journal_upload_url(file_blocks(sections.text("logging.journal_upload"))),
        audit_plugins=plugins,
        audisp_remote=remote,
        resolved=_resolved(sections.text("logging.resolve")),
        problems=tuple(problems),
    )


AREAS = (FactArea("logging", Platform.LINUX, parse, SECTIONS, order=80, piece="logging"),)
