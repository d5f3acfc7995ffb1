"""``harden judge``: results and reports from collector output gathered elsewhere (AWX, Ansible).

``playbooks/harden_collect.yml`` run with ``harden_gather_dir=DIR`` (an AWX job template, or
``ansible-playbook`` on any controller) leaves one ``DIR/<host>.out`` per host in the
``harden collect`` format. ``harden judge DIR --inventory INV`` judges them with the same
checks and policy (inventory variables) as ``harden audit`` and writes the same
results.json and reports. ``harden collector-script`` prints the collector (or the body
the playbook ships, ``--body``).

Exit codes as ``harden audit``: 0 clean; 1 a failing check at/above ``--fail-on``; 2 bad
input; 3 some host not fully audited (no output, unreachable, cut short).

Example::

    ansible-playbook -i inv.ini playbooks/harden_collect.yml -e harden_gather_dir=/tmp/gathered
    harden judge /tmp/gathered --inventory inv.ini --out reports/today
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hardening.cli_options import fail_on_option, limit_option, out_dir_option, vault_option
from hardening.model import Severity
from hardening.report_cli import format_option, framework_option, waivers_option
from hardening.results import EXIT_BAD_INPUT


@click.command("judge")
@click.argument("gathered", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--inventory",
    "-i",
    "inventory",
    required=True,
    type=click.Path(path_type=Path, dir_okay=True, exists=True),
    help="The inventory the output was gathered from (host names and policy variables).",
)
@limit_option
@out_dir_option()
@fail_on_option
@vault_option
@format_option()
@waivers_option
@framework_option
def judge_cmd(
    gathered: Path,
    inventory: Path,
    limit: str | None,
    out_dir: Path | None,
    fail_on: str,
    vault_password_file: Path | None,
    formats: tuple[str, ...],
    waivers_file: Path | None,
    framework: str | None,
) -> None:
    """Judge the collector outputs in GATHERED (one <host>.out per host) and write results and reports."""
    from hardening.audit_run import default_out
    from hardening.console import Console
    from hardening.engine_ansible import judge_gathered
    from hardening.inventory import InventoryError, load_inventory
    from hardening.remediate_cli import write_audit_playbooks
    from hardening.report.frameworks import FrameworkError
    from hardening.report.waivers import WaiverError
    from hardening.report.write import gate, load_inputs, reports_after_run
    from hardening.results import ResultsWriter

    ui = Console.for_stream(sys.stderr)
    try:
        waivers, fw = load_inputs(waivers_file, framework)
        targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    except (WaiverError, FrameworkError, InventoryError) as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    if not targets:
        ui.error(f"{inventory}: no hosts in inventory")
        sys.exit(EXIT_BAD_INPUT)
    out_dir = out_dir or default_out()
    with ResultsWriter(out_dir, inventory=str(inventory), limit=limit) as writer:
        for result in judge_gathered(gathered, targets):
            writer.add(result)
    path = writer.results_path
    doc = reports_after_run(writer, formats, fw, waivers)
    Console.for_stream(sys.stdout).summary(writer.hosts, path)
    write_audit_playbooks(doc, out_dir)
    sys.exit(gate(doc, Severity(fail_on)))


@click.command("collector-script")
@click.option(
    "--body",
    is_flag=True,
    help="Without the first two lines (#!/bin/sh, HN=<nonce>): the file playbooks/files/harden_collector.sh.",
)
@click.option("--nonce", metavar="HEX", help="Marker nonce (letters and digits; default: random).")
def collector_script_cmd(body: bool, nonce: str | None) -> None:
    """Print the Linux collector script harden runs on each host (read-only, POSIX sh)."""
    import secrets

    from hardening.engine_ansible import script_body
    from hardening.facts.collector import build_linux_script

    if body:
        click.echo(script_body(), nl=False)
        return
    nonce = nonce or secrets.token_hex(8)
    if not nonce.isalnum() or not nonce.isascii():
        raise click.BadParameter("letters and digits only", param_hint="--nonce")
    click.echo(build_linux_script(nonce), nl=False)
