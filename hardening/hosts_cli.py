"""``harden hosts INVENTORY``: how each host will be reached, before anything connects.

Shows, per host, what harden resolved from the inventory, ansible.cfg / ``ANSIBLE_*`` and the
user's ssh_config: connection, address and port, user, key, privilege escalation, host-key
checking and, for SSH, the route OpenSSH would take (``HostName``, ``ProxyJump``,
``ProxyCommand``). A route harden cannot follow is shown as refused with the reason. No secret is
printed (only whether a password is set). Results on stdout (a table, or ``--json``); exit 2
when the inventory cannot be read.

Example::

    harden hosts inventory.ini --limit web --json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hardening.ansible_args import ansible_options
from hardening.cli_options import inventory_argument, limit_option, load_targets, vault_option
from hardening.console import Console
from hardening.inventory import Connection, Target
from hardening.report.text import terminal_safe


def describe(target: Target) -> dict[str, Any]:
    """What harden will use for ``target`` (JSON-ready, no secrets)."""
    out: dict[str, Any] = {
        "name": target.name,
        "connection": target.connection.value,
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "key_file": target.key_file,
        "password_set": target.password is not None,
        "become": target.become,
        "become_user": target.become_user if target.become else None,
        "host_key_checking": target.host_key_checking,
        "known_hosts": target.known_hosts,
    }
    if target.connection is Connection.SSH:
        from hardening.transport.sshroute import RouteError, resolve_route

        try:
            route = resolve_route(target.host, target.port, target.user, target.key_file, target.ssh_args)
        except RouteError as exc:
            out["route"] = {"refused": str(exc)}
        else:
            out["route"] = {
                "host": route.host,
                "port": route.port,
                "user": route.user,
                "key_files": list(route.key_files),
                "jumps": [str(h) for h in route.jumps],
                "proxy_command": route.proxy_command,
                "summary": route.describe(),
            }
    return out


def _line(d: dict[str, Any]) -> str:
    route = d.get("route") or {}
    if "refused" in route:
        return terminal_safe(f"{d['name']}  {d['connection']}  REFUSED: {route['refused']}")
    where = route.get("summary") or f"{d['host']}:{d['port'] or '-'}"
    user = route.get("user") or d["user"] or "-"
    become = f" become={d['become_user']}" if d["become"] else ""
    checking = "" if d["host_key_checking"] else " host-key-checking=off"
    return terminal_safe(f"{d['name']}  {d['connection']}  {user}@{where}{become}{checking}")


@click.command("hosts")
@ansible_options
@inventory_argument
@limit_option
@vault_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per host, in a list.")
def hosts_cmd(inventory: Path, limit: str | None, vault_password_file: Path | None, as_json: bool) -> None:
    """Show how each inventory host will be reached (nothing connects)."""
    targets = load_targets(inventory, limit, vault_password_file, Console.for_stream())
    rows = [describe(t) for t in targets]
    if as_json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for row in rows:
        click.echo(_line(row))
