"""Remediation playbooks from an audit: ``DIR/playbooks/`` with only the roles failed checks need.

:func:`plan` reads a results.json document (pure) and decides, per host, which roles run and
with which variables; :func:`write_playbooks` writes the site playbook (Jinja2 template
``templates/remediation/site.yml.j2``), one ``host_vars/<host>.yml`` per host and a copy of
the roles, so the directory is self-contained and reviewable.

Host values (file names, package names) are data: they are written with a YAML
dumper and tagged ``!unsafe`` so Ansible never templates them, and roles pass them only as
module arguments (``command: argv``), never through a shell. A hostile file name on an
audited host cannot become a command on the host or on the controller.

Example::

    >>> p = plan({"hosts": [{"name": "web1", "platform": "linux", "checks": [
    ...     {"id": "binaries.netcat", "status": "fail", "evidence": {"facts": {"findings": []}}}]}]})
    >>> p.hosts[0].roles
    ('harden_netcat',)
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

from hardening import __version__
from hardening.hostjson import scrub
from hardening.hostnames import UnsafeHostName, file_safe, host_file_name
from hardening.model import Evidence, Platform, Remedy

if TYPE_CHECKING:
    from hardening.report.document import ResultsDoc


def _roles(platform: Platform) -> tuple[str, ...]:
    from hardening.checks import registry

    return registry().roles(platform)


#: Linux roles in the order they run (each check's ``role.stage`` in its check.yaml): the
#: firewall last (the riskiest change, and it reads the DNS role's upstreams to open port 53).
LINUX_ROLES: tuple[str, ...] = _roles(Platform.LINUX)
#: Windows roles in order: application control LAST (it enables Constrained Language Mode,
#: after which Ansible cannot manage the host without signed content).
WINDOWS_ROLES: tuple[str, ...] = _roles(Platform.WINDOWS)
ROLES = LINUX_ROLES + WINDOWS_ROLES
#: The roles ship as the Ansible collection harden.revshell (playbooks/galaxy.yml); generated
#: playbooks name them by FQCN and carry the collection in DIR/playbooks/collections/.
COLLECTION_NAMESPACE, COLLECTION_NAME = "harden", "revshell"


class RemediationError(Exception):
    """results.json cannot be turned into playbooks; the message says why."""


class Unsafe(str):
    """A string from a host: dumped as ``!unsafe`` so Ansible never templates it."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # lists indented under their key (yamllint)


def _represent_unsafe(dumper: yaml.SafeDumper, data: Unsafe) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(data), style='"')


_Dumper.add_representer(Unsafe, _represent_unsafe)


def dump_vars(data: Mapping[str, Any]) -> str:
    """YAML for a host_vars file; :class:`Unsafe` strings become ``!unsafe "..."``.

    >>> print(dump_vars({"p": Unsafe("/tmp/{{ x }}/nc")}), end="")
    p: !unsafe "/tmp/{{ x }}/nc"
    """
    return yaml.dump(dict(data), Dumper=_Dumper, sort_keys=False, allow_unicode=False, width=1000)


class _VarsTexts:
    """:func:`dump_vars`, once for each distinct host_vars (PyYAML's emitter is pure Python: 3 ms a
    host, half a minute for 10,000 hosts that mostly need the same fixes). Values are told apart by
    type as well (``Unsafe("1")``, ``"1"``, ``1``, ``True``); at most ``limit`` texts are kept."""

    def __init__(self, limit: int = 2000) -> None:
        self._texts: dict[object, str] = {}
        self._limit = limit

    def dump(self, data: Mapping[str, Any]) -> str:
        key = _vars_key(dict(data))
        if key is None:
            return dump_vars(data)
        text = self._texts.get(key)
        if text is None:
            text = dump_vars(data)
            if len(self._texts) < self._limit:
                self._texts[key] = text
        return text


def _vars_key(value: Any, seen: dict[int, int] | None = None) -> object:
    """A key equal only for values :func:`dump_vars` writes alike (None: a type not covered here).
    A list or mapping met again is an alias in YAML (``*id001``): the key says which one it is."""
    kind = type(value)
    if kind in (Unsafe, str, bool, int) or value is None:
        return (kind.__name__, value)
    if kind is float:
        return ("float", repr(value))
    if kind is list or isinstance(value, Mapping):
        seen = {} if seen is None else seen
        if id(value) in seen:
            return ("alias", seen[id(value)])
        seen[id(value)] = len(seen)
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        parts = []
        for k, v in items:
            kk, vk = _vars_key(k, seen), _vars_key(v, seen)
            if kk is None or vk is None:
                return None
            parts.append((kk, vk))
        return (kind.__name__, tuple(parts))
    return None


@dataclass(frozen=True)
class HostPlan:
    """What runs on one host: ``roles`` (in run order), the ``failed_checks`` behind them,
    the per-host ``variables`` written to host_vars, and ``notes`` for the operator."""

    name: str
    platform: str
    roles: tuple[str, ...]
    failed_checks: tuple[str, ...]
    variables: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    hosts: tuple[HostPlan, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (host, why)

    def roles(self, platform: str) -> tuple[str, ...]:
        """Roles some host of ``platform`` needs, in run order."""
        order = LINUX_ROLES if platform == "linux" else WINDOWS_ROLES
        used = {r for h in self.hosts if h.platform == platform for r in h.roles}
        return tuple(r for r in order if r in used)


# ----------------------------------------------------------------------------- planning


def _unsafe(value: Any) -> Any:
    """Host-derived values as :class:`Unsafe` (strings anywhere inside lists and mappings)."""
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _unsafe(v) for k, v in value.items()}
    return value


NOT_PLANNED = " not planned: "  # in a note: a role left out until the policy says more (Remedy.blocked)


def utf8_only(value: Any) -> bool:
    """Whether every string in ``value`` (nested dicts and lists) can be written as UTF-8.

    >>> utf8_only({"paths": [{"path": "/tmp/x/nc"}]}), utf8_only({"paths": [{"path": "/tmp/\\udcff/nc"}]})
    (True, False)
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, Mapping):
        return all(utf8_only(k) and utf8_only(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(utf8_only(v) for v in value)
    return True


def _check_plan(platform: Platform, check: Mapping[str, Any], notes: list[str]) -> tuple[str, dict[str, Any]] | None:
    """(role, validated variables) for one failed check of results.json, or None (with a note).

    The role comes from the check registry, never from the file; the variables the check's
    evaluation stored (``remediation``) are re-checked by the check's own ``validate_remedy``,
    and a check that declares none gets none.
    """
    from hardening.checks import registry

    cid = str(check.get("id", ""))
    found = registry().check(cid, platform)
    if found is None or not found.meta.role:
        notes.append(f"{cid[:80]}: no remediation role")
        return None
    remedy = Remedy.from_json(check.get("remediation"))
    if remedy is not None and remedy.role != found.meta.role:
        notes.append(f"{cid}: the results name role {remedy.role[:60]!r}, not {found.meta.role}: variables ignored")
        remedy = None
    if remedy is not None and remedy.blocked:  # only ever leaves a role out, never adds one
        notes.append(f"{cid}: {found.meta.role}{NOT_PLANNED}{remedy.blocked[:500]}")
        return None
    if remedy is not None:
        notes += [n[:500] for n in remedy.notes[:50]]
    elif found.validate_remedy is not None:
        notes.append(f"{cid}: no remediation data in the results (an older harden?): re-audit to plan its changes")
    if found.validate_remedy is not None:  # a role that takes host data gets only what passes its check
        variables = found.validate_remedy(remedy.variables if remedy else {}, notes)
        if not utf8_only(variables):  # a lone surrogate ("\udcff" in a hand-edited file): no YAML parser reads it
            notes.append(f"{cid}: {found.meta.role}{NOT_PLANNED}its variables hold text that is not UTF-8")
            return None
        return found.meta.role, variables
    if remedy is not None and remedy.variables:
        notes.append(f"{cid}: {found.meta.role} takes no variables from an audit; ignored")
    return found.meta.role, {}


def plan_host(host: Mapping[str, Any]) -> HostPlan:
    """The roles and variables for one host of results.json (pure)."""
    name = str(host.get("name", ""))
    platform = Platform(str(host.get("platform", "linux")))
    failed: list[str] = []
    roles: set[str] = set()
    variables: dict[str, Any] = {}
    notes: list[str] = []
    for check in host.get("checks") or []:
        if not isinstance(check, Mapping) or check.get("status") != "fail":
            continue
        planned = _check_plan(platform, check, notes)
        if planned is None:
            continue
        failed.append(str(check.get("id")))
        roles.add(planned[0])
        variables.update(_unsafe(planned[1]))
    ordered = tuple(r for r in _roles(platform) if r in roles)
    head = {
        "harden_platform": platform.value,
        "harden_roles": list(ordered),
        "harden_failed_checks": [Unsafe(c) for c in failed],
    }
    # notes quote results.json, which an edited file may fill with lone surrogates: plan.json must stay writable
    return HostPlan(name, platform.value, ordered, tuple(failed), {**head, **variables}, tuple(map(scrub, notes)))


def plan(results: Mapping[str, Any]) -> Plan:
    """Plan every host of a results.json document that has failed checks a role can fix."""
    return plan_hosts(results.get("hosts") or [])


def plan_hosts(host_docs: Iterable[Any]) -> Plan:
    """Plan each host (results.json form) that has failed checks a role can fix; one host at a time."""
    hosts: list[HostPlan] = []
    skipped: list[tuple[str, str]] = []
    for host in host_docs:
        if not isinstance(host, Mapping):
            continue
        name = str(host.get("name", ""))
        if not file_safe(name):  # the whole name (re.fullmatch): "web1\n" is no file name
            skipped.append((name, "host name unusable as a host_vars file name"))
            continue
        if host.get("platform") not in ("linux", "windows"):
            skipped.append((name, f"unknown platform {host.get('platform')!r}"))
            continue
        hp = plan_host(host)
        if hp.roles:
            hosts.append(hp)
        elif host.get("status") != "ok":
            skipped.append((name, f"not fully audited ({host.get('status')}): re-audit first"))
        elif blocked := [n for n in hp.notes if NOT_PLANNED in n]:
            skipped.append((name, "; ".join(blocked)))
    return Plan(tuple(hosts), tuple(skipped))


# ------------------------------------------------------------------------------ writing


def roles_source() -> Path:
    """The installed roles folder (``hardening.playbooks/roles``)."""
    path = Path(str(resources.files("hardening.playbooks").joinpath("roles")))
    if not path.is_dir():
        raise RemediationError(f"roles missing under {path}: reinstall harden")
    return path


@cache
def _template(name: str) -> jinja2.Template:
    text = resources.files("hardening.templates").joinpath("remediation", name).read_text(encoding="utf-8")
    # [[ ]] / [% %]: Ansible's own {{ }} pass through untouched.
    env = jinja2.Environment(
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.from_string(text)


def render_site(p: Plan) -> str:
    """The site playbook for ``p`` (only fixed role names and check ids enter the template)."""
    linux, windows = p.roles("linux"), p.roles("windows")
    if not set(linux + windows) <= set(ROLES):
        raise RemediationError(f"unknown roles {sorted(set(linux + windows) - set(ROLES))}")
    return _template("site.yml.j2").render(
        version=__version__,
        collection=f"{COLLECTION_NAMESPACE}.{COLLECTION_NAME}",
        linux_roles=linux,
        windows_roles=windows,
        checks_of=role_checks,
    )


def role_checks(role: str) -> tuple[str, ...]:
    """The check ids a role fixes (its tags in the site playbook)."""
    from hardening.checks import registry

    return tuple(d.id for d in registry() for c in d.platforms.values() if c.meta.role == role)


def _host_vars_name(host: str) -> str:
    try:
        return host_file_name(host, ".yml")
    except UnsafeHostName as exc:
        raise RemediationError(str(exc)) from None


def with_included_roles(src: Path, roles: Sequence[str]) -> tuple[str, ...]:
    """``roles`` and every role of the collection they include (``include_role`` by FQCN), transitively.

    harden_edr includes harden_auditd: a playbook directory that runs the first carries the second.
    """
    prefix = re.compile(rf"\b{COLLECTION_NAMESPACE}\.{COLLECTION_NAME}\.(harden_[a-z_]+)\b")
    out: list[str] = []
    todo = list(roles)
    while todo:
        role = todo.pop(0)
        if role in out or not (src / role).is_dir():
            continue
        out.append(role)
        for f in sorted((src / role / "tasks").glob("*.yml")):
            todo += [m for m in prefix.findall(f.read_text(encoding="utf-8")) if m not in out]
    return tuple(out)


def write_playbooks(p: Plan, out_dir: Path) -> Path:
    """Write ``out_dir/playbooks/`` (replacing a previous one) and return its path."""
    for h in p.hosts:  # plan_hosts skips such hosts; a Plan built otherwise is refused before any write
        _host_vars_name(h.name)
    dest = out_dir / "playbooks"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "host_vars").mkdir(parents=True)
    src = roles_source()
    collection = dest / "collections" / "ansible_collections" / COLLECTION_NAMESPACE / COLLECTION_NAME
    for role in with_included_roles(src, p.roles("linux") + p.roles("windows")):
        shutil.copytree(src / role, collection / "roles" / role, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(src.parent / "plugins", collection / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("meta/runtime.yml",):  # what Ansible needs to load it (galaxy.yml is for building)
        (collection / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.parent / name, collection / name)
    (dest / "site.yml").write_text(render_site(p), encoding="utf-8")
    (dest / "ansible.cfg").write_text(_template("ansible.cfg.j2").render(), encoding="utf-8")
    texts = _VarsTexts()
    for h in p.hosts:
        text = f"---\n# harden {__version__}: remediation variables for this host (from results.json)\n"
        (dest / "host_vars" / _host_vars_name(h.name)).write_text(text + texts.dump(h.variables), encoding="utf-8")
    summary = {
        "hosts": [
            {
                "name": h.name,
                "platform": h.platform,
                "roles": list(h.roles),
                "failed_checks": list(h.failed_checks),
                "notes": list(h.notes),
            }
            for h in p.hosts
        ],
        "skipped": [{"name": n, "why": w} for n, w in p.skipped],
    }
    with (dest / "plan.json").open("w", encoding="utf-8") as f:  # piece by piece: 10,000 hosts are megabytes
        json.dump(summary, f, indent=2)
        f.write("\n")
    return dest


def remediate(results_path: Path, out_dir: Path) -> tuple[Plan, Path]:
    """Regenerate ``out_dir/playbooks`` from ``results_path`` (schema-validated) without re-auditing."""
    from hardening.report.document import ResultsError, load_results

    try:
        doc = load_results(results_path)
    except ResultsError as exc:
        raise RemediationError(str(exc)) from exc
    return remediate_doc(doc, out_dir)


def warm_up() -> None:
    """Compile the playbook templates now (e.g. while hosts are being audited)."""
    for name in ("site.yml.j2", "ansible.cfg.j2"):
        _template(name)


def remediate_doc(doc: ResultsDoc, out_dir: Path) -> tuple[Plan, Path]:
    """``out_dir/playbooks`` for a results document already in memory (after an audit).

    The plan never reads evidence, so the hosts are given without it: after an audit their
    evidence is in a temporary file (``hardening.results.Spill``), and reading it all back
    and decoding it would cost seconds at 10,000 hosts."""
    none = Evidence()
    p = plan_hosts(replace(h, checks=tuple(replace(c, evidence=none) for c in h.checks)).to_json() for h in doc.hosts)
    return p, write_playbooks(p, out_dir)


def plan_lines(p: Plan) -> Sequence[str]:
    """Human summary: one line per planned or skipped host (and each role left out for want of policy)."""
    lines: list[str] = []
    for h in p.hosts:
        lines.append(f"{h.name}: {', '.join(h.roles)} (for {', '.join(h.failed_checks)})")
        lines += [f"  {n}" for n in h.notes if NOT_PLANNED in n]
    lines += [f"{n}: skipped ({w})" for n, w in p.skipped]
    return lines or ["no failed check has a remediation role: nothing to do"]
