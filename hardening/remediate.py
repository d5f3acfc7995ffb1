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
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import yaml

from hardening import __version__
from hardening.facts.binaries import NETCAT_PACKAGES, managed_link
from hardening.hostnames import UnsafeHostName, file_safe, host_file_name

if TYPE_CHECKING:
    from hardening.report.document import ResultsDoc

#: Linux roles in the order they run: the firewall last (the riskiest change, and it
#: reads the DNS role's upstreams to open port 53 to them).
LINUX_ROLES: tuple[str, ...] = (
    "harden_netcat",
    "harden_dns_logging",
    "harden_auditd",
    "harden_appcontrol",
    "harden_egress",
)
#: Windows roles in order: application control LAST (it enables Constrained Language Mode,
#: after which Ansible cannot manage the host without signed content).
WINDOWS_ROLES: tuple[str, ...] = (
    "harden_win_firewall",
    "harden_win_dns_log",
    "harden_win_sysmon",
    "harden_win_pslogging",
    "harden_win_appcontrol",
)
ROLES = LINUX_ROLES + WINDOWS_ROLES

_LINUX_CHECK_ROLES: Mapping[str, str] = {
    "egress.default_deny": "harden_egress",
    "egress.allowlist": "harden_egress",
    "dns.query_logging": "harden_dns_logging",
    "audit.auditd": "harden_auditd",
    "appcontrol.enforced": "harden_appcontrol",
    "binaries.netcat": "harden_netcat",
}
_WINDOWS_CHECK_ROLES: Mapping[str, str] = {
    "egress.default_deny": "harden_win_firewall",
    "egress.allowlist": "harden_win_firewall",
    "dns.query_logging": "harden_win_dns_log",
    "audit.sysmon": "harden_win_sysmon",
    "powershell.logging": "harden_win_pslogging",
    "powershell.language_mode": "harden_win_appcontrol",
    "appcontrol.enforced": "harden_win_appcontrol",
}

_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PLAIN_ADDR = re.compile(r"[0-9A-Fa-f:.]{2,45}")


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


def _role_for(platform: str, check_id: str) -> str | None:
    table = _LINUX_CHECK_ROLES if platform == "linux" else _WINDOWS_CHECK_ROLES
    return table.get(check_id)


def _facts(check: Mapping[str, Any]) -> Mapping[str, Any]:
    ev = check.get("evidence")
    facts = ev.get("facts") if isinstance(ev, Mapping) else None
    return facts if isinstance(facts, Mapping) else {}


def dns_notes(facts: Mapping[str, Any]) -> list[str]:
    """What the operator should know about the host's own resolvers: they are never used.

    >>> dns_notes({"resolv_conf": {"nameservers": ["198.18.0.1", "127.0.0.1"]}})
    ["the host's resolv.conf names 198.18.0.1: the role forwards only to harden_dns_resolvers from the inventory"]
    """
    resolv = facts.get("resolv_conf")
    servers = resolv.get("nameservers") if isinstance(resolv, Mapping) else None
    named = [str(s) for s in servers if isinstance(s, str)] if isinstance(servers, list) else []
    outside = [s for s in named if not s.startswith("127.") and s != "::1"][:8]
    if not outside:
        return []
    return [
        f"the host's resolv.conf names {', '.join(repr(s) if not _PLAIN_ADDR.fullmatch(s) else s for s in outside)}:"
        " the role forwards only to harden_dns_resolvers from the inventory"
    ]


def _finding_packages(f: Mapping[str, Any], notes: list[str]) -> set[str]:
    """The removable packages of one finding, re-checked here: plain names of netcat packages."""
    out: set[str] = set()
    for raw in f.get("removable_packages") or []:
        name = str(raw).split(":", 1)[0]
        if not _PACKAGE.fullmatch(name) or name not in NETCAT_PACKAGES:
            notes.append(f"ignored package name {name!r} (not a netcat package)")
        else:
            out.add(name)
    return out


def _quarantine_entry(f: Mapping[str, Any], np: Mapping[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """What the role gets for one unpackaged name: the link or the file, as itself."""
    path = str(np.get("path") or "")
    kind = str(np.get("kind") or "")
    root_only = np.get("root_only") is True
    if not path.startswith("/") or "\x00" in path or any(c in ("", ".", "..") for c in path.split("/")[1:]):
        notes.append(f"ignored path {path!r} (not a plain absolute path)")
        return None
    if kind == "symlink":
        target = str(np.get("link_target") or "")
        if managed_link(kind, root_only, target):
            notes.append(f"{path!r}: alternatives link, left to the package manager")
            return None
        return {"path": Unsafe(path), "kind": "symlink", "link_target": Unsafe(target), "root_only": root_only}
    if kind == "file":
        sha = str(f.get("sha256") or "")
        if not _SHA256.fullmatch(sha):
            notes.append(f"{path!r}: no sha256 in the audit; not quarantined (re-audit as root)")
            return None
        entry: dict[str, Any] = {"path": Unsafe(path), "kind": "file", "sha256": Unsafe(sha), "root_only": root_only}
        uid = np.get("uid")
        if isinstance(uid, int) and not isinstance(uid, bool) and uid >= 0:
            entry["uid"] = uid
        return entry
    notes.append(f"{path!r}: neither a file nor a link ({kind!r}); look at it by hand")
    return None


def netcat_targets(facts: Mapping[str, Any]) -> tuple[list[Unsafe], list[dict[str, Any]], list[str]]:
    """(packages to remove, files and links to quarantine, notes) from binaries.netcat findings.

    Each name a binary was found under is judged as itself (``paths`` in the evidence): a
    package is removed only when the audit proved it removable (a path it owns itself, in a
    root-only directory, and a netcat package by name: re-checked here); an unpackaged link
    or copy is quarantined as itself, never what it points at; a packaged file that is not
    removable is left for a person. Findings from an older harden (no ``paths``) plan
    nothing: re-audit.
    """
    packages: list[Unsafe] = []
    files: list[dict[str, Any]] = []
    notes: list[str] = []
    findings = facts.get("findings")
    for f in findings if isinstance(findings, list) else []:
        if not isinstance(f, Mapping):
            continue
        named = f.get("paths")
        if not isinstance(named, list):
            notes.append(f"{str(f.get('real_path'))!r}: audited by an older harden (no per-path owners): re-audit")
            continue
        removable = _finding_packages(f, notes)
        for p in sorted(removable):
            if p not in packages:
                packages.append(Unsafe(p))
        for np in named:
            if not isinstance(np, Mapping):
                continue
            owners = {str(o).split(":", 1)[0] for o in np.get("packages") or []}
            if owners:
                if not (owners & removable and np.get("root_only") is True):
                    notes.append(
                        f"{str(np.get('path'))!r} belongs to {', '.join(sorted(owners))}: not removed "
                        "automatically (not a netcat package, or not where only root writes); look at it by hand"
                    )
                continue
            entry = _quarantine_entry(f, np, notes)
            if entry is not None and entry["path"] not in {e["path"] for e in files}:
                files.append(entry)
    return packages, files, notes


def plan_host(host: Mapping[str, Any]) -> HostPlan:
    """The roles and variables for one host of results.json (pure)."""
    name = str(host.get("name", ""))
    platform = str(host.get("platform", "linux"))
    failed: list[str] = []
    roles: set[str] = set()
    variables: dict[str, Any] = {}
    notes: list[str] = []
    for check in host.get("checks") or []:
        if not isinstance(check, Mapping) or check.get("status") != "fail":
            continue
        cid = str(check.get("id", ""))
        role = _role_for(platform, cid)
        if role is None:
            notes.append(f"{cid}: no remediation role")
            continue
        failed.append(cid)
        roles.add(role)
        facts = _facts(check)
        if role == "harden_dns_logging":
            notes += dns_notes(facts)
        elif role == "harden_netcat":
            pkgs, files, more = netcat_targets(facts)
            variables["harden_netcat_packages"] = pkgs
            variables["harden_netcat_files"] = files
            notes += more
    order = LINUX_ROLES if platform == "linux" else WINDOWS_ROLES
    ordered = tuple(r for r in order if r in roles)
    head = {
        "harden_platform": platform,
        "harden_roles": list(ordered),
        "harden_failed_checks": [Unsafe(c) for c in failed],
    }
    return HostPlan(name, platform, ordered, tuple(failed), {**head, **variables}, tuple(notes))


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
    """The site playbook for ``p`` (only fixed role names enter the template)."""
    linux, windows = p.roles("linux"), p.roles("windows")
    if not set(linux + windows) <= set(ROLES):
        raise RemediationError(f"unknown roles {sorted(set(linux + windows) - set(ROLES))}")
    return _template("site.yml.j2").render(version=__version__, linux_roles=linux, windows_roles=windows)


def _host_vars_name(host: str) -> str:
    try:
        return host_file_name(host, ".yml")
    except UnsafeHostName as exc:
        raise RemediationError(str(exc)) from None


def write_playbooks(p: Plan, out_dir: Path) -> Path:
    """Write ``out_dir/playbooks/`` (replacing a previous one) and return its path."""
    for h in p.hosts:  # plan_hosts skips such hosts; a Plan built otherwise is refused before any write
        _host_vars_name(h.name)
    dest = out_dir / "playbooks"
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "host_vars").mkdir(parents=True)
    src = roles_source()
    for role in p.roles("linux") + p.roles("windows"):
        shutil.copytree(src / role, dest / "roles" / role, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "site.yml").write_text(render_site(p), encoding="utf-8")
    (dest / "ansible.cfg").write_text(_template("ansible.cfg.j2").render(), encoding="utf-8")
    for h in p.hosts:
        text = f"---\n# harden {__version__}: remediation variables for this host (from results.json)\n"
        (dest / "host_vars" / _host_vars_name(h.name)).write_text(text + dump_vars(h.variables), encoding="utf-8")
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
    (dest / "plan.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
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
    """``out_dir/playbooks`` for a results document already in memory (after an audit)."""
    p = plan_hosts(h.to_json() for h in doc.hosts)
    return p, write_playbooks(p, out_dir)


def plan_lines(p: Plan) -> Sequence[str]:
    """Human summary: one line per planned or skipped host."""
    lines = [f"{h.name}: {', '.join(h.roles)} (for {', '.join(h.failed_checks)})" for h in p.hosts]
    lines += [f"{n}: skipped ({w})" for n, w in p.skipped]
    return lines or ["no failed check has a remediation role: nothing to do"]
