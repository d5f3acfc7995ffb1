"""Run a response on one host: verify the incident is live, take evidence, act, hunt again, log.

Each step is one round trip to the host through the transport registry (the same output cap,
timeout and known_hosts handling as ``harden hunt``). Everything the host sends is host data:
parsed, bounded and redacted; the only values that go back into a script are integers, hex
ids and addresses normalised by :mod:`ipaddress` (:mod:`hardening.respond.plan`).

Example::

    live = verify_live(target, "i-8a629f93", options)
    refs, left_out = process_refs(live.incident)
    evidence = collect_evidence(target, refs, options, dest, meta)
    outcome = act(target, Action.KILL, refs, live.incident.id, evidence.flows, options)
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hardening.facts.sections import Sections, parse_sections
from hardening.hunt.incident import Incident
from hardening.hunt.run import HostHunt, HuntOptions, hunt_host
from hardening.inventory import Target
from hardening.model import HostStatus
from hardening.redact import Redactor
from hardening.respond.evidence import Evidence, shown, write_evidence
from hardening.respond.model import Action, Flow, ProcessRef, ProcessResult, RespondError
from hardening.respond.plan import (
    EVIDENCE_ENVIRON_MAX,
    EXE_COPY_MAX,
    EXE_COPY_TOTAL,
    act_script,
    evidence_script,
    undo_script,
)
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, TransportError

WINDOWS_REFUSAL = (
    "harden respond does not act on Windows hosts: Windows has no documented way to suspend a process "
    "(NtSuspendProcess is undocumented), a firewall program rule (New-NetFirewallRule -Program) blocks "
    "every process of that executable, not one process, and without evidence collection on Windows "
    "harden will not kill either; see docs/hunt.md, Response"
)
_BIG_ENDIAN = ("s390", "ppc64 ", "ppc ", "powerpc", "sparc", "mips ", "mips64 ", "m68k", "hppa", "or1k")


@dataclass(frozen=True)
class RespondOptions:
    timeout: float = 60.0
    known_hosts: str | None = None
    max_output: int = MAX_OUTPUT
    exe_copy_max: int = EXE_COPY_MAX
    connections_only: bool = False

    def hunt(self) -> HuntOptions:
        return HuntOptions(forks=1, timeout=self.timeout, known_hosts=self.known_hosts, max_output=self.max_output)


@dataclass(frozen=True)
class Live:
    """The fresh hunt of the host and the incident in it."""

    hunt: HostHunt
    incident: Incident


def find_incident(hunt: HostHunt, incident_id: str) -> Incident | None:
    return next((i for i in hunt.incidents if i.id == incident_id), None)


def verify_live(target: Target, incident_id: str, options: RespondOptions) -> Live:
    """Hunt the host again (one round trip): the incident must be there with the same id (same root
    pid and start time); else RespondError."""
    if target.connection.is_windows:
        raise RespondError(WINDOWS_REFUSAL)
    fresh = hunt_host(target, options.hunt())
    if fresh.status is not HostStatus.OK:
        raise RespondError(
            f"{target.name}: the fresh hunt did not complete "
            f"({fresh.status.value}: {shown(fresh.message.encode())[:300]}): nothing done"
        )
    incident = find_incident(fresh, incident_id)
    if incident is None:
        now = ", ".join(i.id for i in fresh.incidents[:10]) or "none"
        raise RespondError(
            f"{target.name}: incident {incident_id} is not live any more (its processes ended, or a pid was "
            f"reused: another start time gives another id); incidents now: {now}. Nothing done"
        )
    return Live(fresh, incident)


def _little_endian(sections: Sections) -> bool:
    uname = sections.text("meta.uname") + " "
    return not any(arch in uname for arch in _BIG_ENDIAN)


def _run(target: Target, script: str, nonce: str, options: RespondOptions) -> Sections:
    try:
        result = run_script(target, script, options.hunt())
    except TransportError as exc:
        raise RespondError(f"{target.name}: {exc.status.value}: {exc.message}") from exc
    sections = parse_sections(result.stdout, nonce)
    if not sections.complete:
        raise RespondError(
            f"{target.name}: the script's output ended early (exit {result.exit_code}): " + shown(result.stderr[-400:])
        )
    return sections


def collect_evidence(
    target: Target, refs: Sequence[ProcessRef], options: RespondOptions, dest: Path, meta: Mapping[str, Any]
) -> Evidence:
    """Run the evidence script and write what it read under ``dest`` (see :mod:`~.evidence`)."""
    nonce = secrets.token_hex(8)
    total = max(options.exe_copy_max, min(EXE_COPY_TOTAL, options.max_output // 2))
    script = evidence_script(nonce, refs, options.exe_copy_max, total)
    sections = _run(target, script, nonce, options)
    limits = {
        "environ_bytes": EVIDENCE_ENVIRON_MAX,
        "exe_copy_bytes": options.exe_copy_max,
        "exe_copy_total_bytes": total,
        "max_output_bytes": options.max_output,
        "timeout_s": int(options.timeout),
    }
    return write_evidence(dest, sections, refs, Redactor.of(target.secrets), meta, _little_endian(sections), limits)


@dataclass(frozen=True)
class Outcome:
    """What the action script reported: per process, and for isolate the rules it loaded."""

    action: Action
    processes: tuple[ProcessResult, ...]
    refused: str = ""
    isolation: Mapping[str, str] = field(default_factory=dict)
    isolate_lines: tuple[str, ...] = ()
    rules: str = ""

    @property
    def ok(self) -> bool:
        if self.refused:
            return False
        want = {Action.SUSPEND: ("stopped",), Action.KILL: ("killed",), Action.ISOLATE: ()}[self.action]
        if self.action is Action.ISOLATE:
            return "chains" in self.isolation
        return all(p.result in (*want, "gone") for p in self.processes) and any(
            p.result in want for p in self.processes
        )


def _results(act_text: str, after_text: str) -> tuple[ProcessResult, ...]:
    after: dict[int, str] = {}
    for line in after_text.splitlines():
        pid, _, state = line.partition("\t")
        if pid.isdigit():
            after[int(pid)] = shown(state.encode())[:20]
    out = []
    for line in act_text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].isdigit():
            pid = int(parts[0])
            out.append(
                ProcessResult(pid, parts[1][:20], shown("\t".join(parts[2:]).encode())[:200], after.get(pid, ""))
            )
    return tuple(out)


def act(
    target: Target,
    action: Action,
    refs: Sequence[ProcessRef],
    incident_id: str,
    flows: Sequence[Flow],
    options: RespondOptions,
) -> Outcome:
    """Run the action script (one round trip)."""
    if target.connection.is_windows:
        raise RespondError(WINDOWS_REFUSAL)
    nonce = secrets.token_hex(8)
    script = act_script(nonce, action, refs, incident_id, flows, options.connections_only)
    sections = _run(target, script, nonce, options)
    after = sections.text("r.after")
    if action is not Action.ISOLATE:
        return Outcome(action, _results(sections.text("r.act"), after))
    connections_only = options.connections_only
    info: dict[str, str] = {}
    lines = []
    refused = ""
    for line in sections.text("r.isolate").splitlines():
        key, _, value = line.partition("\t")
        value = shown(value.encode())[:600]
        lines.append(f"{key}: {value}")
        if key == "refused":
            refused = value
        elif key in ("netns", "cgroup", "cgroup_dir", "rule", "chains", "sharing"):
            info[key] = value
        elif key == "moved":
            info["moved"] = (info.get("moved", "") + " " + value).strip()
    moved = set(info.get("moved", "").split())
    states = tuple(
        ProcessResult(r.pid, _isolated(str(r.pid) in moved, refused, connections_only), after=_after(after, r.pid))
        for r in refs
    )
    return Outcome(
        action,
        states,
        refused,
        info,
        tuple(lines),
        shown(sections.text("r.rules").encode())[:4000] if not refused else "",
    )


def _isolated(moved: bool, refused: str, connections_only: bool) -> str:
    if refused:
        return "untouched"
    if connections_only:
        return "connections dropped"
    return "isolated" if moved else "not moved (gone or reused)"


def _after(text: str, pid: int) -> str:
    for line in text.splitlines():
        p, _, state = line.partition("\t")
        if p == str(pid):
            return shown(state.encode())[:20]
    return ""


@dataclass(frozen=True)
class IsolationRecord:
    """What ``--undo-isolate`` needs: where the rules are (the network namespace's inode) and the
    cgroup made for the processes ("" when none)."""

    host: str
    incident: str
    netns_inode: int
    cgroup_dir: str

    @classmethod
    def from_outcome(cls, host: str, incident: str, outcome: Outcome) -> IsolationRecord | None:
        m = re.fullmatch(r"net:\[(\d{1,20})\]", outcome.isolation.get("netns", ""))
        if m is None or "chains" not in outcome.isolation:
            return None
        return cls(host, incident, int(m.group(1)), outcome.isolation.get("cgroup_dir", ""))

    def json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "incident": self.incident,
            "netns_inode": self.netns_inode,
            "cgroup_dir": self.cgroup_dir,
        }

    @classmethod
    def load(cls, path: Path) -> IsolationRecord:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(doc["host"]), str(doc["incident"]), int(doc["netns_inode"]), str(doc["cgroup_dir"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RespondError(f"{path}: no isolation record: {exc}") from exc


def undo_isolation(target: Target, record: IsolationRecord, options: RespondOptions) -> tuple[str, ...]:
    """Remove the isolation's chains (and the table when empty) and its cgroup (processes moved back)."""
    if target.connection.is_windows:
        raise RespondError(WINDOWS_REFUSAL)
    nonce = secrets.token_hex(8)
    try:
        script = undo_script(nonce, record.incident, record.netns_inode, record.cgroup_dir)
    except ValueError as exc:
        raise RespondError(f"the isolation record is not usable: {exc}") from exc
    sections = _run(target, script, nonce, options)
    return tuple(shown(line.encode())[:400] for line in sections.text("r.undo").splitlines())


def who(target: Target) -> dict[str, str]:
    """The local user and the account used on the host (``ansible_user``, and the become user)."""
    try:
        local = getpass.getuser()
    except (KeyError, OSError):
        local = str(os.getuid())
    remote = target.user or ""
    if not remote and target.connection.value == "local":
        remote = local  # a local connection runs as this user
    if target.become:
        remote += f" (become {target.become_user})"
    return {"local_user": local, "remote_user": remote}


def log_action(log: Path, entry: Mapping[str, Any]) -> None:
    """Append one JSON line to ``log`` (0600, O_APPEND: never rewritten)."""
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(entry), ensure_ascii=False, sort_keys=True) + "\n")


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S.%fZ")


def path_part(name: str) -> str:
    """An inventory name as one safe path component."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100]
    return cleaned if cleaned.strip(".") else "_"
