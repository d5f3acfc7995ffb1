"""``harden hunt`` and ``harden verify`` (added to the CLI group in hardening/cli.py).

Exit codes: hunt 1 on any (unsuppressed) high detection; verify 1 on any open callback the
host's policy does not permit (``harden_egress_allow``, or port 53 to ``harden_dns_resolvers``:
"open (policy)");
both 2 on bad input and 3 when some host was not reached (and nothing worse was found).

Example::

    harden hunt inventory.ini --out reports/hunt --suppress suppress.yaml --max-output 64
    harden hunt inventory.ini --watch 5m --interval 2
    harden verify inventory.ini --out reports/verify --ports 4444,443

The work lives beside its code (:func:`hardening.hunt.run.run_hunt`,
:func:`hardening.hunt.verify.run_verify`); these commands parse options, print and map
outcomes to exit codes.
"""

from __future__ import annotations

import sys
import threading
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
    from collections.abc import Sequence

    from hardening.console import Console
    from hardening.hunt.incident import Incident
    from hardening.hunt.run import HostHunt, HuntRun
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
@click.option(
    "--watch",
    "watch",
    metavar="DURATION",
    help="Sample every host repeatedly for DURATION (120, 90s, 5m; at most 1h) in one session, to see "
    "transient shells, beacons and long-lived quiet sessions. Linux hosts only.",
)
@click.option(
    "--interval",
    type=int,
    metavar="S",
    help="Seconds between samples with --watch (default 2, at least 1).",
)
@click.option(
    "--baseline",
    "baseline_dir",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Report what is new on each host since the hunts recorded in DIR (one file per host, created on the "
    "first run) and learn this hunt into it; raises or lowers a detection by whether the host showed it before.",
)
@click.option(
    "--baseline-readonly",
    is_flag=True,
    help="With --baseline: compare only, learn nothing (the baseline files are not written).",
)
@click.option(
    "--baseline-learn-incidents",
    is_flag=True,
    help="With --baseline: learn also what the processes of high incidents showed (withheld by default).",
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
    watch: str | None,
    interval: int | None,
    baseline_dir: Path | None,
    baseline_readonly: bool,
    baseline_learn_incidents: bool,
) -> None:
    """Snapshot processes and sockets on every host of INVENTORY (or sample them with --watch); score live
    reverse shells and group them into incidents."""
    from hardening.console import Console
    from hardening.hunt.run import BaselineOptions, HuntOptions, run_hunt
    from hardening.hunt.suppress import SuppressionError, load_suppressions
    from hardening.hunt.watch import WatchError, watch_spec

    ui = Console.for_stream(sys.stderr)
    try:
        rules = load_suppressions(suppress_file) if suppress_file else ()
        if interval is not None and watch is None:
            raise WatchError("--interval needs --watch")
        spec = watch_spec(watch, interval, max_output) if watch is not None else None
    except (SuppressionError, WatchError) as exc:
        ui.error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    if (baseline_readonly or baseline_learn_incidents) and baseline_dir is None:
        ui.error("--baseline-readonly and --baseline-learn-incidents need --baseline DIR")
        sys.exit(EXIT_BAD_INPUT)
    if baseline_readonly and baseline_learn_incidents:
        ui.error("--baseline-readonly learns nothing: it cannot be combined with --baseline-learn-incidents")
        sys.exit(EXIT_BAD_INPUT)
    base = (
        BaselineOptions(baseline_dir, learn=not baseline_readonly, learn_incidents=baseline_learn_incidents)
        if baseline_dir is not None
        else None
    )
    targets = load_targets(inventory, limit, vault_password_file, ui)
    kh = str(known_hosts) if known_hosts else None
    options = HuntOptions(
        forks=forks, timeout=timeout, known_hosts=kh, max_output=max_output, watch=spec, baseline=base
    )
    with _WatchProgress(ui, spec.duration if spec else 0, len(targets), forks):
        run = run_hunt(targets, options, rules, str(inventory), out_dir or _default_out("hunt"))
    _print_hunt(Console.for_stream(sys.stdout), run)  # results on stdout
    _print_warnings(ui, run)  # what the hunt could not see: stderr, with the progress
    if run.high:
        sys.exit(EXIT_FAILING)
    sys.exit(EXIT_INCOMPLETE if run.not_reached else EXIT_CLEAN)


def _s(n: int) -> str:
    return "" if n == 1 else "s"


class _WatchProgress:
    """A line on stderr every little while during a long watch (``watching 4 hosts: 30 s of 120 s``)."""

    def __init__(self, ui: Console, duration: int, hosts: int, forks: int) -> None:
        self.ui, self.duration, self.hosts = ui, duration, hosts
        self.rounds = max(1, -(-hosts // max(1, forks)))  # hosts beyond --forks wait for a free worker
        self.every = min(30.0, max(5.0, duration / 10))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hunt-watch-progress", daemon=True)

    def _run(self) -> None:
        import time

        started = time.monotonic()
        total = self.duration * self.rounds
        while not self.stop.wait(self.every):
            elapsed = int(time.monotonic() - started)
            self.ui.info(f"harden hunt --watch: {self.hosts} host{_s(self.hosts)}, {elapsed} s of about {total} s")

    def __enter__(self) -> _WatchProgress:
        if self.duration >= 20:
            self.ui.info(
                f"harden hunt --watch: sampling {self.hosts} host{_s(self.hosts)} for {self.duration} s"
                + (f" ({self.rounds} rounds of --forks hosts)" if self.rounds > 1 else "")
            )
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2)


TABLE_WIDTH = 100  # the incident table never gets wider than this


def _remote_cell(i: Incident) -> str:
    from hardening.console import safe

    if not i.remotes:
        return "-"
    return safe(i.remotes[0], 60) + (f" +{len(i.remotes) - 1}" if len(i.remotes) > 1 else "")


def _seen_cell(i: Incident, samples: int) -> str:
    """``3/60`` (samples that saw it, of all), ``3/60 4x`` for a recurring incident of 4 occurrences."""
    return f"{i.seen.count}/{samples}" + (f" {i.occurrences}x" if i.occurrences > 1 else "")


def incident_table(run: HuntRun) -> Table:
    """One row per incident (hosts not hunted: one row with the reason), at most TABLE_WIDTH columns.

    The container column appears when some incident has one; the seen column with --watch.
    """
    from rich import box

    from hardening.console import safe
    from hardening.model import HostStatus

    watch = any(h.watch is not None for h in run.hosts)
    containers = any(i.container for h in run.hosts for i in h.incidents)
    table = Table(title="harden hunt", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    widths = {"host": 14, "incident": 10, "tier": 6, "process tree": 0, "remote": 21}
    if containers:
        widths["host"], widths["remote"], widths["container"] = 12, 17, 12
    if watch:
        widths["seen"] = 9
    # the process tree gets what is left: padding and the table's edges cost about 2 per column
    widths["process tree"] = TABLE_WIDTH - sum(widths.values()) - (2 * len(widths) - 3)
    for name, width in widths.items():
        table.add_column(name, max_width=width, overflow="ellipsis", no_wrap=True)
    for h in run.hosts:
        host = Text(safe(h.name, 40))
        if h.status is not HostStatus.OK:
            why = Text(h.status.value, style="yellow") + Text(": " + safe(h.message, 200))
            table.add_row(host, "-", "", why, *[""] * (len(widths) - 4))
        for i in h.incidents:
            row = [
                host,
                Text(i.id),
                Text(i.severity.value, style=_TIER_STYLE[i.severity.value]),
                Text(safe(i.tree, 80)),
                Text(_remote_cell(i)),
            ]
            if containers:
                row.append(Text(safe(i.container, 40)))
            if watch and h.watch is not None:
                row.append(Text(_seen_cell(i, h.watch.samples)))
            elif watch:
                row.append(Text(""))
            table.add_row(*row)
    return table


DRIFT_SHOWN = 12  # new items listed per host in the drift table (hunt.json has them all)


def drift_table(run: HuntRun) -> Table:
    """Per host: the baseline's state (created, missing, error: why) or one row per new item (at most
    :data:`DRIFT_SHOWN`, then ``+N more``), at most TABLE_WIDTH columns."""
    from rich import box

    from hardening.console import safe

    table = Table(title="drift since baseline", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name, low, width in (("host", 8, 14), ("hunts", 5, 5), ("category", 8, 10), ("new", 20, 62)):
        table.add_column(name, min_width=low, max_width=width, overflow="ellipsis", no_wrap=True)
    for h in run.hosts:
        d = h.drift
        if d is None:
            continue
        host = Text(safe(h.name, 40))
        if d.status.value != "compared":
            style = "yellow" if d.status.value in ("error", "missing") else "dim"
            table.add_row(host, str(d.hunts), Text(d.status.value, style=style), Text(safe(d.message, 200)))
            continue
        if not d.new:
            table.add_row(host, str(d.hunts), "-", Text("nothing new", style="green"))
        for item in d.new[:DRIFT_SHOWN]:
            table.add_row(host, str(d.hunts), item.category, Text(safe(item.key, 200), style="bold"))
        if len(d.new) > DRIFT_SHOWN:
            table.add_row(host, str(d.hunts), "", f"+{len(d.new) - DRIFT_SHOWN} more (hunt.json)")
        if d.withheld:
            table.add_row(host, "", "withheld", f"{len(d.withheld)} items of high incidents not learned")
    return table


def _when(i: Incident) -> str:
    """``22:07:01-22:07:31 `` (host times, UTC) of an incident's first and last sample, or ""."""
    if i.seen.first is None or i.seen.last is None:
        return ""
    first, last = (datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S") for t in (i.seen.first, i.seen.last))
    return f"{first}-{last} "


def _print_hunt(ui: Console, run: HuntRun) -> None:
    """The incident table, each incident's strongest reason, why each host not hunted was not, and the
    summary line (host text made terminal-safe); the warnings go to stderr (:func:`_print_warnings`)."""
    from hardening.console import safe
    from hardening.model import HostStatus

    width = min(TABLE_WIDTH, ui.rich.width) if ui.interactive else TABLE_WIDTH
    ui.rich.print(incident_table(run), width=width)
    for h in run.hosts:
        for i in h.incidents:
            ui.info(safe(f"{i.id} {_when(i) if h.watch else ''}{i.reasons[0]}", TABLE_WIDTH - 3))
    _print_persistence(ui, run, width)
    for h in run.hosts:
        if h.status is not HostStatus.OK:
            ui.line(Text(f"{safe(h.name, 40)}: {h.status.value}: ", style="yellow") + Text(safe(h.message, 600)))
    if any(h.drift is not None for h in run.hosts):
        ui.rich.print(drift_table(run), width=width)
    total = sum(len(h.detections) for h in run.hosts)
    incidents = sum(len(h.incidents) for h in run.hosts)
    hidden = sum(len(h.suppressed) for h in run.hosts)
    ui.info(
        f"{len(run.hosts)} hosts, {incidents} incidents from {total} detections ({hidden} suppressed)"
        f"{host_time_note(run.hosts)}; results: {run.path}"
    )


PERSISTENCE_SHOWN = 20  # rows of the persistence table per run; hunt.json has every entry


def persistence_table(run: HuntRun) -> Table | None:
    """One row per high or medium persistence entry (at most PERSISTENCE_SHOWN), None when there is none:
    package-owned and ordinary entries stay in hunt.json."""
    from rich import box

    from hardening.console import safe
    from hardening.hunt.model import Tier

    rows = [
        (h.name, f)
        for h in run.hosts
        if h.persistence is not None
        for f in h.persistence.findings
        if f.tier in (Tier.HIGH, Tier.MEDIUM)
    ]
    if not rows:
        return None
    table = Table(title="persistence", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    widths = {"host": 14, "tier": 6, "kind": 15, "path": 30, "why": 0}
    widths["why"] = TABLE_WIDTH - sum(widths.values()) - (2 * len(widths) - 3)
    for name, width in widths.items():
        table.add_column(name, max_width=width, overflow="ellipsis", no_wrap=True)
    for host, f in rows[:PERSISTENCE_SHOWN]:
        tier = f.tier.value if f.tier else "info"
        line = f":{f.entry.lines[0][0]}" if f.entry.lines else ""
        table.add_row(
            Text(safe(host, 40)),
            Text(tier, style=_TIER_STYLE.get(tier, "")),
            Text(f.entry.kind),
            Text(safe(f.entry.path + line, 200)),
            Text(safe(f.reasons[0] if f.reasons else "", 200)),
        )
    if len(rows) > PERSISTENCE_SHOWN:
        table.caption = f"{len(rows) - PERSISTENCE_SHOWN} more in hunt.json"
    return table


def _print_persistence(ui: Console, run: HuntRun, width: int) -> None:
    """The persistence table (high and medium entries), and one line per host with the rest counted."""
    from hardening.console import safe
    from hardening.hunt.model import Tier

    table = persistence_table(run)
    if table is not None:
        ui.rich.print(table, width=width)
    for h in run.hosts:
        p = h.persistence
        if p is None or not p.read:
            continue
        files = sum(c.files for c in p.counts.values())
        low = sum(1 for f in p.findings if f.tier is Tier.LOW)
        state = "" if p.complete else " (INCOMPLETE: see the warnings)"
        ui.info(
            safe(
                f"{h.name}: persistence: {files} files read{state}, "
                + ", ".join(f"{sum(1 for f in p.findings if f.tier is t)} {t.value}" for t in (Tier.HIGH, Tier.MEDIUM))
                + f", {low} low (in hunt.json)",
                TABLE_WIDTH * 2,
            )
        )


def host_time_note(hosts: Sequence[HostHunt]) -> str:
    """``, host side 92 ms per snapshot`` (the median over hosts of the collector's own run time on
    the host per snapshot; ``host_seconds`` / ``samples`` in hunt.json), or "" when no host says.

    >>> from hardening.hunt.run import HostHunt
    >>> from hardening.model import HostStatus, Platform
    >>> host_time_note([HostHunt("a", "a", Platform.LINUX, HostStatus.OK, samples=6, host_seconds=0.55)])
    ', host side 92 ms per snapshot'
    """
    per = sorted(h.host_seconds / h.samples for h in hosts if h.host_seconds is not None and h.samples)
    if not per:
        return ""
    median = per[len(per) // 2] if len(per) % 2 else (per[len(per) // 2 - 1] + per[len(per) // 2]) / 2
    return f", host side {median * 1000:.0f} ms per snapshot" + (" (median of hosts)" if len(per) > 1 else "")


def _print_warnings(ui: Console, run: HuntRun) -> None:
    """Every host's warnings (also in hunt.json): what the hunt could not see is never silent."""
    from hardening.console import safe

    for h in run.hosts:
        for w in h.warnings:
            ui.line(Text("warning: ", style="yellow") + Text(f"{safe(h.name, 40)}: {safe(w, 600)}"))


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
