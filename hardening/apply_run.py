"""One ``harden apply`` run: check mode, apply, then re-audit the hosts the playbooks changed.

The generated playbooks (``DIR/playbooks``, see ``harden remediate``) run through
:func:`hardening.apply.run_playbook` in ``DIR/apply/<timestamp>/``; the inventory's passwords
are blanked in ansible-runner's artifacts after each run (:func:`hardening.redact.scrub_files`).
The re-audit (:func:`reaudit`) writes ``DIR/apply/<timestamp>/after/results.json`` and says,
per check, what it was before and after.

Example::

    session = ApplySession.start(Path("reports/today"), Path("inv.ini"), limit=None)
    dry = session.run("check", check=True, redactor=redactor)
    after = reaudit(session, timeout=60)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hardening.apply import PlaybookRun, RunnerJob, run_playbook
from hardening.model import HostResult, HostStatus, Status
from hardening.redact import Redactor, scrub_files


class ApplyError(Exception):
    """Nothing can be applied as asked (no generated playbooks): exit 2."""


def planned_checks(directory: Path) -> dict[str, list[str]]:
    """{host: failed checks a role remediates} from ``DIR/playbooks/plan.json``; raises ApplyError."""
    playbooks = directory / "playbooks"
    plan_file = playbooks / "plan.json"
    if not (playbooks / "site.yml").is_file() or not plan_file.is_file():
        raise ApplyError(f"{playbooks}: no generated playbooks (run harden audit or harden remediate)")
    planned = json.loads(plan_file.read_text(encoding="utf-8"))
    return {h["name"]: h["failed_checks"] for h in planned.get("hosts", [])}


def inventory_redactor(inventory: Path, limit: str, vault_password_file: Path | None) -> Redactor:
    """A redactor of the hosts' passwords (SSH and become), read from the inventory as the re-audit
    will read it. Raises InventoryError."""
    from hardening.inventory import load_inventory

    targets = load_inventory(inventory, limit=limit, vault_password_file=vault_password_file)
    return Redactor.of(s for t in targets for s in t.secrets)


@dataclass(frozen=True)
class ApplySession:
    """The runs of one ``harden apply``: its private directory and what every run shares."""

    directory: Path
    inventory: Path
    limit: str
    private: Path
    extravars: Mapping[str, Any] = field(default_factory=dict)
    vault_password_file: Path | None = None

    @classmethod
    def start(
        cls,
        directory: Path,
        inventory: Path,
        limit: str,
        extravars: Mapping[str, Any] | None = None,
        vault_password_file: Path | None = None,
    ) -> ApplySession:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        private = directory / "apply" / stamp
        return cls(directory, inventory, limit, private, dict(extravars or {}), vault_password_file)

    def run(self, ident: str, check: bool, redactor: Redactor) -> PlaybookRun:
        """Run site.yml (``check``: ansible's check mode with diffs), then blank the passwords in its artifacts."""
        job = RunnerJob(
            private_dir=self.private,
            project_dir=self.directory / "playbooks",
            inventory=self.inventory,
            ident=ident,
            check=check,
            limit=self.limit,
            extravars=self.extravars,
            vault_password_file=self.vault_password_file,
        )
        result = run_playbook(job, redactor.text if redactor else None)
        scrub_files(self.private / "artifacts", redactor)
        return result


@dataclass(frozen=True)
class Reaudit:
    """The re-audit after apply: its hosts, results.json before and after, and where it is."""

    hosts: tuple[HostResult, ...]
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    path: Path

    @property
    def complete(self) -> bool:
        """Every host was fully audited again."""
        return all(h.status is HostStatus.OK for h in self.hosts)

    def still_failing(self, remediated: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
        """(host, check) of every remediated check that does not pass after the apply."""
        return [
            (h.name, c.id)
            for h in self.hosts
            for c in h.checks
            if c.id in remediated.get(h.name, ()) and c.status is not Status.PASS
        ]


def reaudit(session: ApplySession, timeout: float) -> Reaudit:
    """Audit the applied hosts again into ``<private>/after``. Raises InventoryError."""
    from hardening.audit import AuditOptions, audit_fleet
    from hardening.inventory import load_inventory
    from hardening.results import ResultsWriter

    targets = load_inventory(session.inventory, limit=session.limit, vault_password_file=session.vault_password_file)
    writer = ResultsWriter(session.private / "after", inventory=str(session.inventory), limit=session.limit)
    with writer:
        for result in audit_fleet(targets, AuditOptions(timeout=timeout)):
            writer.add(result)
    after = json.loads(writer.results_path.read_text(encoding="utf-8"))
    before_path = session.directory / "results.json"
    before = json.loads(before_path.read_text(encoding="utf-8")) if before_path.is_file() else {}
    return Reaudit(tuple(writer.hosts), before, after, writer.results_path)


def _statuses(doc: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (str(h.get("name")), str(c.get("id"))): str(c.get("status"))
        for h in doc.get("hosts") or []
        for c in h.get("checks") or []
    }


def before_after(
    before: Mapping[str, Any], after: Mapping[str, Any], remediated: Mapping[str, Sequence[str]]
) -> list[str]:
    """Lines ``host check before -> after`` for every check of the re-audited hosts (* = remediated)."""
    b, a = _statuses(before), _statuses(after)
    lines = []
    for host, check in sorted(a):
        mark = "*" if check in remediated.get(host, ()) else " "
        lines.append(f"{mark} {host:<16} {check:<26} {b.get((host, check), '-'):>14} -> {a[(host, check)]}")
    return lines
