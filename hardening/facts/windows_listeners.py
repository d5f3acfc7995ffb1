"""Listening services (Windows): sockets listening for the network, the process and service behind
each and the account it runs as; IIS application pools' identities.

Parses the ``listeners`` area of ``windows.ps1``: ``Get-NetTCPConnection -State Listen`` and
``Get-NetUDPEndpoint`` (LocalAddress, LocalPort, OwningProcess), ``Win32_Service`` (Name,
ProcessId, StartName: ``LocalSystem``, ``NT AUTHORITY\\LocalService``, ``NT AUTHORITY\\NetworkService``
or an account), ``Win32_Process`` with its ``GetOwner`` method, and IIS's
``%SystemRoot%\\System32\\inetsrv\\config\\applicationHost.config``
(``system.applicationHost/applicationPools``: ``add name=`` with ``processModel identityType=``
LocalSystem | LocalService | NetworkService | SpecificUser | ApplicationPoolIdentity, the default
from ``applicationPoolDefaults``; https://learn.microsoft.com/iis/configuration/system.applicationhost/applicationpools/add/processmodel).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hardening.facts.areas import FactArea
from hardening.facts.sections import FactError
from hardening.facts.windows import _int, _list, _obj, _str
from hardening.model import Platform


@dataclass(frozen=True)
class WinListener:
    proto: str
    address: str
    port: int
    pid: int

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.address.split("%", 1)[0]).is_loopback
        except ValueError:
            return False

    def label(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto} {host}:{self.port}"


@dataclass(frozen=True)
class WinService:
    name: str
    pid: int
    start_name: str
    path: str

    @property
    def local_system(self) -> bool:
        return self.start_name.strip().lower() in ("localsystem", "nt authority\\system", ".\\localsystem")


@dataclass(frozen=True)
class WinProcess:
    pid: int
    name: str
    path: str
    owner: str  # DOMAIN\\User, "" when GetOwner failed


@dataclass(frozen=True)
class AppPool:
    name: str
    identity: str  # identityType


@dataclass(frozen=True)
class WinListenerFacts:
    listeners: tuple[WinListener, ...]
    services: tuple[WinService, ...]
    processes: Mapping[int, WinProcess]
    app_pools: tuple[AppPool, ...] | None  # None: no IIS configuration
    iis_problem: str


def app_pools(xml: str) -> tuple[AppPool, ...]:
    """IIS application pools and their identity (the defaults' identityType when a pool sets none).

    >>> app_pools('<configuration><system.applicationHost><applicationPools>'
    ...     '<add name="A"><processModel identityType="LocalSystem"/></add><add name="B"/>'
    ...     '<applicationPoolDefaults><processModel identityType="ApplicationPoolIdentity"/></applicationPoolDefaults>'
    ...     '</applicationPools></system.applicationHost></configuration>')
    (AppPool(name='A', identity='LocalSystem'), AppPool(name='B', identity='ApplicationPoolIdentity'))
    """
    from xml.etree.ElementTree import ParseError

    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(xml.lstrip("\ufeff").strip())
    except (ParseError, DefusedXmlException) as exc:
        raise FactError(f"applicationHost.config is not valid XML: {str(exc)[:160]}") from None
    pools = root.find("system.applicationHost/applicationPools")
    if pools is None:
        return ()
    default = "ApplicationPoolIdentity"
    d = pools.find("applicationPoolDefaults/processModel")
    if d is not None and d.get("identityType"):
        default = d.get("identityType", default)
    out = []
    for add in pools.findall("add"):
        pm = add.find("processModel")
        ident = pm.get("identityType") if pm is not None and pm.get("identityType") else default
        out.append(AppPool(add.get("name", ""), ident or default))
    return tuple(out)


def _listeners(items: Any, proto: str) -> list[WinListener]:
    out = []
    for raw in _list(items, f"listeners.{proto}"):
        x = _obj(raw, f"listeners.{proto}")
        port, pid = _int(x.get("port")), _int(x.get("pid"))
        if port is not None and pid is not None:
            out.append(WinListener(proto, _str(x.get("address")), port, pid))
    return out


def parse(doc: Mapping[str, Any]) -> WinListenerFacts:
    sv = _obj(doc.get("listeners"), "listeners")
    for key in ("tcp_error", "services_error"):
        if sv.get(key):
            raise FactError(f"listing listeners or services failed: {_str(sv[key])[:300]}")
    listeners = _listeners(sv.get("tcp"), "tcp") + ([] if sv.get("udp_error") else _listeners(sv.get("udp"), "udp"))
    services = []
    for raw in _list(sv.get("services"), "listeners.services"):
        s = _obj(raw, "listeners.services")
        pid = _int(s.get("pid"))
        if pid is not None:
            services.append(WinService(_str(s.get("name")), pid, _str(s.get("start_name")), _str(s.get("path"))))
    procs: dict[int, WinProcess] = {}
    for raw in _list(sv.get("processes"), "listeners.processes"):
        p = _obj(raw, "listeners.processes")
        pid = _int(p.get("pid"))
        if pid is not None:
            procs[pid] = WinProcess(pid, _str(p.get("name")), _str(p.get("path")), _str(p.get("owner")))
    pools: tuple[AppPool, ...] | None = None
    problem = _str(sv.get("iis_error"))[:300]
    if isinstance(sv.get("iis_config"), str):
        pools = app_pools(sv["iis_config"])
    return WinListenerFacts(tuple(listeners), tuple(services), procs, pools, problem)


AREAS = (FactArea("listeners", Platform.WINDOWS, parse, ("listeners",), order=37),)
