"""Audit through Ansible: the same collector, Ansible's connection plugins, harden's judgement.

``harden audit --engine ansible`` runs ``playbooks/harden_collect.yml`` (shipped as
``hardening.playbooks``) with ansible-runner: ``ansible.builtin.script`` sends the SAME
collector script the native SSH engine sends (same pieces, a random nonce per run) over
whatever connection, become method and jump hosts the inventory configures. Each host's
task result streams back as a runner event; its stdout is split with
:func:`~hardening.facts.sections.parse_sections` and judged by
:func:`hardening.audit.linux_result`, exactly as a native run's output is. Unreachable
and failed hosts become host statuses (unreachable, auth_failed, timeout, error).

The playbook also runs on its own (AWX / Ansible Automation Platform): with
``harden_gather_dir`` set it saves each host's raw output as ``<host>.out`` in the
``harden collect`` format, and :func:`judge_gathered` (``harden judge``) turns that
directory into results (see docs/awx.md).

Ansible's flags given to harden reach ansible-playbook too (:func:`flag_arguments`): ``-e`` as extra
variables, ``--vault-id``/``--vault-password-file`` as arguments, the ``-K`` and ``-J`` passwords as
answers to ansible-playbook's own prompts (never on its command line, in its environment or in a
file). Otherwise Ansible reads passwords from the inventory itself; the environment ansible-playbook
inherits is not recorded in the artifacts (:func:`hardening.ansible_env.runner_kwargs`).

Example::

    for result in audit_fleet_ansible(AnsibleRun(Path("inv.ini"), targets, Path("out/ansible"))):
        print(result.name, result.status)
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import shlex
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from hardening import __version__, inventory
from hardening.audit import AuditOptions, _HostRun, linux_result
from hardening.checks import linux_checks, windows_checks
from hardening.facts.collector import build_linux_script
from hardening.facts.sections import parse_sections
from hardening.hostjson import scrub
from hardening.hostnames import UnsafeHostName, host_file_name
from hardening.inventory import Target
from hardening.model import HostResult, HostStatus, Platform
from hardening.redact import Redactor, scrub_files, strings_of

PLAYBOOK = "harden_collect.yml"
COLLECTOR_TASK = "Collector (one POSIX sh script; read-only)"
GATHERED_SUFFIX = ".out"
_HEADER = re.compile(
    r"# harden collector output host=(\S+) nonce=([A-Za-z0-9]+)(?: rc=(-?[0-9]*))?"
    r"(?: version=([0-9A-Za-z.+-]{1,40}))?\s*$"
)
_FAILED = re.compile(r"# harden collector failed host=(\S+) status=([a-z_]+)\s*$")


def script_body() -> str:
    """The collector without its first two lines (``#!/bin/sh``, ``HN=<nonce>``), as the playbook ships it.

    >>> ("#!/bin/sh\\nHN=abc\\n" + script_body()) == build_linux_script("abc")
    True
    """
    head = "#!/bin/sh\nHN=x\n"
    script = build_linux_script("x")
    if not script.startswith(head):  # pragma: no cover - build_linux_script's own contract
        raise RuntimeError("collector script does not start with the shebang and nonce lines")
    return script[len(head) :]


def untty(text: str) -> str:
    """Undo a pseudo-terminal's newline translation (Ansible runs become tasks under ``ssh -tt``).

    A tty turns every ``\\n`` into ``\\r\\n``; when every newline of ``text`` comes as
    ``\\r\\n`` that translation is reversed exactly (a ``\\r`` the host printed stays).

    >>> untty("a\\r\\nb\\r\\n"), untty("a\\nb\\r\\n")
    ('a\\nb\\n', 'a\\nb\\r\\n')
    """
    n = text.count("\n")
    if n and text.count("\r\n") == n:
        return text.replace("\r\n", "\n")
    return text


def failure_status(message: str, unreachable: bool) -> HostStatus:
    """The host status of an Ansible failure message (unreachable host or a task that did not run).

    >>> failure_status("Failed to connect to the host via ssh: Permission denied (publickey).", True).value
    'auth_failed'
    >>> failure_status("Missing sudo password", False).value
    'auth_failed'
    """
    low = message.lower()
    if (
        "permission denied" in low
        or "authentication" in low
        or "host key verification failed" in low
        or "sudo password" in low
        or "incorrect password" in low
        or ("privilege escalation" in low and "password" in low)
    ):
        return HostStatus.AUTH_FAILED
    if "timed out" in low or "timeout" in low:
        return HostStatus.TIMEOUT
    return HostStatus.UNREACHABLE if unreachable else HostStatus.ERROR


def _host_run(target: Target) -> _HostRun:
    address = f"{target.host}:{target.port}" if target.port else target.host
    if target.connection.is_windows:
        return _HostRun(target, Platform.WINDOWS, address, windows_checks(), time.monotonic())
    return _HostRun(target, Platform.LINUX, address, linux_checks(), time.monotonic())


def judge_output(host: _HostRun, stdout: str, nonce: str, rc: int | None, stderr: str = "") -> HostResult:
    """Judge one host's raw collector output (as Ansible or a gathered file returned it).

    Ansible hands back a byte that is not UTF-8 (a user's file name ``/tmp/$'\\xff'/nc``) as a lone
    surrogate, which no JSON, HTML or YAML writer can encode: it becomes U+FFFD, as the native
    engine decodes that byte.
    """
    return linux_result(host, parse_sections(scrub(untty(stdout)), nonce), rc, scrub(stderr))


def result_from_event(host: _HostRun, kind: str, res: Mapping[str, Any], nonce: str) -> HostResult:
    """A host result from the collector task's runner event (``runner_on_ok/failed/unreachable``)."""
    msg = scrub(str(res.get("msg") or "")).strip()
    if kind == "runner_on_unreachable" or res.get("unreachable"):
        return host.failed(failure_status(msg, True), f"ansible: {msg or 'host unreachable'}")
    stdout = res.get("stdout")
    if not isinstance(stdout, str) or (not stdout and kind == "runner_on_failed"):
        return host.failed(failure_status(msg, False), f"ansible: the collector did not run: {msg or kind}")
    rc = res.get("rc")
    stderr = res.get("stderr") if isinstance(res.get("stderr"), str) else ""
    return judge_output(host, stdout, nonce, rc if isinstance(rc, int) else None, str(stderr))


@dataclass(frozen=True)
class AnsibleRun:
    """One ``--engine ansible`` run: the inventory Ansible reads, the targets harden loaded from it,
    and the private_data_dir ansible-runner keeps (``DIR/ansible``)."""

    inventory: Path
    targets: tuple[Target, ...]
    private_dir: Path
    options: AuditOptions = field(default_factory=AuditOptions)
    vault_password_file: Path | None = None


def _playbooks_dir() -> Path:
    return Path(str(resources.files("hardening.playbooks")))


def _runner_env(options: AuditOptions) -> dict[str, str]:
    """The user's Ansible configuration and settings (:mod:`hardening.ansible_env`), and the audit's timeout."""
    from hardening.ansible_env import runner_env

    return runner_env({"ANSIBLE_TIMEOUT": str(max(1, int(options.timeout)))})


def flag_arguments(vault_password_file: Path | None) -> tuple[list[str], dict[str, str]]:
    """ansible-playbook's arguments for Ansible's flags given to harden (``--vault-password-file``,
    ``--vault-id``, ``-J``, ``-K``), and the prompts' answers for ansible-runner's ``passwords``.

    >>> flag_arguments(None)
    ([], {})
    """
    flags = inventory.OVERRIDES
    cmdline: list[str] = []
    passwords: dict[str, str] = {}
    if vault_password_file is not None:
        cmdline += ["--vault-password-file", str(vault_password_file.resolve())]
    for vault_id in flags.vault_ids:
        if not vault_id.endswith("@prompt"):
            cmdline += ["--vault-id", vault_id]
    if flags.vault_password is not None:
        cmdline.append("--ask-vault-pass")
        passwords[r"^Vault password:\s*?$"] = flags.vault_password
    if flags.become_password is not None:
        cmdline.append("--ask-become-pass")
        passwords[r"^BECOME password.*:\s*?$"] = flags.become_password
    return cmdline, passwords


def _plain_vars(values: Mapping[str, Any]) -> dict[str, Any]:
    """Extra variables as JSON has them (ansible-runner passes them as JSON; a YAML date becomes text)."""
    return dict(json.loads(json.dumps(dict(values), default=str)))


def audit_fleet_ansible(run: AnsibleRun) -> Iterator[HostResult]:
    """Audit ``run.targets`` through ansible-runner, yielding each host as its result arrives.

    Windows (winrm) targets are not run through Ansible: they come back as ``error`` with a
    message saying to use the native engine.
    """
    import ansible_runner

    hosts = {t.name: _host_run(t) for t in run.targets}
    linux = [t.name for t in run.targets if not t.connection.is_windows]
    for t in run.targets:
        if t.connection.is_windows:
            yield hosts[t.name].failed(
                HostStatus.ERROR, "--engine ansible audits Linux hosts only: audit Windows hosts with --engine native"
            )
    if not linux:
        return
    from hardening.ansible_env import runner_kwargs, scrub_command_records, show_event
    from hardening.verbose import verbosity

    verbose = verbosity() > 0
    nonce = secrets.token_hex(8)
    results: queue.Queue[HostResult | None] = queue.Queue()
    done: set[str] = set()
    # Hosts may echo a password into what Ansible hands back; ansible-runner keeps every event on disk.
    redactor = Redactor.of(s for t in run.targets for s in (t.password, t.become_password))

    def on_event(event: dict[str, Any]) -> bool:
        kind = str(event.get("event", ""))
        data = event.get("event_data") or {}
        name = str(data.get("host", ""))
        ours = kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and name in hosts
        if ours and data.get("task") == COLLECTOR_TASK and name not in done:
            done.add(name)
            res = data.get("res") or {}
            results.put(result_from_event(hosts[name], kind, res if isinstance(res, Mapping) else {}, nonce))
        if redactor and redactor.found(strings_of(event)):  # judged from the output as it came; kept blanked
            event.update(redactor.data(event))
        if verbose:
            show_event(event)  # -v: Ansible's own output on stderr
        return True  # ansible-runner writes the event (job_events/) after this returns

    run.private_dir.mkdir(parents=True, exist_ok=True)
    envvars = _runner_env(run.options)
    script = run.private_dir / "harden_collector.sh"  # whole, with this run's nonce: no scratch copy in /tmp
    script.write_text(build_linux_script(nonce), encoding="ascii")
    cmdline, passwords = flag_arguments(run.vault_password_file)
    kwargs: dict[str, Any] = {
        "private_data_dir": str(run.private_dir),
        "project_dir": str(_playbooks_dir()),
        "playbook": PLAYBOOK,
        "inventory": str(run.inventory.resolve()),
        "ident": "collect",
        "limit": ",".join(["localhost", *linux]),
        "forks": max(1, run.options.forks),
        "extravars": {
            **_plain_vars(inventory.OVERRIDES.extra_vars),  # -e, as the native engine reads them
            "harden_nonce": nonce,
            "harden_timeout": int(max(1, run.options.timeout)),
            "harden_collector_script": str(script.resolve()),
            "harden_collector_version": __version__,
        },
        **runner_kwargs(envvars),
        "quiet": True,
        "rotate_artifacts": 0,
        "event_handler": on_event,
        "finished_callback": lambda _runner: results.put(None),
    }
    if cmdline:
        kwargs["cmdline"] = shlex.join(cmdline)
    if passwords:  # answered at ansible-playbook's prompts (pexpect); no env/passwords file is written
        kwargs["passwords"] = passwords
    thread, runner = ansible_runner.run_async(**kwargs)
    while True:
        item = results.get()
        if item is None:
            break
        yield item
    thread.join()
    while not results.empty():  # events that raced the finished callback
        item = results.get()
        if item is not None:
            yield item
    rc, status = runner.rc, runner.status
    scrub_command_records(run.private_dir / "artifacts", envvars)
    scrub_files(run.private_dir / "artifacts", redactor)
    tail = _stdout_tail(run.private_dir / "artifacts" / "collect" / "stdout")
    for name in linux:
        if name not in done:
            yield hosts[name].failed(
                HostStatus.ERROR, f"ansible-playbook gave no result for this host ({status}, rc {rc}): {tail}"
            )


def _stdout_tail(path: Path) -> str:
    if not path.is_file():
        return "no output"
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-3:]) or "no output"


# ---------------------------------------------------------------- gathered files (AWX)


@dataclass(frozen=True)
class Gathered:
    """One ``<host>.out`` file: the collector output (``nonce`` set), or why there is none."""

    host: str
    nonce: str
    rc: int | None
    text: str
    failed_status: HostStatus | None = None
    version: str = ""  # the harden that made the collector (the playbook stamps it), when known


def read_gathered(path: Path) -> Gathered:
    """Parse one gathered file (``harden collect`` format, or the playbook's failure record).

    Raises ValueError when the first line is neither.
    """
    data = path.read_bytes().decode("utf-8", "replace")
    first, _, rest = data.partition("\n")
    m = _HEADER.fullmatch(first.rstrip("\r"))
    if m:
        rc = int(m.group(3)) if m.group(3) else None
        return Gathered(m.group(1), m.group(2), rc, rest, version=m.group(4) or "")
    m = _FAILED.fullmatch(first.rstrip("\r"))
    if m:
        try:
            status = HostStatus(m.group(2))
        except ValueError:
            status = HostStatus.ERROR
        return Gathered(m.group(1), "", None, rest.strip(), status if status is not HostStatus.OK else None)
    raise ValueError(f"{path}: not a harden collector output (first line {first[:80]!r})")


def judge_gathered(directory: Path, targets: Iterable[Target]) -> Iterator[HostResult]:
    """Judge every target from ``directory/<host>.out``; a target without a file is an error."""
    for target in targets:
        host = _host_run(target)
        if target.connection.is_windows:
            yield host.failed(HostStatus.ERROR, "gathered output is judged for Linux hosts only")
            continue
        try:
            path = directory / host_file_name(target.name, GATHERED_SUFFIX)
        except UnsafeHostName as exc:  # "../x" or "web1\n" must not name a file to read
            yield host.failed(HostStatus.ERROR, f"no gathered output: {exc}")
            continue
        if not path.is_file():
            yield host.failed(HostStatus.ERROR, f"no gathered output {path.name}: the collector did not run here")
            continue
        try:
            g = read_gathered(path)
        except (ValueError, OSError) as exc:
            yield host.failed(HostStatus.ERROR, str(exc))
            continue
        if g.host != target.name:
            yield host.failed(HostStatus.ERROR, f"{path.name} holds the output of host {g.host!r}, not {target.name!r}")
        elif g.failed_status is not None:
            reason = g.text.splitlines()[0] if g.text else "no output"
            status = g.failed_status  # the playbook knows unreachable or error; the message says more, as for events
            if status in (HostStatus.UNREACHABLE, HostStatus.ERROR):
                status = failure_status(reason, status is HostStatus.UNREACHABLE)
            yield host.failed(status, f"ansible: {reason}")
        else:
            result = judge_output(host, g.text, g.nonce, g.rc)
            if g.version not in ("", "unknown", __version__):
                note = f"collected with harden {g.version}'s collector, judged by {__version__}"
                result = replace(result, message=f"{result.message}; {note}" if result.message else note)
            yield result


__all__ = [
    "AnsibleRun",
    "Gathered",
    "audit_fleet_ansible",
    "failure_status",
    "judge_gathered",
    "read_gathered",
    "script_body",
    "untty",
]
