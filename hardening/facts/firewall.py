"""Firewall facts: the running packet filter and what loads at boot, as rulesets.

Built from the sections of ``firewall.sh``. The running ruleset joins every backend
the kernel runs at once: native nftables tables (``nft -j list ruleset``), the
iptables-nft tables (from ``iptables-nft-save``, which reads their xt matches better
than nft's JSON does, so those tables are taken from it and skipped in the nft view)
and the legacy xtables tables (``iptables-legacy-save``). The persisted ruleset joins
every source enabled at boot: ``/etc/nftables.conf`` (parsed by nft itself in a
throwaway network namespace), ``/etc/iptables/rules.v4|v6`` or
``/etc/sysconfig/ip(6)tables``, ufw's files, and firewalld's policies.

Example::

    facts = parse(sections)
    facts.running.base_chains(4)   # [(Table, Chain), ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from hardening import hostjson
from hardening.facts.areas import FactArea
from hardening.facts.sections import FactError, Sections, iter_lines
from hardening.firewall import firewalld, ufw
from hardening.firewall.iptables import SaveParseError, parse_save
from hardening.firewall.model import MEMO_LIMIT, Ruleset, Table
from hardening.firewall.nft import NftParseError, parse_ruleset, stable_text
from hardening.model import Platform

RUNNING_SECTIONS = (
    "firewall.nft_version",
    "firewall.nft_ruleset",
    "firewall.iptables_version",
    "firewall.iptables_save",
    "firewall.ip6tables_save",
    "firewall.iptables_nft_save",
    "firewall.ip6tables_nft_save",
    "firewall.iptables_legacy_save",
    "firewall.ip6tables_legacy_save",
)
PERSISTED_SECTIONS = (
    "firewall.boot",
    "firewall.nft_conf",
    "firewall.nft_persisted",
    "firewall.rules_v4",
    "firewall.rules_v6",
    "firewall.sysconfig_iptables",
    "firewall.sysconfig_ip6tables",
    "firewall.ufw_conf",
    "firewall.ufw_default",
    "firewall.ufw_rules",
    "firewall.firewalld_state",
    "firewall.firewalld_policies",
)
HOST_SECTIONS = (
    "firewall.ipv6_disable",
    "firewall.if_inet6",
    "firewall.links",
    "firewall.routes4",
    "firewall.routes6",
)
_ENABLED_STATES = frozenset({"enabled", "enabled-runtime", "generated", "alias"})
_NEED_ROOT = "the audit needs root: set ansible_become=true"
#: every section firewall.sh prints
SECTIONS = (
    *RUNNING_SECTIONS,
    *PERSISTED_SECTIONS,
    *HOST_SECTIONS,
    "firewall.legacy_names",
    "firewall.legacy6_names",
    "firewall.ct_cmdline",
    "firewall.ct_modprobe",
)


@dataclass(frozen=True)
class PersistedSource:
    """One thing that may load rules at boot."""

    name: str  # "nftables", "iptables (rules.v4)", "ufw", "firewalld"
    path: str
    present: bool
    enabled: bool  # loads at boot
    evaluated: bool  # its rules are in FirewallFacts.persisted
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": self.path,
            "present": self.present,
            "enabled_at_boot": self.enabled,
            "evaluated": self.evaluated,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class FirewallFacts:
    running: Ruleset
    running_sources: tuple[str, ...]  # what the running ruleset was read from
    persisted: Ruleset | None  # None: a source that loads at boot could not be evaluated
    persisted_sources: tuple[PersistedSource, ...]
    ipv6_enabled: bool
    ipv6_detail: str
    interfaces: tuple[str, ...]  # non-loopback
    out_interfaces: dict[int, tuple[str, ...]]  # interfaces probes leave by, per family
    nft_version: str
    iptables_version: str
    ufw: ufw.UfwConfig | None
    firewalld_running: bool | None
    firewalld_policies: tuple[firewalld.FirewalldPolicy, ...]
    notes: tuple[str, ...] = ()


def parse(sections: Sections) -> FirewallFacts:
    """Pure: sections in, facts out; :class:`FactError` when the running filter is unreadable."""
    if "firewall.nft_ruleset" not in sections and "firewall.iptables_version" not in sections:
        raise FactError("the collector output has no firewall sections (output cut short?)")
    cut = [n for n in SECTIONS if n in sections and sections.rc(n) is None]
    if cut:  # the rules after the cut may be the ones that admit
        raise FactError(f"the collector output was cut short (section {cut[0]} never closed): rerun the audit")
    notes: list[str] = []
    running, sources = _running(sections, notes)
    persisted, psources = _persisted(sections, notes)
    if _conntrack_always_on(sections):
        notes.append("nf_conntrack.enable_hooks is set: connection tracking (and every nat chain) always runs")
        running = replace(running, always_tracked=True)
        persisted = replace(persisted, always_tracked=True) if persisted is not None else None
    v6, v6detail = _ipv6(sections)
    ifaces = _interfaces(sections)
    outs = {
        4: _default_dev(sections.text("firewall.routes4")),
        6: _default_dev(sections.text("firewall.routes6")),
    }
    fallback = tuple(ifaces[:4]) or ("eth0",)
    out_ifaces = {4: tuple(outs[4]) or fallback, 6: tuple(outs[6] or outs[4]) or fallback}
    cfg = None
    if sections.rc("firewall.ufw_conf") == 0:
        cfg = ufw.parse_config(sections.text("firewall.ufw_conf"), sections.text("firewall.ufw_default"))
    fwd_state = sections.rc("firewall.firewalld_state")
    fwd_running = None if fwd_state in (None, 127) else fwd_state == 0
    policies = firewalld.parse_policies(ufw.split_files(sections.text("firewall.firewalld_policies")))
    return FirewallFacts(
        running=running,
        running_sources=tuple(sources),
        persisted=persisted,
        persisted_sources=tuple(psources),
        ipv6_enabled=v6,
        ipv6_detail=v6detail,
        interfaces=tuple(ifaces),
        out_interfaces=out_ifaces,
        nft_version=sections.text("firewall.nft_version").strip(),
        iptables_version=sections.text("firewall.iptables_version").strip(),
        ufw=cfg,
        firewalld_running=fwd_running,
        firewalld_policies=tuple(policies),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- running


def _conntrack_always_on(sections: Sections) -> bool:
    """``nf_conntrack.enable_hooks`` is set: by ``options nf_conntrack enable_hooks=1`` in a
    modprobe.d file, or ``nf_conntrack.enable_hooks=1`` on the kernel command line (which
    modprobe also applies, after the files). The parameter has no /sys file (permissions 0000)."""
    value = None
    files = (
        ufw.split_files(sections.text("firewall.ct_modprobe")) if sections.rc("firewall.ct_modprobe") in (0, 1) else {}
    )
    for text in files.values():
        for v in enable_hooks_options(text):
            value = v
    if sections.rc("firewall.ct_cmdline") == 0:
        for v in enable_hooks_cmdline(sections.text("firewall.ct_cmdline")):
            value = v
    return bool(value)


_TRUE = frozenset({"1", "y", "yes", "on", "true"})


def _param(name: str) -> str:
    return name.replace("-", "_")


def enable_hooks_cmdline(text: str) -> list[bool]:
    """Values of ``nf_conntrack.enable_hooks`` on a kernel command line, in order (a bare name is true).

    >>> enable_hooks_cmdline("ro quiet nf_conntrack.enable_hooks=1 nf-conntrack.enable-hooks=0")
    [True, False]
    """
    out = []
    for word in text.split():
        if word == "--":
            break  # the rest goes to init
        name, eq, val = word.partition("=")
        if _param(name) == "nf_conntrack.enable_hooks":
            out.append(val.strip().lower() in _TRUE if eq else True)
    return out


def enable_hooks_options(text: str) -> list[bool]:
    """Values of ``enable_hooks`` in ``options nf_conntrack ...`` lines of a modprobe.d file, in order.

    >>> enable_hooks_options("# x\\noptions nf_conntrack hashsize=1 enable_hooks=1\\n")
    [True]
    """
    out = []
    lines = text.replace("\\\n", " ").splitlines()
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "options" or _param(words[1]) != "nf_conntrack":
            continue
        for w in words[2:]:
            name, eq, val = w.partition("=")
            if _param(name) == "enable_hooks":
                out.append(val.strip().strip('"').lower() in _TRUE if eq else True)
    return out


def _denied(text: str) -> bool:
    low = text.lower()
    return "operation not permitted" in low or "permission denied" in low or "you must be root" in low


def _fail(sections: Sections, name: str, what: str) -> FactError:
    err = sections.stderr(name).strip() or sections.text(name).strip()
    if _denied(err):
        return FactError(f"{what} failed: {err.splitlines()[0][:200] if err else 'permission denied'} — {_NEED_ROOT}")
    return FactError(f"{what} failed (exit {sections.rc(name)}): {err[:300] or 'no output'}")


def _save(sections: Sections, name: str, version: int, backend: str, what: str) -> Ruleset:
    rc = sections.rc(name)
    if rc != 0:
        raise _fail(sections, name, what)
    try:
        return parse_save(sections.text(name), version, backend)
    except SaveParseError as exc:
        raise FactError(f"{what}: output not understood: {exc}") from exc


def _backend(sections: Sections) -> str:
    """ "nft", "legacy" or "" (no iptables) for the plain iptables-save command."""
    if sections.rc("firewall.iptables_version") != 0:
        return ""
    v = sections.text("firewall.iptables_version")
    return "nft" if "nf_tables" in v else "legacy"


def _running(sections: Sections, notes: list[str]) -> tuple[Ruleset, list[str]]:
    sources: list[str] = []
    if sections.rc("firewall.nft_ruleset") not in (None, 0, 127):
        raise _fail(sections, "firewall.nft_ruleset", "nft -j list ruleset")
    backend = _backend(sections)
    xt_nft = Ruleset()
    for version, own, plain, tool in (
        (4, "firewall.iptables_nft_save", "firewall.iptables_save", "iptables"),
        (6, "firewall.ip6tables_nft_save", "firewall.ip6tables_save", "ip6tables"),
    ):
        name = own if sections.rc(own) not in (None, 127) else (plain if backend == "nft" else "")
        if not name:
            continue
        rs = _save(sections, name, version, "iptables-nft", f"{tool}-nft-save")
        xt_nft = xt_nft.merged(rs)
        sources.append(f"{tool}-nft-save: {_names(rs)}")
    legacy = Ruleset()
    for version, own, plain, names, tool in (
        (4, "firewall.iptables_legacy_save", "firewall.iptables_save", "firewall.legacy_names", "iptables"),
        (
            6,
            "firewall.ip6tables_legacy_save",
            "firewall.ip6tables_save",
            "firewall.legacy6_names",
            "ip6tables",
        ),
    ):
        loaded = sections.rc(names) == 0 and sections.text(names).strip()
        if backend == "legacy" and sections.rc(own) in (None, 127) and sections.rc(plain) is not None:
            name = plain
        elif sections.rc(own) not in (None, 127):
            name = own
        else:
            if loaded:
                what = _one_line(sections.text(names))
                notes.append(
                    f"legacy {tool} tables exist ({what}) but no {tool}-legacy-save to read them: "
                    "judged as if they accepted everything"
                )
            continue
        rs = _save(sections, name, version, "iptables-legacy", f"{tool}-legacy-save")
        legacy = legacy.merged(rs)
        sources.append(f"{tool}-legacy-save: {_names(rs)}")
    nft = Ruleset()
    rc = sections.rc("firewall.nft_ruleset")
    if rc == 0:
        try:
            nft = parse_ruleset(sections.text("firewall.nft_ruleset"))
        except NftParseError as exc:
            raise FactError(f"nft -j list ruleset: output not understood: {exc}") from exc
        # A table in both views is read from *-save only when nft's JSON shows it with opaque
        # xt matches (iptables-nft's conntrack/owner/multiport); a native nft table that happens
        # to be called "filter" is read from nft's own JSON (iptables-nft-save misreads it).
        opaque = _xt_tables(sections.text("firewall.nft_ruleset"))
        xt_names = {(t.family, t.name) for t in xt_nft.tables} & opaque
        xt_nft = Ruleset(
            tuple(
                t for t in xt_nft.tables
                if (t.family, t.name) in xt_names or (t.family, t.name) not in _table_keys(nft)
            ),
            xt_nft.notes,
        )  # fmt: skip
        kept = tuple(t for t in nft.tables if (t.family, t.name) not in xt_names)
        skipped = len(nft.tables) - len(kept)
        nft = Ruleset(kept, nft.notes)
        sources.append(
            f"nft -j list ruleset: {_names(nft)}"
            + (f" (+{skipped} iptables-nft tables read via *-save)" if skipped else "")
        )
    elif rc in (None, 127):
        notes.append("nft is not installed: native nftables tables (if any) are not seen")
    else:
        raise _fail(sections, "firewall.nft_ruleset", "nft -j list ruleset")
    for rs in (xt_nft, legacy):
        notes.extend(rs.notes)
    return nft.merged(xt_nft).merged(legacy), sources


def _table_keys(rs: Ruleset) -> set[tuple[str, str]]:
    return {(t.family, t.name) for t in rs.tables}


def _xt_tables(text: str) -> frozenset[tuple[str, str]]:
    """(family, table) of nft tables with at least one rule using an xt (iptables compat) match.

    Kept for the last rulesets, as the parse is (:func:`hardening.firewall.nft.parse_ruleset`):
    decoding a large ruleset's JSON again for every host of a fleet was most of its parse time."""
    stable = stable_text(text)
    return _xt_tables_of(stable) if len(stable) <= MEMO_LIMIT else _xt_tables_of.__wrapped__(stable)


@lru_cache(maxsize=64)
def _xt_tables_of(text: str) -> frozenset[tuple[str, str]]:
    try:
        doc = hostjson.loads(text)
    except (ValueError, RecursionError):
        return frozenset()
    out: set[tuple[str, str]] = set()
    items = doc.get("nftables", []) if isinstance(doc, dict) else []
    for item in items:
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, dict):
            continue
        exprs = rule.get("expr")
        if isinstance(exprs, list) and any(isinstance(e, dict) and "xt" in e for e in exprs):
            out.add((str(rule.get("family")), str(rule.get("table"))))
    return frozenset(out)


def _names(rs: Ruleset) -> str:
    return ", ".join(t.label for t in rs.tables) or "no tables"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:100]


# ---------------------------------------------------------------- persisted


def _boot(sections: Sections) -> dict[str, bool]:
    """unit -> enabled at boot, from the collector's ``firewall.boot`` lines."""
    out: dict[str, bool] = {}
    for line in iter_lines(sections.text("firewall.boot")):
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, unit = parts[0], parts[1]
        state = parts[2] if len(parts) > 2 else ""
        if kind in ("wants", "rc") or (kind == "systemctl" and state in _ENABLED_STATES):
            out[unit] = True
        else:
            out.setdefault(unit, False)
    return out


def _persisted(sections: Sections, notes: list[str]) -> tuple[Ruleset | None, list[PersistedSource]]:
    boot = _boot(sections)
    srcs: list[PersistedSource] = []
    rulesets: list[Ruleset] = []
    unevaluable = False

    # nftables
    nft_path = "/etc/nftables.conf" if sections.rc("firewall.nft_conf") == 0 else (
        "/etc/sysconfig/nftables.conf" if sections.rc("firewall.nft_conf_sysconfig") == 0 else ""
    )  # fmt: skip
    if nft_path:
        enabled = boot.get("nftables", False)
        prc = sections.rc("firewall.nft_persisted")
        detail = _one_line(sections.stderr("firewall.nft_persisted"))
        evaluated = False
        if prc == 0:
            try:
                rs = parse_ruleset(sections.text("firewall.nft_persisted"))
                rs = Ruleset(tuple(_sourced(t, nft_path) for t in rs.tables), rs.notes)
                evaluated = True
                if enabled:
                    rulesets.append(rs)
            except NftParseError as exc:
                detail = f"nft's JSON for {nft_path} not understood: {exc}"
        else:
            detail = f"could not be evaluated, only shown ({detail or 'nft/unshare unavailable'})"
        if enabled and not evaluated:
            unevaluable = True
        srcs.append(PersistedSource("nftables", nft_path, True, enabled, evaluated and enabled, detail))

    # iptables files
    for sec, path, version, unit in (
        ("firewall.rules_v4", "/etc/iptables/rules.v4", 4, "netfilter-persistent"),
        ("firewall.rules_v6", "/etc/iptables/rules.v6", 6, "netfilter-persistent"),
        ("firewall.sysconfig_iptables", "/etc/sysconfig/iptables", 4, "iptables"),
        ("firewall.sysconfig_ip6tables", "/etc/sysconfig/ip6tables", 6, "ip6tables"),
    ):
        if sections.rc(sec) != 0:
            continue
        enabled = boot.get(unit, False)
        try:
            rs = parse_save(sections.text(sec), version, "iptables")
        except SaveParseError as exc:
            srcs.append(PersistedSource(f"iptables ({unit})", path, True, enabled, False, f"not understood: {exc}"))
            unevaluable = unevaluable or enabled
            continue
        if enabled:
            rulesets.append(Ruleset(tuple(_sourced(t, path) for t in rs.tables), rs.notes))
        srcs.append(PersistedSource(f"iptables ({unit})", path, True, enabled, enabled, ""))

    # ufw
    if sections.rc("firewall.ufw_conf") == 0:
        cfg = ufw.parse_config(sections.text("firewall.ufw_conf"), sections.text("firewall.ufw_default"))
        service = boot.get("ufw", False)
        enabled = cfg.enabled and service
        files = ufw.split_files(sections.text("firewall.ufw_rules"))
        detail = f"ENABLED={'yes' if cfg.enabled else 'no'}, DEFAULT_OUTPUT_POLICY={cfg.output_policy or '?'}, "
        detail += f"IPV6={'yes' if cfg.ipv6 else 'no'}, ufw.service {'enabled' if service else 'not enabled'}"
        if enabled:
            for version in (4, 6) if cfg.ipv6 else (4,):
                rs = ufw.persisted_ruleset(cfg, files, version)
                rulesets.append(Ruleset(tuple(_sourced(t, "ufw") for t in rs.tables), rs.notes))
        srcs.append(PersistedSource("ufw", "/etc/ufw", True, enabled, enabled, detail))

    # firewalld
    if sections.rc("firewall.firewalld_state") not in (None, 127) or sections.text("firewall.firewalld_policies"):
        enabled = boot.get("firewalld", False)
        pols = firewalld.parse_policies(ufw.split_files(sections.text("firewall.firewalld_policies")))
        egress = [p.name for p in pols if p.host_egress]
        detail = f"host egress policies: {', '.join(egress) or 'none (zones filter inbound only)'}"
        if enabled:
            rulesets.append(firewalld.persisted_ruleset(pols))
        srcs.append(PersistedSource("firewalld", "/etc/firewalld/policies", True, enabled, enabled, detail))

    if unevaluable:
        return None, srcs
    out = Ruleset()
    for rs in rulesets:
        out = out.merged(rs)
    return out, srcs


def _sourced(t: Table, source: str) -> Table:
    return Table(t.backend, t.family, t.name, t.chains, t.notes, source)


# ---------------------------------------------------------------- host


def _ipv6(sections: Sections) -> tuple[bool, str]:
    states = {}
    for line in iter_lines(sections.text("firewall.ipv6_disable")):
        parts = line.split()
        if len(parts) == 2 and parts[1] in ("0", "1"):
            states[parts[0]] = parts[1] == "0"
    real = {k: v for k, v in states.items() if k not in ("all", "default", "lo")}
    if real:
        on = sorted(k for k, v in real.items() if v)
        if on:
            return True, f"IPv6 enabled on {', '.join(on)}"
        return False, "IPv6 disabled on every non-loopback interface (disable_ipv6=1)"
    if sections.rc("firewall.if_inet6") == 0 and sections.text("firewall.if_inet6").strip():
        return True, "IPv6 addresses present (/proc/net/if_inet6)"
    if states or sections.rc("firewall.if_inet6") == 127:
        return False, "IPv6 not available in the kernel (no /proc/net/if_inet6)"
    return True, "IPv6 state unknown: assumed enabled"


_LINK = re.compile(r"^\d+:\s+([^:@\s]+)")


def _interfaces(sections: Sections) -> list[str]:
    text = sections.text("firewall.links")
    names = []
    for line in iter_lines(text):
        m = _LINK.match(line)
        name = m.group(1) if m else (line.strip() if line.strip() and " " not in line.strip() else "")
        if name and name != "lo" and name not in names:
            names.append(name)
    return names


def _default_dev(text: str) -> list[str]:
    out = []
    for line in iter_lines(text):
        words = line.split()
        if "dev" in words:
            i = words.index("dev")
            if i + 1 < len(words) and words[i + 1] not in out and words[i + 1] != "lo":
                out.append(words[i + 1])
    return out


AREAS = (
    FactArea(
        "firewall",
        Platform.LINUX,
        parse,
        SECTIONS,
        order=10,
        piece="firewall",
        excerpt=RUNNING_SECTIONS,
    ),
)
