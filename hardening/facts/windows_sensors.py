"""Sensor facts (Windows): Microsoft Defender Antivirus status and the services of EDR agents.

Parses the ``sensors`` area of ``windows.ps1``. ``defender`` is ``Get-MpComputerStatus``
(MSFT_MpComputerStatus: AMServiceEnabled, AntivirusEnabled, RealTimeProtectionEnabled,
BehaviorMonitorEnabled, OnAccessProtectionEnabled, IoavProtectionEnabled, IsTamperProtected,
AMRunningMode "Normal" | "Passive Mode" | "SxS Passive Mode" | "EDR Block Mode"; see
https://learn.microsoft.com/powershell/module/defender/get-mpcomputerstatus); ``services`` are
``Win32_Service`` entries of the agents in :mod:`hardening.sensors`.

Example::

    >>> parse({"sensors": {"services": [{"name": "Sense", "state": "Running"}]}}).services[0].running
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hardening.facts.areas import FactArea
from hardening.facts.sections import FactError
from hardening.facts.windows import ServiceState, _list, _obj, _str
from hardening.model import Platform


@dataclass(frozen=True)
class DefenderStatus:
    am_service_enabled: bool
    antivirus_enabled: bool
    real_time: bool
    behavior_monitor: bool
    on_access: bool
    tamper_protected: bool | None  # None: the field is absent (Defender platform too old to report it)
    running_mode: str  # "" when absent

    @property
    def active(self) -> bool:
        """Real-time and behaviour monitoring on, in normal (active) mode: Defender sees a process start."""
        passive = "passive" in self.running_mode.lower()
        return self.am_service_enabled and self.real_time and self.behavior_monitor and not passive


@dataclass(frozen=True)
class WinSensorFacts:
    defender: DefenderStatus | None  # None: Get-MpComputerStatus failed (defender_problem says why)
    defender_problem: str
    services: tuple[ServiceState, ...]


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def parse(doc: Mapping[str, Any]) -> WinSensorFacts:
    se = _obj(doc.get("sensors"), "sensors")
    if se.get("services_error"):
        raise FactError(f"listing services (Win32_Service) failed: {_str(se['services_error'])[:300]}")
    services = []
    for raw in _list(se.get("services"), "sensors.services"):
        s = _obj(raw, "sensors.services")
        services.append(
            ServiceState(_str(s.get("name")), _str(s.get("state")), _str(s.get("start_mode")), _str(s.get("path")))
        )
    defender = None
    problem = _str(se.get("defender_error"))[:300]
    if isinstance(se.get("defender"), dict):
        d = se["defender"]
        tp = d.get("tamper_protected")
        defender = DefenderStatus(
            _bool(d.get("am_service_enabled")),
            _bool(d.get("antivirus_enabled")),
            _bool(d.get("real_time")),
            _bool(d.get("behavior_monitor")),
            _bool(d.get("on_access")),
            None if tp is None else _bool(tp),
            _str(d.get("running_mode")),
        )
    elif not problem:
        problem = "Get-MpComputerStatus returned nothing"
    return WinSensorFacts(defender, problem, tuple(services))


AREAS = (FactArea("sensors", Platform.WINDOWS, parse, ("sensors",), order=35),)
