"""``harden hunt`` and ``harden verify`` (added to the CLI group in hardening/cli.py).

Exit codes: hunt 1 on any (unsuppressed) high detection; verify 1 on any open callback the
host's policy does not permit (``harden_egress_allow``, or port 53 to ``harden_dns_resolvers``:
"open (policy)");
both 2 on bad input and 3 when some host was not reached (and nothing worse was found).

Example::

    harden hunt inventory.ini --out reports/hunt --suppress suppress.yaml --max-output 64
    harden verify inventory.ini --out reports/verify --ports 4444,443

The work lives beside its code (:func:`hardening.hunt.run.run_hunt`,
:func:`hardening.hunt.verify.run_verify`); these commands parse options, print and map
outcomes to exit codes.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from hardening.ansible_args import ansible_options
from hardening.cli_options import (
    forks_option,
    inventory_argument,
    known_hosts_option,
    limit_option,
    load_targets,
    max_output_option,
    out_dir_option,
    timeout_option,
    vault_option,
)
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING, EXIT_INCOMPLETE

if TYPE_CHECKING:
    from hardening.console import Console
    from hardening.hunt.model import Detection
    from hardening.hunt.run import HuntRun
    from hardening.hunt.verify import VerifyRun

_TIER_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}
_RESULT_STYLE = {"open": "bold red", "blocked": "green", "error": "yellow"}


def _default_out(kind: str) -> Path:
    return Path("reports") / f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _common(f):  # noqa: ANN001 - click decorator stack
    for option in (
        max_output_option,
        vault_option,
        known_hosts_option,
        timeout_option(),
        forks_option,
        out_dir_option(),
        limit_option,
    ):
        f = option(f)
    return ansible_options(inventory_argument(f))


@click.command("hunt")
@_common
@click.option(
    "--suppress",
    "suppress_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="YAML file of known-benign patterns (see docs/hunt.md).",
)
def hunt_cmd(
    inventory: Path,
    limit: str | None,
    out_dir: Path | None,
    forks: int,
    timeout: float,
    known_hosts: Path | None,
    vault_password_file: Path | None,
    max_output: int,
    suppress_file: Path | None,
) -> None:
    """Snapshot processes and sockets on every host of INVENTORY; score live reverse shells."""
    from hardening.console import Console
    from hardening.hunt.run import HuntOptions, run_hunt
    from hardening.hunt.suppress import SuppressionError, load_suppressions

    ui = Console.for_stream(sys.stderr)
    try:
        rules = load_suppressions(suppress_file) if suppress_file else ()
    except SuppressionError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    targets = load_targets(inventory, limit, vault_password_file, ui)
    kh = str(known_hosts) if known_hosts else None
    options = HuntOptions(forks=forks, timeout=timeout, known_hosts=kh, max_output=max_output)
    run = run_hunt(targets, options, rules, str(inventory), out_dir or _default_out("hunt"))
    _print_hunt(Console.for_stream(sys.stdout), run)  # results on stdout
    _print_warnings(ui, run)  # what the hunt could not see: stderr, with the progress
    if run.high:
        sys.exit(EXIT_FAILING)
    sys.exit(EXIT_INCOMPLETE if run.not_reached else EXIT_CLEAN)


def _print_hunt(ui: Console, run: HuntRun) -> None:
    """The detections table and the summary line (host text made terminal-safe)."""
    from hardening.console import safe
    from hardening.model import HostStatus

    table = Table(title="harden hunt")
    for col in ("host", "severity", "pid", "process", "remote", "reasons"):
        table.add_column(col, overflow="fold")
    for h in run.hosts:
        if h.status is not HostStatus.OK:
            table.add_row(
                Text(safe(h.name, 40)), Text(h.status.value, style="yellow"), "", "", "", Text(safe(h.message))
            )
        for d in h.detections:
            table.add_row(
                Text(safe(h.name, 40)),
                Text(d.severity.value, style=_TIER_STYLE[d.severity.value]),
                str(d.pid),
                Text(safe(d.process, 40)) + _in_container(d),
                Text(safe(d.remote, 60)),
                Text(safe("; ".join(d.reasons), 400)),
            )
    ui.rich.print(table)
    total = sum(len(h.detections) for h in run.hosts)
    hidden = sum(len(h.suppressed) for h in run.hosts)
    ui.info(f"{len(run.hosts)} hosts, {total} detections ({hidden} suppressed); results: {run.path}")


def _in_container(d: Detection) -> Text:
    """`` in podman:web`` under the process name when it runs in a container, else nothing."""
    from hardening.console import safe

    return Text(f" in {safe(d.container.label, 80)}", style="cyan") if d.container else Text("")


def _print_warnings(ui: Console, run: HuntRun) -> None:
    """Every host's warnings (also in hunt.json): what the hunt could not see is never silent."""
    from hardening.console import safe

    for h in run.hosts:
        for w in h.warnings:
            ui.line(Text("warning: ", style="yellow") + Text(f"{safe(h.name, 40)}: {safe(w, 400)}"))


@click.command("verify")
@_common
@click.option("--ports", default="4444,443,53,8080", show_default=True, help="Comma-separated TCP ports to try.")
@click.option(
    "--callback-host",
    help="Address the hosts connect back to (default: learned from SSH_CONNECTION, or for WinRM the "
    "controller's address on its connection to the endpoint; loopback/podman bridge only).",
)
@click.option(
    "--attempt-timeout", type=click.FloatRange(1, 30), default=3.0, show_default=True, help="Seconds per attempt."
)
def verify_cmd(
    inventory: Path,
    limit: str | None,
    out_dir: Path | None,
    forks: int,
    timeout: float,
    known_hosts: Path | None,
    vault_password_file: Path | None,
    max_output: int,
    ports: str,
    callback_host: str | None,
    attempt_timeout: float,
) -> None:
    """Listen here; have every host of INVENTORY call back on each port: open means a reverse shell gets out."""
    from hardening.console import Console
    from hardening.hunt.verify import VerifyError, VerifyOptions, parse_ports, run_verify

    ui = Console.for_stream(sys.stderr)
    try:
        port_list = parse_ports(ports)
    except VerifyError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    targets = load_targets(inventory, limit, vault_password_file, ui)
    options = VerifyOptions(
        ports=port_list,
        callback_host=callback_host,
        attempt_timeout=attempt_timeout,
        forks=forks,
        timeout=timeout,
        known_hosts=str(known_hosts) if known_hosts else None,
        max_output=max_output,
    )
    try:
        run = run_verify(targets, options, str(inventory), out_dir or _default_out("verify"))
    except VerifyError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    _print_verify(Console.for_stream(sys.stdout), run, port_list)
    if run.open_outside_policy:
        sys.exit(EXIT_FAILING)
    sys.exit(EXIT_INCOMPLETE if run.not_reached else EXIT_CLEAN)


def _verify_table(run: VerifyRun, ports: tuple[int, ...]) -> Table:
    """One row per host, one column per port: open, open (policy), blocked or error."""
    from hardening.console import safe
    from hardening.model import HostStatus

    table = Table(title="harden verify")
    table.add_column("host")
    table.add_column("callback to")
    for p in ports:
        table.add_column(str(p), justify="center")
    for h in run.hosts:
        if h.status is not HostStatus.OK:
            cells = [Text(h.status.value, style="yellow")] + [Text("-") for _ in ports[1:]]
            table.add_row(Text(safe(h.name, 40)), Text(safe(h.message, 200)), *cells)
            continue
        by_port = {c.port: c for c in h.callbacks}
        table.add_row(
            Text(safe(h.name, 40)),
            Text(safe(h.callback_host, 60)),
            *[
                Text("open (policy)", style="cyan")
                if by_port[p].result == "open" and run.permitted(h, by_port[p])
                else Text(by_port[p].result, style=_RESULT_STYLE[by_port[p].result])
                for p in ports
            ],
        )
    return table


def _print_verify(ui: Console, run: VerifyRun, ports: tuple[int, ...]) -> None:
    """The callbacks table, each error's reason, and where verify.json is."""
    from hardening.console import safe

    ui.rich.print(_verify_table(run, ports))
    for h in run.hosts:
        for c in h.callbacks:
            if c.result == "error":
                ui.info(f"{safe(h.name, 40)} port {c.port}: error: {safe(c.detail, 300)}")
    ui.info(f"results: {run.path}")
