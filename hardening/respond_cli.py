"""``harden respond``: suspend, kill or isolate the processes of one live incident (added to the CLI
group in hardening/cli.py). See :mod:`hardening.respond` for the order of steps and docs/hunt.md.

Exit codes: 0 the action was done on every live process of the incident; 1 the action ran but
did not take for every process (or isolation was refused on the host); 2 refused before acting
(bad input, no recent hunt, incident not live, not confirmed); 3 the host could not be reached.

Example::

    harden hunt inventory.ini --out reports/h1
    harden respond inventory.ini web1 --incident i-8a629f93 --action kill --out reports/h1
    harden respond inventory.ini web1 --undo-isolate i-8a629f93 --out reports/h1
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from hardening.ansible_args import ansible_options
from hardening.cli_options import (
    MIB,
    inventory_argument,
    known_hosts_option,
    max_output_option,
    out_dir_option,
    timeout_option,
    vault_option,
)
from hardening.results import EXIT_BAD_INPUT, EXIT_CLEAN, EXIT_FAILING

if TYPE_CHECKING:
    from hardening.console import Console
    from hardening.inventory import Target
    from hardening.respond.model import Action, ProcessRef
    from hardening.respond.run import Live, Outcome, RespondOptions


def _refuse(ui: Console, message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    ui.error(message)
    sys.exit(code)


def _target(ui: Console, inventory: Path, host: str, vault: Path | None) -> Target:
    from hardening.inventory import InventoryError, load_inventory

    try:
        targets = [t for t in load_inventory(inventory, limit=host, vault_password_file=vault) if t.name == host]
    except InventoryError as exc:
        _refuse(ui, str(exc))
    if len(targets) != 1:
        _refuse(ui, f"{inventory}: no host named {host!r} (name one inventory host exactly)")
    return targets[0]


@click.command("respond")
@ansible_options
@inventory_argument
@click.argument("host")
@click.option("--incident", "incident_id", metavar="ID", help="The incident (i-xxxxxxxx) of a recent harden hunt.")
@click.option(
    "--action",
    type=click.Choice(["suspend", "kill", "isolate-process"]),
    help="suspend: SIGSTOP its processes; kill: SIGKILL them; isolate-process: drop their traffic (Linux, nft).",
)
@click.option(
    "--undo-isolate",
    "undo_id",
    metavar="ID",
    help="Remove the isolation of incident ID (its nft chains, its cgroup) instead of acting.",
)
@click.option(
    "--from",
    "from_path",
    type=click.Path(path_type=Path, exists=True),
    help="The hunt.json (or its directory) the incident comes from (default: --out's, else the newest "
    "reports/hunt-*/hunt.json).",
)
@out_dir_option("Where hunt.json is and respond/ is written (default: the directory of the hunt.json used).")
@click.option(
    "--max-age",
    type=click.FloatRange(0.1, 24 * 60),
    default=15.0,
    show_default=True,
    metavar="MIN",
    help="The hunt must have finished at most this many minutes ago.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option(
    "--connections-only",
    is_flag=True,
    help="isolate-process without a cgroup (when the host refuses one): drop and destroy only the processes' "
    "existing connections; new ones are not blocked.",
)
@click.option(
    "--exe-copy-max",
    type=click.IntRange(0, 64),
    default=8,
    show_default=True,
    metavar="MIB",
    help="Copy executables up to this size into the evidence (0: hash only).",
)
@timeout_option()
@known_hosts_option
@vault_option
@max_output_option
def respond_cmd(
    inventory: Path,
    host: str,
    incident_id: str | None,
    action: str | None,
    undo_id: str | None,
    from_path: Path | None,
    out_dir: Path | None,
    max_age: float,
    yes: bool,
    connections_only: bool,
    exe_copy_max: int,
    timeout: float,
    known_hosts: Path | None,
    vault_password_file: Path | None,
    max_output: int,
) -> None:
    """Act on one live incident of HOST (an INVENTORY host) from a recent hunt: take evidence, then
    suspend, kill or isolate its processes, then hunt again to show the result."""
    from hardening.console import Console
    from hardening.respond.lookup import check_incident_id
    from hardening.respond.model import Action, RespondError
    from hardening.respond.run import RespondOptions

    ui = Console.for_stream(sys.stderr)
    options = RespondOptions(
        timeout=timeout,
        known_hosts=str(known_hosts) if known_hosts else None,
        max_output=max_output,
        exe_copy_max=exe_copy_max * MIB,
        connections_only=connections_only,
    )
    try:
        if undo_id is not None:
            if incident_id or action:
                raise RespondError("--undo-isolate takes no --incident or --action")
            check_incident_id(undo_id)
        else:
            if not incident_id or not action:
                raise RespondError(
                    "name the incident and what to do: --incident ID --action suspend|kill|isolate-process"
                )
            check_incident_id(incident_id)
            if connections_only and action != "isolate-process":
                raise RespondError("--connections-only goes with --action isolate-process")
    except RespondError as exc:
        _refuse(ui, str(exc))
    target = _target(ui, inventory, host, vault_password_file)
    if undo_id is not None:
        _undo(ui, target, undo_id, out_dir, from_path, yes, options)
    _respond(ui, target, incident_id or "", Action(action or ""), from_path, out_dir, max_age * 60, yes, options)


def _confirm(yes: bool, question: str) -> str:
    """ "" when confirmed (``--yes`` or a person said yes on the terminal), else why not."""
    if yes:
        return ""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return "not confirmed: no terminal to ask on; pass --yes to act without asking"
    if not click.confirm(question, default=False, err=True):
        return "not confirmed: nothing done"
    return ""


def _show_plan(
    ui: Console, target: Target, live: Live, refs: tuple[ProcessRef, ...], left: tuple[str, ...], action: str
) -> None:
    from hardening.console import safe

    inc = live.incident
    ui.info(f"host:     {safe(target.name, 80)} ({safe(target.host, 80)})")
    ui.info(f"incident: {inc.id} {inc.severity.value} {safe(inc.tree, 120)}")
    if inc.remotes:
        ui.info(f"remote:   {safe(', '.join(inc.remotes), 200)}")
    if inc.container:
        ui.info(f"container: {safe(inc.container, 80)}")
    ui.info(f"action:   {action} on {len(refs)} processes (root first):")
    for r in refs:
        ui.info(f"  {r.pid:>7} {r.role:<11} {safe(r.user, 16):<16} {safe(r.process, 24)}: {safe(r.cmdline, 90)}")
    for note in left:
        ui.info(f"  left out: {safe(note, 200)}")


def _respond(
    ui: Console,
    target: Target,
    incident_id: str,
    action: Action,
    from_path: Path | None,
    out_dir: Path | None,
    max_age: float,
    yes: bool,
    options: RespondOptions,
) -> NoReturn:
    from hardening.hunt.run import write_json
    from hardening.respond.lookup import find_recorded, hunt_json_path, load_hunt
    from hardening.respond.model import Action, RespondError
    from hardening.respond.plan import process_refs
    from hardening.respond.run import (
        IsolationRecord,
        act,
        collect_evidence,
        log_action,
        path_part,
        stamp,
        utc_now,
        verify_live,
        who,
    )

    started = utc_now()
    entry: dict[str, Any] = {
        "time": started.isoformat(timespec="seconds"),
        **who(target),
        "host": target.name,
        "incident": incident_id,
        "action": action.value,
    }
    try:
        path = hunt_json_path(from_path, out_dir)
    except RespondError as exc:
        _refuse(ui, str(exc))
    root = out_dir or path.parent
    log = root / "respond" / "actions.jsonl"

    def refused(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
        log_action(log, {**entry, "pids": [], "result": f"refused: {message}"})
        _refuse(ui, message, code)

    try:
        rec = find_recorded(load_hunt(path), path, target.name, incident_id, started, max_age)
        ui.info(f"{path}: incident {rec.id} ({rec.severity} {rec.tree}), hunted {rec.age_s / 60:.1f} min ago")
        live = verify_live(target, incident_id, options)
    except RespondError as exc:
        refused(str(exc))
    refs, left = process_refs(live.incident)
    if not refs:
        refused(f"incident {incident_id}: no process harden can act on safely ({'; '.join(left)})")
    _show_plan(ui, target, live, refs, left, action.value)
    why = _confirm(yes, f"{action.value} these {len(refs)} processes on {target.name}?")
    if why:
        refused(why)
    dest = root / "respond" / path_part(target.name) / incident_id / stamp(started)
    meta = {
        "schema": "harden.respond.evidence/v1",
        "host": target.name,
        "incident": incident_id,
        "hunt_json": str(path),
        "taken": utc_now().isoformat(timespec="seconds"),
        "action": action.value,
        **who(target),
    }
    try:
        evidence = collect_evidence(target, refs, options, dest, meta)
    except RespondError as exc:
        refused(f"evidence could not be taken, so nothing was done: {exc}", 3)
    entry["evidence"] = str(evidence.directory)
    ui.info(f"evidence: {evidence.directory} ({len(evidence.files)} files)")
    live_refs = tuple(r for r in refs if evidence.verdicts.get(r.pid) == "ok")
    if not live_refs:
        refused(f"none of the incident's processes is live any more ({dict(evidence.verdicts)}): nothing done")
    if action is Action.ISOLATE and options.connections_only and not evidence.flows:
        refused("--connections-only: the processes have no connection to drop (see the evidence): nothing done")
    try:
        outcome = act(target, action, live_refs, incident_id, evidence.flows, options)
    except RespondError as exc:
        log_action(log, {**entry, "pids": [r.pid for r in live_refs], "result": f"error: {exc}"})
        _refuse(ui, f"the action may not have run: {exc}", 3)
    if action is Action.ISOLATE:
        record = IsolationRecord.from_outcome(target.name, incident_id, outcome)
        if record is not None:
            write_json(evidence.directory / "isolation.json", record.json())
            write_json(root / "respond" / path_part(target.name) / incident_id / "isolation.json", record.json())
    entry.update(
        {
            "pids": [r.pid for r in live_refs],
            "result": "done"
            if outcome.ok
            else ("refused on the host: " + outcome.refused if outcome.refused else "partial"),
            "processes": [
                {"pid": p.pid, "result": p.result, "detail": p.detail, "after": p.after} for p in outcome.processes
            ],
            "isolation": dict(outcome.isolation),
        }
    )
    after = _after_hunt(target, incident_id, options)
    entry["after"] = after
    log_action(log, entry)
    _print_outcome(ui, outcome, after)
    ui.info(f"logged: {log}")
    sys.exit(EXIT_CLEAN if outcome.ok else EXIT_FAILING)


def _after_hunt(target: Target, incident_id: str, options: RespondOptions) -> str:
    from hardening.hunt.run import hunt_host
    from hardening.model import HostStatus
    from hardening.respond.run import find_incident

    fresh = hunt_host(target, options.hunt())
    if fresh.status is not HostStatus.OK:
        return f"hunt after: {fresh.status.value}: {fresh.message[:200]}"
    inc = find_incident(fresh, incident_id)
    if inc is None:
        return f"hunt after: incident {incident_id} no longer listed ({len(fresh.incidents)} incidents on the host)"
    remotes = ", ".join(inc.remotes) or "no connection"
    return f"hunt after: incident {incident_id} still listed ({inc.tree}; {remotes})"


def _print_outcome(ui: Console, outcome: Outcome, after: str) -> None:
    from hardening.console import Console, safe

    out = Console.for_stream(sys.stdout)
    for line in outcome.isolate_lines:
        out.info(f"isolate: {safe(line, 300)}")
    for p in outcome.processes:
        detail = f" ({safe(p.detail, 100)})" if p.detail else ""
        out.info(f"{p.pid:>7} {p.result}{detail}; now: {p.after or '?'}")
    if outcome.refused:
        ui.error(f"isolation refused on the host: {outcome.refused}")
    out.info(safe(after, 300))


def _undo(
    ui: Console,
    target: Target,
    undo_id: str,
    out_dir: Path | None,
    from_path: Path | None,
    yes: bool,
    options: RespondOptions,
) -> NoReturn:
    from hardening.respond.lookup import hunt_json_path
    from hardening.respond.model import RespondError
    from hardening.respond.run import IsolationRecord, log_action, path_part, undo_isolation, utc_now, who

    try:
        root = out_dir or hunt_json_path(from_path, None).parent
        record = IsolationRecord.load(root / "respond" / path_part(target.name) / undo_id / "isolation.json")
        if record.host != target.name or record.incident != undo_id:
            raise RespondError("the isolation record names another host or incident")
    except RespondError as exc:
        _refuse(ui, str(exc))
    ui.info(
        f"undo isolation of {undo_id} on {target.name}: "
        f"netns net:[{record.netns_inode}], cgroup {record.cgroup_dir or '-'}"
    )
    why = _confirm(yes, f"remove the isolation of {undo_id} on {target.name}?")
    if why:
        _refuse(ui, why)
    entry = {
        "time": utc_now().isoformat(timespec="seconds"),
        **who(target),
        "host": target.name,
        "incident": undo_id,
        "action": "undo-isolate",
        "pids": [],
    }
    log = root / "respond" / "actions.jsonl"
    try:
        lines = undo_isolation(target, record, options)
    except RespondError as exc:
        log_action(log, {**entry, "result": f"error: {exc}"})
        _refuse(ui, str(exc), 3)
    log_action(log, {**entry, "result": "; ".join(lines) or "nothing to remove"})
    for line in lines:
        click.echo(line.replace("\t", ": "))
    sys.exit(EXIT_CLEAN)
