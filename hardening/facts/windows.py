"""All parsed facts of one Windows host, from the JSON the collector (``windows.ps1``) prints.

The collector is one PowerShell 5.1 script sent on stdin over WinRM; it prints one JSON
object with an area per check family (``firewall``, ``dns_client``, ``sysmon``,
``powershell``, ``appcontrol``, ``binaries``) and ``"done": true`` last. Each area is parsed
independently: a probe that failed on the host (an ``*_error`` field) or a value of the wrong
shape becomes a :class:`FactError` for that area only, and every check that needs it reports
``error`` (never ``pass``). Parsers never eval and never crash on garbage.

Example::

    facts = gather(parse_output(stdout_text))
    if isinstance(facts.firewall, FactError): ...
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hardening import hostjson
from hardening.facts.areas import AreaFacts, AreaUnavailable, FactArea, area, parse_all
from hardening.facts.sections import FactError
from hardening.model import Evidence, Platform, Status, Verdict

PROFILES = ("Domain", "Private", "Public")
CONNECTION_KEY = "harden_connection"  # set by the audit in the collector's document: "winrm" or "psrp"
MAX_OUTPUT_CHARS = 32 * 1024 * 1024


def collector_script() -> str:
    """The collector's text (package data), ASCII."""
    text = resources.files("hardening.facts").joinpath("windows.ps1").read_text("ascii")
    return text


# --- helpers over untrusted JSON ---------------------------------------------------------


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FactError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    """A JSON list; PowerShell 5.1 may collapse a one-item list to the item, or an empty one to null."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict | str | int | float | bool):
        return [value]
    raise FactError(f"{what}: expected a list, got {type(value).__name__}")


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise FactError(f"expected text, got {type(value).__name__}")


def _strs(value: Any, what: str) -> tuple[str, ...]:
    return tuple(_str(v) for v in _list(value, what))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value.strip()):
        return int(value.strip())
    return None


def _probe_error(area: Mapping[str, Any], *keys: str) -> str:
    """The first ``<key>`` error message the collector recorded, or ""."""
    for key in keys:
        if area.get(key):
            return _str(area[key])
    return ""


# --- firewall --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirewallProfile:
    """One profile of ``Get-NetFirewallProfile -PolicyStore ActiveStore``."""

    name: str
    enabled: str  # "True" | "False" | "NotConfigured" (GpoBoolean)
    default_outbound: str  # "Allow" | "Block" | "NotConfigured"

    @property
    def is_enabled(self) -> bool:
        # NotConfigured in the ActiveStore means the built-in default: the firewall is on.
        return self.enabled in ("True", "NotConfigured", "1")

    @property
    def blocks_outbound(self) -> bool:
        # NotConfigured means the built-in default, which is Allow for outbound.
        return self.default_outbound in ("Block", "4")


@dataclass(frozen=True)
class FirewallRule:
    """An enabled outbound rule of the ActiveStore with its application/service/address/port filters."""

    name: str
    display_name: str
    group: str
    action: str
    profile: str  # "Any" or "Domain, Private" ...
    program: str
    service: str
    package: str
    protocol: str
    remote_addresses: tuple[str, ...]
    remote_ports: tuple[str, ...]
    source: str = ""

    def profiles(self) -> frozenset[str]:
        text = self.profile.strip()
        if text in ("", "Any", "0"):
            return frozenset(PROFILES)
        return frozenset(p.strip() for p in text.split(",") if p.strip() in PROFILES)

    @property
    def any_program(self) -> bool:
        """Matches any process: no program, no service, no app package named."""
        return self.program in ("", "Any", "*") and self.service in ("", "Any", "*") and self.package in ("", "*")

    @property
    def any_address(self) -> bool:
        """No remote address, an "anywhere" keyword, or networks that are anywhere in effect
        (``0.0.0.0/0.0.0.0``, ``0.0.0.0-255.255.255.255``, ``1.0.0.0-255.255.255.255``...):
        decided from the parsed networks, never from the spelling."""
        if not self.remote_addresses or any(_is_any(a) for a in self.remote_addresses):
            return True
        return any(public_share(list(self.networks()), v) >= WIDE_SHARE for v in (4, 6))

    def networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The remote networks the rule names (keywords such as LocalSubnet name none)."""
        return tuple(n for a in self.remote_addresses for n in (address_networks(a) or ()))

    @property
    def carries_tcp(self) -> bool:
        return self.protocol.strip().lower() in _ANY_PROTOCOL | {"tcp", "6"}

    @property
    def carries_udp(self) -> bool:
        return self.protocol.strip().lower() in _ANY_PROTOCOL | {"udp", "17"}

    def port_ranges(self) -> tuple[tuple[int, int], ...]:
        """Remote ports as (first, last) ranges; () when any port (``Any``, empty or unparsed)."""
        out = []
        for t in self.remote_ports:
            first, dash, last = t.strip().partition("-")
            last = last if dash else first
            if not (first.isdigit() and last.isdigit() and 0 < int(first) <= int(last) < 65536):
                return ()
            out.append((int(first), int(last)))
        return tuple(out)

    def admits_port(self, port: int) -> bool:
        ranges = self.port_ranges()
        return not ranges or any(a <= port <= b for a, b in ranges)

    def label(self) -> str:
        return f"{self.display_name or self.name!r}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "group": self.group,
            "profile": self.profile,
            "program": self.program,
            "service": self.service,
            "package": self.package,
            "protocol": self.protocol,
            "remote_address": list(self.remote_addresses),
            "remote_port": list(self.remote_ports),
            "source": self.source,
        }


# Remote address keywords that stand for "anywhere on the Internet" (New-NetFirewallRule -RemoteAddress).
ANY_ADDRESS = frozenset({"Any", "*", "Internet", "0.0.0.0/0", "::/0"})
_ANY_LOWER = frozenset(a.lower() for a in ANY_ADDRESS)
# Protocol values meaning "every protocol": Any (any case), empty, and 256 (NET_FW_IP_PROTOCOL_ANY).
_ANY_PROTOCOL = frozenset({"", "any", "256"})


def _is_any(text: str) -> bool:
    """Keywords are case-insensitive for the firewall (``any``, ``internet``)."""
    return text.strip().lower() in _ANY_LOWER


ADDRESS_KEYWORDS = frozenset(
    {"LocalSubnet", "LocalSubnet4", "LocalSubnet6", "DNS", "DHCP", "WINS", "DefaultGateway", "Intranet",
     "IntranetRemoteAccess", "PlayToDevice", "CaptivePortal", "Internet", "Any"}
)  # fmt: skip


# Remote networks covering this share of public unicast space count as "any address" (as on Linux).
WIDE_SHARE = 1 / 16
_PUBLIC_SPAN = {
    4: (int(ipaddress.IPv4Address("1.0.0.0")), int(ipaddress.IPv4Address("223.255.255.255"))),
    6: (int(ipaddress.IPv6Address("2000::")), int(ipaddress.IPv6Address("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))),
}


def public_share(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network], version: int) -> float:
    """Share of the unicast range (IPv4 1.0.0.0-223.255.255.255, IPv6 2000::/3) the networks cover.

    >>> public_share(list(address_networks("1.0.0.0-255.255.255.255") or ()), 4)
    1.0
    """
    lo, hi = _PUBLIC_SPAN[version]
    spans = sorted(
        (max(lo, int(n.network_address)), min(hi, int(n.broadcast_address))) for n in nets if n.version == version
    )
    covered, end = 0, lo - 1
    for a, b in spans:
        a = max(a, end + 1)
        if a <= b:
            covered += b - a + 1
            end = b
    return covered / (hi - lo + 1)


def address_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None:
    """Networks one RemoteAddress entry covers, or None for a keyword/unparseable entry.

    Forms in Get-NetFirewallAddressFilter output: ``10.1.2.3``, ``10.0.0.0/255.0.0.0``,
    ``10.0.0.0/8``, ``fe80::/64``, ``10.0.0.1-10.0.0.9``.

    >>> [str(n) for n in address_networks("10.0.0.0/255.0.0.0")]
    ['10.0.0.0/8']
    >>> [str(n) for n in address_networks("192.0.2.0-192.0.2.3")]
    ['192.0.2.0/30']
    """
    t = text.strip()
    try:
        if "-" in t:
            lo, hi = (ipaddress.ip_address(p.strip()) for p in t.split("-", 1))
            if lo.version != hi.version or hi < lo:
                return None
            return tuple(ipaddress.summarize_address_range(lo, hi))  # type: ignore[arg-type]
        return (ipaddress.ip_network(t, strict=False),)
    except ValueError:
        return None


def wide_unions(rules: list[FirewallRule] | tuple[FirewallRule, ...], profiles: set[str]) -> list[WideUnion]:
    """ "Anywhere" split across rules: for each protocol, port and profile, the union of the remote
    networks of the any-program Allow rules that admit it. A union covering ``WIDE_SHARE`` of public
    unicast space (the per-rule threshold, and the Linux judge adds named destinations up the same
    way) admits a reverse shell to anywhere in effect. Unions already made wide by one rule alone
    (``any_address``) are left to the per-rule report.

    The ports tried are the first port of every range the rules name, plus one port no rule names.
    """
    cands = [r for r in rules if r.any_program and not r.any_address and r.profiles() & profiles]
    if len(cands) < 2:
        return []
    named = {a for r in cands for a, _b in r.port_ranges()}
    unnamed = next(p for p in range(40000, 65536) if not any(a <= p <= b for r in cands for a, b in r.port_ranges()))
    out: list[WideUnion] = []
    seen: set[frozenset[str]] = set()
    for proto in ("tcp", "udp"):
        for port in sorted(named | {unnamed}):
            for prof in sorted(profiles):
                group = tuple(
                    r for r in cands
                    if prof in r.profiles() and r.admits_port(port)
                    and (r.carries_tcp if proto == "tcp" else r.carries_udp)
                )  # fmt: skip
                if len(group) < 2:
                    continue
                nets = [n for r in group for n in r.networks()]
                if not any(public_share(nets, v) >= WIDE_SHARE for v in (4, 6)):
                    continue
                key = frozenset(r.name for r in group)
                if key in seen:
                    continue
                seen.add(key)
                what = "any port" if port == unnamed else f"port {port}"
                out.append(WideUnion(proto, what, group))
    return out


@dataclass(frozen=True)
class WideUnion:
    """Several outbound Allow rules whose remote networks together cover anywhere in effect."""

    proto: str
    port: str
    rules: tuple[FirewallRule, ...]

    def describe(self) -> str:
        names = ", ".join(r.label() for r in self.rules[:4])
        if len(self.rules) > 4:
            names += f" and {len(self.rules) - 4} more"
        what = f"{self.proto.upper()} {self.port}"
        return f"{len(self.rules)} outbound Allow rules together admit any program to any address ({what}): {names}"


@dataclass(frozen=True)
class WinFirewallFacts:
    profiles: tuple[FirewallProfile, ...]
    outbound_rules: tuple[FirewallRule, ...]  # enabled outbound rules, Allow and Block

    @property
    def allow_rules(self) -> tuple[FirewallRule, ...]:
        return tuple(r for r in self.outbound_rules if r.action.strip().lower() in ("allow", "2"))


def parse_firewall(doc: Mapping[str, Any]) -> WinFirewallFacts:
    fw = _obj(doc.get("firewall"), "firewall")
    err = _probe_error(fw, "profiles_error", "rules_error")
    if err:
        raise FactError(f"reading the Windows Firewall (ActiveStore) failed on the host: {err}")
    profiles = []
    for p in _list(fw.get("profiles"), "firewall.profiles"):
        p = _obj(p, "firewall profile")
        profiles.append(FirewallProfile(_str(p.get("name")), _str(p.get("enabled")), _str(p.get("default_outbound"))))
    names = {p.name for p in profiles}
    if not set(PROFILES) <= names:
        raise FactError(f"Get-NetFirewallProfile returned profiles {sorted(names)}, not Domain, Private and Public")
    rules = []
    for r in _list(fw.get("outbound_rules"), "firewall.outbound_rules"):
        r = _obj(r, "firewall rule")
        if _str(r.get("direction")) not in ("Outbound", "2", ""):
            continue
        if _str(r.get("enabled")) not in ("True", "1", ""):
            continue
        rules.append(
            FirewallRule(
                name=_str(r.get("name")),
                display_name=_str(r.get("display_name")),
                group=_str(r.get("group")),
                action=_str(r.get("action")),
                profile=_str(r.get("profile")),
                program=_str(r.get("program")),
                service=_str(r.get("service")),
                package=_str(r.get("package")),
                protocol=_str(r.get("protocol")),
                remote_addresses=_strs(r.get("remote_address"), "remote_address"),
                remote_ports=_strs(r.get("remote_port"), "remote_port"),
                source=_str(r.get("source")),
            )
        )
    return WinFirewallFacts(tuple(profiles), tuple(rules))


# --- DNS client log --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnsClientFacts:
    """``Get-WinEvent -ListLog Microsoft-Windows-DNS-Client/Operational``."""

    is_enabled: bool
    log_mode: str
    max_size_bytes: int | None
    record_count: int | None


def parse_dns_client(doc: Mapping[str, Any]) -> DnsClientFacts:
    d = _obj(doc.get("dns_client"), "dns_client")
    if d.get("error"):
        raise FactError(f"reading the DNS-Client/Operational log configuration failed: {_str(d['error'])}")
    if not isinstance(d.get("is_enabled"), bool):
        raise FactError("dns_client.is_enabled missing or not a boolean")
    return DnsClientFacts(
        d["is_enabled"], _str(d.get("log_mode")), _int(d.get("max_size_bytes")), _int(d.get("record_count"))
    )


# --- Sysmon ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str  # Win32_Service/Win32_SystemDriver State: "Running", "Stopped", ...
    start_mode: str
    path: str

    @property
    def running(self) -> bool:
        return self.state == "Running"


@dataclass(frozen=True)
class SysmonEventRule:
    """One event type of ``sysmon -c``'s "Rule configuration": onmatch and how many filters."""

    name: str
    onmatch: str  # "include" | "exclude"
    filters: int

    @property
    def logs_something(self) -> bool:
        # exclude: everything except matches; include: only matches (an empty include logs nothing).
        return self.onmatch == "exclude" or self.filters > 0


@dataclass(frozen=True)
class SysmonConfig:
    """The active configuration as ``sysmon -c`` prints it."""

    settings: Mapping[str, str]  # "Service name", "Driver name", "Config file", "Network connection", ...
    schema_version: str
    rules: tuple[SysmonEventRule, ...]

    def rules_for(self, name: str) -> tuple[SysmonEventRule, ...]:
        return tuple(r for r in self.rules if r.name == name)


# Sysmon event ids and the rule names `sysmon -c` prints for them.
SYSMON_EVENTS = {1: "ProcessCreate", 3: "NetworkConnect", 22: "DnsQuery"}

_RULE_HEAD = re.compile(r"^\s*-\s+(\w+)\s+onmatch:\s*(include|exclude)\b", re.IGNORECASE)
_SETTING = re.compile(r"^\s*-\s+([A-Za-z][A-Za-z ]*?):\s+(.*?)\s*$")
_FILTER = re.compile(r"^\s+\S+\s+filter:\s+", re.IGNORECASE)


def parse_sysmon_config(text: str) -> SysmonConfig:
    """Parse ``sysmon -c`` output (Sysmon 13-15 layout, see tests/golden/windows/README.md).

    >>> c = parse_sysmon_config("Current configuration:\\n - Service name:   Sysmon64\\n"
    ...     "Rule configuration (version 4.90):\\n - NetworkConnect   onmatch: include   combine rules using 'Or'\\n")
    >>> c.settings["Service name"], c.rules[0].logs_something
    ('Sysmon64', False)
    """
    settings: dict[str, str] = {}
    rules: list[SysmonEventRule] = []
    schema = ""
    section = ""
    current: list[Any] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("Current configuration"):
            section = "settings"
            continue
        m = re.match(r"^Rule configuration \(version ([0-9.]+)\)", line)
        if m:
            section, schema = "rules", m.group(1)
            continue
        if section == "settings":
            s = _SETTING.match(line)
            if s:
                settings[s.group(1).strip()] = s.group(2)
        elif section == "rules":
            h = _RULE_HEAD.match(line)
            if h:
                if current:
                    rules.append(SysmonEventRule(current[0], current[1], current[2]))
                current = [h.group(1), h.group(2).lower(), 0]
            elif current is not None and _FILTER.match(line):
                current[2] += 1
    if current:
        rules.append(SysmonEventRule(current[0], current[1], current[2]))
    if not settings and not schema:
        raise FactError("`sysmon -c` output has neither 'Current configuration' nor 'Rule configuration'")
    return SysmonConfig(settings, schema, tuple(rules))


@dataclass(frozen=True)
class SysmonFacts:
    services: tuple[ServiceState, ...]
    drivers: tuple[ServiceState, ...]
    config: SysmonConfig | None
    config_problem: str  # why there is no config ("" when there is one)
    network_events_7d: int | None
    driver_parameters: Mapping[str, str] | None = None  # HKLM\\...\\Services\\<driver>\\Parameters (Rules by size)
    last_config_change: Mapping[str, str] | None = None  # Sysmon event 16: time, configuration, hash
    unbounded: str = ""  # why `sysmon -c` ran without a time bound ("" = bounded, or not run)


def _states(items: Any, what: str) -> tuple[ServiceState, ...]:
    out = []
    for s in _list(items, what):
        s = _obj(s, what)
        out.append(
            ServiceState(_str(s.get("name")), _str(s.get("state")), _str(s.get("start_mode")), _str(s.get("path")))
        )
    return tuple(out)


def parse_sysmon(doc: Mapping[str, Any]) -> SysmonFacts:
    sm = _obj(doc.get("sysmon"), "sysmon")
    err = _probe_error(sm, "services_error", "drivers_error")
    if err:
        raise FactError(f"listing services/drivers (Win32_Service, Win32_SystemDriver) failed: {err}")
    services = _states(sm.get("services"), "sysmon.services")
    drivers = _states(sm.get("drivers"), "sysmon.drivers")
    config, problem = _sysmon_config(sm, bool(services))
    change = sm.get("last_config_change")
    return SysmonFacts(
        services,
        drivers,
        config,
        problem,
        _int(sm.get("network_events_7d")),
        _key(sm.get("driver_parameters"), "sysmon.driver_parameters"),
        _key(change, "sysmon.last_config_change") if isinstance(change, dict) else None,
        _str(sm.get("config_unbounded"))[:200],
    )


EULA_KEY = "HKCU\\Software\\Sysinternals\\System Monitor"


def _sysmon_config(sm: Mapping[str, Any], installed: bool) -> tuple[SysmonConfig | None, str]:
    """The active configuration ``sysmon -c`` printed, or why there is none."""
    command = _str(sm.get("config_command")) or "sysmon -c"
    if sm.get("config_error"):
        return None, f"running `{command}` failed: {_str(sm['config_error'])}"
    if sm.get("config_refused") and sm.get("config_text") is None:
        return None, f"`{command}` {_str(sm['config_refused'])[:300]}"
    if sm.get("config_text") is not None:
        try:
            return parse_sysmon_config(_str(sm.get("config_text"))), ""
        except FactError as exc:
            return None, f"`{command}` (exit {_int(sm.get('config_rc'))}): {exc}"
    if not installed:
        return None, ""
    if sm.get("eula_accepted") is False:
        return None, (
            f"the Sysinternals EULA is not accepted in the audit account's {EULA_KEY} (EulaAccepted=1), so "
            "`sysmon -c` would show the EULA instead of the rules; harden does not accept it for you "
            "(-accepteula writes to the host)"
        )
    return None, "the Sysmon service's program could not be run with -c"


# --- PowerShell ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerShellFacts:
    session_language_mode: str
    lockdown_policy_machine: str  # HKLM ...\Session Manager\Environment __PSLockdownPolicy ("" = unset)
    script_block_logging: Mapping[str, str] | None  # values of the policy key, None = key absent
    module_logging: Mapping[str, str] | None
    module_names: Mapping[str, str] | None
    core_script_block_logging: Mapping[str, str] | None
    v2_features: Mapping[str, str]  # feature name -> State ("Enabled", "Disabled", "DisabledWithPayloadRemoved")
    v2_problem: str
    pwsh: tuple[str, ...]  # pwsh.exe (PowerShell 7) found under Program Files
    v2_unbounded: str = ""  # why the DISM queries ran without a time bound ("" = bounded)

    def to_json(self) -> dict[str, Any]:
        return {
            "session_language_mode": self.session_language_mode,
            "lockdown_policy_machine": self.lockdown_policy_machine,
            "script_block_logging": dict(self.script_block_logging or {}) if self.script_block_logging else None,
            "module_logging": dict(self.module_logging) if self.module_logging else None,
            "module_names": dict(self.module_names) if self.module_names else None,
            "core_script_block_logging": dict(self.core_script_block_logging)
            if self.core_script_block_logging
            else None,
            "v2_features": dict(self.v2_features),
            "v2_problem": self.v2_problem,
            "v2_unbounded": self.v2_unbounded,
            "pwsh": list(self.pwsh),
        }


def _key(value: Any, what: str) -> Mapping[str, str] | None:
    if value is None:
        return None
    return {str(k): _str(v) for k, v in _obj(value, what).items()}


# Get-WindowsFeature InstallState (Server) as the optional-feature State it corresponds to.
_INSTALL_STATE = {"Installed": "Enabled", "Available": "Disabled", "Removed": "DisabledWithPayloadRemoved"}
NOT_PRESENT = "NotPresent"  # the name is unknown to this edition: not installed


# DISM's error for a feature name this image does not know: 0x800F080C (CBS_E_UNKNOWN_UPDATE), printed
# by dism.exe as "Feature <name> is unknown." (Microsoft, "Get started with Setup and Boot Event
# Collection", troubleshooting table). Get-WindowsOptionalFeature raises it as the exception's HResult.
UNKNOWN_FEATURE_HRESULT = "0x800F080C"
_UNKNOWN_FEATURE_MESSAGE = re.compile(r"^Feature name \S+ is unknown\.?$")


def _unknown_feature(f: Mapping[str, Any]) -> bool:
    """The query said this feature name does not exist here (not: it failed)."""
    if f.get("unknown") is True:
        return True
    code = _str(f.get("hresult")).strip().upper().replace("0X", "0x")
    if code:
        return code == UNKNOWN_FEATURE_HRESULT
    # Collectors before the HResult was recorded: the English message only.
    return bool(_UNKNOWN_FEATURE_MESSAGE.match(_str(f.get("error")).strip()))


def _v2_features(ps: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """PowerShell 2.0 feature name -> state, and why it is unknown ("" when known).

    One query per name on the host (the names differ between client and Server, and an unknown
    name is an error for Get-WindowsOptionalFeature). A name that errors while another query
    answered is taken as not present on this edition; when no query answered (e.g. no
    elevation), the state is unknown, unless every name failed as unknown to DISM (HResult
    0x800F080C, or no feature returned): PowerShell 2.0 was removed (Windows 11 24H2, Server 2025).
    """
    states: dict[str, str] = {}
    errors: dict[str, str] = {}
    unknown: list[str] = []
    for f in _list(ps.get("v2_features"), "powershell.v2_features")[:8]:
        f = _obj(f, "v2 feature")
        name, state = _str(f.get("name"))[:100], _str(f.get("state"))[:60]
        if f.get("source") == "server":
            state = _INSTALL_STATE.get(state, state)
        if state and not f.get("error"):
            states[name] = state
        else:
            errors[name] = _str(f.get("error"))[:300] or "no state"
            if f.get("source") != "server" and _unknown_feature(f):
                unknown.append(name)
    if ps.get("v2_error"):
        return states, f"Get-WindowsOptionalFeature failed: {_str(ps['v2_error'])[:300]}"
    if not states and errors and set(errors) == set(unknown):
        # Windows 11 24H2 / Server 2025 removed PowerShell 2.0: every name is unknown to DISM.
        return dict.fromkeys(errors, NOT_PRESENT), ""
    if not states and errors:
        name, why = next(iter(errors.items()))
        return states, f"Get-WindowsOptionalFeature -FeatureName {name} failed: {why}"
    return {**states, **dict.fromkeys(errors, NOT_PRESENT)}, ""


def parse_powershell(doc: Mapping[str, Any]) -> PowerShellFacts:
    ps = _obj(doc.get("powershell"), "powershell")
    err = _probe_error(ps, "policy_error")
    if err:
        raise FactError(f"reading the PowerShell policy registry keys failed: {err}")
    v2, problem = _v2_features(ps)
    return PowerShellFacts(
        session_language_mode=_str(ps.get("language_mode")),
        lockdown_policy_machine=_str(ps.get("lockdown_policy_machine")),
        script_block_logging=_key(ps.get("script_block_logging"), "ScriptBlockLogging"),
        module_logging=_key(ps.get("module_logging"), "ModuleLogging"),
        module_names=_key(ps.get("module_names"), "ModuleNames"),
        core_script_block_logging=_key(ps.get("core_script_block_logging"), "PowerShellCore ScriptBlockLogging"),
        v2_features=v2,
        v2_problem=problem,
        pwsh=_strs(ps.get("pwsh"), "powershell.pwsh"),
        v2_unbounded=_str(ps.get("v2_unbounded"))[:200],
    )


# --- application control -------------------------------------------------------------------------


@dataclass(frozen=True)
class AppLockerCollection:
    """One ``<RuleCollection Type=.. EnforcementMode=..>`` of the effective AppLocker policy."""

    type: str  # Exe, Msi, Script, Dll, Appx
    enforcement_mode: str  # Enabled, AuditOnly, NotConfigured
    rules: int
    allow_all: str = ""  # an Allow path rule for everyone over everything (its description), "" = none

    @property
    def enforced(self) -> bool:
        # NotConfigured with rules present enforces them (AppLocker documentation).
        return self.enforcement_mode == "Enabled" or (self.enforcement_mode == "NotConfigured" and self.rules > 0)


@dataclass(frozen=True)
class WinAppControlFacts:
    applocker: tuple[AppLockerCollection, ...]
    applocker_problem: str
    appidsvc_status: str  # Get-Service AppIDSvc Status ("Running", "Stopped", "" unknown)
    code_integrity: int | None  # Win32_DeviceGuard CodeIntegrityPolicyEnforcementStatus (0 off, 1 audit, 2 enforced)
    usermode_code_integrity: int | None  # UsermodeCodeIntegrityPolicyEnforcementStatus
    device_guard_problem: str
    session_language_mode: str = ""  # the audit session's own ($ExecutionContext.SessionState.LanguageMode)
    lockdown_policy: str = ""  # __PSLockdownPolicy (machine, else this session's environment), "" = unset
    remoting: bool = False  # the audit ran over PSRP (or the collector saw $PSSenderInfo)

    def collection(self, kind: str) -> AppLockerCollection | None:
        return next((c for c in self.applocker if c.type.lower() == kind.lower()), None)

    @property
    def clm_unproven(self) -> str:
        """Why a ConstrainedLanguage audit session under UMCI=2 does not show that WDAC enforces
        scripts ("" when it does, or does not apply).

        Under WinRS, powershell.exe gets the system's lockdown, so ConstrainedLanguage there, with no
        ``__PSLockdownPolicy`` set, can only come from WDAC/AppLocker. But the variable alone also
        makes a session ConstrainedLanguage (and is trivially bypassed), and over PSRP the endpoint's
        session configuration may set LanguageMode=ConstrainedLanguage: then the session proves nothing.
        """
        if self.usermode_code_integrity != 2 or self.session_language_mode != "ConstrainedLanguage":
            return ""
        why = []
        if self.lockdown_policy.strip():
            why.append(f"__PSLockdownPolicy={self.lockdown_policy.strip()[:20]} is set, which alone makes it so")
        if self.remoting:
            why.append("it ran over PowerShell remoting, whose endpoint may set LanguageMode=ConstrainedLanguage")
        if not why:
            return ""
        return (
            "WDAC reports user-mode code integrity enforced (UMCI=2) and the audit session ran in "
            "ConstrainedLanguage, but that does not show WDAC enforces scripts: " + "; ".join(why)
        )

    @property
    def wdac_script_gap(self) -> str:
        """Why UMCI=2 does not confine PowerShell here ("" when it does, or when UMCI is not 2).

        UMCI=2 says a WDAC policy is enforced, not what it allows: with policy option 11
        (``Disabled:Script Enforcement``) PowerShell stays in FullLanguage, and an allow-all policy
        with deny rules is enforced too. The audit session itself is the evidence: under WinRS,
        powershell.exe gets the system's lockdown, so FullLanguage there means scripts are not
        confined (administrators are not exempt from WDAC, unlike AppLocker's default rules).
        """
        if self.usermode_code_integrity == 2 and self.session_language_mode == "FullLanguage":
            return (
                "WDAC reports user-mode code integrity enforced (UMCI=2), yet the audit's own PowerShell ran in "
                "FullLanguage: the policy does not enforce scripts (option 11 Disabled:Script Enforcement) or "
                "allows everything"
            )
        return ""


_RULE_TAGS = ("FilePathRule", "FilePublisherRule", "FileHashRule")
# Who an allow-all rule must name to let anyone run anything: Everyone, Authenticated Users, Users.
BROAD_SIDS = {"S-1-1-0": "Everyone", "S-1-5-11": "Authenticated Users", "S-1-5-32-545": "Users"}
# Paths that cover every file, or the whole system drive (where every user-writable folder is).
_ALL_PATHS = re.compile(r"^(\*|\*\.\*|%OSDRIVE%\\\*|%SYSTEMDRIVE%\\\*|[A-Z]:\\\*)$", re.IGNORECASE)


def _allow_all(rc: Any) -> str:
    """The first Allow FilePathRule of a collection that lets a broad group run anything ("" = none).

    >>> from xml.etree.ElementTree import fromstring
    >>> _allow_all(fromstring('<RuleCollection><FilePathRule Action="Allow" UserOrGroupSid="S-1-1-0">'
    ...     '<Conditions><FilePathCondition Path="*"/></Conditions></FilePathRule></RuleCollection>'))
    'Allow Everyone *'
    """
    for rule in rc.findall("FilePathRule"):
        sid = (rule.get("UserOrGroupSid") or "").upper()
        if (rule.get("Action") or "").lower() != "allow" or sid not in BROAD_SIDS:
            continue
        for cond in rule.findall("Conditions/FilePathCondition"):
            path = (cond.get("Path") or "").strip()
            if _ALL_PATHS.match(path):
                return f"Allow {BROAD_SIDS[sid]} {path}"
    return ""


def parse_applocker_xml(text: str) -> tuple[AppLockerCollection, ...]:
    """``Get-AppLockerPolicy -Effective -Xml`` -> its rule collections.

    >>> parse_applocker_xml('<AppLockerPolicy Version="1"><RuleCollection Type="Exe" '
    ...     'EnforcementMode="AuditOnly"><FilePathRule Id="x"/></RuleCollection></AppLockerPolicy>')
    (AppLockerCollection(type='Exe', enforcement_mode='AuditOnly', rules=1, allow_all=''),)
    """
    from xml.etree.ElementTree import ParseError

    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    if not text.strip():
        return ()
    try:
        root = ElementTree.fromstring(text.strip())
    except (ParseError, DefusedXmlException) as exc:
        raise FactError(f"Get-AppLockerPolicy -Effective -Xml returned unparseable XML: {exc}") from None
    if root.tag != "AppLockerPolicy":
        raise FactError(f"Get-AppLockerPolicy -Xml: root element is {root.tag!r}, not AppLockerPolicy")
    out = []
    for rc in root.findall("RuleCollection"):
        count = sum(1 for child in rc if child.tag in _RULE_TAGS)
        out.append(
            AppLockerCollection(rc.get("Type", ""), rc.get("EnforcementMode", "NotConfigured"), count, _allow_all(rc))
        )
    return tuple(out)


def parse_appcontrol(doc: Mapping[str, Any]) -> WinAppControlFacts:
    ac = _obj(doc.get("appcontrol"), "appcontrol")
    applocker: tuple[AppLockerCollection, ...] = ()
    al_problem = ""
    if ac.get("applocker_error"):
        al_problem = f"Get-AppLockerPolicy -Effective failed: {_str(ac['applocker_error'])}"
    else:
        applocker = parse_applocker_xml(_str(ac.get("applocker_xml")))
    svc = ac.get("appidsvc")
    status = _str(_obj(svc, "appidsvc").get("status")) if isinstance(svc, dict) else ""
    dg = ac.get("device_guard")
    ci = umci = None
    dg_problem = ""
    if isinstance(dg, dict):
        ci, umci = _int(dg.get("code_integrity")), _int(dg.get("usermode_code_integrity"))
    else:
        dg_problem = f"Win32_DeviceGuard could not be read: {_str(ac.get('device_guard_error')) or 'absent'}"
    session = ac.get("session_language_mode")
    ps = doc.get("powershell") if isinstance(doc.get("powershell"), dict) else {}
    if session is None:  # schema 1: only the powershell area has it
        session = ps.get("language_mode")
    lockdown = ""
    for key in ("lockdown_policy_machine", "lockdown_policy_session"):
        if isinstance(ps.get(key), str | int) and _str(ps.get(key)).strip():
            lockdown = _str(ps.get(key)).strip()[:40]
            break
    remoting = doc.get(CONNECTION_KEY) == "psrp" or ac.get("remoting_session") is True
    return WinAppControlFacts(
        applocker, al_problem, status, ci, umci, dg_problem, _str(session)[:40], lockdown, remoting
    )


# --- netcat-likes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WinBinary:
    path: str
    name: str
    size: int | None
    sha256: str
    signature: str  # Get-AuthenticodeSignature Status: Valid, NotSigned, HashMismatch, ...
    signer: str
    product: str

    @property
    def location(self) -> str:
        """``dropped`` (user-writable: Users, Temp, ProgramData), ``local`` or ``system``."""
        p = self.path.lower().replace("/", "\\")
        if re.search(r"^[a-z]:\\(users|temp|programdata)\\|\\temp\\|\\appdata\\", p):
            return "dropped"
        if re.search(r"^[a-z]:\\windows\\", p):
            return "system"
        return "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "signature": self.signature,
            "signer": self.signer,
            "product": self.product,
            "location": self.location,
        }


NETCAT_NAMES = ("nc.exe", "nc64.exe", "ncat.exe", "netcat.exe", "socat.exe")
MAX_PATH_CHARS = 32767  # the longest Windows path (\\?\ form)
MAX_REPORTED = 50


@dataclass(frozen=True)
class WinBinaryFacts:
    found: tuple[WinBinary, ...]  # netcat-likes, names re-checked here
    searched: tuple[str, ...]
    access_denied: int  # folders whose listing was denied (reparse points are never entered)
    denied: tuple[str, ...] = ()  # the first of them
    reparse_skipped: int = 0  # junctions/symlinks seen and not followed
    ignored: tuple[str, ...] = ()  # entries the host reported that are not netcat-likes (re-check)
    incomplete: str = ""  # why the search stopped early ("" = it covered every place)
    # entries with a netcat-like name at a path the controller cannot use (UNC, \\?\, too long...):
    # never ignored, they make "nothing found" an error
    unusable: tuple[str, ...] = ()
    other_errors: int = 0  # folders that could not be listed for another reason (I/O, vanished, too long)


def _netcat_entry(f: Any) -> WinBinary | str:
    """One reported file as a :class:`WinBinary`, or why it is not a netcat-like (or is not usable).

    A netcat-like name at a path that is not a plain local absolute path (a UNC or long-path prefixed one,
    or one too long) returns a reason starting with ``unusable:``: it is not ignored.

    The host's word is not taken: on PowerShell 5.1 ``Get-ChildItem -LiteralPath -Recurse
    -Include`` ignores ``-Include`` (PowerShell issues #5293, #3730), so any file could come back.

    >>> _netcat_entry({"path": "C:/Users/a/report.docx", "name": "nc.exe"})
    "'C:/Users/a/report.docx': file name 'report.docx' is not a netcat-like"
    """
    f = _obj(f, "binary")
    path, name = _str(f.get("path")), _str(f.get("name"))
    base = re.split(r"[\\/]", path)[-1]
    netcat = base.lower() in NETCAT_NAMES or name.lower() in NETCAT_NAMES
    if len(path) > MAX_PATH_CHARS or not re.match(r"^[A-Za-z]:[\\/]", path):
        if netcat:
            return f"unusable: {path[:200]!r}: a {(name or base)[:40]!r} at a path that is not a plain local one"
        return f"{path[:200]!r}: not a local absolute path"
    if base.lower() not in NETCAT_NAMES or (name and name.lower() != base.lower()):
        return f"{path[:200]!r}: file name {base[:100]!r} is not a netcat-like"
    return WinBinary(
        path=path,
        name=base,
        size=_int(f.get("size")),
        sha256=_str(f.get("sha256")),
        signature=_str(f.get("signature")),
        signer=_str(f.get("signer")),
        product=_str(f.get("product")),
    )


def parse_binaries(doc: Mapping[str, Any]) -> WinBinaryFacts:
    b = _obj(doc.get("binaries"), "binaries")
    if b.get("error"):
        raise FactError(f"searching for netcat-likes failed on the host: {_str(b['error'])}")
    if "found" not in b:
        raise FactError("binaries.found missing from the collector output")
    found: list[WinBinary] = []
    ignored: list[str] = []
    unusable: list[str] = []
    for f in _list(b.get("found"), "binaries.found")[: MAX_REPORTED * 2]:
        entry = _netcat_entry(f)
        if isinstance(entry, str) and entry.startswith("unusable: "):
            unusable.append(entry.removeprefix("unusable: "))
        elif isinstance(entry, str):
            ignored.append(entry)
        elif entry.path.lower() not in {x.path.lower() for x in found}:
            found.append(entry)
    denied = _strs(b.get("denied"), "binaries.denied")[:MAX_REPORTED]
    count = _int(b.get("denied_count")) if "denied_count" in b else _int(b.get("access_denied"))
    return WinBinaryFacts(
        found=tuple(found[:MAX_REPORTED]),
        searched=_strs(b.get("searched"), "binaries.searched")[:200],
        access_denied=max(count or 0, len(denied)),
        denied=denied,
        reparse_skipped=_int(b.get("reparse_skipped_count")) or 0,
        ignored=tuple(ignored),
        incomplete=_str(b.get("incomplete"))[:300],
        unusable=tuple(unusable),
        other_errors=max(_int(b.get("other_errors")) or 0, 0),
    )


# --- the whole host ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowsFacts(AreaFacts):
    """One Windows host's facts: ``facts.firewall``, ``facts.sysmon``, ... (one per registered area).

    Reading an area whose parsing failed raises :class:`AreaUnavailable`; :meth:`unavailable`
    is the check's verdict then.
    """

    doc: Mapping[str, Any]  # the collector's JSON, for evidence excerpts
    complete: bool
    is_admin: bool | None
    os: str
    areas: Mapping[str, Any]

    def unavailable(self, exc: AreaUnavailable) -> Verdict:
        """The verdict of a check whose fact area could not be read."""
        return error_verdict(exc.error, self, *area(Platform.WINDOWS, exc.area).evidence_sections)

    def excerpt(self, *areas: str, limit: int = 4000) -> str:
        """A bounded JSON excerpt of some areas of the collector output, for evidence."""
        parts = []
        for key in areas:
            if key not in self.doc:
                continue
            body = json.dumps(self.doc[key], indent=1, sort_keys=True, ensure_ascii=False)
            if len(body) > limit:
                body = body[:limit] + "\n[... truncated]"
            parts.append(f"# {key}\n{body}")
        return "\n".join(parts)


MAX_LINES = 64  # the collector prints one line per area (a handful)


def _json_line(line: str) -> dict[str, Any] | None:
    """One line of the collector's output as its JSON object, or None (not JSON, cut short, foreign)."""
    try:
        obj = hostjson.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) and obj.get("harden_collector") == "windows" else None


def parse_output(text: str) -> dict[str, Any]:
    """The collector's stdout -> one JSON object. Raises :class:`FactError` when there is none.

    The collector prints one JSON line per area (schema 2) and ``"done": true`` last; the lines
    are merged, the first line naming an area wins. A line cut short (the host timed out while
    printing it) is dropped: its area is missing and the checks that read it report error. One
    JSON object for the whole host (schema 1) is read the same way.

    >>> sorted(parse_output('{"harden_collector":"windows","schema":2,"meta":{}}\\n{"harden_co').keys())
    ['harden_collector', 'meta', 'schema']
    """
    if len(text) > MAX_OUTPUT_CHARS:
        raise FactError("collector output is larger than 32 MiB")
    body = text.lstrip("\ufeff").strip()
    start = body.find("{")
    if start < 0:
        raise FactError(f"collector printed no JSON object (first bytes: {body[:120]!r})")
    doc: dict[str, Any] = {}
    lines = [line.strip() for line in body[start:].splitlines() if line.strip().startswith("{")]
    for line in lines[:MAX_LINES]:
        obj = _json_line(line)
        for key, value in (obj or {}).items():
            doc.setdefault(key, value)
    if doc:
        return doc
    try:
        whole = hostjson.loads(body[start:])
    except json.JSONDecodeError as exc:
        raise FactError(f"collector output is not complete JSON ({exc.msg} at char {exc.pos})") from None
    except RecursionError:
        raise FactError("collector output nests too deeply") from None
    if not isinstance(whole, dict) or whole.get("harden_collector") != "windows":
        raise FactError("collector output is not the harden Windows collector's JSON")
    return whole


def gather(doc: Mapping[str, Any]) -> WindowsFacts:
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    admin = meta.get("is_admin")
    return WindowsFacts(
        doc=doc,
        complete=doc.get("done") is True,
        is_admin=admin if isinstance(admin, bool) else None,
        os=" ".join(_str(meta.get(k)) for k in ("os_caption", "os_version") if isinstance(meta.get(k), str)),
        areas=parse_all(Platform.WINDOWS, doc),
    )


def error_verdict(err: FactError, facts: WindowsFacts, *areas: str) -> Verdict:
    """The verdict of a Windows check whose facts could not be read."""
    msg = str(err)
    if facts.is_admin is False:
        msg += " (the WinRM user is not an administrator: use an account in the local Administrators group)"
    return Verdict(Status.ERROR, msg, Evidence({"error": str(err)}, facts.excerpt(*areas)))


AREAS = (
    FactArea("firewall", Platform.WINDOWS, parse_firewall, ("firewall",), order=10),
    FactArea("dns", Platform.WINDOWS, parse_dns_client, ("dns_client",), order=20),
    FactArea("sysmon", Platform.WINDOWS, parse_sysmon, ("sysmon",), order=30),
    FactArea("powershell", Platform.WINDOWS, parse_powershell, ("powershell",), order=40),
    FactArea("appcontrol", Platform.WINDOWS, parse_appcontrol, ("appcontrol",), order=50),
    FactArea("binaries", Platform.WINDOWS, parse_binaries, ("binaries",), order=60),
)
