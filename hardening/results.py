"""results.json (schema ``harden.results/v1``): writing, streaming, exit codes.

Each host's result is appended to ``hosts.jsonl`` the moment it finishes, so an
interrupted run keeps what it had; ``results.json`` is written at the end (atomically).

Example::

    with ResultsWriter(out_dir, inventory="inv.ini") as w:
        for r in audit_fleet(...):
            w.add(r)
    exit_code(w.hosts, fail_on=Severity.HIGH)
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from hardening import __version__
from hardening.model import HostResult, HostStatus, Severity, Status

SCHEMA_ID = "harden.results/v1"

EXIT_CLEAN = 0
EXIT_FAILING = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3


def results_schema() -> dict[str, Any]:
    text = resources.files("hardening.schemas").joinpath("results.v1.json").read_text(encoding="utf-8")
    return json.loads(text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def summary(hosts: Iterable[HostResult]) -> dict[str, Any]:
    hosts = list(hosts)
    return {
        "hosts": len(hosts),
        "host_status": dict(Counter(h.status.value for h in hosts)),
        "check_status": dict(Counter(c.status.value for h in hosts for c in h.checks)),
    }


def exit_code(hosts: Iterable[HostResult], fail_on: Severity) -> int:
    """3 if a host was not fully audited, else 1 if a check failed at/above ``fail_on``, else 0."""
    hosts = list(hosts)
    if any(h.status is not HostStatus.OK for h in hosts):
        return EXIT_INCOMPLETE
    if any(c.status is Status.FAIL and c.severity.rank >= fail_on.rank for h in hosts for c in h.checks):
        return EXIT_FAILING
    return EXIT_CLEAN


def document(
    hosts: Iterable[HostResult], inventory: str, limit: str | None, started_at: str, complete: bool
) -> dict[str, Any]:
    hosts = list(hosts)
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "harden", "version": __version__},
        "started_at": started_at,
        "finished_at": _now(),
        "inventory": inventory,
        "limit": limit,
        "complete": complete,
        "summary": summary(hosts),
        "hosts": [h.to_json() for h in hosts],
    }


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class ResultsWriter:
    """Streams host results to ``DIR/hosts.jsonl`` and writes ``DIR/results.json`` on close."""

    def __init__(self, out_dir: Path, inventory: str, limit: str | None = None) -> None:
        self.out_dir = out_dir
        self.inventory = inventory
        self.limit = limit
        self.started_at = _now()
        self.hosts: list[HostResult] = []
        self.complete = False
        out_dir.mkdir(parents=True, exist_ok=True)
        self._stream = (out_dir / "hosts.jsonl").open("a", encoding="utf-8")

    @property
    def results_path(self) -> Path:
        return self.out_dir / "results.json"

    def add(self, host: HostResult) -> None:
        self.hosts.append(host)
        self._stream.write(json.dumps(host.to_json(), ensure_ascii=False) + "\n")
        self._stream.flush()

    def close(self) -> Path:
        self._stream.close()
        doc = document(self.hosts, self.inventory, self.limit, self.started_at, self.complete)
        _write_atomic(self.results_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return self.results_path

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.complete = exc_type is None
        self.close()
