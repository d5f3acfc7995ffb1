"""Compare two results documents: what broke, what got fixed, what is still failing.

A check is *failing* when its status is ``fail`` (a waived check is not). Anything
failing in NEW that was not failing in OLD is newly failing (including checks of hosts
that were not in OLD, and checks whose waiver expired); a check failing in both whose
evidence lists findings OLD did not have (a new netcat binary, a new unfiltered path) got
worse. Both are regressions.

Example::

    d = diff_results(load_results(old), load_results(new))
    sys.exit(1 if d.regressions(Severity.HIGH) else 0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from hardening.model import CheckResult, HostResult, Severity, Status
from hardening.report.document import ResultsDoc
from hardening.report.text import md_cell, md_text, shorten, terminal_safe


@dataclass(frozen=True)
class Change:
    host: str
    check: str
    severity: Severity
    title: str
    old: str | None  # old status; None when the host or check was absent
    new: str | None
    message: str  # the newer message (the old one for a check that disappeared)
    new_findings: tuple[str, ...] = ()  # still failing: findings the old evidence did not list

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "check": self.check,
            "severity": self.severity.value,
            "title": self.title,
            "old": self.old,
            "new": self.new,
            "message": self.message,
        } | ({"new_findings": list(self.new_findings)} if self.new_findings else {})


@dataclass(frozen=True)
class DiffResult:
    newly_failing: tuple[Change, ...]
    fixed: tuple[Change, ...]
    still_failing: tuple[Change, ...]
    not_judged: tuple[Change, ...]  # was judged (pass/fail), now error or host not audited
    hosts_added: tuple[str, ...]
    hosts_gone: tuple[str, ...]

    @property
    def worse(self) -> tuple[Change, ...]:
        """Still failing, with new findings in the evidence (also regressions)."""
        return tuple(c for c in self.still_failing if c.new_findings)

    def regressions(self, at_least: Severity = Severity.INFO) -> tuple[Change, ...]:
        return tuple(c for c in (*self.newly_failing, *self.worse) if c.severity.rank >= at_least.rank)

    def to_json(self) -> dict[str, object]:
        return {
            "newly_failing": [c.to_json() for c in self.newly_failing],
            "fixed": [c.to_json() for c in self.fixed],
            "still_failing": [c.to_json() for c in self.still_failing],
            "worse": [c.to_json() for c in self.worse],
            "not_judged": [c.to_json() for c in self.not_judged],
            "hosts_added": list(self.hosts_added),
            "hosts_gone": list(self.hosts_gone),
        }


_JUDGED = (Status.PASS, Status.FAIL)


def finding_keys(c: CheckResult | None) -> tuple[str, ...]:
    """What a check's evidence lists as findings (``findings``: each by its path, else as written)."""
    if c is None:
        return ()
    items = c.evidence.facts_dict().get("findings")
    keys = []
    for item in items if isinstance(items, list) else []:
        key = item.get("real_path") or item.get("path") if isinstance(item, dict) else None
        keys.append(str(key) if key else json.dumps(item, sort_keys=True, default=str)[:300])
    return tuple(dict.fromkeys(keys))


def _checks(h: HostResult | None) -> dict[str, CheckResult]:
    return {c.id: c for c in h.checks} if h is not None else {}


def diff_results(old: ResultsDoc, new: ResultsDoc) -> DiffResult:
    """Classify every host × check between ``old`` and ``new``."""
    old_hosts = {h.name: h for h in old.hosts}
    new_hosts = {h.name: h for h in new.hosts}
    newly, fixed, still, unjudged = [], [], [], []
    for name, nh in new_hosts.items():
        oh = old_hosts.get(name)
        before, after = _checks(oh), _checks(nh)
        for cid in dict.fromkeys([*after, *before]):
            o, n = before.get(cid), after.get(cid)
            ref = n or o
            assert ref is not None  # cid comes from one of them
            ch = Change(
                name, cid, ref.severity, ref.title,
                o.status.value if o else None, n.status.value if n else None, ref.message,
            )  # fmt: skip
            was_failing = o is not None and o.status is Status.FAIL
            if n is not None and n.status is Status.FAIL:
                if was_failing:
                    seen = set(finding_keys(o))
                    ch = replace(ch, new_findings=tuple(k for k in finding_keys(n) if k not in seen))
                (still if was_failing else newly).append(ch)
            elif was_failing and n is not None and n.status in (Status.PASS, Status.NOT_APPLICABLE):
                fixed.append(ch)
            elif oh is not None and o is not None and o.status in _JUDGED and (n is None or n.status is Status.ERROR):
                unjudged.append(ch)
    return DiffResult(
        tuple(newly),
        tuple(fixed),
        tuple(still),
        tuple(unjudged),
        tuple(n for n in new_hosts if n not in old_hosts),
        tuple(o for o in old_hosts if o not in new_hosts),
    )


def _line(c: Change) -> str:
    line = (
        f"  {c.severity.value:<8} {terminal_safe(c.host)}  {c.check}  ({c.old or 'absent'} -> {c.new or 'absent'})"
        f"  {terminal_safe(shorten(c.message, 160))}"
    )
    if c.new_findings:
        line += "\n    new: " + terminal_safe(shorten(", ".join(c.new_findings), 300))
    return line


def render_diff_text(d: DiffResult) -> str:
    """A terminal-safe summary (host data stripped of escapes and control characters)."""
    out = []
    for title, changes in (
        ("newly failing", d.newly_failing),
        ("worse (still failing, new findings)", d.worse),
        ("fixed", d.fixed),
        ("still failing", d.still_failing),
        ("no longer judged (error or host not audited)", d.not_judged),
    ):
        out.append(f"{title}: {len(changes)}")
        out += [_line(c) for c in changes]
    out.append(f"hosts added: {len(d.hosts_added)}" + "".join(f"\n  {terminal_safe(h)}" for h in d.hosts_added))
    out.append(f"hosts gone: {len(d.hosts_gone)}" + "".join(f"\n  {terminal_safe(h)}" for h in d.hosts_gone))
    return "\n".join(out) + "\n"


def render_diff_markdown(d: DiffResult) -> str:
    out = [f"## harden diff: {len(d.newly_failing)} newly failing, {len(d.fixed)} fixed, "
           f"{len(d.still_failing)} still failing"]  # fmt: skip
    for title, changes in (
        ("Newly failing", d.newly_failing),
        ("Worse (new findings)", d.worse),
        ("Fixed", d.fixed),
        ("Still failing", d.still_failing),
        ("No longer judged", d.not_judged),
    ):
        if changes:
            out += [
                "",
                f"### {title}",
                "",
                "| Severity | Host | Check | Was → Now | Message |",
                "|---|---|---|---|---|",
            ]
            out += [
                f"| {c.severity.value} | {md_cell(c.host)} | {md_cell(c.check)} | {c.old or 'absent'} → "
                f"{c.new or 'absent'} | {md_cell(shorten(c.message, 200))} |"
                for c in changes
            ]
    if d.hosts_added:
        out += ["", "Hosts added: " + ", ".join(md_text(h) for h in d.hosts_added)]
    if d.hosts_gone:
        out += ["", "Hosts gone: " + ", ".join(md_text(h) for h in d.hosts_gone)]
    return "\n".join(out) + "\n"


def render_diff_json(d: DiffResult) -> str:
    return json.dumps(d.to_json(), indent=2, ensure_ascii=False) + "\n"
