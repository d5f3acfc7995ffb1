"""Evidence of an incident's processes, written before anything is done (parsing pure; writing to
the controller's output directory only).

Layout (``out/respond/<host>/<incident>/<UTC time>/``, directories 0700, files 0600)::

    manifest.json            every file with its size and sha256, what was skipped or redacted (notes),
                             each process's verdict (ok, gone, reused), the limits used
    processes/<pid>/stat.txt status.txt cmdline.txt environ.txt cgroup.txt netns.txt
                   fds.txt sockets.txt parents.txt exe.txt
    exe/<sha256>.bin         a copy of each distinct executable (at most EXE_COPY_MAX bytes)

Names are chosen here (pids are integers, hashes hex): nothing the host sends picks a path on
the controller. Host text is kept as text with control characters shown as ``\\xNN`` (a value
cannot fake a line), cut where the host cut it (the limits say so), and redacted: the host's
passwords (:class:`hardening.redact.Redactor`) everywhere, and in the environment the value of
every variable whose name says it holds a secret, plus credentials in URLs and known token forms.

Example::

    ev = write_evidence(dest, parse_sections(out, nonce), refs, Redactor.of(target.secrets), meta)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardening.facts.sections import Sections
from hardening.hunt.linux import parse_tcp
from hardening.redact import REDACTED, Redactor
from hardening.respond.model import Flow, ProcessRef

#: Environment variable names whose values are secrets (case-insensitive, anywhere in the name).
SECRET_NAME = re.compile(
    r"PASS|PWD|SECRET|TOKEN|KEY|CRED|AUTH|SESSION|COOKIE|PRIVATE|SIGNATURE|CERT|DSN|CONN(?:ECTION)?_?STR",
    re.IGNORECASE,
)
#: Names that match :data:`SECRET_NAME` but hold no secret.
NOT_SECRET = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "XAUTHORITY", "KEYTIMEOUT", "GPG_AGENT_INFO"})
#: Secrets by their form, wherever they appear (URLs with a password, cloud and VCS tokens, JWTs).
SECRET_FORMS = re.compile(
    r"(?<=://)[^/\s:@]{0,256}:[^/\s@]{1,256}(?=@)"
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,255}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\udc80-\udcff]")  # control characters, undecodable bytes
_UNSHOWN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]")  # the same but tab, newline
_SOCKET_LINE = re.compile(r"^(tcp|tcp6|udp|udp6): (.*)$")


def _hex(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xDC00 if c >= 0xDC00 else c:02x}"


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def shown(data: bytes) -> str:
    """Host bytes as one line of text: backslashes doubled, undecodable bytes and control characters
    (newlines included) as ``\\xNN``.

    >>> shown(b"a\\n\\xff")
    'a\\\\x0a\\\\xff'
    """
    return _UNSHOWN.sub(_hex, _decode(data).replace("\\", "\\\\"))


def redact_forms(text: str) -> str:
    return SECRET_FORMS.sub(REDACTED, text)


def _clean(text: str, redactor: Redactor) -> str:
    """Secrets blanked first (the host's passwords even with junk between their letters), then shown."""
    return redact_forms(redactor.text(text))


def redact_environ(raw: bytes, redactor: Redactor) -> tuple[str, int]:
    """``/proc/PID/environ`` as ``NAME=value`` lines with secrets blanked; and how many were blanked.

    >>> redact_environ(b"HOME=/root\\0DB_PASSWORD=hunter42\\0PWD=/srv\\0", Redactor())
    ('HOME=/root\\nDB_PASSWORD=********\\nPWD=/srv\\n', 1)
    """
    lines, blanked = [], 0
    for var in raw.split(b"\0"):
        if not var:
            continue
        name, sep, _ = var.partition(b"=")
        name_text = shown(name)
        if sep and name_text not in NOT_SECRET and SECRET_NAME.search(name_text):
            lines.append(f"{name_text}={REDACTED}")
            blanked += 1
            continue
        text = _decode(var)
        clean = _clean(text, redactor)
        blanked += clean != text
        lines.append(_UNSHOWN.sub(_hex, clean.replace("\\", "\\\\")))
    return "".join(f"{line}\n" for line in lines), blanked


def clean_text(data: bytes, redactor: Redactor) -> str:
    """Any other host text: secrets blanked, then control characters (but tab and newline) and undecodable
    bytes shown as ``\\xNN``."""
    return _UNSHOWN_TEXT.sub(_hex, _clean(_decode(data), redactor).replace("\\", "\\\\"))


def clean_arg(data: bytes, redactor: Redactor) -> str:
    """One argument of a command line, as one line."""
    return _UNSHOWN.sub(_hex, _clean(_decode(data), redactor).replace("\\", "\\\\"))


@dataclass(frozen=True)
class EvidenceFile:
    path: str  # relative to the evidence directory
    size: int
    sha256: str


@dataclass(frozen=True)
class Evidence:
    """What was written: the directory, the files, per-process verdicts, the flows the sockets show, each
    process's network namespace, and what was skipped (with why)."""

    directory: Path
    files: tuple[EvidenceFile, ...]
    verdicts: Mapping[int, str]
    flows: tuple[Flow, ...] = ()
    netns: Mapping[int, str] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    exe: Mapping[int, str] = field(default_factory=dict)  # pid -> sha256 of its executable


def parse_verdicts(text: str) -> dict[int, str]:
    """``r.check``: ``PID<TAB>ok|gone|reused`` lines."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        pid, _, verdict = line.partition("\t")
        if pid.isdigit() and verdict in ("ok", "gone", "reused"):
            out[int(pid)] = verdict
    return out


def parse_flows(text: str, little_endian: bool = True) -> tuple[Flow, ...]:
    """Connected TCP/UDP flows from the socket-table lines (``tcp: <line of /proc/net/tcp>``)."""
    flows: dict[str, Flow] = {}
    for line in text.splitlines():
        m = _SOCKET_LINE.match(line)
        if m is None:
            continue
        proto = m.group(1).rstrip("6")
        for sock in parse_tcp("header\n" + m.group(2), little_endian, proto).values():
            if not sock.connected or sock.remote.port == 0 or sock.local.port == 0:
                continue
            try:
                local = str(ipaddress.ip_address(sock.local.address))
                remote = str(ipaddress.ip_address(sock.remote.address))
                flow = Flow(proto, local, sock.local.port, remote, sock.remote.port)
            except ValueError:
                continue
            flows.setdefault(flow.token, flow)
    return tuple(flows.values())


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[EvidenceFile] = []

    def write(self, rel: str, data: bytes, mode: int = 0o600) -> None:
        path = self.root / rel
        d = self.root
        for part in Path(rel).parts[:-1]:  # each level 0700 (mkdir's parents= would use the umask)
            d = d / part
            d.mkdir(exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        self.files.append(EvidenceFile(rel, len(data), hashlib.sha256(data).hexdigest()))


_TEXT_KINDS = ("stat", "status", "cgroup", "netns", "fds", "sockets", "parents", "exe")


def write_evidence(
    dest: Path,
    sections: Sections,
    refs: Sequence[ProcessRef],
    redactor: Redactor,
    meta: Mapping[str, Any],
    little_endian: bool = True,
    limits: Mapping[str, int] | None = None,
) -> Evidence:
    """Write the evidence of ``sections`` (the evidence script's output) under ``dest`` (created, must not
    exist) and its manifest.json; returns what was written."""
    dest.mkdir(parents=True, mode=0o700)
    w = _Writer(dest)
    verdicts = parse_verdicts(sections.text("r.check"))
    skipped: list[str] = []
    flows: list[Flow] = []
    netns: dict[int, str] = {}
    exe: dict[int, str] = {}
    limits = dict(limits or {})
    environ_max = limits.get("environ_bytes", 0)
    for ref in refs:
        pid = ref.pid
        verdict = verdicts.get(pid, "unknown")
        if verdict != "ok":
            skipped.append(f"pid {pid}: {verdict} (no evidence taken)")
            continue
        base = f"processes/{pid}"
        for kind in _TEXT_KINDS:
            if f"e.{pid}.{kind}" not in sections:
                skipped.append(f"pid {pid}: {kind} not read")
                continue
            w.write(f"{base}/{kind}.txt", clean_text(_raw(sections, f"e.{pid}.{kind}"), redactor).encode())
        cmd = _raw(sections, f"e.{pid}.cmdline")
        args = [clean_arg(a, redactor) for a in cmd.removesuffix(b"\0").split(b"\0") if cmd]
        w.write(f"{base}/cmdline.txt", "".join(f"{a}\n" for a in args).encode())
        env = _raw(sections, f"e.{pid}.environ")
        text, blanked = redact_environ(env, redactor)
        if environ_max and len(env) >= environ_max:
            skipped.append(f"pid {pid}: environ cut at {environ_max} bytes")
        w.write(f"{base}/environ.txt", text.encode())
        if blanked:
            skipped.append(f"pid {pid}: {blanked} environment values redacted")
        flows += parse_flows(sections.text(f"e.{pid}.sockets"), little_endian)
        ns = sections.text(f"e.{pid}.netns").strip()
        if re.fullmatch(r"net:\[\d{1,20}\]", ns):
            netns[pid] = ns
        digest = sections.text(f"e.{pid}.exe_sha256").strip()
        if re.fullmatch(r"[0-9a-f]{64}", digest):
            exe[pid] = digest
        else:
            skipped.append(f"pid {pid}: executable not hashed (rc {sections.rc(f'e.{pid}.exe_sha256')})")
        note = sections.text(f"e.{pid}.exe_copy_skipped").strip()
        if note:
            skipped.append(f"pid {pid}: executable not copied: {shown(note.encode())[:300]}")
        copy = sections.get(f"e.{pid}.exe_copy")
        if copy is not None and pid in exe:
            _write_copy(w, copy.text, exe[pid], pid, skipped)
    unique = {f.token: f for f in flows}
    files = tuple(w.files)
    manifest = {
        **meta,
        "processes": [
            {
                "pid": r.pid,
                "start_unix": r.start_cs / 100,
                "process": r.process,
                "role": r.role,
                "verdict": verdicts.get(r.pid, "unknown"),
                "netns": netns.get(r.pid, ""),
                "exe_sha256": exe.get(r.pid, ""),
            }
            for r in refs
        ],
        "flows": [str(f) for f in unique.values()],
        "limits": limits,
        "notes": skipped,
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
    }
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    w.write("manifest.json", data)
    return Evidence(dest, files, verdicts, tuple(unique.values()), netns, tuple(skipped), exe)


def _raw(sections: Sections, name: str) -> bytes:
    sec = sections.get(name)
    if sec is None:
        return b""
    return bytes(sec.body) if not isinstance(sec.body, str) else sec.body.encode("utf-8", "surrogateescape")


def _write_copy(w: _Writer, b64: str, digest: str, pid: int, skipped: list[str]) -> None:
    try:
        data = base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError):
        skipped.append(f"pid {pid}: executable copy unreadable (bad base64)")
        return
    got = hashlib.sha256(data).hexdigest()
    if got != digest:
        skipped.append(f"pid {pid}: executable copy has sha256 {got}, not {digest} (cut or changed): kept anyway")
    rel = f"exe/{got}.bin"
    if any(f.path == rel for f in w.files):
        return
    w.write(rel, data, 0o400)
