"""Run generated playbooks with ansible-runner and keep its directory as evidence.

:func:`run_playbook` is the one typed wrapper around ``ansible_runner.run``: the
private_data_dir is ``DIR/apply/<timestamp>/`` and its ``artifacts/<ident>/`` (job_events,
stdout, rc) stay there. Secrets stay in the operator's inventory (Ansible reads them
itself): nothing harden passes to ansible-runner holds a password, and the environment
ansible-playbook inherits is not recorded (:func:`hardening.ansible_env.runner_kwargs`).

Example::

    run = run_playbook(RunnerJob(Path("out/apply/20250101T000000Z"), Path("out/playbooks"),
                                 Path("inventory.ini"), ident="check", check=True))
    for change in run.changes:
        print(change.host, change.task)
"""

from __future__ import annotations

import difflib
import json
import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunnerJob:
    """One ansible-playbook run: where (``private_dir``), what (``project_dir``/site.yml), on which hosts."""

    private_dir: Path
    project_dir: Path
    inventory: Path
    ident: str
    check: bool = False
    limit: str | None = None
    extravars: Mapping[str, Any] = field(default_factory=dict)
    vault_password_file: Path | None = None
    timeout: int | None = None


@dataclass(frozen=True)
class Change:
    host: str
    task: str
    diff: str


@dataclass(frozen=True)
class Failure:
    host: str
    task: str
    message: str
    unreachable: bool = False
    role: str = ""  # the role the failing task belongs to ("" outside roles)


@dataclass(frozen=True)
class PlaybookRun:
    """What a run did: ``status`` (successful/failed/timeout/canceled), ``rc``, changed tasks
    with their diffs, failures, and where the artifacts are."""

    ident: str
    status: str
    rc: int
    artifacts: Path
    changes: tuple[Change, ...]
    failures: tuple[Failure, ...]
    ok_hosts: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return self.rc == 0 and not self.failures

    def failed_roles(self) -> dict[str, dict[str, str]]:
        """{host: {role: why}}: the first failure of each role on each host."""
        return failed_roles(self.failures)


def failed_roles(failures: Sequence[Failure]) -> dict[str, dict[str, str]]:
    """{host: {role: "task: message"}} from the failures that happened inside a role.

    >>> failed_roles([Failure("web1", "Install", "no package", role="harden_auditd"),
    ...               Failure("web1", "Fail the host", "harden roles failed: harden_auditd")])
    {'web1': {'harden_auditd': 'Install: no package'}}
    """
    out: dict[str, dict[str, str]] = {}
    for f in failures:
        if f.role:
            out.setdefault(f.host, {}).setdefault(f.role, f"{f.task}: {f.message}")
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def render_diff(diff: Any) -> str:
    """A unified diff from Ansible's ``res.diff`` (a dict or a list of dicts).

    >>> print(render_diff({"before": "a\\n", "after": "b\\n", "after_header": "/etc/x"}), end="")
    --- before
    +++ /etc/x
    @@ -1 +1 @@
    -a
    +b
    """
    parts = diff if isinstance(diff, list) else [diff]
    out: list[str] = []
    for d in parts:
        if not isinstance(d, Mapping):
            continue
        if d.get("prepared"):
            out.append(str(d["prepared"]).rstrip("\n") + "\n")
            continue
        if "before" not in d and "after" not in d:
            continue
        before, after = _text(d.get("before")), _text(d.get("after"))
        out += difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=str(d.get("before_header") or "before"),
            tofile=str(d.get("after_header") or "after"),
            n=1,
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)


def _events(events: Sequence[Mapping[str, Any]]) -> tuple[list[Change], list[Failure], list[str]]:
    changes: list[Change] = []
    failures: list[Failure] = []
    ok: list[str] = []
    for ev in events:
        kind = ev.get("event")
        data = ev.get("event_data") or {}
        host = str(data.get("host", ""))
        task = str(data.get("task", ""))
        res = data.get("res") or {}
        if kind == "runner_on_ok" and isinstance(res, Mapping):
            if res.get("changed"):
                changes.append(Change(host, task, render_diff(res.get("diff"))))
            for item in res.get("results") or []:
                if isinstance(item, Mapping) and item.get("changed") and item.get("diff"):
                    changes.append(Change(host, task, render_diff(item.get("diff"))))
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            msg = str(res.get("msg", "")) if isinstance(res, Mapping) else ""
            failures.append(Failure(host, task, msg, role=str(data.get("role") or "")))
        elif kind == "runner_on_unreachable":
            msg = str(res.get("msg", "")) if isinstance(res, Mapping) else ""
            failures.append(Failure(host, task, msg, unreachable=True))
        elif kind == "playbook_on_stats":
            ok = sorted(str(h) for h in (data.get("ok") or {}))
    return changes, failures, ok


def _collections_path(project_dir: Path) -> str:
    """The generated collection first, then the user's collections (or Ansible's default places)."""
    theirs = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.pathsep.join(
        [str(Path("~/.ansible/collections").expanduser()), "/usr/share/ansible/collections"]
    )
    return os.pathsep.join([str((project_dir / "collections").resolve()), theirs])


def run_playbook(job: RunnerJob, blank: Callable[[str], str] | None = None) -> PlaybookRun:
    """Run ``job.project_dir/site.yml`` (``--check --diff`` when ``job.check``) and summarise it.

    With ``-v`` Ansible's own output streams to stderr, through ``blank`` (the inventory's passwords).
    """
    import ansible_runner

    from hardening.ansible_env import runner_env, runner_kwargs, scrub_command_records, show_event
    from hardening.verbose import verbosity

    job.private_dir.mkdir(parents=True, exist_ok=True)
    cmdline = ["--diff"]
    if job.check:
        cmdline.append("--check")
    if job.vault_password_file is not None:
        cmdline += ["--vault-password-file", str(job.vault_password_file.resolve())]

    # the user's own ansible.cfg and ANSIBLE_* (remote_user, keys, become, ssh args); the roles'
    # collection from the generated directory first
    envvars = runner_env({"ANSIBLE_COLLECTIONS_PATH": _collections_path(job.project_dir)})
    verbose = verbosity() > 0

    def on_event(event: dict[str, Any]) -> bool:
        if verbose:
            show_event(event, blank)
        return True

    result = ansible_runner.run(
        private_data_dir=str(job.private_dir),
        project_dir=str(job.project_dir.resolve()),
        playbook="site.yml",
        inventory=str(job.inventory.resolve()),
        ident=job.ident,
        cmdline=shlex.join(cmdline),
        limit=job.limit,
        extravars=dict(job.extravars) or None,
        **runner_kwargs(envvars),
        event_handler=on_event,
        quiet=True,
        timeout=job.timeout,
        rotate_artifacts=0,
    )
    scrub_command_records(job.private_dir / "artifacts", envvars)
    changes, failures, ok = _events(list(result.events))
    rc = int(result.rc if result.rc is not None else 1)
    if rc != 0 and not failures:
        stdout = job.private_dir / "artifacts" / job.ident / "stdout"
        tail = stdout.read_text(errors="replace").strip().splitlines()[-5:] if stdout.is_file() else []
        failures.append(Failure("-", "ansible-playbook", " | ".join(tail) or f"exit {rc}"))
    return PlaybookRun(
        ident=job.ident,
        status=str(result.status),
        rc=rc,
        artifacts=job.private_dir / "artifacts" / job.ident,
        changes=tuple(changes),
        failures=tuple(failures),
        ok_hosts=tuple(ok),
    )
