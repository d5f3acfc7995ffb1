"""``harden allowlist INVENTORY --out DIR``: a proposed egress allowlist from each host's evidence.

One round trip per host (configuration files and a short watch of its connections, see
:mod:`hardening.allowlist.collect`), then on the controller: names resolved, hosts merged per
inventory group, and written as reviewable files. Nothing is applied.

Output: ``DIR/group_vars/<group>.yml`` and ``DIR/host_vars/<host>.yml`` (``harden_dns_resolvers``
and ``harden_egress_allow``, one comment per entry), ``DIR/allowlist.json`` (all evidence,
suspicious connections, unresolved names). Exit 0 when every host was read, 3 when some
host could not be, 2 on bad input. The work is :mod:`hardening.allowlist.run`'s; this command
parses options, prints and maps the outcome to an exit code.

Example::

    harden allowlist inventory.ini --out proposal --watch 5
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hardening.ansible_args import ansible_options
from hardening.cli_options import (
    forks_option,
    inventory_argument,
    known_hosts_option,
    limit_option,
    load_targets,
    timeout_option,
    vault_option,
)
from hardening.results import EXIT_CLEAN, EXIT_INCOMPLETE

if TYPE_CHECKING:
    from hardening.allowlist.run import HostAllowlist
    from hardening.console import Console


@click.command("allowlist")
@ansible_options
@inventory_argument
@limit_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory for group_vars/, host_vars/ and allowlist.json (nothing is applied).",
)
@click.option(
    "--watch",
    type=click.IntRange(1, 30),
    default=3,
    show_default=True,
    help="Seconds the host's outbound connections are watched (one sample a second).",
)
@click.option("--no-resolve", is_flag=True, help="Do not resolve host names on the controller (list them apart).")
@forks_option
@timeout_option()
@known_hosts_option
@vault_option
def allowlist_cmd(
    inventory: Path,
    limit: str | None,
    out_dir: Path,
    watch: int,
    no_resolve: bool,
    forks: int,
    timeout: float,
    known_hosts: Path | None,
    vault_password_file: Path | None,
) -> None:
    """Propose harden_egress_allow and harden_dns_resolvers for INVENTORY's hosts from their evidence."""
    from hardening import __version__
    from hardening.allowlist.run import AllowlistOptions, allowlist_fleet, resolver, write_proposal
    from hardening.console import Console, safe

    ui = Console.for_stream(sys.stderr)
    targets = load_targets(inventory, limit, vault_password_file, ui)
    options = AllowlistOptions(forks=forks, timeout=timeout, known_hosts=str(known_hosts) if known_hosts else None)
    started = time.monotonic()
    ui.info(f"reading {len(targets)} hosts (configuration and a {watch} s watch of their connections) ...")

    def done(h: HostAllowlist) -> None:
        state = "ok" if h.ok else f"not read: {safe(h.message, 200)}"
        ui.info(f"  {safe(h.name, 60)}: {state}")

    hosts = allowlist_fleet(targets, watch, options, resolver(not no_resolve), done)
    written = write_proposal(out_dir, hosts, __version__)
    out = Console.for_stream(sys.stdout)  # the proposal on stdout; progress above on stderr
    _print_summary(out, hosts)
    out.info(
        f"proposal written in {time.monotonic() - started:.1f} s: {out_dir} ({len(written)} files). REVIEW it, then"
    )
    out.info("copy what you accept into your inventory's group_vars/ (nothing was applied).")
    sys.exit(EXIT_CLEAN if all(h.ok for h in hosts) else EXIT_INCOMPLETE)


def _print_summary(ui: Console, hosts: list[HostAllowlist]) -> None:
    """One line per host read: what was proposed, what was held back."""
    from hardening.console import safe

    for h in hosts:
        p = h.proposal
        if p is None:
            continue
        ui.info(
            f"{safe(h.name, 60)}: {len(p.resolvers)} resolvers, {len(p.entries)} destinations proposed, "
            f"{len(p.suspicious)} suspicious (not proposed), {len(p.unresolved)} unresolved"
        )
