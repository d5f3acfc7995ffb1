"""``harden allowlist``: read each host's evidence, propose its egress allowlist, write the proposal.

One round trip per host (configuration files and a short watch of its connections, see
:mod:`hardening.allowlist.collect`) through the transport registry (:mod:`hardening.transport`),
worked on by the fleet runner (:mod:`hardening.fleet`); then on the controller: names resolved,
hosts merged per inventory group (:mod:`hardening.allowlist.propose`), and written as reviewable
files. Nothing is applied.

Example::

    options = AllowlistOptions(forks=10, timeout=60)
    hosts = allowlist_fleet(targets, watch=3, options=options, resolve=resolver(True))
    write_proposal(Path("proposal"), hosts, __version__)
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from hardening.allowlist.collect import new_allowlist_collector, parse_evidence
from hardening.allowlist.propose import Proposal, merge, propose_host, render_vars
from hardening.facts.sections import FactError, parse_sections
from hardening.fleet import run_fleet_ordered
from hardening.hostnames import file_safe
from hardening.inventory import Target
from hardening.redact import redact_host
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, TransportError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], tuple[IPAddress, ...]]


@dataclass(frozen=True)
class AllowlistOptions:
    forks: int = 10
    timeout: float = 60.0  # per host, plus the watch
    known_hosts: str | None = None
    max_output: int = MAX_OUTPUT


@dataclass(frozen=True)
class HostAllowlist:
    name: str
    groups: tuple[str, ...]
    ok: bool
    message: str
    proposal: Proposal | None = None
    warnings: tuple[str, ...] = ()


def resolver(enabled: bool) -> Resolve:
    """Name -> addresses with the controller's resolver (cached; bounded to 16 addresses)."""

    @cache
    def resolve(name: str) -> tuple[IPAddress, ...]:
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


def allowlist_host(target: Target, samples: int, options: AllowlistOptions, resolve: Resolve) -> HostAllowlist:
    """One host: run the collector, parse, propose; the host's passwords blanked in all it said
    (:func:`hardening.redact.redact_host`). A host problem is data, never an exception."""
    result = _allowlist_host(target, samples, options, resolve)
    return redact_host(result, target.secrets, keep=frozenset({"name", "groups"}))


def _allowlist_host(target: Target, samples: int, options: AllowlistOptions, resolve: Resolve) -> HostAllowlist:
    groups = tuple(
        g for g in (target.variables.get("group_names") or []) if isinstance(g, str) and g not in ("all", "ungrouped")
    )
    if target.connection.is_windows:
        return HostAllowlist(target.name, groups, False, "Windows hosts are not supported by harden allowlist yet")
    collector = new_allowlist_collector(samples)
    try:
        run = run_script(target, collector.script, replace(options, timeout=options.timeout + samples))
        evidence = parse_evidence(parse_sections(run.stdout, collector.nonce), samples)
    except TransportError as exc:
        return HostAllowlist(target.name, groups, False, str(exc))
    except FactError as exc:
        return HostAllowlist(target.name, groups, False, f"unreadable collector output: {exc}")
    proposal = propose_host(target.name, evidence.needs, evidence.suspicious, resolve)
    return HostAllowlist(target.name, groups, True, "", proposal, evidence.warnings)


def write_proposal(out_dir: Path, hosts: Sequence[HostAllowlist], version: str) -> list[Path]:
    """group_vars, host_vars and allowlist.json under ``out_dir`` (file names from plain names only)."""
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


def allowlist_fleet(
    targets: Iterable[Target],
    watch: int,
    options: AllowlistOptions,
    resolve: Resolve,
    on_done: Callable[[HostAllowlist], None] | None = None,
) -> list[HostAllowlist]:
    """Every host's proposal, at most ``options.forks`` at once; in inventory order (``on_done`` too)."""
    return run_fleet_ordered(
        targets, lambda t: allowlist_host(t, watch, options, resolve), options.forks, on_done, "allowlist"
    )
