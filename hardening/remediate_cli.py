"""``harden remediate`` and ``harden apply`` (added to the CLI group in hardening/cli.py).

Exit codes of ``apply``: 0 every remediated check passes after the run (or ``--check``
succeeded); 1 a playbook failed (e.g. a firewall rollback) or a remediated check still
fails; 2 bad input; 3 the re-audit could not audit every host.

The work is :mod:`hardening.remediate`'s and :mod:`hardening.apply_run`'s; these commands parse
options, print and map outcomes to exit codes.

Example::

    harden remediate reports/today/results.json --out reports/today
    harden apply reports/today --inventory inventory.ini --check
    harden apply reports/today --inventory inventory.ini
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hardening.ansible_args import verbose_option
from hardening.apply_run import before_after as before_after  # re-exported: where callers found it
from hardening.cli_options import timeout_option, vault_option
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING, EXIT_INCOMPLETE

if TYPE_CHECKING:
    from hardening.apply_run import ApplySession
    from hardening.report.document import ResultsDoc


def write_audit_playbooks(doc: ResultsDoc, out_dir: Path) -> Path | None:
    """Called by ``harden audit`` after its reports: write ``DIR/playbooks``. Never raises."""
    from hardening.remediate import RemediationError, remediate_doc

    try:
        p, dest = remediate_doc(doc, out_dir)
    except (RemediationError, OSError) as exc:
        click.echo(f"harden: remediation playbooks not written: {exc}", err=True)
        return None
    roles = sorted({r for h in p.hosts for r in h.roles})
    click.echo(f"remediation: {dest}/ ({len(p.hosts)} hosts; roles: {', '.join(roles) or 'none'})", err=True)
    return dest


@click.command("remediate")
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for playbooks/ (default: the folder of RESULTS).",
)
def remediate_cmd(results: Path, out_dir: Path | None) -> None:
    """Regenerate DIR/playbooks/ from RESULTS (results.json) without re-auditing."""
    from hardening.remediate import RemediationError, plan_lines, remediate

    try:
        p, dest = remediate(results, out_dir or results.parent)
    except RemediationError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for line in plan_lines(p):
        click.echo(line)
    click.echo(f"playbooks: {dest}")


def _extravars(items: Sequence[str]) -> dict[str, Any]:
    """``-e`` as Ansible reads it (``k=v``, JSON/YAML, ``@file``), each name a valid variable name."""
    from hardening.ansible_args import parse_extra_vars

    out = parse_extra_vars(items)
    bad = [k for k in out if not k.isidentifier()]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a variable name", param_hint="--extra-vars")
    return out


#: What a role needs from the inventory before it changes anything (shown when it refused).
UNLOCKS = {
    "harden_egress": "harden_egress_allow (`harden allowlist INVENTORY --out DIR` proposes it from evidence)",
    "harden_dns_logging": "harden_dns_resolvers (the resolvers this host may use; `harden allowlist` proposes them)",
    "harden_netcat": "harden_allowed_binaries to keep the tool, or remove what the guard refused by hand",
    "harden_win_egress": "harden_egress_allow",
    "harden_win_appcontrol": "harden_win_appcontrol_policy and harden_win_appcontrol_accept_clm=true",
    "harden_win_sysmon": "harden_win_sysmon_binary and harden_win_sysmon_config",
}


#: Words the roles' refusals start with (a refusal changes nothing; the variable unlocks it).
REFUSALS = ("NOT REMEDIATED", "NOT APPLIED", "REFUSED", "is empty", "needs harden_")


def _print_run(run: Any, heading: str, redactor: Any = None) -> None:
    """Ansible's outcome on the terminal. Diffs and messages carry host data (file contents,
    command output): the inventory's passwords are blanked (in every disguise, see
    :mod:`hardening.redact`), then escapes and control characters dropped, before they are printed."""
    from hardening.redact import Redactor
    from hardening.report.text import strip_control as _strip
    from hardening.report.text import terminal_safe as _safe

    blank = redactor or Redactor.of(())

    def strip_control(text: str) -> str:
        return _strip(blank.text(text))

    def terminal_safe(text: str) -> str:
        return _safe(blank.text(text))

    click.echo(f"== {heading}: {run.status} (rc {run.rc}); artifacts {run.artifacts}")
    for c in run.changes:
        click.echo(f"  {terminal_safe(c.host)}: {terminal_safe(c.task)}")
        for line in c.diff.splitlines()[:40]:
            click.echo(f"      {strip_control(line)}")
    for f in run.failures:
        kind = "UNREACHABLE" if f.unreachable else "FAILED"
        where = f"[{f.role}] " if f.role else ""
        click.echo(f"  {terminal_safe(f.host)}: {kind} {where}{terminal_safe(f.task)}: {terminal_safe(f.message)}")
    roles = run.failed_roles()
    if roles:
        click.echo("== roles that failed (the other roles of each host were still attempted)")
        for host, failed in sorted(roles.items()):
            for role, why in failed.items():
                click.echo(f"  {terminal_safe(host)}: {role}: {terminal_safe(why)}")
                if role in UNLOCKS and any(w in why for w in REFUSALS):
                    click.echo(f"      unlock with: {UNLOCKS[role]}")


@click.command("apply")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--inventory",
    "-i",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="The inventory the audit used (connection details and policy variables).",
)
@click.option(
    "--limit", "-l", metavar="PATTERN", help="Only these hosts (Ansible pattern; default: every planned host)."
)
@click.option("--check", is_flag=True, help="Only show what would change (ansible --check --diff).")
@click.option(
    "--extra-vars",
    "--extra-var",
    "-e",
    "extra",
    multiple=True,
    metavar="VARS",
    help="Extra variables for the roles, as ansible-playbook -e: key=value, JSON/YAML or @file, "
    "e.g. -e harden_local_debs=/var/cache/harden/debs. They are on ansible-playbook's command line "
    "(and its artifacts): keep secrets in the inventory or a vault.",
)
@vault_option
@timeout_option("Seconds per host for the re-audit.")
@verbose_option
def apply_cmd(
    directory: Path,
    inventory: Path,
    limit: str | None,
    check: bool,
    extra: tuple[str, ...],
    vault_password_file: Path | None,
    timeout: float,
    verbosity: int,
) -> None:
    """Apply DIR/playbooks: check-mode diff first, then apply, then re-audit (before/after).

    What changed, failed and the before/after verdicts go to stdout; with -v Ansible's own output
    streams to stderr.
    """
    from hardening.apply_run import ApplyError, ApplySession, inventory_redactor, planned_checks
    from hardening.inventory import InventoryError
    from hardening.verbose import set_verbosity

    set_verbosity(verbosity)

    try:
        remediated = planned_checks(directory)
    except ApplyError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not remediated:
        click.echo("nothing to apply: no host has a failed check with a remediation role")
        sys.exit(EXIT_CLEAN)
    extravars = _extravars(extra)
    limit = limit or ",".join(remediated)
    try:
        redactor = inventory_redactor(inventory, limit, vault_password_file)
    except InventoryError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    session = ApplySession.start(directory, inventory, limit, extravars, vault_password_file)
    dry = session.run("check", check=True, redactor=redactor)
    _print_run(dry, "check mode (what would change)", redactor)
    if check:
        sys.exit(EXIT_CLEAN if dry.rc == 0 else EXIT_FAILING)
    real = session.run("apply", check=False, redactor=redactor)
    _print_run(real, "apply", redactor)
    code = _reaudit(session, timeout, remediated)
    if not real.succeeded and code == EXIT_CLEAN:
        code = EXIT_FAILING
    sys.exit(code)


def _reaudit(session: ApplySession, timeout: float, remediated: Mapping[str, Sequence[str]]) -> int:
    """Re-audit, print each check before -> after; the exit code (3 not every host audited, 1 a
    remediated check still fails, 0 all fixed)."""
    from hardening.apply_run import reaudit
    from hardening.inventory import InventoryError

    try:
        done = reaudit(session, timeout)
    except InventoryError as exc:
        click.echo(f"harden: error: re-audit: {exc}", err=True)
        return EXIT_BAD_INPUT
    click.echo(f"== re-audit ({done.path}); * = check the playbooks remediated")
    for line in before_after(done.before, done.after, remediated):
        click.echo(line)
    if not done.complete:
        return EXIT_INCOMPLETE
    still = done.still_failing(remediated)
    if still:
        click.echo("not fixed: " + ", ".join(f"{h} {c}" for h, c in still) + " (see the messages in the re-audit)")
        return EXIT_FAILING
    return EXIT_CLEAN
