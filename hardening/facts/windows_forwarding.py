"""Log-forwarding facts (Windows): Windows Event Forwarding client policy and log agents.

Parses the ``forwarding`` area of ``windows.ps1``. Sources (Microsoft documentation):

- ``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\EventLog\\EventForwarding\\SubscriptionManager``:
  the "Configure target Subscription Manager" policy, one value per manager,
  ``Server=http(s)://HOST:PORT/wsman/SubscriptionManager/WEC[,Refresh=SECONDS][,IssuerCA=...]``
  (https://learn.microsoft.com/windows/security/operating-system-security/device-management/use-windows-event-forwarding-to-assist-in-intrusion-detection);
  source-initiated forwarding runs in the WinRM service (``WinRM`` must run on the source);
- ``Microsoft-Windows-Forwarding/Operational``: the forwarding plugin's log (event 100: a
  subscription was created; 105: connected to the subscription manager; 102/103/104: errors);
- ``Get-WinEvent -ListLog`` of the Sysmon and PowerShell channels: ``IsEnabled`` and the channel's
  ``SecurityDescriptor`` (SDDL): WEF reads events as NETWORK SERVICE (``NS``, S-1-5-20), directly
  or through Event Log Readers (S-1-5-32-573);
- the services and configuration files of log agents (Splunk Universal Forwarder ``inputs.conf``
  ``[WinEventLog://CHANNEL]``, Winlogbeat ``winlogbeat.event_logs``, NXLog, Wazuh ``ossec.conf``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hardening.facts.areas import FactArea
from hardening.facts.sections import FactError
from hardening.facts.windows import ServiceState, _list, _obj, _str
from hardening.model import Platform

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL_CHANNEL = "Microsoft-Windows-PowerShell/Operational"
NETWORK_SERVICE = "S-1-5-20"
EVENT_LOG_READERS = "S-1-5-32-573"


@dataclass(frozen=True)
class SubscriptionManager:
    value: str  # the policy value as written
    host: str  # "" when the value names no server
    port: int
    scheme: str


@dataclass(frozen=True)
class Channel:
    name: str
    enabled: bool | None  # None: unreadable (error says why)
    sddl: str
    error: str = ""

    def readable_by(self, sids: set[str]) -> bool:
        """An allow ACE with read access (0x1 or GA/GR) for one of ``sids`` (SDDL aliases NS/S-1-5-20...)."""
        for m in re.finditer(r"\(A;[^;]*;([^;]*);[^;]*;[^;]*;([^)]+)\)", self.sddl):
            rights, sid = m.group(1), m.group(2)
            sid = {"NS": NETWORK_SERVICE, "BA": "S-1-5-32-544", "SY": "S-1-5-18"}.get(sid, sid)
            if sid not in sids:
                continue
            if rights in ("GA", "GR") or "GR" in rights or "GA" in rights:
                return True
            try:
                if int(rights, 16) & 0x1:
                    return True
            except ValueError:
                continue
        return False


@dataclass(frozen=True)
class AgentConfig:
    path: str
    text: str

    def names_channel(self, channel: str) -> bool:
        return channel.lower() in self.text.lower()


@dataclass(frozen=True)
class WinForwardingFacts:
    managers: tuple[SubscriptionManager, ...]  # () when the policy is not set
    services: tuple[ServiceState, ...]
    channels: tuple[Channel, ...]
    event_log_readers: tuple[str, ...] | None  # SIDs; None when unreadable
    plugin_events: tuple[tuple[int, str, str], ...]  # (id, time, message), newest first
    agent_configs: tuple[AgentConfig, ...]
    resolved: Mapping[str, tuple[str, ...]]

    def service(self, name: str) -> ServiceState | None:
        return next((s for s in self.services if s.name.lower() == name.lower()), None)


def parse_manager(value: str) -> SubscriptionManager:
    """One SubscriptionManager policy value.

    >>> m = parse_manager("Server=http://wec.corp.example:5985/wsman/SubscriptionManager/WEC,Refresh=60")
    >>> (m.host, m.port, m.scheme)
    ('wec.corp.example', 5985, 'http')
    """
    m = re.search(r"Server\s*=\s*([^,\s]+)", value, re.IGNORECASE)
    if not m:
        return SubscriptionManager(value[:300], "", 0, "")
    try:
        u = urlsplit(m.group(1))
        port = u.port or (5986 if u.scheme.lower() == "https" else 5985)
    except ValueError:
        return SubscriptionManager(value[:300], "", 0, "")
    host = (u.hostname or "").lower()
    return SubscriptionManager(value[:300], host, port, u.scheme.lower())


def parse(doc: Mapping[str, Any]) -> WinForwardingFacts:
    lf = _obj(doc.get("forwarding"), "forwarding")
    for key in ("policy_error", "services_error"):
        if lf.get(key):
            raise FactError(f"reading the forwarding state failed: {_str(lf[key])[:300]}")
    sm = lf.get("subscription_manager")
    managers = tuple(parse_manager(_str(v)) for v in (sm.values() if isinstance(sm, dict) else []))
    services = []
    for raw in _list(lf.get("services"), "forwarding.services"):
        s = _obj(raw, "forwarding.services")
        services.append(
            ServiceState(_str(s.get("name")), _str(s.get("state")), _str(s.get("start_mode")), _str(s.get("path")))
        )
    channels = []
    for raw in _list(lf.get("channels"), "forwarding.channels"):
        c = _obj(raw, "forwarding.channels")
        enabled = c.get("is_enabled")
        channels.append(
            Channel(_str(c.get("name")), enabled if isinstance(enabled, bool) else None, _str(c.get("sddl")),
                    _str(c.get("error"))[:300])
        )  # fmt: skip
    readers = None if lf.get("event_log_readers_error") else tuple(
        _str(x) for x in _list(lf.get("event_log_readers"), "forwarding.event_log_readers")
    )  # fmt: skip
    events = []
    for raw in _list(lf.get("plugin_events"), "forwarding.plugin_events")[:20]:
        e = _obj(raw, "forwarding.plugin_events")
        ident = e.get("id")
        events.append((ident if isinstance(ident, int) else -1, _str(e.get("time")), _str(e.get("message"))[:300]))
    configs = []
    for raw in _list(lf.get("agent_configs"), "forwarding.agent_configs")[:32]:
        a = _obj(raw, "forwarding.agent_configs")
        configs.append(AgentConfig(_str(a.get("path")), _str(a.get("text"))[:65536]))
    resolved: dict[str, list[str]] = {}
    for raw in _list(lf.get("resolved"), "forwarding.resolved")[:32]:
        r = _obj(raw, "forwarding.resolved")
        try:
            addr = str(ipaddress.ip_address(_str(r.get("address"))))
        except ValueError:
            continue
        resolved.setdefault(_str(r.get("name")).lower(), []).append(addr)
    return WinForwardingFacts(
        managers,
        tuple(services),
        tuple(channels),
        readers,
        tuple(events),
        tuple(configs),
        {k: tuple(dict.fromkeys(v)) for k, v in resolved.items()},
    )


AREAS = (FactArea("forwarding", Platform.WINDOWS, parse, ("forwarding",), order=36),)
