"""Find an incident in a recent hunt.json (pure, apart from reading the file).

``harden respond`` acts only on an incident a hunt of the last minutes reported for that host:
the hunt.json named by ``--from`` (a file or the directory holding it), else the one in
``--out``, else the newest ``reports/hunt-*/hunt.json``. The hunt must have finished at most
``max_age`` seconds ago (and not in the future), the host must have been hunted fully, and the
incident id must be listed for it.

Example::

    path = hunt_json_path(None, Path("reports/hunt1"))
    rec = find_recorded(load_hunt(path), path, "web1", "i-8a629f93", datetime.now(UTC), 900)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hardening.respond.model import INCIDENT_ID, RespondError

DEFAULT_MAX_AGE = 15 * 60  # seconds: a hunt older than this is not a reason to act
MAX_HUNT_JSON = 512 * 1024 * 1024  # bytes of hunt.json read at most
FUTURE_SLACK = 120  # seconds a hunt may seem to have finished in the future (clock steps)


@dataclass(frozen=True)
class RecordedIncident:
    """The incident as the recent hunt recorded it."""

    host: str
    id: str
    path: Path
    finished: datetime
    age_s: float
    severity: str
    tree: str
    root_pid: int
    root_start: float | None


def check_incident_id(value: str) -> str:
    """``i-`` and 8 lower-case hex digits, else RespondError."""
    if not INCIDENT_ID.fullmatch(value):
        raise RespondError(f"{value!r} is not an incident id (i- and 8 hex digits, as harden hunt prints them)")
    return value


def hunt_json_path(from_path: Path | None, out_dir: Path | None, reports: Path = Path("reports")) -> Path:
    """The hunt.json to read (see the module); RespondError when there is none."""
    if from_path is not None:
        path = from_path / "hunt.json" if from_path.is_dir() else from_path
    elif out_dir is not None:
        path = out_dir / "hunt.json"
    else:
        found = sorted(reports.glob("hunt-*/hunt.json"), key=lambda p: p.stat().st_mtime) if reports.is_dir() else []
        if not found:
            raise RespondError(f"no hunt.json under {reports}/hunt-*/: run harden hunt first, or name one with --from")
        path = found[-1]
    if not path.is_file():
        raise RespondError(f"{path}: no such hunt.json (run harden hunt, or name its output with --from)")
    return path


def load_hunt(path: Path) -> dict[str, Any]:
    """hunt.json as data; RespondError when it is too large, not JSON or not a hunt."""
    if path.stat().st_size > MAX_HUNT_JSON:
        raise RespondError(f"{path}: larger than {MAX_HUNT_JSON >> 20} MiB; not read")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RespondError(f"{path}: not readable as JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != "harden.hunt/v1":
        raise RespondError(f"{path}: not a harden hunt result (schema harden.hunt/v1)")
    return doc


def _finished(doc: dict[str, Any], path: Path) -> datetime:
    try:
        when = datetime.fromisoformat(str(doc.get("finished")))
    except ValueError as exc:
        raise RespondError(f"{path}: no valid 'finished' time: {exc}") from exc
    if when.tzinfo is None:
        raise RespondError(f"{path}: 'finished' has no time zone")
    return when


def find_recorded(
    doc: dict[str, Any], path: Path, host: str, incident_id: str, now: datetime, max_age: float
) -> RecordedIncident:
    """The incident ``incident_id`` of ``host`` in ``doc``, if the hunt is fresh; else RespondError
    saying why not."""
    check_incident_id(incident_id)
    finished = _finished(doc, path)
    age = (now - finished).total_seconds()
    if age > max_age:
        raise RespondError(
            f"{path}: the hunt finished {age / 60:.0f} min ago (more than {max_age / 60:g} min): "
            "hunt the host again and respond to an incident of that hunt"
        )
    if age < -FUTURE_SLACK:
        raise RespondError(f"{path}: the hunt claims to finish {-age:.0f} s in the future: not trusted")
    hosts = [h for h in doc.get("hosts", []) if isinstance(h, dict) and h.get("name") == host]
    if not hosts:
        raise RespondError(f"{path}: host {host!r} was not hunted there")
    (h,) = hosts[:1]
    if h.get("status") != "ok":
        raise RespondError(f"{path}: host {host!r} was not hunted fully (status {h.get('status')}): hunt it again")
    for inc in h.get("incidents", []):
        if isinstance(inc, dict) and inc.get("id") == incident_id:
            root = inc.get("root") or {}
            start = root.get("start_unix")
            return RecordedIncident(
                host=host,
                id=incident_id,
                path=path,
                finished=finished,
                age_s=age,
                severity=str(inc.get("severity", "")),
                tree=str(inc.get("tree", "")),
                root_pid=int(root.get("pid", 0)),
                root_start=float(start) if isinstance(start, int | float) else None,
            )
    ids = ", ".join(str(i.get("id")) for i in h.get("incidents", [])[:10] if isinstance(i, dict)) or "none"
    raise RespondError(f"{path}: no incident {incident_id} on {host!r} (its incidents: {ids})")
