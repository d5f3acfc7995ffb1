"""The ``harden`` command line.

Exit codes: 0 clean; 1 a failing check at or above ``--fail-on``; 2 bad input
(inventory, options); 3 some host not fully audited.

Example::

    harden audit inventory.ini --limit web --forks 20 --out reports/today
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hardening import __version__
from hardening.ansible_args import ansible_options
from hardening.cli_options import (
    fail_on_option,
    forks_option,
    format_option,
    framework_option,
    inventory_argument,
    known_hosts_option,
    limit_option,
    max_output_option,
    out_dir_option,
    timeout_option,
    vault_option,
    waivers_option,
)
from hardening.model import Severity
from hardening.results import EXIT_BAD_INPUT, EXIT_INCOMPLETE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hardening.audit_run import AuditPlan, AuditRun, AuditSource
    from hardening.console import Console
    from hardening.inventory import InventoryError, PendingInventory, Target
    from hardening.report.frameworks import Framework
    from hardening.report.waivers import Waiver

# Commands defined in other modules, imported only when run (or listed): start-up stays short.
_LAZY_COMMANDS = {
    "allowlist": ("hardening.allowlist_cli", "allowlist_cmd"),
    "apply": ("hardening.remediate_cli", "apply_cmd"),
    "collector-script": ("hardening.judge_cli", "collector_script_cmd"),
    "diff": ("hardening.report_cli", "diff_cmd"),
    "hosts": ("hardening.hosts_cli", "hosts_cmd"),
    "hunt": ("hardening.hunt_cli", "hunt_cmd"),
    "judge": ("hardening.judge_cli", "judge_cmd"),
    "remediate": ("hardening.remediate_cli", "remediate_cmd"),
    "report": ("hardening.report_cli", "report_cmd"),
    "respond": ("hardening.respond_cli", "respond_cmd"),
    "verify": ("hardening.hunt_cli", "verify_cmd"),
}


class _Commands(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS:
            module, name = _LAZY_COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)


EXIT_CODES = (
    "Exit codes: 0 every check passes; 1 a check at or above --fail-on fails; 2 bad input (inventory, "
    "options, files); 3 a host could not be fully audited or the run was interrupted."
)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="harden")
def cli() -> None:
    """Audit and harden hosts against reverse shells (agentless: SSH and WinRM)."""


def _windows_timeout(timeout: float) -> float:
    """--timeout as given applies to every host; left at its default, WinRM hosts get minutes."""
    from hardening.audit import WINDOWS_TIMEOUT

    source = click.get_current_context().get_parameter_source("timeout")
    return timeout if source is not click.core.ParameterSource.DEFAULT else max(timeout, WINDOWS_TIMEOUT)


@cli.command(epilog=EXIT_CODES)
@ansible_options
@inventory_argument
@limit_option
@forks_option
@timeout_option(
    "Seconds per host for connect, authentication and the collector (default: 60 for SSH hosts, "
    "300 for WinRM hosts, whose collector takes longer)."
)
@known_hosts_option
@out_dir_option()
@fail_on_option
@vault_option
@max_output_option
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Finish an interrupted run: keep the hosts in DIR/hosts.jsonl, audit only the missing ones, "
    "write DIR/results.json with both (replaces --out).",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume: also audit again the hosts that were not fully audited (status other than ok).",
)
@click.option(
    "--engine",
    type=click.Choice(["native", "ansible"]),
    default="native",
    show_default=True,
    help="native: harden's own SSH/WinRM transport; ansible: the same collector through ansible-runner "
    "(Ansible's connection plugins and become; Linux hosts), judged by the same checks.",
)
@format_option()
@waivers_option
@framework_option
def audit(
    inventory: Path,
    limit: str | None,
    forks: int,
    timeout: float,
    known_hosts: Path | None,
    out_dir: Path | None,
    fail_on: str,
    vault_password_file: Path | None,
    max_output: int,
    resume_dir: Path | None,
    retry_failed: bool,
    engine: str,
    formats: tuple[str, ...],
    waivers_file: Path | None,
    framework: str | None,
) -> None:
    """Audit every host of INVENTORY (INI or YAML), write results.json and the reports (--format).

    Results stream to DIR/hosts.jsonl as each host finishes. Ctrl-C or SIGTERM stops the run:
    the hosts done so far are written to results.json (complete: false) and the exit code is 3;
    ``--resume DIR`` then audits only the hosts missing.
    """
    waivers, fw = _report_inputs(waivers_file, framework)
    kh = str(known_hosts) if known_hosts else None
    early = _EarlyStart(forks, timeout, kh) if engine == "native" and resume_dir is None else None
    # First start what waits on others (ansible-core's child, the first hosts' handshakes), then
    # import what the audit and the reports need while they run.
    reading = _start_reading(inventory, limit, vault_password_file, early)

    from hardening.audit import AuditOptions
    from hardening.audit_run import AuditSource, run_audit
    from hardening.console import Console
    from hardening.remediate_cli import write_audit_playbooks
    from hardening.report.write import gate, reports_after_run

    ui = Console.for_stream(sys.stderr)
    source = AuditSource(inventory, limit, vault_password_file)
    plan = _audit_plan(ui, source, engine, out_dir, resume_dir, retry_failed, reading)
    _load_platforms(plan.targets)
    options = AuditOptions(
        forks=forks, timeout=timeout, known_hosts=kh, max_output=max_output, windows_timeout=_windows_timeout(timeout)
    )
    _warm_up_reports(formats)
    try:
        with ui.progress(total=len(plan.targets)) as progress:
            run = run_audit(plan, source, options, engine, lambda t: progress.host_started(t.name), progress.host_done)
    finally:
        if early is not None:
            from hardening.transport.early import close_unclaimed

            close_unclaimed()
    doc = reports_after_run(run.writer, formats, fw, waivers)
    Console.for_stream(sys.stdout).summary(run.writer.hosts, run.path)  # results on stdout, progress on stderr
    write_audit_playbooks(doc, plan.out_dir)
    if run.interrupted:
        _exit_interrupted(ui, inventory, plan, run)
    sys.exit(gate(doc, Severity(fail_on)))


def _report_inputs(
    waivers_file: Path | None, framework: str | None
) -> tuple[tuple[Waiver, ...] | None, Framework | None]:
    """``--waivers`` and ``--framework``, read before auditing (a bad one must not cost a fleet run); exit 2."""
    if waivers_file is None and not framework:
        return None, None
    from hardening.console import Console
    from hardening.report.frameworks import FrameworkError
    from hardening.report.waivers import WaiverError
    from hardening.report.write import load_inputs

    try:
        return load_inputs(waivers_file, framework)
    except (WaiverError, FrameworkError) as exc:
        Console.for_stream(sys.stderr).error(str(exc))
        sys.exit(EXIT_BAD_INPUT)


@dataclass(frozen=True)
class _EarlyStart:
    """Start the first hosts' SSH handshakes while the inventory is read (hardening.transport.early)."""

    forks: int
    timeout: float
    known_hosts: str | None


def _start_reading(
    inventory: Path, limit: str | None, vault_password_file: Path | None, early: _EarlyStart | None
) -> PendingInventory | InventoryError:
    """Start reading the inventory in its bounded child process and, with ``early``, the first
    hosts' SSH handshakes; the pending read, or the error that stopped it (said by the caller)."""
    from hardening.inventory import InventoryError, start_loading

    try:
        pending = start_loading(inventory, limit=limit, vault_password_file=vault_password_file)
    except InventoryError as exc:
        return exc
    if early is not None:
        from hardening.transport.early import start_early

        if start_early(inventory, limit, early.forks, early.timeout, early.known_hosts):
            # What the handshakes need next (paramiko), before anything else: imported here at
            # full speed while their TCP connections open, instead of in their threads at half
            # speed beside this one's imports (the key exchange started 0.3 s late).
            import hardening.transport.ssh  # noqa: F401
    return pending


def _audit_plan(
    ui: Console,
    source: AuditSource,
    engine: str,
    out_dir: Path | None,
    resume_dir: Path | None,
    retry_failed: bool,
    reading: PendingInventory | InventoryError,
) -> AuditPlan:
    """The hosts to audit and where to write (``--resume``); exit 2 on a bad inventory or options."""
    from hardening.audit_run import AuditPlanError, plan_audit
    from hardening.inventory import InventoryError

    try:
        if isinstance(reading, InventoryError):
            raise reading
        # The inventory is read in a bounded child process; meanwhile this one loads what the
        # audit needs (two cores: about the time the inventory takes).
        _prepare_audit(engine)
        targets = reading.result()
    except InventoryError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    if not targets:
        ui.error(f"{source.inventory}: no hosts in inventory")
        sys.exit(EXIT_BAD_INPUT)
    try:
        plan = plan_audit(targets, out_dir, resume_dir, retry_failed)
    except AuditPlanError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    if plan.previous is not None:
        ui.info(f"resuming {resume_dir}: {len(plan.previous)} hosts kept, {len(plan.targets)} to audit")
    return plan


def _exit_interrupted(ui: Console, inventory: Path, plan: AuditPlan, run: AuditRun) -> NoReturn:
    """Say what an interrupted run kept and how to finish it; exit 3 without waiting for hosts in flight."""
    audited = len(run.writer.hosts)
    missing = len(plan.targets) + len(plan.previous or ()) - audited
    ui.error(
        f"interrupted: partial results ({audited} hosts audited, {missing} not) in {run.path}; "
        f"finish with: harden audit {inventory} --resume {plan.out_dir}"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    # Hosts still in flight end by themselves within --timeout; do not wait for them.
    os._exit(EXIT_INCOMPLETE)


def _prepare_audit(engine: str) -> None:
    """Import the SSH transport (paramiko) and the checks now, while the inventory is being read."""
    from hardening.checks import linux_checks

    linux_checks()
    if engine == "native":
        import hardening.transport.ssh  # noqa: F401


def _load_platforms(targets: Iterable[Target]) -> None:
    """The fact areas and check evaluations of the platforms in the run, loaded here before the
    worker threads start (see :func:`hardening.checks.load_platforms`)."""
    from hardening.checks import load_platforms
    from hardening.model import Platform

    load_platforms({Platform.WINDOWS if t.connection.is_windows else Platform.LINUX for t in targets})


def _warm_up_reports(formats: tuple[str, ...]) -> None:
    """Import and compile what the reports and playbooks need in a background thread, while the
    hosts are audited: the audit waits on the network most of the time, so this costs a one-host
    audit no wall time instead of a tenth of a second at the end. Errors are left to the real calls."""

    def warm() -> None:
        try:
            from hardening import remediate
            from hardening.report import html

            if "html" in formats:
                html.warm_up()
            remediate.warm_up()
        except Exception:  # only a head start: the real calls report any problem
            return

    threading.Thread(target=warm, name="harden-warm-up", daemon=True).start()


@cli.command()
@ansible_options
@inventory_argument
@click.argument("host")
@click.option(
    "--out",
    "-o",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the raw collector output here (default: stdout).",
)
@timeout_option()
@known_hosts_option
@vault_option
def collect(
    inventory: Path,
    host: str,
    out_file: Path | None,
    timeout: float,
    known_hosts: Path | None,
    vault_password_file: Path | None,
) -> None:
    """Run the collector on HOST and write its raw output (for fixtures and bug reports).

    Linux: the first line names the nonce of the section markers;
    ``hardening.facts.sections.parse_sections(text, nonce)`` reads the file back.
    Windows (winrm): the collector's JSON as it came (``hardening.facts.windows.parse_output``).
    """
    from hardening.audit import AuditOptions, collect_dump
    from hardening.inventory import InventoryError, load_inventory
    from hardening.transport.base import TransportError

    try:
        targets = load_inventory(inventory, limit=host, vault_password_file=vault_password_file)
    except InventoryError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if len(targets) != 1:
        click.echo(f"harden: error: {host!r} matches {len(targets)} hosts; name one", err=True)
        sys.exit(EXIT_BAD_INPUT)
    options = AuditOptions(
        timeout=timeout,
        known_hosts=str(known_hosts) if known_hosts else None,
        windows_timeout=_windows_timeout(timeout),
    )
    try:
        nonce, data = collect_dump(targets[0], options)
    except TransportError as exc:
        click.echo(f"harden: error: {targets[0].name}: {exc.status.value}: {exc.message}", err=True)
        sys.exit(EXIT_INCOMPLETE)
    if out_file is None:
        sys.stdout.buffer.write(data)
    else:
        out_file.write_bytes(data)
        how = f"nonce {nonce}" if nonce else "Windows collector JSON"
        click.echo(f"{len(data)} bytes from {targets[0].name} written to {out_file} ({how})", err=True)


@cli.group()
def lab() -> None:
    """Local test hosts: podman containers on 198.18.0.0/24 with sshd on 127.0.0.1."""


@lab.command("up")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".lab"),
    show_default=True,
    help="Where the inventory, key and known_hosts are written.",
)
def lab_up_cmd(workdir: Path) -> None:
    """Build the lab image if needed and start the lab hosts."""
    from hardening.lab import LabError, lab_up

    try:
        lab_ = lab_up(workdir.resolve())
    except LabError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for host in lab_.hosts:
        click.echo(f"{host.name:<12} {host.state:<10} {host.ip:<15} 127.0.0.1:{host.port}")
    click.echo(f"inventory:   {lab_.inventory}")
    click.echo(f"known_hosts: {lab_.known_hosts}")
    click.echo(f"next: harden audit {lab_.inventory} --known-hosts {lab_.known_hosts}")


@lab.command("down")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".lab"),
    show_default=True,
)
def lab_down_cmd(workdir: Path) -> None:
    """Stop and remove the lab hosts and network."""
    from hardening.lab import LabError, lab_down

    try:
        lab_down(workdir=workdir.resolve())
    except LabError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    click.echo("lab removed")


@lab.command("status")
def lab_status_cmd() -> None:
    """List the lab hosts."""
    from hardening.lab import LabError, lab_status

    try:
        hosts = lab_status()
    except LabError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not hosts:
        click.echo("no lab hosts running")
    for host in hosts:
        state = "running" if host.running else "stopped"
        click.echo(f"{host.name:<12} {host.state:<10} {host.ip:<15} 127.0.0.1:{host.port}  {state}")


def main() -> None:
    from hardening.ansible_args import ArgsError, move_inventory_flag

    try:
        args = move_inventory_flag(sys.argv[1:])  # -i INVENTORY, as Ansible users type it
    except ArgsError as exc:
        click.echo(f"harden: error: {exc.message}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        cli(args=args, prog_name="harden")
    except SystemExit as done:
        _leave(done.code)
    except Exception as exc:  # last resort: a bug must not look like "checks failed"
        import traceback

        traceback.print_exc()
        click.echo(f"harden: internal error: {exc!r} (please report it)", err=True)
        sys.exit(EXIT_INCOMPLETE)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """Exit with ``code`` (as ``sys.exit`` takes it) without tearing the interpreter down.

    Freeing every module and object one by one at exit costs a CPU-bound tenth of a second and
    more (everything an audit imported and cached), for nothing: the process is ending. So once
    the command is done, the exit handlers run (``atexit``: logging, temporary directories),
    the standard streams are flushed and the process ends at once. A command that left
    non-daemon threads running gets the normal exit, which waits for them.
    """
    import atexit
    import threading

    status = 0 if code is None else code if isinstance(code, int) else 1
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(status)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:
        sys.exit(status)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            status = status or 1
    os._exit(status)


if __name__ == "__main__":
    main()
