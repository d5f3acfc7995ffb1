"""Waivers: accepted risks, each with a justification, an owner and an expiry date.

A waivers file (YAML)::

    waivers:
      - check: appcontrol.enforced        # check id, or a glob: "egress.*"
        hosts: "web*:!web-legacy"         # Ansible-style pattern: globs joined by ':' or ',', '!' excludes, 'all'
        justification: "No LSM in this kernel until the Q3 rebuild (CHG-1234)"
        expires: 2027-03-31               # last day the waiver is in force
        by: alice@example.com             # who accepted the risk (optional)

A waiver in force turns a ``fail`` into ``waived`` (the check then does not count as
failing). An expired waiver leaves the real status and is recorded as expired so the
report says so. Only failing checks are waived: an ``error`` means the check could not
judge the host, and a waiver must not hide that.

Example::

    waivers = parse_waivers(yaml_text, "waivers.yml")
    doc = apply_waivers(doc, waivers, date.today())
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from hardening.model import CheckResult, HostResult, Status, WaiverNote
from hardening.report.document import ResultsDoc


class WaiverError(Exception):
    """A waivers file that cannot be used (exit 2): the message names the file and entry."""


@dataclass(frozen=True)
class Waiver:
    """One accepted risk: ``check`` (id or glob) on hosts matching ``hosts``."""

    check: str
    hosts: str
    justification: str
    expires: date
    by: str = ""

    def matches(self, host: str, check_id: str, groups: tuple[str, ...] = ()) -> bool:
        return fnmatchcase(check_id, self.check) and host_matches(host, self.hosts, groups)

    def expired_on(self, today: date) -> bool:
        """A waiver is in force up to and including its expiry date."""
        return today > self.expires


_SPLIT = re.compile(r"[:,]")


def host_matches(host: str, pattern: str, groups: tuple[str, ...] = ()) -> bool:
    """Ansible-style host pattern over host names and the host's inventory groups.

    ``all`` or ``*`` match every host; parts joined by ``:`` or ``,`` are a union of
    fnmatch globs, each matching the host name or one of its groups (as in Ansible);
    ``!glob`` excludes; ``&glob`` must also match.

    >>> host_matches("web-01", "web*:!web-02")
    True
    >>> host_matches("db-7", "databases:!staging", ("databases", "prod"))
    True
    """
    parts = [p.strip() for p in _SPLIT.split(pattern) if p.strip()]
    plus = [p for p in parts if p[0] not in "!&"]
    excl = [p[1:] for p in parts if p[0] == "!"]
    need = [p[1:] for p in parts if p[0] == "&"]

    def one(glob: str) -> bool:
        return glob == "all" or fnmatchcase(host, glob) or any(fnmatchcase(g, glob) for g in groups)

    return (
        (any(one(p) for p in plus) if plus else bool(excl or need))
        and all(one(p) for p in need)
        and not any(one(p) for p in excl)
    )


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WaiverError(f"{where}: expires must be a date YYYY-MM-DD, got {value!r}")


def _waiver(raw: Any, where: str) -> Waiver:
    if not isinstance(raw, Mapping):
        raise WaiverError(f"{where}: a waiver is a mapping with check, hosts, justification, expires")
    unknown = set(raw) - {"check", "hosts", "justification", "expires", "by"}
    if unknown:
        raise WaiverError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for key in ("check", "hosts", "justification"):
        val = raw.get(key)
        if not isinstance(val, str) or not val.strip():
            raise WaiverError(f"{where}: {key} is required (a non-empty string)")
    if "expires" not in raw or raw["expires"] is None:
        raise WaiverError(f"{where}: expires is required (YYYY-MM-DD): a waiver never lasts forever")
    by = raw.get("by", "")
    if not isinstance(by, str):
        raise WaiverError(f"{where}: by must be a string")
    return Waiver(
        check=raw["check"].strip(),
        hosts=raw["hosts"].strip(),
        justification=raw["justification"].strip(),
        expires=_date(raw["expires"], where),
        by=by.strip(),
    )


def parse_waivers(text: str, source: str = "waivers") -> tuple[Waiver, ...]:
    """Parse a waivers YAML document (a ``waivers:`` list, or a bare list)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WaiverError(f"{source}: not YAML: {exc}") from exc
    if isinstance(data, Mapping):
        if set(data) - {"waivers"}:
            raise WaiverError(f"{source}: top-level keys other than 'waivers': {sorted(map(str, data))}")
        data = data.get("waivers")
    if data is None:
        return ()
    if not isinstance(data, list):
        raise WaiverError(f"{source}: expected a list of waivers under 'waivers:'")
    return tuple(_waiver(w, f"{source}: waiver #{i + 1}") for i, w in enumerate(data))


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}: cannot read: {exc}") from exc
    return parse_waivers(text, str(path))


def _unwaive(c: CheckResult) -> CheckResult:
    """Undo an earlier application (waived -> fail, notes dropped) so re-applying is exact."""
    if c.waiver is None:
        return c
    return replace(c, status=Status.FAIL if c.status is Status.WAIVED else c.status, waiver=None)


def _apply(c: CheckResult, host: HostResult, waivers: Iterable[Waiver], today: date) -> CheckResult:
    if c.status is not Status.FAIL:
        return c
    matching = [w for w in waivers if w.matches(host.name, c.id, host.groups)]
    if not matching:
        return c
    live = [w for w in matching if not w.expired_on(today)]
    if live:
        w = max(live, key=lambda w: w.expires)
        return replace(c, status=Status.WAIVED, waiver=WaiverNote(w.justification, w.expires, w.by, w.hosts, False))
    w = max(matching, key=lambda w: w.expires)
    return replace(c, waiver=WaiverNote(w.justification, w.expires, w.by, w.hosts, True))


def apply_waivers(doc: ResultsDoc, waivers: Iterable[Waiver], today: date) -> ResultsDoc:
    """Return ``doc`` with ``waivers`` applied as of ``today`` (replacing any applied before).

    >>> w = Waiver("binaries.netcat", "web*", "needed by the health probe", date(2027, 1, 31))
    >>> apply_waivers(doc, [w], date(2026, 12, 1))  # web-1's failing binaries.netcat -> waived
    """
    waivers = tuple(waivers)

    def host(h: HostResult) -> HostResult:
        return replace(h, checks=tuple(_apply(_unwaive(c), h, waivers, today) for c in h.checks))

    return replace(doc, hosts=tuple(host(h) for h in doc.hosts))


def unmatched_waivers(doc: ResultsDoc, waivers: Iterable[Waiver]) -> tuple[Waiver, ...]:
    """Waivers that match no host × check of ``doc`` (a typo in a pattern, a host gone): worth a warning."""
    return tuple(w for w in waivers if not any(w.matches(h.name, c.id, h.groups) for h in doc.hosts for c in h.checks))
