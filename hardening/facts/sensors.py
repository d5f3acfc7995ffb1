"""Sensor facts (Linux): which behavioural sensors are installed, their service units, and the
configuration of the open ones that says which events they load rules for.

Parses the ``sensors.*`` sections of ``sensors.sh``. Whether a sensor RUNS is not read here:
the ``processes`` area identifies running sensors by executable. Sources:

- packages: ``dpkg-query -W`` (``${db:Status-Status}`` "installed") or ``rpm -q``;
- units: ``systemctl show -p Id,LoadState,ActiveState,SubState,UnitFileState,MainPID`` (blank
  line between units; ``LoadState=not-found`` for units that do not exist);
- Falco: ``falco.yaml`` (``rules_files``, formerly ``rules_file``; ``priority``, the minimum
  priority of the rules it loads) and the rules files: YAML lists of ``rule``/``macro``/``list``
  items; a later item of the same rule name replaces it, appends to it (``append: true`` or
  ``override: {condition: append}``) or only switches it (``enabled:``)
  (https://falco.org/docs/concepts/rules/);
- osquery: ``osquery.conf`` (JSON: ``schedule`` and ``packs`` queries) and the flagfile
  (``--flag=value`` lines); event tables need their publisher: ``process_events``/``socket_events``
  the Audit publisher (``--disable_audit=false``, ``--audit_allow_sockets`` for sockets),
  ``bpf_process_events``/``bpf_socket_events`` ``--enable_bpf_events``
  (https://osquery.readthedocs.io/en/stable/deployment/process-auditing/);
- Tetragon: TracingPolicy files in ``/etc/tetragon/tetragon.tp.d`` (loaded at start,
  ``--tracing-policy-dir``); process execution events are always on, network events need a
  kprobe on a connect path (https://tetragon.io/docs/concepts/tracing-policy/);
- Sysmon for Linux: ``/opt/sysmon/config.xml`` (the configuration ``sysmon -i``/``-c`` stored);
- auditbeat: ``auditbeat.yml`` (``auditd`` module ``audit_rules``; ``system`` module datasets).

YAML from a host is read with :func:`host_yaml`: no aliases (a "billion laughs" file cannot
grow in memory), no tags beyond plain data.

Example::

    >>> falco_rules([("/etc/falco/falco_rules.yaml", "- macro: spawned_process\\n  condition: evt.type = execve\\n"
    ...     "- rule: Shell\\n  condition: spawned_process and proc.name = bash\\n  priority: WARNING\\n")],
    ...     "debug").process
    ('Shell',)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from hardening import hostjson
from hardening.facts.areas import FactArea
from hardening.facts.audit import RuleSet, parse_rules
from hardening.facts.sections import RC_NOT_FOUND, FactError, Sections, iter_lines, require_sections
from hardening.model import Platform

CAP = 4194304  # HSK in sensors.sh
SECTIONS = (
    "sensors.packages",
    "sensors.falco",
    "sensors.osquery",
    "sensors.tetragon",
    "sensors.sysmon",
    "sensors.auditbeat",
)
FILE_SECTIONS = SECTIONS[1:]


# ------------------------------------------------------------------------------- host YAML


class _HostLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: host YAML is data, and aliases are how it explodes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"YAML alias *{event.anchor} refused (host data: no aliases)")
        return super().compose_node(parent, index)


def host_yaml(text: str) -> list[Any]:
    """Every document of a YAML text from a host, or :class:`FactError`.

    >>> host_yaml("a: 1\\n---\\nb: [2]\\n")
    [{'a': 1}, {'b': [2]}]
    """
    try:
        return [d for d in yaml.load_all(text, Loader=_HostLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise FactError(f"not valid YAML: {str(exc)[:200]}") from None


def file_blocks(text: str) -> list[tuple[str, str]]:
    """``==> path <==`` blocks (``_h_files`` output) as (path, content)."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"^==> (.+?) <==\n(.*?)(?=^==> .+? <==\n|\Z)", text, re.MULTILINE | re.DOTALL):
        out.append((m.group(1), m.group(2)))
    return out


# ------------------------------------------------------------------------------- Falco

FALCO_PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
_FALCO_DEFAULT_RULES = ("/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d")
_PROCESS_EVENTS = frozenset({"execve", "execveat"})
_NETWORK_EVENTS = frozenset({"connect", "accept", "accept4", "sendto", "sendmsg"})
_WORD = re.compile(r"[A-Za-z0-9_.\-]+")


def _falco_priority(text: Any) -> int:
    t = str(text or "").strip().lower()
    t = {"info": "informational", "warn": "warning", "err": "error", "crit": "critical", "emerg": "emergency"}.get(t, t)
    return FALCO_PRIORITIES.index(t) if t in FALCO_PRIORITIES else len(FALCO_PRIORITIES) - 1


@dataclass(frozen=True)
class FalcoRules:
    """What the Falco rules a host loads watch: enabled rules (at or above the configured
    priority) whose condition, macros expanded, names process-start or network syscalls."""

    files: tuple[str, ...]  # the rules files read, in load order
    loaded: int  # enabled rules at or above the minimum priority
    process: tuple[str, ...]  # rule names watching execve/execveat
    network: tuple[str, ...]  # rule names watching connect/accept/send*
    min_priority: str
    problems: tuple[str, ...] = ()  # files that could not be read or parsed


def _falco_items(path: str, text: str, problems: list[str]) -> Iterator[Mapping[str, Any]]:
    try:
        docs = host_yaml(text)
    except FactError as exc:
        problems.append(f"{path}: {exc}")
        return
    for doc in docs:
        if not isinstance(doc, list):
            problems.append(f"{path}: not a list of rules")
            continue
        yield from (i for i in doc if isinstance(i, Mapping))


def _merge_rule(rules: dict[str, dict[str, Any]], item: Mapping[str, Any]) -> None:
    name = str(item["rule"])
    override = item.get("override") if isinstance(item.get("override"), Mapping) else {}
    old = rules.get(name)
    if old is not None and (item.get("append") is True or override.get("condition") == "append"):
        old["condition"] = f"({old.get('condition', '')}) {item.get('condition', '')}"
    elif old is not None and "condition" not in item:
        old.update({k: v for k, v in item.items() if k in ("enabled", "priority")})
    else:
        rules[name] = {k: item.get(k) for k in ("condition", "enabled", "priority")}


def _expand(cond: str, macros: Mapping[str, str], depth: int = 0) -> set[str]:
    """The words of a condition with its macros expanded (bounded depth: a loop cannot hang)."""
    words = set(_WORD.findall(cond))
    if depth >= 12:
        return words
    out = set(words)
    for w in words & macros.keys():
        out |= _expand(macros[w], macros, depth + 1)
    return out


def falco_rules(files: list[tuple[str, str]], min_priority: str) -> FalcoRules:
    """Judge Falco rules files (path, text) in load order against ``min_priority``."""
    rules: dict[str, dict[str, Any]] = {}
    macros: dict[str, str] = {}
    problems: list[str] = []
    for path, text in files:
        for item in _falco_items(path, text, problems):
            if "macro" in item:
                name = str(item["macro"])
                cond = str(item.get("condition") or "")
                macros[name] = f"{macros[name]} {cond}" if item.get("append") is True and name in macros else cond
            elif "rule" in item:
                _merge_rule(rules, item)
    floor = _falco_priority(min_priority)
    process: list[str] = []
    network: list[str] = []
    loaded = 0
    for name, r in rules.items():
        if r.get("enabled") is False or _falco_priority(r.get("priority")) > floor:
            continue
        loaded += 1
        words = _expand(str(r.get("condition") or ""), macros)
        if words & _PROCESS_EVENTS:
            process.append(name)
        if words & _NETWORK_EVENTS:
            network.append(name)
    return FalcoRules(
        tuple(p for p, _ in files), loaded, tuple(process), tuple(network), FALCO_PRIORITIES[floor], tuple(problems)
    )


@dataclass(frozen=True)
class FalcoConfig:
    rules_paths: tuple[str, ...]  # rules_files from falco.yaml (files or directories), in order
    min_priority: str
    problem: str = ""


def falco_config(blocks: list[tuple[str, str]]) -> FalcoConfig | None:
    """falco.yaml (+ config.d): the rules it loads and the minimum priority; None when absent."""
    cfg: dict[str, Any] = {}
    found = False
    for path, text in blocks:
        if path == "/etc/falco/falco.yaml" or path.startswith("/etc/falco/config.d/"):
            found = True
            try:
                docs = host_yaml(text)
            except FactError as exc:
                return FalcoConfig((), "debug", f"{path}: {exc}")
            for d in docs:
                if isinstance(d, Mapping):
                    cfg.update(d)
    if not found:
        return None
    raw = cfg.get("rules_files", cfg.get("rules_file"))
    paths = tuple(str(p) for p in raw) if isinstance(raw, list) else _FALCO_DEFAULT_RULES
    return FalcoConfig(paths, str(cfg.get("priority") or "debug"))


def falco_load_order(paths: tuple[str, ...], blocks: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The rules files ``paths`` names (a directory: its files in name order) and the paths not collected."""
    by_path = dict(blocks)
    out: list[tuple[str, str]] = []
    unread: list[str] = []
    for p in paths:
        p = p.rstrip("/")
        if p in by_path:
            out.append((p, by_path[p]))
            continue
        inside = sorted(q for q in by_path if q.startswith(p + "/") and q.endswith((".yaml", ".yml")))
        if inside:
            out += [(q, by_path[q]) for q in inside]
        elif not p.startswith("/etc/falco/"):
            unread.append(p)
    return out, unread


# ------------------------------------------------------------------------------- osquery


@dataclass(frozen=True)
class OsqueryConfig:
    flags: Mapping[str, str]  # from the flagfile (the running daemon's own flags are added by the check)
    queries: tuple[str, ...]  # scheduled queries (schedule + inline packs), lower-cased
    pack_paths: tuple[str, ...]  # packs named by path (read when under /etc/osquery/packs)
    problem: str = ""


def _json_lenient(text: str) -> Any:
    """osquery's JSON (it accepts // and # comment lines)."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(("//", "#"))]
    return hostjson.loads("\n".join(lines))


def parse_flags(lines: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--name=value`` / ``--name`` words (a flagfile's lines or a command line) as a mapping.

    >>> parse_flags(["--disable_audit=false", "--enable_bpf_events", "# x"])
    {'disable_audit': 'false', 'enable_bpf_events': 'true'}
    """
    out: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if not line.startswith("--"):
            continue
        name, eq, value = line[2:].partition("=")
        out[name.strip()] = value.strip().strip("'\"") if eq else "true"
    return out


def _queries(obj: Any) -> list[str]:
    out: list[str] = []
    if isinstance(obj, Mapping):
        sched = obj.get("schedule") if isinstance(obj.get("schedule"), Mapping) else {}
        out += [str(q.get("query", "")).lower() for q in sched.values() if isinstance(q, Mapping)]
        queries = obj.get("queries") if isinstance(obj.get("queries"), Mapping) else {}
        out += [str(q.get("query", "")).lower() for q in queries.values() if isinstance(q, Mapping)]
    return out


def osquery_config(blocks: list[tuple[str, str]]) -> OsqueryConfig | None:
    """osquery.conf + flagfile + packs in /etc/osquery/packs; None when there is no config or flagfile."""
    flags: dict[str, str] = {}
    queries: list[str] = []
    packs: list[str] = []
    problem = ""
    found = False
    by_path = dict(blocks)
    for path, text in blocks:
        if path.endswith(".flags") or path == "/etc/default/osqueryd":
            found = True
            flags.update(parse_flags(text.splitlines()))
        elif path == "/etc/osquery/osquery.conf" or path.startswith("/etc/osquery/conf.d/"):
            found = True
            try:
                conf = _json_lenient(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                problem = f"{path}: not valid JSON ({str(exc)[:120]})"
                continue
            queries += _queries(conf)
            raw_packs = conf.get("packs") if isinstance(conf, Mapping) else None
            for pack in (raw_packs or {}).values() if isinstance(raw_packs, Mapping) else ():
                if isinstance(pack, Mapping):
                    queries += _queries(pack)
                elif isinstance(pack, str):
                    packs.append(pack)
    for p in packs:
        if p in by_path:
            try:
                queries += _queries(_json_lenient(by_path[p]))
            except (json.JSONDecodeError, RecursionError):
                problem = problem or f"{p}: not valid JSON"
    if not found:
        return None
    return OsqueryConfig(flags, tuple(queries), tuple(packs), problem)


# ------------------------------------------------------------------------------- Tetragon

# Kernel functions a TracingPolicy hooks to see outbound connections (Tetragon's network
# observability examples hook tcp_connect; the syscall and LSM hooks see every connect()).
TETRAGON_CONNECT_HOOKS = frozenset(
    {"tcp_connect", "tcp_v4_connect", "tcp_v6_connect", "__sys_connect", "sys_connect", "security_socket_connect",
     "inet_stream_connect", "__x64_sys_connect", "__arm64_sys_connect", "udp_sendmsg", "tcp_sendmsg"}
)  # fmt: skip


@dataclass(frozen=True)
class TetragonPolicies:
    files: tuple[str, ...]
    hooks: tuple[str, ...]  # every kprobe/tracepoint call named
    network: tuple[str, ...]  # policies hooking a connect path
    problems: tuple[str, ...] = ()


def tetragon_policies(blocks: list[tuple[str, str]]) -> TetragonPolicies | None:
    files = [(p, t) for p, t in blocks if "/tetragon.tp.d/" in p]
    if not blocks:
        return None
    hooks: list[str] = []
    network: list[str] = []
    problems: list[str] = []
    for path, text in files:
        try:
            docs = host_yaml(text)
        except FactError as exc:
            problems.append(f"{path}: {exc}")
            continue
        for d in docs:
            if not isinstance(d, Mapping) or str(d.get("kind", "")) not in ("TracingPolicy", "TracingPolicyNamespaced"):
                continue
            spec = d.get("spec") if isinstance(d.get("spec"), Mapping) else {}
            calls = [
                str(k.get("call") or k.get("event") or "")
                for key in ("kprobes", "tracepoints")
                for k in (spec.get(key) if isinstance(spec.get(key), list) else [])
                if isinstance(k, Mapping)
            ]
            hooks += calls
            if TETRAGON_CONNECT_HOOKS & set(calls) or any(c.endswith("sys_connect") for c in calls):
                meta = d.get("metadata") if isinstance(d.get("metadata"), Mapping) else {}
                network.append(str(meta.get("name") or path))
    return TetragonPolicies(tuple(p for p, _ in files), tuple(hooks), tuple(network), tuple(problems))


# ------------------------------------------------------------------------------- Sysmon for Linux


@dataclass(frozen=True)
class SysmonLinuxConfig:
    """Event types of the stored configuration: name -> (onmatch, filters) per rule element."""

    rules: Mapping[str, tuple[tuple[str, int], ...]]
    problem: str = ""

    def logs(self, event: str, default_on: bool) -> bool:
        found = self.rules.get(event, ())
        if not found:
            return default_on
        return any(onmatch == "exclude" or filters > 0 for onmatch, filters in found)


def sysmon_linux_config(text: str) -> SysmonLinuxConfig:
    from xml.etree.ElementTree import ParseError

    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(text.strip())
    except (ParseError, DefusedXmlException) as exc:
        return SysmonLinuxConfig({}, f"/opt/sysmon/config.xml is not valid XML: {str(exc)[:160]}")
    rules: dict[str, list[tuple[str, int]]] = {}
    for filtering in root.iter("EventFiltering"):
        for el in filtering.iter():
            if el is filtering or el.tag == "RuleGroup" or el.get("onmatch") is None:
                continue
            rules.setdefault(el.tag, []).append((el.get("onmatch", "").lower(), len(list(el))))
    return SysmonLinuxConfig({k: tuple(v) for k, v in rules.items()})


# ------------------------------------------------------------------------------- auditbeat


@dataclass(frozen=True)
class AuditbeatConfig:
    audit_rules: RuleSet | None  # the auditd module's audit_rules
    datasets: tuple[str, ...]  # the system module's datasets (process, socket, ...)
    problem: str = ""


def auditbeat_config(text: str) -> AuditbeatConfig:
    try:
        docs = host_yaml(text)
    except FactError as exc:
        return AuditbeatConfig(None, (), f"auditbeat.yml: {exc}")
    doc = docs[0] if docs and isinstance(docs[0], Mapping) else {}
    modules = doc.get("auditbeat.modules")
    rules: RuleSet | None = None
    datasets: list[str] = []
    for m in modules if isinstance(modules, list) else []:
        if not isinstance(m, Mapping) or m.get("enabled") is False:
            continue
        if m.get("module") == "auditd" and isinstance(m.get("audit_rules"), str):
            rules = parse_rules(m["audit_rules"])
        if m.get("module") == "system" and isinstance(m.get("datasets"), list):
            datasets += [str(d) for d in m["datasets"]]
    return AuditbeatConfig(rules, tuple(datasets))


# ------------------------------------------------------------------------------- the area


@dataclass(frozen=True)
class Unit:
    id: str
    load: str  # "loaded" | "not-found" | "masked" ...
    active: str  # "active" | "inactive" | "failed" ...
    file_state: str  # "enabled" | "disabled" | ...
    main_pid: int

    @property
    def exists(self) -> bool:
        return self.load not in ("not-found", "")


@dataclass(frozen=True)
class SensorFacts:
    packages: frozenset[str]  # installed sensor packages
    units: Mapping[str, Unit]  # by unit id (units that exist); empty without systemd
    systemd: bool
    falco: FalcoConfig | None
    falco_files: tuple[tuple[str, str], ...]  # every collected file under /etc/falco (path, text)
    osquery: OsqueryConfig | None
    tetragon: TetragonPolicies | None
    sysmon: SysmonLinuxConfig | None
    auditbeat: AuditbeatConfig | None
    problems: tuple[str, ...]  # sections cut at the cap, unreadable files


def parse_units(text: str) -> dict[str, Unit]:
    """``systemctl show`` blocks (blank-line separated) of the units that exist, by id."""
    out: dict[str, Unit] = {}
    for block in re.split(r"\n\s*\n", text):
        kv = dict(line.split("=", 1) for line in iter_lines(block) if "=" in line)
        unit = Unit(
            kv.get("Id", ""),
            kv.get("LoadState", ""),
            kv.get("ActiveState", ""),
            kv.get("UnitFileState", ""),
            int(kv["MainPID"]) if kv.get("MainPID", "").isdigit() and len(kv["MainPID"]) < 11 else 0,
        )
        if unit.id and unit.exists:
            out[unit.id] = unit
    return out


def _packages(sections: Sections) -> frozenset[str]:
    out = set()
    for line in iter_lines(sections.text("sensors.packages")):
        parts = line.split()  # "name status" (older collectors) or "name status version want ok status"
        if len(parts) >= 2 and parts[1] == "installed":
            out.add(parts[0].split(":", 1)[0].lower())
    return frozenset(out)


def parse(sections: Sections) -> SensorFacts:
    """Parse the ``sensors.*`` sections. Raises :class:`FactError` when they are missing or cut."""
    require_sections(sections, "sensors", SECTIONS)
    problems = [
        f"{n} hit the {CAP // 1048576} MiB cap: a file was cut" for n in FILE_SECTIONS if len(sections[n].body) >= CAP
    ]
    for name in FILE_SECTIONS:
        if sections.rc(name) != 0:
            problems.append(f"{name}: a file could not be read: {sections.stderr(name).strip()[:200]}")
    systemd = "sensors.units" in sections and sections.rc("sensors.units") not in (None, RC_NOT_FOUND)
    units = parse_units(sections.text("sensors.units")) if systemd else {}
    falco_blocks = file_blocks(sections.text("sensors.falco"))
    osq = file_blocks(sections.text("sensors.osquery"))
    tet = file_blocks(sections.text("sensors.tetragon"))
    sysmon_text = sections.text("sensors.sysmon")
    sysmon_blocks = file_blocks(sysmon_text)
    ab_blocks = file_blocks(sections.text("sensors.auditbeat"))
    return SensorFacts(
        packages=_packages(sections),
        units=units,
        systemd=systemd,
        falco=falco_config(falco_blocks),
        falco_files=tuple(falco_blocks),
        osquery=osquery_config(osq),
        tetragon=tetragon_policies(tet),
        sysmon=sysmon_linux_config(sysmon_blocks[0][1]) if sysmon_blocks else None,
        auditbeat=auditbeat_config(ab_blocks[0][1]) if ab_blocks else None,
        problems=tuple(problems),
    )


AREAS = (FactArea("sensors", Platform.LINUX, parse, SECTIONS, order=75, piece="sensors"),)
