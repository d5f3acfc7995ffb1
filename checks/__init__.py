"""The check registry. Installed as ``hardening.checks``.

A check is one folder here named after its id (``egress.default_deny`` ->
``egress_default_deny/``) holding:

- ``check.yaml``: its metadata, validated when the registry loads: ``id``, ``order`` (report
  order), ``severity``, a platform-neutral ``title`` when it has two platforms, and per
  platform (``linux:``, ``windows:``) the ``title``, ``rationale``, ``references``
  (framework name -> requirement ids, each declared in ``hardening/frameworks/<name>.yaml``),
  the remediation ``role`` with its ``stage`` (run order among roles) and the ``fix`` text
  (``summary``, ``language``, ``snippet``);
- ``linux.py`` / ``windows.py``: ``evaluate(facts, policy) -> Verdict``, a pure function over
  the platform's parsed facts (:class:`hardening.facts.linux.LinuxFacts`,
  :class:`hardening.facts.windows.WindowsFacts`) and the host's :class:`hardening.policy.Policy`.
  A fact area that could not be parsed never reaches it: reading it raises, and the runner
  turns that into an ``error`` verdict (:func:`hardening.audit.judge`).

Everything else (reports, SARIF, JUnit, framework views, the remediation planner) reads a
check's metadata from here by ``(id, platform)``. See ``docs/adding-a-check.md``.

Example::

    >>> [c.meta.id for c in linux_checks()][:2]
    ['egress.default_deny', 'egress.allowlist']
    >>> registry().meta("audit.sysmon", Platform.WINDOWS).role
    'harden_win_sysmon'
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hardening.facts.areas import AreaUnavailable
from hardening.model import CheckMeta, Fix, Platform, Reference, Severity, Verdict

_ID_PARTS = 2  # "area.name"


class CheckDefinitionError(Exception):
    """A check folder whose metadata is missing or wrong (a packaging or development error)."""


@dataclass(frozen=True)
class Check:
    """One check on one platform: its metadata and its evaluation.

    The evaluation module (``<folder>/<platform>.py``) is imported when it is first asked for
    (an audit asks for its platforms' before its worker threads start: :func:`load_platforms`),
    not when the registry loads: reports and the planner read metadata only, and an audit of
    Linux hosts never imports the Windows evaluations and the fact models they pull in (~25 ms
    of start-up). That the module exists is checked when the registry loads.
    """

    meta: CheckMeta
    module: str  # the evaluation module's full name

    @property
    def evaluate(self) -> Callable[[Any, Any], Verdict]:
        """``evaluate(facts, policy) -> Verdict`` of the evaluation module."""
        evaluate = getattr(importlib.import_module(self.module), "evaluate", None)
        if not callable(evaluate):
            raise CheckDefinitionError(f"{self.module} defines no evaluate()")
        return evaluate  # type: ignore[no-any-return]

    @property
    def validate_remedy(self) -> Callable[[Mapping[str, Any], list[str]], dict[str, Any]] | None:
        """Re-checks the role variables a results.json carries for this check (``validate_remedy``
        in the evaluation module); None: the check passes no variables to its role."""
        return getattr(importlib.import_module(self.module), "validate_remedy", None)

    def run(self, facts: Any, policy: Any) -> Verdict:
        """The verdict over ``facts`` (an unparsed fact area it needs: ``error``, see :func:`evaluated`)."""
        return evaluated(self.evaluate, facts, policy)


def evaluated(evaluate: Callable[[Any, Any], Verdict], facts: Any, policy: Any) -> Verdict:
    """``evaluate(facts, policy)``; a fact area it reads that could not be parsed makes an ``error`` verdict."""
    try:
        return evaluate(facts, policy)
    except AreaUnavailable as exc:
        return facts.unavailable(exc)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class CheckDefinition:
    """One registered check: its id, report order and what it is on each platform."""

    id: str
    order: int
    folder: str
    platforms: Mapping[Platform, Check]
    title: str  # platform-neutral (columns over a mixed fleet); the only platform's title otherwise

    def title_on(self, platforms: frozenset[Platform] | set[Platform]) -> str:
        """The title for a view over hosts of ``platforms``: that platform's, or the neutral one."""
        present = [p for p in self.platforms if p in platforms]
        return self.platforms[present[0]].meta.title if len(present) == 1 else self.title


@dataclass(frozen=True)
class Registry:
    checks: tuple[CheckDefinition, ...]  # in report order

    def for_platform(self, platform: Platform) -> tuple[Check, ...]:
        """The platform's checks, in report order."""
        return tuple(d.platforms[platform] for d in self.checks if platform in d.platforms)

    def meta(self, check_id: str, platform: Platform | str) -> CheckMeta | None:
        """The metadata of ``check_id`` on ``platform``, or None when it has none there."""
        try:
            plat = Platform(platform)
        except ValueError:
            return None
        d = self.get(check_id)
        check = d.platforms.get(plat) if d else None
        return check.meta if check else None

    def check(self, check_id: str, platform: Platform) -> Check | None:
        d = self.get(check_id)
        return d.platforms.get(platform) if d else None

    def get(self, check_id: str) -> CheckDefinition | None:
        return next((d for d in self.checks if d.id == check_id), None)

    def order(self, check_id: str) -> int:
        """Report position of a check; unknown ids sort last."""
        d = self.get(check_id)
        return d.order if d else 1 << 30

    def roles(self, platform: Platform) -> tuple[str, ...]:
        """The platform's remediation roles in the order they run (by ``stage``)."""
        stages = {c.meta.role: c.meta.stage for c in self.for_platform(platform) if c.meta.role}
        return tuple(sorted(stages, key=lambda r: (stages[r], r)))

    def __iter__(self) -> Iterator[CheckDefinition]:
        return iter(self.checks)


def _need(raw: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        raise CheckDefinitionError(f"{where}: {key!r} must be a non-empty {kind.__name__}")
    return value


def _references(raw: Any, where: str) -> tuple[Reference, ...]:
    from hardening.frameworks import requirement_index

    if not isinstance(raw, Mapping) or not raw:
        raise CheckDefinitionError(f"{where}: 'references' must map framework names to requirement ids")
    index = requirement_index()
    refs = []
    for framework, ids in raw.items():
        if not isinstance(ids, list) or not ids:
            raise CheckDefinitionError(f"{where}: references of {framework!r} must be a non-empty list")
        for rid in ids:
            known = index.get((str(framework), str(rid)))
            if known is None:
                raise CheckDefinitionError(
                    f"{where}: reference {framework} {rid} is not a requirement of "
                    f"hardening/frameworks/{framework}.yaml"
                )
            refs.append(known)
    return tuple(refs)


def _fix(raw: Any, where: str) -> Fix:
    if not isinstance(raw, Mapping):
        raise CheckDefinitionError(f"{where}: 'fix' must hold summary, language and snippet")
    summary = _need(raw, "summary", str, where + ".fix")
    return Fix(" ".join(summary.split()), str(raw.get("language") or ""), str(raw.get("snippet") or "").rstrip())


def _platform_check(cid: str, severity: Severity, folder: str, platform: Platform, raw: Any) -> Check:
    where = f"checks/{folder}/check.yaml: {platform.value}"
    if not isinstance(raw, Mapping):
        raise CheckDefinitionError(f"{where}: must be a mapping")
    role = _need(raw, "role", Mapping, where)
    meta = CheckMeta(
        id=cid,
        title=" ".join(_need(raw, "title", str, where).split()),
        severity=severity,
        rationale=" ".join(_need(raw, "rationale", str, where).split()),
        references=_references(raw.get("references"), where),
        platform=platform,
        role=_need(role, "name", str, where + ".role"),
        stage=_need(role, "stage", int, where + ".role"),
        fix=_fix(raw.get("fix"), where),
    )
    module = f"{__name__}.{folder}.{platform.value}"
    if importlib.util.find_spec(module) is None:  # found, not imported (see Check)
        raise CheckDefinitionError(f"{where}: no {folder}/{platform.value}.py with its evaluate()")
    return Check(meta, module)


def load_definition(folder: str, raw: Any) -> CheckDefinition:
    """Validate one ``check.yaml`` (already parsed) and load its evaluations."""
    where = f"checks/{folder}/check.yaml"
    if not isinstance(raw, Mapping):
        raise CheckDefinitionError(f"{where}: not a mapping")
    cid = _need(raw, "id", str, where)
    if cid.replace(".", "_") != folder or len(cid.split(".")) != _ID_PARTS:
        raise CheckDefinitionError(f"{where}: id {cid!r} must be area.name and match the folder name")
    try:
        severity = Severity(raw.get("severity"))
    except ValueError as exc:
        raise CheckDefinitionError(f"{where}: severity must be one of {[s.value for s in Severity]}") from exc
    platforms = {p: _platform_check(cid, severity, folder, p, raw[p.value]) for p in Platform if p.value in raw}
    if not platforms:
        raise CheckDefinitionError(f"{where}: declares no platform (linux:, windows:)")
    if len(platforms) > 1:
        title = " ".join(_need(raw, "title", str, where).split())
    else:
        title = next(iter(platforms.values())).meta.title
    return CheckDefinition(cid, _need(raw, "order", int, where), folder, platforms, title)


def _folders() -> list[str]:
    root = resources.files(__name__)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.joinpath("check.yaml").is_file())


@cache
def registry() -> Registry:
    """Every check folder, loaded and validated once per process."""
    from hardening import shipped_yaml

    defs = []
    for folder in _folders():
        text = resources.files(__name__).joinpath(folder, "check.yaml").read_text(encoding="utf-8")
        defs.append(load_definition(folder, shipped_yaml.load(text)))
    _check_roles(defs)
    return Registry(tuple(sorted(defs, key=lambda d: (d.order, d.id))))


def _check_roles(defs: list[CheckDefinition]) -> None:
    """Checks that share a role must agree on its stage."""
    stages: dict[str, int] = {}
    for d in defs:
        for c in d.platforms.values():
            if c.meta.role and stages.setdefault(c.meta.role, c.meta.stage) != c.meta.stage:
                raise CheckDefinitionError(f"{d.id}: role {c.meta.role} has two stages")


def linux_checks() -> tuple[Check, ...]:
    """Every Linux check, in report order."""
    return registry().for_platform(Platform.LINUX)


def load_platforms(platforms: Iterable[Platform]) -> None:
    """Import the fact areas and check evaluations of ``platforms`` now, in the caller's thread.

    An audit calls it with the platforms of its hosts before its worker threads start: the
    modules a host needs are then loaded once, by one thread, as the full registry load did
    before evaluations became lazy (two threads importing modules that import each other can
    deadlock in the import system), and a run of Linux hosts still never loads Windows'.
    """
    from hardening.facts.areas import areas

    for platform in platforms:
        areas(platform)
        for check in registry().for_platform(platform):
            _ = check.evaluate


def windows_checks() -> tuple[Check, ...]:
    """Every Windows check, in report order (``evaluate(facts: WindowsFacts, policy)``)."""
    return registry().for_platform(Platform.WINDOWS)
