"""``harden allowlist INVENTORY --out DIR``: a proposed egress allowlist from each host's evidence.

One round trip per host (configuration files and a short watch of its connections, see
:mod:`hardening.allowlist.collect`), then on the controller: names resolved, hosts merged per
inventory group, and written as reviewable files. Nothing is applied.

Output: ``DIR/group_vars/<group>.yml`` and ``DIR/host_vars/<host>.yml`` (``harden_dns_resolvers``
and ``harden_egress_allow``, one comment per entry), ``DIR/allowlist.json`` (all evidence,
suspicious connections, unresolved names). Exit 0 when every host was read, 3 when some
host could not be, 2 on bad input.

Example::

    harden allowlist inventory.ini --out proposal --watch 5
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hardening.cli_options import (
    forks_option,
    inventory_argument,
    known_hosts_option,
    limit_option,
    timeout_option,
    vault_option,
)
from hardening.results import EXIT_CLEAN, EXIT_INCOMPLETE

if TYPE_CHECKING:
    from hardening.allowlist.propose import Proposal


@dataclass(frozen=True)
class HostAllowlist:
    name: str
    groups: tuple[str, ...]
    ok: bool
    message: str
    proposal: Proposal | None = None
    warnings: tuple[str, ...] = ()


def _resolver(enabled: bool):
    """Name -> addresses with the controller's resolver (cached; bounded to 16 addresses)."""
    import ipaddress
    from functools import cache

    @cache
    def resolve(name: str) -> tuple:
        if not enabled:
            return ()
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return ()
        out = []
        for info in infos:
            try:
                addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            except ValueError:
                continue
            if addr not in out and not addr.is_loopback:
                out.append(addr)
        return tuple(out[:16])

    return resolve


def allowlist_host(target, samples: int, timeout: float, known_hosts: str | None, resolve) -> HostAllowlist:  # noqa: ANN001
    """One host: run the collector, parse, propose; the host's passwords blanked in all it said.
    A host problem is data, never an exception."""
    from hardening.redact import Redactor

    result = _allowlist_host(target, samples, timeout, known_hosts, resolve)
    return Redactor.of((target.password, target.become_password)).record(result, keep=frozenset({"name", "groups"}))


def _allowlist_host(target, samples: int, timeout: float, known_hosts: str | None, resolve) -> HostAllowlist:  # noqa: ANN001
    from hardening.allowlist.collect import new_allowlist_collector, parse_evidence
    from hardening.allowlist.propose import propose_host
    from hardening.facts.sections import FactError, parse_sections
    from hardening.hunt.run import HuntOptions, run_script
    from hardening.inventory import Connection
    from hardening.transport.base import TransportError

    groups = tuple(
        g for g in (target.variables.get("group_names") or []) if isinstance(g, str) and g not in ("all", "ungrouped")
    )
    if target.connection is Connection.WINRM:
        return HostAllowlist(target.name, groups, False, "Windows hosts are not supported by harden allowlist yet")
    collector = new_allowlist_collector(samples)
    try:
        run = run_script(target, collector.script, HuntOptions(timeout=timeout + samples, known_hosts=known_hosts))
        evidence = parse_evidence(parse_sections(run.stdout, collector.nonce), samples)
    except TransportError as exc:
        return HostAllowlist(target.name, groups, False, str(exc))
    except FactError as exc:
        return HostAllowlist(target.name, groups, False, f"unreadable collector output: {exc}")
    proposal = propose_host(target.name, evidence.needs, evidence.suspicious, resolve)
    return HostAllowlist(target.name, groups, True, "", proposal, evidence.warnings)


def write_proposal(out_dir: Path, hosts: Sequence[HostAllowlist], version: str) -> list[Path]:
    """group_vars, host_vars and allowlist.json under ``out_dir`` (file names from plain names only)."""
    from hardening.allowlist.propose import merge, render_vars
    from hardening.hostnames import file_safe

    written: list[Path] = []
    (out_dir / "group_vars").mkdir(parents=True, exist_ok=True)
    (out_dir / "host_vars").mkdir(parents=True, exist_ok=True)
    read = [h for h in hosts if h.ok and h.proposal is not None]
    for h in read:
        if file_safe(h.name):
            path = out_dir / "host_vars" / f"{h.name}.yml"
            path.write_text(render_vars(h.proposal, f"host {h.name}", version), encoding="utf-8")
            written.append(path)
    groups = sorted({g for h in read for g in h.groups})
    for g in [*groups, "all"]:
        members = [h.proposal for h in read if h.proposal is not None and (g == "all" or g in h.groups)]
        if members and file_safe(g):
            path = out_dir / "group_vars" / f"{g}.yml"
            path.write_text(render_vars(merge(members), f"group {g}", version), encoding="utf-8")
            written.append(path)
    doc = {
        "schema": "harden.allowlist/v1",
        "tool": {"name": "harden", "version": version},
        "hosts": [
            {
                "name": h.name,
                "groups": list(h.groups),
                "status": "ok" if h.ok else "error",
                "message": h.message,
                "warnings": list(h.warnings),
                "proposal": h.proposal.to_json() if h.proposal is not None else None,
            }
            for h in hosts
        ],
    }
    path = out_dir / "allowlist.json"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written


@click.command("allowlist")
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
    from hardening.console import Console, safe
    from hardening.hunt_cli import _targets

    ui = Console.for_stream(sys.stderr)
    targets = _targets(inventory, limit, vault_password_file, ui)
    resolve = _resolver(not no_resolve)
    kh = str(known_hosts) if known_hosts else None
    started = time.monotonic()
    ui.info(f"reading {len(targets)} hosts (configuration and a {watch} s watch of their connections) ...")
    with ThreadPoolExecutor(max_workers=forks, thread_name_prefix="allowlist") as pool:
        futures = [pool.submit(allowlist_host, t, watch, timeout, kh, resolve) for t in targets]
        hosts = []
        for fut in futures:
            h = fut.result()
            hosts.append(h)
            state = "ok" if h.ok else f"not read: {safe(h.message, 200)}"
            ui.info(f"  {safe(h.name, 60)}: {state}")
    written = write_proposal(out_dir, hosts, __version__)
    for h in hosts:
        p = h.proposal
        if p is None:
            continue
        ui.info(
            f"{safe(h.name, 60)}: {len(p.resolvers)} resolvers, {len(p.entries)} destinations proposed, "
            f"{len(p.suspicious)} suspicious (not proposed), {len(p.unresolved)} unresolved"
        )
    ui.info(
        f"proposal written in {time.monotonic() - started:.1f} s: {out_dir} ({len(written)} files). REVIEW it, then"
    )
    ui.info("copy what you accept into your inventory's group_vars/ (nothing was applied).")
    sys.exit(EXIT_CLEAN if all(h.ok for h in hosts) else EXIT_INCOMPLETE)
