"""``harden hunt`` and ``harden verify`` (added to the CLI group in hardening/cli.py).

Exit codes: hunt 1 on any (unsuppressed) high detection; verify 1 on any open callback the
host's policy does not permit (``harden_egress_allow``, or port 53 to ``harden_dns_resolvers``:
"open (policy)");
both 2 on bad input and 3 when some host was not reached (and nothing worse was found).

Example::

    harden hunt inventory.ini --out reports/hunt --suppress suppress.yaml
    harden verify inventory.ini --out reports/verify --ports 4444,443
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from hardening.cli_options import (
    forks_option,
    inventory_argument,
    known_hosts_option,
    limit_option,
    out_dir_option,
    timeout_option,
    vault_option,
)
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING, EXIT_INCOMPLETE

_TIER_STYLE = {"high": "bold red", "medium": "yellow", "low": "dim"}
_RESULT_STYLE = {"open": "bold red", "blocked": "green", "error": "yellow"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _default_out(kind: str) -> Path:
    return Path("reports") / f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def _targets(inventory: Path, limit: str | None, vault_password_file: Path | None, ui: object) -> list:
    from hardening.inventory import InventoryError, load_inventory

    try:
        targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    except InventoryError as exc:
        ui.error(str(exc))  # type: ignore[attr-defined]
        sys.exit(EXIT_BAD_INPUT)
    if not targets:
        ui.error(f"{inventory}: no hosts in inventory")  # type: ignore[attr-defined]
        sys.exit(EXIT_BAD_INPUT)
    return targets


def _common(f):  # noqa: ANN001 - click decorator stack
    for option in (vault_option, known_hosts_option, timeout_option(), forks_option, out_dir_option(), limit_option):
        f = option(f)
    return inventory_argument(f)


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
    suppress_file: Path | None,
) -> None:
    """Snapshot processes and sockets on every host of INVENTORY; score live reverse shells."""
    from hardening.console import Console, safe
    from hardening.hunt.run import HuntOptions, hunt_document, hunt_fleet, write_json
    from hardening.hunt.suppress import SuppressionError, load_suppressions
    from hardening.model import HostStatus

    ui = Console.for_stream(sys.stderr)
    try:
        rules = load_suppressions(suppress_file) if suppress_file else ()
    except SuppressionError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    targets = _targets(inventory, limit, vault_password_file, ui)
    started = _now()
    options = HuntOptions(forks=forks, timeout=timeout, known_hosts=str(known_hosts) if known_hosts else None)
    hosts = hunt_fleet(targets, options, rules)
    out_dir = out_dir or _default_out("hunt")
    path = write_json(out_dir / "hunt.json", hunt_document(hosts, str(inventory), started))
    table = Table(title="harden hunt")
    for col in ("host", "severity", "pid", "process", "remote", "reasons"):
        table.add_column(col, overflow="fold")
    for h in hosts:
        if h.status is not HostStatus.OK:
            table.add_row(
                Text(safe(h.name, 40)), Text(h.status.value, style="yellow"), "", "", "", Text(safe(h.message))
            )
        for d in h.detections:
            table.add_row(
                Text(safe(h.name, 40)),
                Text(d.severity.value, style=_TIER_STYLE[d.severity.value]),
                str(d.pid),
                Text(safe(d.process, 40)),
                Text(safe(d.remote, 60)),
                Text(safe("; ".join(d.reasons), 400)),
            )
    ui.rich.print(table)
    total = sum(len(h.detections) for h in hosts)
    hidden = sum(len(h.suppressed) for h in hosts)
    ui.info(f"{len(hosts)} hosts, {total} detections ({hidden} suppressed); results: {path}")
    if any(d.severity.value == "high" for h in hosts for d in h.detections):
        sys.exit(EXIT_FAILING)
    sys.exit(EXIT_INCOMPLETE if any(h.status is not HostStatus.OK for h in hosts) else EXIT_CLEAN)


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
    ports: str,
    callback_host: str | None,
    attempt_timeout: float,
) -> None:
    """Listen here; have every host of INVENTORY call back on each port: open means a reverse shell gets out."""
    from hardening import __version__
    from hardening.console import Console, safe
    from hardening.hunt.run import write_json
    from hardening.hunt.verify import VerifyError, VerifyOptions, parse_ports, verify_fleet
    from hardening.model import HostStatus

    ui = Console.for_stream(sys.stderr)
    try:
        port_list = parse_ports(ports)
    except VerifyError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    targets = _targets(inventory, limit, vault_password_file, ui)
    started = _now()
    options = VerifyOptions(
        ports=port_list,
        callback_host=callback_host,
        attempt_timeout=attempt_timeout,
        forks=forks,
        timeout=timeout,
        known_hosts=str(known_hosts) if known_hosts else None,
    )
    try:
        hosts, listeners = verify_fleet(targets, options)
    except VerifyError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    calls = [c for h in hosts for c in h.callbacks]
    policies = {t.name: t.policy for t in targets}

    def permitted(h: Any, c: Any) -> bool:
        """The host's own policy lets it reach the callback host on this port: open is expected there."""
        import ipaddress

        try:
            addr = ipaddress.ip_address(h.callback_host)
        except ValueError:
            return False
        pol = policies.get(h.name)
        return bool(pol and pol.permits(addr, c.port))

    outside = sum(c.result == "open" and not permitted(h, c) for h in hosts for c in h.callbacks)
    doc = {
        "schema": "harden.verify/v1",
        "harden_version": __version__,
        "inventory": str(inventory),
        "started": started,
        "finished": _now(),
        "ports": list(port_list),
        "listeners": listeners,
        "summary": {
            "hosts": len(hosts),
            "open": sum(c.result == "open" for c in calls),
            "open_outside_policy": outside,
            "blocked": sum(c.result == "blocked" for c in calls),
            "error": sum(c.result == "error" for c in calls),
            "not_reached": sum(h.status is not HostStatus.OK for h in hosts),
        },
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "platform": h.platform.value,
                "status": h.status.value,
                "message": h.message,
                "callback_host": h.callback_host,
                "method": h.method,
                "duration_s": round(h.duration_s, 3),
                "callbacks": [
                    {
                        "port": c.port,
                        "result": c.result,
                        "detail": c.detail,
                        "method": c.method,
                        "permitted_by_policy": permitted(h, c),
                    }
                    for c in h.callbacks
                ],
            }
            for h in hosts
        ],
    }
    path = write_json((out_dir or _default_out("verify")) / "verify.json", doc)
    table = Table(title="harden verify")
    table.add_column("host")
    table.add_column("callback to")
    for p in port_list:
        table.add_column(str(p), justify="center")
    for h in hosts:
        if h.status is not HostStatus.OK:
            cells = [Text(h.status.value, style="yellow")] + [Text("-") for _ in port_list[1:]]
            table.add_row(Text(safe(h.name, 40)), Text(safe(h.message, 200)), *cells)
            continue
        by_port = {c.port: c for c in h.callbacks}
        table.add_row(
            Text(safe(h.name, 40)),
            Text(safe(h.callback_host, 60)),
            *[
                Text("open (policy)", style="cyan")
                if by_port[p].result == "open" and permitted(h, by_port[p])
                else Text(by_port[p].result, style=_RESULT_STYLE[by_port[p].result])
                for p in port_list
            ],
        )
    ui.rich.print(table)
    for h in hosts:
        for c in h.callbacks:
            if c.result == "error":
                ui.info(f"{safe(h.name, 40)} port {c.port}: error: {safe(c.detail, 300)}")
    ui.info(f"results: {path}")
    if outside:
        sys.exit(EXIT_FAILING)
    sys.exit(EXIT_INCOMPLETE if doc["summary"]["not_reached"] else EXIT_CLEAN)
