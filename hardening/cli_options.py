"""Options shared by the commands that take an inventory (audit, collect, hunt, verify, apply, judge, allowlist).

One definition each, so every command spells, defaults and documents them the same way.

Example::

    @click.command()
    @inventory_argument
    @limit_option
    @timeout_option()
    def cmd(inventory: Path, limit: str | None, timeout: float) -> None: ...
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hardening.model import Severity
from hardening.results import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from hardening.console import Console
    from hardening.inventory import Target

F = TypeVar("F", bound=Callable[..., Any])

SEVERITIES = [s.value for s in Severity]

inventory_argument = click.argument("inventory", type=click.Path(path_type=Path, dir_okay=True))

limit_option = click.option(
    "--limit", "-l", metavar="PATTERN", help="Ansible host pattern: only these hosts (as ansible --limit)."
)

forks_option = click.option(
    "--forks", "-f", type=click.IntRange(1, 200), default=10, show_default=True, help="Hosts worked on at once."
)

known_hosts_option = click.option(
    "--known-hosts",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="known_hosts file for host key verification (default: ~/.ssh/known_hosts).",
)

vault_option = click.option(
    "--vault-password-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Password file for vault-encrypted inventory values.",
)

fail_on_option = click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="high",
    show_default=True,
    help="Exit 1 when a check at or above this severity fails.",
)


MIB = 1024 * 1024


def _mib_to_bytes(ctx: click.Context, param: click.Parameter, value: int) -> int:
    return value * MIB


max_output_option = click.option(
    "--max-output",
    type=click.IntRange(1, 4096),
    default=32,  # hardening.transport.base.MAX_OUTPUT
    show_default=True,
    metavar="MIB",
    callback=_mib_to_bytes,
    help="Most output a host may send (MiB); a host that sends more gets status error.",
)
"""``--max-output MIB`` (audit, hunt, verify): the command receives the cap in bytes."""


def timeout_option(help: str = "Seconds per host for connect, authentication and the collector.") -> Callable[[F], F]:
    return click.option("--timeout", "-T", type=click.FloatRange(1, 3600), default=60.0, show_default=True, help=help)


def out_dir_option(help: str = "Output directory (default: reports/<timestamp>/).") -> Callable[[F], F]:
    return click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path, file_okay=False), help=help)


# Report options (audit, judge, report).
FORMATS = ("html", "json", "junit", "sarif", "md")
DEFAULT_FORMATS = ("html", "json")


def parse_formats(value: str) -> tuple[str, ...]:
    """``"html,json"`` -> ``("html", "json")``; ``"all"`` -> every format. Raises ValueError."""
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    if names == ["all"]:
        return FORMATS
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ValueError(f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(FORMATS)} or all")
    return tuple(dict.fromkeys(names))


def _formats_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_formats(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def format_option(default: tuple[str, ...] = DEFAULT_FORMATS) -> click.Option:  # type: ignore[valid-type]
    return click.option(
        "--format",
        "formats",
        default=",".join(default),
        show_default=True,
        callback=_formats_option,
        help=f"Comma-separated report formats: {', '.join(FORMATS)} (or all).",
    )


waivers_option = click.option(
    "--waivers",
    "waivers_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML waivers file (check, hosts, justification, expires, by); see docs/report.md.",
)
framework_option = click.option(
    "--framework",
    metavar="NAME",
    help="Group the report by this framework's requirements (nist-800-53, cis-debian-12, mitre-attack).",
)


def load_targets(inventory: Path, limit: str | None, vault_password_file: Path | None, ui: Console) -> list[Target]:
    """The inventory's hosts (``--limit``); exit 2 when it cannot be read or has none."""
    from hardening.inventory import InventoryError, load_inventory

    try:
        targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    except InventoryError as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    if not targets:
        ui.error(f"{inventory}: no hosts in inventory")
        sys.exit(EXIT_BAD_INPUT)
    return targets
