"""Persistence: what would start a reverse shell again (cron, systemd, init scripts, shell start-up
files, authorized keys, ld.so.preload, udev, sudoers, web shells; Windows autoruns), parsed from the
hunt collector's ``hunt.p.*`` sections and scored (pure).

The collector piece (``hunt/persistence.sh``) lists each area's candidate files (owner, mode,
mtime, size) and sends the lines of them that run something; this module joins lines to files,
asks :mod:`hardening.hunt.payload` what each line runs, and gives every file a tier:

- high: a reverse-shell payload (``/dev/tcp``, ``nc -e``, socat ``exec:``, interpreter socket
  one-liners, base64 decoded into a shell, mkfifo relays, PowerShell TCP clients), a program run
  from ``/tmp``, ``/var/tmp`` or ``/dev/shm``, a web page passing request input to exec/eval;
- medium: a file no package owns in a system location that runs something unusual (a
  netcat-like, an interpreter, a downloader, base64, a hidden path), ``ld.so.preload`` naming a
  library no package owns, an ``authorized_keys`` ``command=`` that is no known forced command, a
  web page with exec/eval on a variable and request input elsewhere;
- low: a file no package owns that runs something ordinary (a cron job, a unit, a rule);
- info (no tier): everything else (package-owned units, ordinary start-up files): counted only.

Every area that could not be read whole (a cap hit, a file unreadable or too large, a name with
a newline) is a warning and makes the report incomplete: never a silent "nothing found".

Example::

    report = parse_persistence(sections)          # a Linux hunt's sections
    [f.entry.path for f in report.findings if f.tier is Tier.HIGH]
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hardening.facts.sections import Sections, iter_lines, parse_uint
from hardening.hunt.authkeys import key_options, mask_secrets
from hardening.hunt.model import Tier
from hardening.hunt.payload import judge, pipe_env, unusual

# Areas in the collector's order, and the kind each reports as.
AREAS: Mapping[str, str] = {
    "cron": "cron", "at": "at", "systemd": "systemd", "init": "init", "shell": "shell-startup",
    "keys": "authorized_keys", "preload": "ld.so.preload", "udev": "udev", "sudoers": "sudoers", "web": "web",
}  # fmt: skip
HPF = 4096  # files per area (persistence.sh)
HPL = 200  # lines per file
HPK = 1048576  # bytes per section
HPS = 1048576  # bytes of a file read at most
HPT = 8388608  # bytes of lines of all areas
MAX_LINES = 3  # lines of a file kept as its evidence
MAX_TEXT = 400  # characters of one evidence line
_TYPES = {"f": "file", "l": "symlink", "regular file": "file", "regular empty file": "file", "symbolic link": "symlink"}
_CRON_SCHEDULE = re.compile(r"^\s*(?:@\w+|(?:\S+\s+){4}\S+)\s+")
_ENV_LINE = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_SYSTEMD_EXEC = re.compile(r"^\s*Exec[A-Za-z]*\s*=\s*[-@:+!|]*(.*)$")
_UDEV_RUN = re.compile(
    r"\b(?:RUN(?:\{program\})?|PROGRAM|IMPORT\{program\})\s*[+:]?=\s*\"((?:[^\"\\]|\\.)*)\""
)  # udev(7): RUN{program}+= is RUN+=; RUN{builtin} runs no program
_SYSTEMD_ENV = re.compile(r"^\s*Environment\s*=\s*(.*)$")
_SYSTEMD_ENV_FILE = re.compile(r"^\s*EnvironmentFile\s*=\s*-?\s*(\S+)")
_DESKTOP_EXEC = re.compile(r"^\s*(?:Exec|TryExec)\s*=\s*(.*)$")
# Forced commands that restrict a key to one service (rsync, sftp, git, backups) or refuse logins.
_FORCED_OK = re.compile(
    r"^(?:\S*/)?(?:rrsync|rsync\s+--server|internal-sftp|sftp-server|git-shell|gitolite-shell|gitlab-shell|"
    r"borg\s+serve|restic|scp\s+-[tf]|svnserve|hg\s+-R|duplicity|/bin/false|/usr/sbin/nologin)\b"
    r"|^echo\s+['\"]?Please login as",
)
_WEB_EXEC = re.compile(
    r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|eval|assert|create_function)\s*\(|`[^`]*\$|"
    r"Runtime\.getRuntime\(\)\.exec|new\s+ProcessBuilder|Process\.Start|WScript\.Shell",
    re.IGNORECASE,
)
_WEB_INPUT = re.compile(
    r"\$_(?:GET|POST|REQUEST|COOKIE|FILES)\b|\$_SERVER\s*\[\s*['\"]HTTP_|getParameter\s*\(|getHeader\s*\(|"
    r"Request(?:\.Form|\.QueryString|\.Params|\.Headers|\.Cookies|\s*\[)|file_get_contents\(\s*['\"]php://input",
    re.IGNORECASE,
)
_WEB_OBFUSCATED = re.compile(r"\b(?:eval|assert)\s*\(\s*(?:base64_decode|gzinflate|gzuncompress|str_rot13)\s*\(", re.I)
_EXEC_ON_VAR = re.compile(r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|eval|assert)\s*\(\s*\$", re.I)
_SUDO_TMP = re.compile(r"(?:^|[\s:,=)!])((?:/tmp|/var/tmp|/dev/shm)/[^\s,]+)")
_SUDO_INCLUDE = re.compile(r"^\s*[#@]include(?:dir)?\s+(\S+)")
_SUDO_PRELOAD = re.compile(r"^\s*Defaults\b.*env_keep.*\bLD_(?:PRELOAD|LIBRARY_PATH)\b")
_SYSTEM_DIRS = ("/etc/", "/usr/", "/lib/", "/run/", "/var/spool/")
_USRMERGE = ("/lib/", "/bin/", "/sbin/")


@dataclass(frozen=True)
class FileInfo:
    """One candidate file: owner uid, mode (octal text), mtime (Unix), size, file or symlink."""

    path: str
    uid: int | None
    mode: str
    mtime: float | None
    size: int | None
    ftype: str
    link: str = ""


@dataclass(frozen=True)
class Entry:
    """One persistence file and the lines of it that matter (``lines``: (number, text), bounded)."""

    kind: str
    path: str
    owner: str
    uid: int | None
    mode: str
    mtime: float | None
    size: int | None
    packaged: str  # yes | no | unknown
    lines: tuple[tuple[int, str], ...] = ()
    link: str = ""


@dataclass(frozen=True)
class Finding:
    """An entry scored: ``tier`` None is information (counted, not reported)."""

    entry: Entry
    tier: Tier | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class KindCount:
    files: int = 0
    packaged: int = 0
    flagged: int = 0


@dataclass(frozen=True)
class Persistence:
    """What the persistence piece saw on one host. ``read`` False: the collector sent no persistence
    sections (then ``complete`` is False too)."""

    findings: tuple[Finding, ...] = ()  # tier set (high first); info entries are only counted
    counts: Mapping[str, KindCount] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    complete: bool = False
    read: bool = False
    seconds: float | None = None
    ownership: str = "unknown"  # dpkg | rpm | none | unknown

    @property
    def high(self) -> bool:
        return any(f.tier is Tier.HIGH for f in self.findings)


def canonical(path: str) -> str:
    """``/lib/x`` and ``/usr/lib/x`` are one file on usr-merged systems: the ``/usr`` form.

    >>> canonical("/lib/systemd/system/ssh.service")
    '/usr/lib/systemd/system/ssh.service'
    """
    return "/usr" + path if path.startswith(_USRMERGE) else path


def parse_files(text: str) -> tuple[list[FileInfo], int | None]:
    r"""An area's ``.files`` section: the files, and the count when the collector capped the list.

    >>> parse_files("0\t644\t1700000000.5\t20\tf\t\t/etc/cron.d/x\ncapped\t5000\n")
    ([FileInfo(path='/etc/cron.d/x', uid=0, mode='644', mtime=1700000000.5, size=20, ftype='file', link='')], 5000)
    """
    out: list[FileInfo] = []
    capped = None
    for line in iter_lines(text):
        parts = line.split("\t", 6)
        if len(parts) == 2 and parts[0] == "capped":
            capped = parse_uint(parts[1])
            continue
        if len(parts) != 7 or not parts[6].startswith("/"):
            continue
        try:
            mtime: float | None = float(parts[2]) if len(parts[2]) < 32 else None
        except ValueError:
            mtime = None
        out.append(
            FileInfo(
                path=parts[6],
                uid=parse_uint(parts[0]),
                mode=parts[1][:8],
                mtime=mtime,
                size=parse_uint(parts[3]),
                ftype=_TYPES.get(parts[4], parts[4][:16]),
                link=parts[5][:4096],
            )
        )
    return out, capped


def parse_lines(text: str, paths: set[str]) -> dict[str, list[tuple[int, str]]]:
    r"""``path:N:text`` lines (grep -H -n) by path; a path is one the ``.files`` section listed (a
    colon in a name cannot shift the split).

    >>> parse_lines("/etc/a:b:3:x=1\n/etc/c:1:y\n", {"/etc/a:b", "/etc/c"})
    {'/etc/a:b': [(3, 'x=1')], '/etc/c': [(1, 'y')]}
    """
    out: dict[str, list[tuple[int, str]]] = {}
    for line in iter_lines(text):
        i = line.find(":")
        while i > 0:
            if line[:i] in paths:
                rest = line[i + 1 :]
                num, sep, body = rest.partition(":")
                n = parse_uint(num)
                if sep and n is not None:
                    out.setdefault(line[:i], []).append((n, body))
                    break
            i = line.find(":", i + 1)
    return out


def parse_owned(text: str, order: list[str]) -> tuple[str, set[str] | None, dict[str, bool]]:
    """``hunt.p.owned``: (tool, canonical owned paths for dpkg, per-path verdicts for rpm)."""
    lines = list(iter_lines(text))
    tool = lines[0].strip() if lines else "unknown"
    if tool == "dpkg":
        return tool, {canonical(p) for p in lines[1:] if p.startswith("/")}, {}
    if tool == "rpm":
        verdicts = [ln for ln in lines[1:] if ln.strip()]
        if len(verdicts) == len(order):
            return tool, None, {p: v.startswith("owned ") for p, v in zip(order, verdicts, strict=True)}
        return tool, None, {}
    return tool if tool in ("none",) else "unknown", None, {}


def _link_target(info: FileInfo) -> str:
    """A symlink's target as an absolute path ("" when not a symlink)."""
    if info.ftype != "symlink" or not info.link:
        return ""
    if info.link.startswith("/"):
        return info.link
    return info.path.rsplit("/", 1)[0] + "/" + info.link


def _command_of(area: str, path: str, text: str) -> str:
    """The part of a line that runs something: a crontab's command, a unit's Exec value, udev RUN."""
    table = "/etc/cron.d/" in path or "/var/spool/cron/" in path or path.endswith("/etc/crontab")  # ($HR)
    if area == "cron" and table and not _ENV_LINE.match(text) and (m := _CRON_SCHEDULE.match(text)):
        rest = text[m.end() :]
        if "/var/spool/cron/" in path:
            return rest  # a user's crontab has no user field
        return rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
    if area == "systemd":
        m = _SYSTEMD_EXEC.match(text)
        return m.group(1) if m else text
    if area == "shell" and path.endswith(".desktop"):
        m = _DESKTOP_EXEC.match(text)
        return m.group(1) if m else ""
    if area == "udev":
        return " ; ".join(v.replace('\\"', '"') for v in _UDEV_RUN.findall(text)) or ""
    return text


def _score_lines(entry: Entry, area: str) -> tuple[Tier | None, list[str], list[tuple[int, str]]]:
    """The tier of an entry's lines, the reasons, and the lines that gave them."""
    best: Tier | None = None
    reasons: list[str] = []
    hits: list[tuple[int, str]] = []
    hint = ""
    for n, text in _joined(entry, area):
        command = _command_of(area, entry.path, text)
        found = judge(command) if command else []
        if area == "sudoers":
            found += _sudoers(text)
        if area == "systemd" and not _SYSTEMD_EXEC.match(text) and not text.startswith("#!"):
            found = [f for f in found if f[0] is Tier.HIGH]  # On*=, Unit=: only a payload matters
            found += _systemd_env(text)
        if area == "systemd" and text.rstrip().endswith("\\") and entry.packaged != "yes":
            found.append((Tier.MEDIUM, "its command continues on a line that was not read (a backslash continuation)"))
        for tier, why in found:
            if best is None or tier.rank > best.rank:
                best = tier
            reasons.append(f"line {n}: {why}")
        if found and len(hits) < MAX_LINES:
            hits.append((n, text))
        if not hint and command:
            hint = unusual(command)
    foreign = entry.packaged == "no" and entry.path.startswith(_SYSTEM_DIRS) and area != "shell"
    if foreign or area == "at":
        if hint and (best is None or best.rank < Tier.MEDIUM.rank):
            best = Tier.MEDIUM
            reasons.append(f"no package owns it and it runs something unusual ({hint!r})")
        elif best is None and entry.lines and area in ("cron", "at", "systemd", "init", "udev", "sudoers"):
            best = Tier.LOW
            reasons.append("no package owns it" if area != "at" else "a queued at job")
        if hint and not hits:
            hits = [x for x in entry.lines if unusual(_command_of(area, entry.path, x[1]))][:MAX_LINES]
    elif entry.packaged == "no" and area == "shell" and hint and best is None:
        reasons.append(f"runs something unusual at login ({hint!r})")
        best = Tier.LOW
        hits = [x for x in entry.lines if unusual(x[1])][:MAX_LINES]
    if best is Tier.LOW and not hits:
        hits = list(entry.lines[:MAX_LINES])
    return best, reasons, hits


def _joined(entry: Entry, area: str) -> list[tuple[int, str]]:
    """A unit's lines with backslash continuations joined as systemd reads them (systemd.syntax(7):
    the backslash and newline become a space) when the next line was read too."""
    if area != "systemd":
        return list(entry.lines)
    out: list[tuple[int, str]] = []
    last = -1
    for n, text in entry.lines:
        if out and n == last + 1 and out[-1][1].rstrip().endswith("\\"):
            out[-1] = (out[-1][0], out[-1][1].rstrip()[:-1] + " " + text)
        else:
            out.append((n, text))
        last = n
    return out


def _systemd_env(text: str) -> list[tuple[Tier, str]]:
    """``Environment=LD_PRELOAD=...`` (every program of the unit loads that library) and an
    ``EnvironmentFile=`` in a world-writable temporary directory (anyone sets the unit's variables)."""
    m = _SYSTEMD_ENV.match(text)
    if m:
        return pipe_env(_env_words(m.group(1)))
    m = _SYSTEMD_ENV_FILE.match(text)
    if m and m.group(1).startswith(("/tmp/", "/var/tmp/", "/dev/shm/")):
        return [(Tier.HIGH, f"reads its environment from {m.group(1)} (a world-writable temporary directory)")]
    return []


def _env_words(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def _sudoers(text: str) -> list[tuple[Tier, str]]:
    """A sudoers rule that lets a program in a temporary directory run as another user, or keeps
    LD_PRELOAD (every sudo command then loads the caller's library)."""
    out = [
        (Tier.HIGH, f"a sudo rule runs {m.group(1)} (a world-writable temporary directory)")
        for m in _SUDO_TMP.finditer(text)
    ][:1]
    inc = _SUDO_INCLUDE.match(text)
    if inc and not inc.group(1).startswith(("/etc/sudoers", "/etc/sudo")):
        out.append((Tier.MEDIUM, f"sudoers includes {inc.group(1)}, outside /etc (rules kept out of sight)"))
    if _SUDO_PRELOAD.search(text):
        out.append((Tier.MEDIUM, "sudo keeps LD_PRELOAD/LD_LIBRARY_PATH from the caller's environment"))
    return out


def _score_keys(entry: Entry) -> tuple[Tier | None, list[str], list[tuple[int, str]]]:
    best: Tier | None = None
    reasons: list[str] = []
    hits: list[tuple[int, str]] = []
    for n, text in entry.lines:
        for opt, raw in key_options(text):
            value = raw or ""
            tier: Tier | None = None
            if opt == "command":
                found = judge(value)
                if found:
                    tier = found[0][0]
                    reasons += [f"line {n}: forced command {why}" for _, why in found]
                elif not _FORCED_OK.search(value.strip()):
                    tier = Tier.MEDIUM
                    reasons.append(f"line {n}: command={value[:120]!r} is no known forced command (rrsync, sftp, git)")
            elif opt == "environment" and (loaded := pipe_env([value])):
                tier = loaded[0][0]
                reasons += [f"line {n}: environment= {why} (into the session)" for _, why in loaded]
            if tier is not None:
                best = tier if best is None or tier.rank > best.rank else best
                if len(hits) < MAX_LINES:
                    hits.append((n, text))
    return best, reasons, hits


def _score_preload(entry: Entry, owned: dict[str, str]) -> tuple[Tier | None, list[str], list[tuple[int, str]]]:
    best: Tier | None = None
    reasons: list[str] = []
    hits: list[tuple[int, str]] = []
    for n, text in entry.lines:
        for lib in text.replace(":", " ").split():
            if lib.startswith(("/tmp/", "/var/tmp/", "/dev/shm/", "/run/user/")) or "/." in lib:
                best = Tier.HIGH
                reasons.append(f"line {n}: preloads {lib} into every program (a temporary or hidden path)")
            elif owned.get(canonical(lib), "unknown") != "yes":
                best = best or Tier.MEDIUM
                how = "no package owns it" if owned.get(canonical(lib)) == "no" else "its package is unknown"
                reasons.append(f"line {n}: preloads {lib} into every program ({how})")
            else:
                best = best or Tier.LOW
                reasons.append(f"line {n}: preloads {lib} (package-owned) into every program")
            if len(hits) < MAX_LINES and (n, text) not in hits:
                hits.append((n, text))
    return best, reasons, hits


def _score_web(entry: Entry) -> tuple[Tier | None, list[str], list[tuple[int, str]]]:
    best: Tier | None = None
    reasons: list[str] = []
    hits: list[tuple[int, str]] = []
    inputs = [n for n, t in entry.lines if _WEB_INPUT.search(t)]
    for n, text in entry.lines:
        tier: Tier | None = None
        if _WEB_EXEC.search(text) and _WEB_INPUT.search(text):
            tier, why = Tier.HIGH, "passes request input to a program or to eval (a web shell)"
        elif _WEB_OBFUSCATED.search(text):
            tier, why = Tier.HIGH, "evaluates decoded/obfuscated code (a web shell pattern)"
        elif (found := judge(text)) and found[0][0] is Tier.HIGH:
            tier, why = Tier.HIGH, found[0][1]
        elif _EXEC_ON_VAR.search(text) and inputs:
            tier, why = Tier.MEDIUM, f"runs a variable (request input read on line {inputs[0]})"
        else:
            continue
        reasons.append(f"line {n}: {why}")
        best = tier if best is None or tier.rank > best.rank else best
        if len(hits) < MAX_LINES:
            hits.append((n, text))
    return best, reasons, hits


def score_entry(entry: Entry, area: str, owned: dict[str, str] | None = None) -> Finding:
    """The finding for one entry (pure): its tier, reasons, and only the lines that matter kept."""
    if area == "keys":
        tier, reasons, hits = _score_keys(entry)
    elif area == "preload":
        tier, reasons, hits = _score_preload(entry, owned or {})
    elif area == "web":
        tier, reasons, hits = _score_web(entry)
    else:
        tier, reasons, hits = _score_lines(entry, area)
    target = entry.link
    if target.startswith(("/tmp/", "/var/tmp/", "/dev/shm/")):
        tier = Tier.HIGH
        reasons.append(f"it is a symlink to {target}, in a world-writable temporary directory")
    kept = tuple((n, _evidence(t)) for n, t in hits)
    return _finding(entry, kept, tier, reasons)


def _evidence(text: str) -> str:
    """A line as evidence, at most :data:`MAX_TEXT` characters: its start and its end (a payload
    after padding stays in sight)."""
    if len(text) <= MAX_TEXT:
        return text
    half = (MAX_TEXT - 7) // 2
    return text[:half] + " [...] " + text[-half:]


def _finding(entry: Entry, lines: tuple[tuple[int, str], ...], tier: Tier | None, reasons: list[str]) -> Finding:
    """The rated entry with the lines that rated it; what looks like a secret in them (``password=``,
    ``--token X``, ``-pX``, URL credentials) is masked once scored, so no output shows it."""
    masked = tuple((n, mask_secrets(t)) for n, t in lines)
    why = tuple(dict.fromkeys(mask_secrets(r) for r in reasons))
    return Finding(replace(entry, lines=masked), tier, why)


def parse_persistence(sections: Sections, users: Mapping[int, str] | None = None) -> Persistence:
    """Every area's files and lines, scored (pure). ``users``: uid -> name (``hunt.passwd``)."""
    if sections.get("hunt.p.t0") is None:
        return Persistence(warnings=("persistence was not read (the collector sent no hunt.p sections)",))
    users = users or {}
    warnings: list[str] = []
    complete = sections.get("hunt.p.t1") is not None and sections.complete
    if sections.get("hunt.p.t1") is None:
        warnings.append("persistence: the collector output ended before every area was read")
    infos: dict[str, list[FileInfo]] = {}
    order: list[str] = []
    for area in AREAS:
        sec = sections.get(f"hunt.p.{area}.files")
        if sec is None:
            continue
        files, capped = parse_files(sec.text)
        infos[area] = files
        garbled = sum(1 for ln in iter_lines(sec.text) if ln.strip()) - len(files) - (capped is not None)
        if garbled > 0:
            complete = False
            warnings.append(
                f"persistence: {area}: {garbled} listing lines could not be read (a symlink target with a tab "
                "or a newline?): those files were not examined"
            )
        order += [f.path for f in files]
        if capped is not None or len(sec.text.encode()) >= HPK - 1:
            complete = False
            warnings.append(f"persistence: {area}: more than {HPF} files, only the first were read")
        odd = parse_uint(sections.text(f"hunt.p.{area}.odd").strip())
        if odd:
            complete = False
            warnings.append(
                f"persistence: {area}: {odd} file names hold a newline or are over 256 bytes: not read "
                "(inspect them by hand)"
            )
        listing_err = _errors(sections.text(f"hunt.p.{area}.files!err"))
        if listing_err or sec.rc not in (0, None):
            complete = False
            warnings.append(f"persistence: {area}: listing the files failed ({_first_error(listing_err)})")
    tool, owned_set, rpm = parse_owned(sections.text("hunt.p.owned"), order)

    def packaged(path: str) -> str:
        if owned_set is not None:
            return "yes" if canonical(path) in owned_set else "no"
        if path in rpm:
            return "yes" if rpm[path] else "no"
        return "unknown"

    owned = {canonical(p): packaged(p) for p in order}
    findings: list[Finding] = []
    counts: dict[str, KindCount] = {}
    for area, files in infos.items():
        kind = AREAS[area]
        sec = sections.get(f"hunt.p.{area}.lines")
        text = sec.text if sec is not None else ""
        if sec is None or sec.rc is None:
            complete = False
            warnings.append(f"persistence: {area}: the file contents were not read (output cut short?)")
        err = _errors(sections.text(f"hunt.p.{area}.lines!err"))
        if "harden: capped" in err:
            complete = False
            warnings.append(f"persistence: {area}: the lines hit the byte cap: later files were not read")
        elif err.strip():
            complete = False
            warnings.append(f"persistence: {area}: some files could not be read ({_first_error(err)})")
        by_path = parse_lines(text, {f.path for f in files})
        listed = {canonical(f.path) for f in files}
        n_files = n_packaged = n_flagged = 0
        for info in files:
            target = _link_target(info)
            if target and canonical(target) in listed:
                continue  # an enabled unit's symlink: judged as its target
            lines = by_path.get(info.path, [])
            if info.size is not None and info.size > HPS and info.ftype == "file":
                complete = False
                warnings.append(f"persistence: {info.path} is {info.size} bytes: over the read limit, not examined")
            if len(lines) >= HPL:
                warnings.append(f"persistence: {info.path}: only its first {HPL} lines that matter were examined")
                complete = False
            entry = Entry(
                kind=kind,
                path=info.path,
                owner=users.get(info.uid, str(info.uid)) if info.uid is not None else "",
                uid=info.uid,
                mode=info.mode,
                mtime=info.mtime,
                size=info.size,
                packaged="unknown" if area == "web" else packaged(info.path),
                lines=tuple(lines),
                link=target,
            )
            found = score_entry(entry, area, owned)
            n_files += 1
            n_packaged += entry.packaged == "yes"
            if found.tier is not None:
                n_flagged += 1
                findings.append(found)
        counts[kind] = KindCount(n_files, n_packaged, n_flagged)
    if tool == "none":
        warnings.append("persistence: neither dpkg nor rpm found: which files a package owns is unknown")
    findings.sort(key=lambda f: (-(f.tier.rank if f.tier else 0), f.entry.kind, f.entry.path))
    return Persistence(
        findings=tuple(findings),
        counts=counts,
        warnings=tuple(warnings),
        complete=complete,
        read=True,
        seconds=_seconds(sections.text("hunt.p.t0"), sections.text("hunt.p.t1")),
        ownership=tool,
    )


def _errors(text: str) -> str:
    """An area's stderr without the dynamic loader's complaints about ``/etc/ld.so.preload`` (every
    program the piece runs prints one when a preloaded library cannot load: no read error)."""
    return "\n".join(ln for ln in iter_lines(text) if ln.strip() and not ln.startswith("ERROR: ld.so: object "))


def _first_error(err: str) -> str:
    line = next(iter_lines(err), "")
    return line[:200]


def _seconds(t0: str, t1: str) -> float | None:
    try:
        a, b = float(t0.split()[0]), float(t1.split()[0])
    except (IndexError, ValueError):
        return None
    return round(b - a, 2) if b >= a else None


# Windows: autoruns from the PowerShell snapshot's "persistence" object (hunt/windows.ps1).
WINDOWS_KINDS = ("run-key", "service", "scheduled-task", "wmi-subscription", "startup-folder")
_WIN_TEMP = re.compile(r"\\(?:AppData\\Local\\Temp|Windows\\Temp|Temp)\\|%TEMP%|%TMP%|\$env:TEMP", re.IGNORECASE)
_WIN_WRITABLE = re.compile(r"\\Users\\Public\\|\\ProgramData\\[^\\]+\.(?:exe|dll|bat|ps1|vbs)\b|\\AppData\\", re.I)
_WIN_LOLBIN = re.compile(
    r"\b(?:mshta(?:\.exe)?\s+\S*(?:https?:|javascript:|vbscript:)|regsvr32(?:\.exe)?\s.*\/i:\s*https?:|"
    r"rundll32(?:\.exe)?\s.*javascript:|certutil(?:\.exe)?\s.*-urlcache|bitsadmin(?:\.exe)?\s.*\/transfer|"
    r"powershell(?:\.exe)?\s.*(?:-w(?:indowstyle)?\s+hidden|-e(?:nc(?:odedcommand)?)?\s|downloadstring|iwr\s|"
    r"invoke-webrequest)|cmd(?:\.exe)?\s+/[ck]\s.*(?:powershell|mshta|certutil|bitsadmin))",
    re.IGNORECASE,
)
_WIN_ERRORS = (
    ("run_keys_error", "Run/RunOnce keys"),
    ("services_error", "services"),
    ("tasks_error", "scheduled tasks"),
    ("wmi_error", "WMI subscriptions"),
    ("startup_error", "startup folders"),
)
_MS_TASK = re.compile(r"^\\Microsoft\\", re.IGNORECASE)


def score_windows(entry: Entry) -> Finding:
    """One Windows autorun scored by what it runs (pure): a payload or a program in a temporary
    directory high; a living-off-the-land launcher, a program in a user-writable directory or any
    WMI command/script consumer medium; a startup-folder item or a non-Microsoft task low."""
    best: Tier | None = None
    reasons: list[str] = []
    hits: list[tuple[int, str]] = []
    for n, text in entry.lines:
        found = judge(text)
        if _WIN_TEMP.search(text):
            found.append((Tier.HIGH, "runs a program from a temporary directory"))
        elif _WIN_WRITABLE.search(text):
            found.append((Tier.MEDIUM, "runs a program from a user-writable directory"))
        if (m := _WIN_LOLBIN.search(text)) is not None:
            found.append((Tier.MEDIUM, f"a living-off-the-land launcher ({_clip(m.group(0), 60)!r})"))
        for tier, why in found:
            best = tier if best is None or tier.rank > best.rank else best
            reasons.append(why)
        if found and len(hits) < MAX_LINES:
            hits.append((n, text))
    if entry.kind == "wmi-subscription" and (best is None or best is Tier.LOW):
        best = Tier.MEDIUM
        reasons.append("a WMI event subscription runs a command or script (rare outside management agents)")
    elif entry.kind == "startup-folder" and best is None and not entry.path.lower().endswith("desktop.ini"):
        best = Tier.LOW
        reasons.append("starts at every logon (startup folder)")
    if best is not None and not hits:
        hits = list(entry.lines[:MAX_LINES])
    kept = tuple((n, _evidence(t)) for n, t in hits)
    return _finding(entry, kept, best, reasons)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _s(value: object, limit: int = 4096) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _items(doc: Mapping[str, object], key: str, limit: int = 4000) -> list[Mapping[str, object]]:
    raw = doc.get(key)
    if isinstance(raw, dict):
        raw = [raw]  # ConvertTo-Json writes a one-element array as the element (PowerShell 5.1)
    return [x for x in raw[:limit] if isinstance(x, dict)] if isinstance(raw, list) else []


def _win_entries(doc: Mapping[str, object]) -> list[Entry]:
    """Entries from the snapshot's ``persistence`` object (bounded; shapes per Microsoft's documented
    output of Get-ItemProperty, Win32_Service, Get-ScheduledTask and root/subscription classes)."""
    out: list[Entry] = []

    def add(kind: str, path: str, text: str, owner: str = "", mtime: float | None = None) -> None:
        lines = tuple((i, ln[: MAX_TEXT * 4]) for i, ln in enumerate(text.splitlines()[:HPL], start=1) if ln.strip())
        out.append(Entry(kind, path[:1024], owner[:256], None, "", mtime, None, "unknown", lines))

    for r in _items(doc, "run_keys"):
        add("run-key", f"{_s(r.get('key'), 512)}\\{_s(r.get('name'), 256)}", _s(r.get("value")))
    for sv in _items(doc, "services"):
        add("service", _s(sv.get("name"), 256), _s(sv.get("path")), _s(sv.get("user"), 256))
    for t in _items(doc, "tasks"):
        path = _s(t.get("path"), 512) + _s(t.get("name"), 256)
        acts = _items(t, "actions", 16)
        text = "\n".join(
            f"{_s(a.get('execute'))} {_s(a.get('arguments'))}".strip() or f"COM handler {_s(a.get('classid'), 64)}"
            for a in acts
        )
        if _MS_TASK.match(path) and not text:
            continue
        add("scheduled-task", path, text, _s(t.get("user"), 256), _win_time(_s(t.get("date"), 64)))
    bound = {_s(b.get("consumer"), 256) for b in _items(doc, "wmi_bindings", 1000)}
    for c in _items(doc, "wmi_consumers", 2000):
        name = _s(c.get("name"), 256)
        text = _s(c.get("command")) or _s(c.get("executable")) or _s(c.get("script"), 16384) or _s(c.get("file"))
        state = "bound" if name in bound else "not bound to a filter"
        add("wmi-subscription", f"root/subscription:{_s(c.get('class'), 64)}.{name} ({state})", text)
    for f in _items(doc, "startup"):
        path = _s(f.get("path"), 1024)
        add("startup-folder", path, _s(f.get("text"), 4096) or path, mtime=_win_time(_s(f.get("modified"), 64)))
    return out


def _win_time(text: str) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def parse_windows_persistence(doc: Mapping[str, object]) -> Persistence:
    """The Windows snapshot's autoruns, scored (pure). A kind whose query failed is a warning."""
    raw = doc.get("persistence")
    if not isinstance(raw, dict):
        return Persistence(warnings=("persistence was not read (the Windows snapshot has no persistence object)",))
    warnings = [
        f"persistence: {what} could not be read: {_s(raw.get(key), 300)}" for key, what in _WIN_ERRORS if raw.get(key)
    ]
    for key in ("run_keys", "services", "tasks", "startup"):
        if len(_items(raw, key, 4001)) >= 4000:
            warnings.append(f"persistence: {key}: 4000 or more, only the first 4000 were read")
    findings: list[Finding] = []
    counts: dict[str, KindCount] = {}
    for entry in _win_entries(raw):
        found = score_windows(entry)
        c = counts.get(entry.kind, KindCount())
        counts[entry.kind] = KindCount(c.files + 1, 0, c.flagged + (found.tier is not None))
        if found.tier is not None:
            findings.append(found)
    findings.sort(key=lambda f: (-(f.tier.rank if f.tier else 0), f.entry.kind, f.entry.path))
    return Persistence(
        findings=tuple(findings),
        counts=counts,
        warnings=tuple(warnings),
        complete=not warnings and doc.get("done") is True,
        read=True,
        ownership="windows",
    )
