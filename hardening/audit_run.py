"""One ``harden audit`` run: which hosts (``--resume``), stream each result, stop cleanly.

:func:`plan_audit` decides what to audit and where to write (a resumed run keeps the hosts
already in ``DIR/hosts.jsonl``); :func:`run_audit` audits them with the chosen engine
(:func:`hardening.audit.audit_fleet` or ansible-runner) and streams every result to the
:class:`~hardening.results.ResultsWriter` as it finishes. Ctrl-C or SIGTERM stops the run:
the hosts done so far are kept (``complete: false``) and the run says it was interrupted.

Example::

    plan = plan_audit(targets, out_dir=None, resume_dir=None, retry_failed=False)
    run = run_audit(plan, AuditSource(Path("inv.ini"), None, None), AuditOptions(forks=20), "native")
    print(run.path, run.interrupted, len(run.writer.hosts))
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hardening.model import HostResult, HostStatus
from hardening.results import ResultsWriter, read_streamed

if TYPE_CHECKING:
    from hardening.audit import AuditOptions
    from hardening.inventory import Target


class AuditPlanError(Exception):
    """The options cannot be combined (``--retry-failed`` without ``--resume``...): exit 2."""


def default_out() -> Path:
    """``reports/<UTC timestamp>``: where a run writes when not told."""
    return Path("reports") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class AuditPlan:
    """What a run audits, where it writes, and the results it keeps from a run it resumes."""

    targets: tuple[Target, ...]
    out_dir: Path
    previous: tuple[HostResult, ...] | None = None  # None: not a resumed run


def resume_split(
    previous: Sequence[HostResult], targets: Sequence[Target], retry_failed: bool
) -> tuple[list[HostResult], list[Target]]:
    """(results kept, targets still to audit) for ``--resume``: inventory hosts missing from
    ``previous`` are audited; with ``retry_failed`` also those not fully audited. Results of
    hosts no longer in the inventory (or outside ``--limit``) are dropped."""
    wanted = {t.name for t in targets}
    kept = [h for h in previous if h.name in wanted and (h.status is HostStatus.OK or not retry_failed)]
    done = {h.name for h in kept}
    return kept, [t for t in targets if t.name not in done]


def plan_audit(
    targets: Sequence[Target], out_dir: Path | None, resume_dir: Path | None, retry_failed: bool
) -> AuditPlan:
    """The run ``--out``, ``--resume`` and ``--retry-failed`` ask for; raises AuditPlanError."""
    if retry_failed and resume_dir is None:
        raise AuditPlanError("--retry-failed needs --resume DIR")
    if resume_dir is None:
        return AuditPlan(tuple(targets), out_dir or default_out())
    if out_dir is not None and out_dir.resolve() != resume_dir.resolve():
        raise AuditPlanError("--resume DIR writes into DIR: leave out --out")
    kept, todo = resume_split(read_streamed(resume_dir), targets, retry_failed)
    return AuditPlan(tuple(todo), resume_dir, tuple(kept))


@dataclass(frozen=True)
class AuditSource:
    """Where the hosts come from: the inventory (``--limit``, vault) an engine may read again."""

    inventory: Path
    limit: str | None
    vault_password_file: Path | None


@dataclass(frozen=True)
class AuditRun:
    """A finished (or interrupted) run: its closed writer and where results.json is."""

    writer: ResultsWriter
    path: Path
    interrupted: bool


def run_audit(
    plan: AuditPlan,
    source: AuditSource,
    options: AuditOptions,
    engine: str,
    on_start: Callable[[Target], None] | None = None,
    on_done: Callable[[HostResult], None] | None = None,
) -> AuditRun:
    """Audit ``plan``'s hosts with ``engine`` (native or ansible), streaming each result to
    ``plan.out_dir``; SIGTERM stops the run as Ctrl-C does (partial results, ``interrupted``)."""
    writer = ResultsWriter(plan.out_dir, inventory=str(source.inventory), limit=source.limit, previous=plan.previous)
    interrupted = False
    restore = signal.signal(signal.SIGTERM, _terminate)
    try:
        for result in _results(plan, source, options, engine, on_start):
            writer.add(result)
            if on_done:
                on_done(result)
        writer.complete = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, restore)
        path = writer.close()
    return AuditRun(writer, path, interrupted)


def _results(
    plan: AuditPlan,
    source: AuditSource,
    options: AuditOptions,
    engine: str,
    on_start: Callable[[Target], None] | None,
) -> Iterator[HostResult]:
    """Each host's result as it finishes, from the chosen engine."""
    if engine == "ansible":
        from hardening.engine_ansible import AnsibleRun, audit_fleet_ansible

        run = AnsibleRun(source.inventory, plan.targets, plan.out_dir / "ansible", options, source.vault_password_file)
        return audit_fleet_ansible(run)
    from hardening.audit import audit_fleet

    return audit_fleet(plan.targets, options, on_start=on_start)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM stops an audit as Ctrl-C does: partial results are written, exit 3."""
    raise KeyboardInterrupt
