"""Audit hosts: run the collector (one round trip), parse, judge every check.

A host's failure is data: :func:`audit_host` never raises for a host problem, it
returns a :class:`HostResult` whose status says what went wrong. A host that was not
fully audited never carries a passing check (see :func:`seal`).

Example::

    for result in audit_fleet(targets, AuditOptions(forks=10)):
        print(result.name, result.status)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from hardening.checks import Check, linux_checks, windows_checks
from hardening.facts.collector import new_linux_collector
from hardening.facts.linux import gather
from hardening.facts.sections import Sections, parse_sections
from hardening.fleet import run_fleet
from hardening.inventory import Target
from hardening.model import CheckResult, Evidence, HostResult, HostStatus, Platform, Status, Verdict
from hardening.redact import REDACTED as REDACTED  # re-exported: callers blank with the same mask
from hardening.redact import Redactor, json_strings
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError

# A Windows host's collector bounds its slow areas on the host (DISM 60 s, sysmon -c 30 s, the
# file search 90 s plus hashing); a realistic whole-host budget is minutes, not Linux's 60 s.
WINDOWS_TIMEOUT = 300.0


@dataclass(frozen=True)
class AuditOptions:
    forks: int = 10
    timeout: float = 60.0
    known_hosts: str | None = None
    max_output: int = MAX_OUTPUT  # bytes a host may send (stdout + stderr), ``--max-output``
    windows_timeout: float | None = None  # WinRM hosts (None: ``timeout``); the CLI's default is WINDOWS_TIMEOUT

    def for_windows(self) -> AuditOptions:
        """These options with the Windows hosts' timeout."""
        return self if self.windows_timeout is None else replace(self, timeout=self.windows_timeout)


def host_groups(target: Target) -> tuple[str, ...]:
    """The host's inventory groups (``group_names``), sorted; ``all`` and ``ungrouped`` are implied."""
    names = target.variables.get("group_names")
    return tuple(sorted({str(g) for g in names} - {"all", "ungrouped"})) if isinstance(names, list | tuple) else ()


def seal(result: HostResult) -> HostResult:
    """Enforce the rule: only a fully audited host (status ok) may show ``pass``."""
    if result.status is HostStatus.OK:
        return result
    checks = tuple(
        replace(c, status=Status.ERROR, message=f"not fully audited ({result.status.value}): {c.message}")
        if c.status is Status.PASS
        else c
        for c in result.checks
    )
    return replace(result, checks=checks)


def redact(result: HostResult, secrets: Iterable[str | None]) -> HostResult:
    """Blank the host's passwords wherever they appear in what the host sent back.

    A hostile host receives the become password when it prints sudo's prompt, and the SSH
    password when it runs the SSH server: it could echo them into its output, and so into
    messages, evidence and every report, also with escape sequences, control or invisible
    characters between the letters, which the outputs drop (see :mod:`hardening.redact`).
    Secrets shorter than 4 characters are left alone (replacing them would shred the text,
    and they protect nothing anyway).

    >>> r = HostResult("h", Platform.LINUX, HostStatus.AUTH_FAILED, "sudo said: hun\x1b[0mter42")
    >>> redact(r, ["hunter42", None]).message
    'sudo said: ********'
    """
    redactor = Redactor.of(secrets)
    if not redactor or not redactor.found(_host_strings(result)):
        return result  # one search over every string: nothing to blank, the result as it was
    text, data = redactor.text, redactor.data
    checks = tuple(
        replace(c, message=text(c.message), evidence=Evidence(data(dict(c.evidence.facts)), text(c.evidence.excerpt)))
        for c in result.checks
    )
    return replace(result, message=text(result.message), checks=checks)


def _host_strings(result: HostResult) -> Iterator[str]:
    """Every string a host may have put in ``result`` (messages, evidence facts and excerpts)."""
    yield result.message
    for c in result.checks:
        yield c.message
        yield c.evidence.excerpt
        yield from json_strings(c.evidence.facts)


def _unaudited(checks: Iterable[Check], status: HostStatus, message: str) -> tuple[CheckResult, ...]:
    verdict = Verdict(Status.ERROR, f"host not audited ({status.value}): {message}")
    return tuple(CheckResult.of(c.meta, verdict) for c in checks)


def judge(facts: Any, target: Target, checks: Iterable[Check]) -> tuple[CheckResult, ...]:
    """Run every check over the parsed facts (Linux or Windows).

    A check that reads a fact area whose parsing failed is an error carrying that area's
    evidence; a crashing check is an error, never a pass.
    """
    results = []
    for check in checks:
        try:
            verdict = check.run(facts, target.policy)  # an unparsed fact area it reads: error
        except Exception as exc:
            verdict = Verdict(Status.ERROR, f"internal error in {check.meta.id}: {exc!r}", Evidence())
        results.append(CheckResult.of(check.meta, verdict))
    return tuple(results)


@dataclass(frozen=True)
class _HostRun:
    """What one host's audit is building: who, where, since when, against which checks."""

    target: Target
    platform: Platform
    address: str
    checks: tuple[Check, ...]
    started: float

    def failed(self, status: HostStatus, message: str) -> HostResult:
        """The host could not be audited: every check is an error carrying the reason."""
        return self.result(status, message, _unaudited(self.checks, status, message))

    def result(self, status: HostStatus, message: str, checks: tuple[CheckResult, ...]) -> HostResult:
        result = HostResult(
            name=self.target.name,
            platform=self.platform,
            status=status,
            message=message,
            address=self.address,
            checks=checks,
            duration_s=time.monotonic() - self.started,
            groups=host_groups(self.target),
        )
        return seal(redact(result, self.secrets))

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """What the host was given and may echo back: its SSH (or WinRM) and become passwords."""
        return self.target.secrets


def _run_transport(target: Target, script: str, options: AuditOptions) -> RunResult:
    """One round trip through the transport registry (:func:`hardening.transport.run_script`)."""
    return run_script(target, script, options)


def collect_linux(target: Target, options: AuditOptions) -> tuple[Sections, RunResult]:
    """One round trip: run the collector on the host and split its output.

    The output stays the bytes the host sent: each section is a view of them, decoded when a
    parser reads it (a host's answer is held once, not as bytes and again as text).
    """
    collector = new_linux_collector()
    run = _run_transport(target, collector.script, options)
    return parse_sections(run.stdout, collector.nonce), run


def stderr_tail(stderr: bytes, limit: int = 8192) -> str:
    """The end of a command's standard error as text (only its last line is ever shown)."""
    return stderr[-limit:].decode("utf-8", "replace")


def collect_windows(target: Target, options: AuditOptions) -> RunResult:
    """One WinRM round trip: the PowerShell collector on stdin, its JSON on stdout."""
    from hardening.facts.windows import collector_script

    return _run_transport(target, collector_script(), options.for_windows())


def audit_windows_host(target: Target, options: AuditOptions) -> HostResult:
    """Audit one ``ansible_connection=winrm`` host (see :func:`audit_host`)."""
    from hardening.facts.sections import FactError
    from hardening.facts.windows import CONNECTION_KEY, parse_output
    from hardening.facts.windows import gather as gather_windows
    from hardening.transport.winrm import clixml_text

    port = target.port or (target.winrm.default_port() if target.winrm else 5986)
    host = _HostRun(target, Platform.WINDOWS, f"{target.host}:{port}", windows_checks(), time.monotonic())
    warnings = "; ".join(target.winrm.warnings()) if target.winrm else ""
    try:
        run = collect_windows(target, options)
    except TransportError as exc:
        doc = _partial_windows_doc(exc.partial)
        if doc is None:
            return host.failed(exc.status, exc.message)
        # The areas printed before the failure are judged; the host is not fully audited, so
        # none of them may pass (seal), but their fails stand.
        message = f"{exc.message} (the areas the collector finished before were judged)"
        doc[CONNECTION_KEY] = target.connection.value
        return host.result(exc.status, message, judge(gather_windows(doc), target, host.checks))
    try:
        doc = parse_output(run.stdout.decode("utf-8", "replace"))
    except FactError as exc:
        err = Redactor.of(host.secrets).text(clixml_text(run.stderr)).splitlines()[-1:] or [""]
        return host.failed(HostStatus.ERROR, f"collector failed (exit {run.exit_code}): {exc} {err[0]}".strip())
    doc[CONNECTION_KEY] = target.connection.value  # PSRP: the session's language mode is the endpoint's
    facts = gather_windows(doc)
    status, message = HostStatus.OK, ""
    if not facts.complete:
        status, message = HostStatus.ERROR, f"collector output incomplete (exit {run.exit_code})"
    elif facts.is_admin is False:
        message = "audited without administrator rights: checks that need them report error"
    if warnings:
        message = (
            f"{message}; insecure WinRM settings: {warnings}" if message else f"insecure WinRM settings: {warnings}"
        )
    return host.result(status, message, judge(facts, target, host.checks))


def _partial_windows_doc(stdout: bytes) -> dict[str, Any] | None:
    """The areas a Windows collector printed before its host failed (None when there are none)."""
    from hardening.facts.sections import FactError
    from hardening.facts.windows import parse_output

    if not stdout.strip():
        return None
    try:
        doc = parse_output(stdout.decode("utf-8", "replace"))
    except FactError:
        return None
    return doc if set(doc) - {"harden_collector", "schema", "meta"} else None


def collect_raw(target: Target, options: AuditOptions) -> tuple[str, bytes]:
    """The collector's raw output and its marker nonce (``harden collect``).

    Windows hosts have no nonce (""): their output is the collector's JSON as it came.
    """
    if target.connection.is_windows:
        return "", collect_windows(target, options).stdout
    collector = new_linux_collector()
    return collector.nonce, _run_transport(target, collector.script, options).stdout


def collect_dump(target: Target, options: AuditOptions) -> tuple[str, bytes]:
    """``harden collect``'s file: (nonce, a header line naming it and the collector's raw output).

    Windows (winrm) hosts: no header, the collector's JSON exactly as it came, usable as a test
    fixture. The host's passwords, should it echo them, are blanked (:mod:`hardening.redact`); all
    else is as it came. Raises TransportError.
    """
    nonce, raw = collect_raw(target, options)
    header = f"# harden collector output host={target.name} nonce={nonce}\n".encode() if nonce else b""
    return nonce, header + Redactor.of(target.secrets).raw(raw)


def audit_host(target: Target, options: AuditOptions) -> HostResult:
    """Audit one host; never raises for a host problem (the result's status says what happened)."""
    if target.connection.is_windows:
        return audit_windows_host(target, options)
    address = f"{target.host}:{target.port}" if target.port else target.host
    host = _HostRun(target, Platform.LINUX, address, linux_checks(), time.monotonic())
    try:
        sections, run = collect_linux(target, options)
    except TransportError as exc:
        return host.failed(exc.status, exc.message)
    return linux_result(host, sections, run.exit_code, stderr_tail(run.stderr))


def linux_result(host: _HostRun, sections: Sections, exit_code: int | None, stderr: str) -> HostResult:
    """Judge one Linux host's collector output (any engine: native SSH, Ansible, gathered files).

    The host's passwords are blanked before any of its text is cut (the last line of stderr, the
    evidence excerpts), and in everything it sent back before the result leaves (:func:`redact`).
    """
    redactor = Redactor.of(host.secrets)
    sections = replace(sections, redactor=redactor)
    status, message = HostStatus.OK, ""
    if not sections.complete:
        status = HostStatus.ERROR
        tail = redactor.text(stderr).strip().splitlines()[-1:] or [""]
        how = "the connection closed before the command exited" if exit_code in (None, -1) else f"exit {exit_code}"
        message = f"collector output incomplete ({how}) {tail[0]}".strip()
    facts = gather(sections)
    if status is HostStatus.OK and not facts.is_root:
        message = "audited without root: checks that need root report error (set ansible_become=true)"
    return host.result(status, message, judge(facts, host.target, host.checks))


def audit_fleet(
    targets: Iterable[Target],
    options: AuditOptions,
    on_start: Callable[[Target], None] | None = None,
) -> Iterator[HostResult]:
    """Audit hosts concurrently (at most ``options.forks`` at once), yielding each as it finishes.

    Stopped early (Ctrl-C, SIGTERM, the caller stops reading), it starts no new host and does
    not wait for those in flight (:func:`hardening.fleet.run_fleet`).
    """
    return run_fleet(targets, lambda t: _audit_logged(t, options), options.forks, on_start)


def describe_target(target: Target) -> str:
    """How harden reaches ``target`` (for ``-v``): connection, user, address, become; no secrets.

    >>> from hardening.model import Connection
    >>> describe_target(Target("web1", Connection.SSH, "10.0.0.5", 22, "deploy", become=True))
    'ssh deploy@10.0.0.5:22, become root'
    """
    user = f"{target.user}@" if target.user else ""
    port = f":{target.port}" if target.port else ""
    text = f"{target.connection.value} {user}{target.host}{port}"
    if target.become:
        text += f", become {target.become_user}"
    return text


def _audit_logged(target: Target, options: AuditOptions) -> HostResult:
    """:func:`audit_host` with the ``-v`` log of what it does and how it ended."""
    from hardening.verbose import esc, verbosity, vlog

    if not verbosity():
        return audit_host(target, options)
    name = esc(target.name, 80)
    vlog(1, "%s: %s", name, esc(describe_target(target)))
    if target.connection.value == "ssh":
        checking = f"on ({options.known_hosts or target.known_hosts or '~/.ssh/known_hosts'})"
        vlog(
            2,
            "%s: key %s, host key checking %s, ssh args %s",
            name,
            esc(target.key_file or "agent or default keys"),
            esc(checking if target.host_key_checking else "off"),
            esc(" ".join(target.ssh_args) or "none"),
        )
    started = time.monotonic()
    result = audit_host(target, options)
    counts = {s: sum(1 for c in result.checks if c.status is s) for s in (Status.PASS, Status.FAIL, Status.ERROR)}
    vlog(
        1,
        "%s: %s in %.1f s (pass %d, fail %d, error %d)%s",
        name,
        result.status.value,
        time.monotonic() - started,
        counts[Status.PASS],
        counts[Status.FAIL],
        counts[Status.ERROR],
        f": {esc(result.message)}" if result.message else "",
    )
    for c in result.checks if verbosity() >= 2 else ():
        vlog(2, "%s: %s %s: %s", name, c.id, c.status.value, esc(c.message))
    return result
