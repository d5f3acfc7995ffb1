"""``harden remediate`` and ``harden apply`` (added to the CLI group in hardening/cli.py).

Exit codes of ``apply``: 0 every remediated check passes after the run (or ``--check``
succeeded); 1 a playbook failed (e.g. a firewall rollback) or a remediated check still
fails; 2 bad input; 3 the re-audit could not audit every host.

Example::

    harden remediate reports/today/results.json --out reports/today
    harden apply reports/today --inventory inventory.ini --check
    harden apply reports/today --inventory inventory.ini
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hardening.cli_options import timeout_option, vault_option
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING, EXIT_INCOMPLETE

if TYPE_CHECKING:
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


def _extravars(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--extra-var")
        out[key] = value
    return out


#: What a role needs from the inventory before it changes anything (shown when it refused).
UNLOCKS = {
    "harden_egress": "harden_egress_allow (`harden allowlist INVENTORY --out DIR` proposes it from evidence)",
    "harden_dns_logging": "harden_dns_resolvers (the resolvers this host may use; `harden allowlist` proposes them)",
    "harden_netcat": "harden_allowed_binaries to keep the tool, or remove what the guard refused by hand",
    "harden_win_firewall": "harden_egress_allow",
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


def _statuses(doc: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (str(h.get("name")), str(c.get("id"))): str(c.get("status"))
        for h in doc.get("hosts") or []
        for c in h.get("checks") or []
    }


def before_after(
    before: Mapping[str, Any], after: Mapping[str, Any], remediated: Mapping[str, Sequence[str]]
) -> list[str]:
    """Lines ``host check before -> after`` for every check of the re-audited hosts (* = remediated)."""
    b, a = _statuses(before), _statuses(after)
    lines = []
    for host, check in sorted(a):
        mark = "*" if check in remediated.get(host, ()) else " "
        lines.append(f"{mark} {host:<16} {check:<26} {b.get((host, check), '-'):>14} -> {a[(host, check)]}")
    return lines


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
    "--extra-var",
    "-e",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra variable for the roles, e.g. -e harden_local_debs=/var/cache/harden/debs.",
)
@vault_option
@timeout_option("Seconds per host for the re-audit.")
def apply_cmd(
    directory: Path,
    inventory: Path,
    limit: str | None,
    check: bool,
    extra: tuple[str, ...],
    vault_password_file: Path | None,
    timeout: float,
) -> None:
    """Apply DIR/playbooks: check-mode diff first, then apply, then re-audit (before/after)."""
    import json

    from hardening.apply import RunnerJob, run_playbook

    playbooks = directory / "playbooks"
    plan_file = playbooks / "plan.json"
    if not (playbooks / "site.yml").is_file() or not plan_file.is_file():
        click.echo(
            f"harden: error: {playbooks}: no generated playbooks (run harden audit or harden remediate)", err=True
        )
        sys.exit(EXIT_BAD_INPUT)
    planned = json.loads(plan_file.read_text(encoding="utf-8"))
    remediated = {h["name"]: h["failed_checks"] for h in planned.get("hosts", [])}
    if not remediated:
        click.echo("nothing to apply: no host has a failed check with a remediation role")
        sys.exit(EXIT_CLEAN)
    extravars = _extravars(extra)
    redactor = _inventory_secrets(inventory, limit or ",".join(remediated), vault_password_file)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    private = directory / "apply" / stamp
    limit = limit or ",".join(remediated)
    common = dict(
        private_dir=private,
        project_dir=playbooks,
        inventory=inventory,
        limit=limit,
        extravars=extravars,
        vault_password_file=vault_password_file,
    )
    from hardening.redact import scrub_files

    dry = run_playbook(RunnerJob(ident="check", check=True, **common))  # type: ignore[arg-type]
    scrub_files(private / "artifacts", redactor)
    _print_run(dry, "check mode (what would change)", redactor)
    if check:
        sys.exit(EXIT_CLEAN if dry.rc == 0 else EXIT_FAILING)
    real = run_playbook(RunnerJob(ident="apply", check=False, **common))  # type: ignore[arg-type]
    scrub_files(private / "artifacts", redactor)
    _print_run(real, "apply", redactor)
    code = _reaudit(directory, private, inventory, limit, vault_password_file, timeout, remediated)
    if not real.succeeded and code == EXIT_CLEAN:
        code = EXIT_FAILING
    sys.exit(code)


def _inventory_secrets(inventory: Path, limit: str, vault_password_file: Path | None) -> Any:
    """A redactor of the planned hosts' passwords (SSH and become), read from the inventory as
    the re-audit will read it; exit 2 when the inventory cannot be read."""
    from hardening.inventory import InventoryError, load_inventory
    from hardening.redact import Redactor

    try:
        targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    except InventoryError as exc:
        click.echo(f"harden: error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    return Redactor.of(s for t in targets for s in (t.password, t.become_password))


def _reaudit(
    directory: Path,
    private: Path,
    inventory: Path,
    limit: str,
    vault_password_file: Path | None,
    timeout: float,
    remediated: Mapping[str, Sequence[str]],
) -> int:
    import json

    from hardening.audit import AuditOptions, audit_fleet
    from hardening.inventory import InventoryError, load_inventory
    from hardening.results import ResultsWriter

    try:
        targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    except InventoryError as exc:
        click.echo(f"harden: error: re-audit: {exc}", err=True)
        return EXIT_BAD_INPUT
    writer = ResultsWriter(private / "after", inventory=str(inventory), limit=limit)
    with writer:
        for result in audit_fleet(targets, AuditOptions(timeout=timeout)):
            writer.add(result)
    after = json.loads(writer.results_path.read_text(encoding="utf-8"))
    before_path = directory / "results.json"
    before = json.loads(before_path.read_text(encoding="utf-8")) if before_path.is_file() else {}
    click.echo(f"== re-audit ({writer.results_path}); * = check the playbooks remediated")
    for line in before_after(before, after, remediated):
        click.echo(line)
    if any(h.status.value != "ok" for h in writer.hosts):
        return EXIT_INCOMPLETE
    still = [
        (h.name, c.id)
        for h in writer.hosts
        for c in h.checks
        if c.id in remediated.get(h.name, ()) and c.status.value != "pass"
    ]
    if still:
        click.echo("not fixed: " + ", ".join(f"{h} {c}" for h, c in still) + " (see the messages in the re-audit)")
        return EXIT_FAILING
    return EXIT_CLEAN
