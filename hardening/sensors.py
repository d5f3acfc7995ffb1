"""The behavioural sensors harden knows: how each one shows itself on Linux and Windows.

A sensor is identified by what runs, never by a process name: on Linux by the executable of a
process running as root (``/proc/PID/exe``, a path in a root-owned directory: an unprivileged
user cannot put a binary there), on Windows by its service. ``harden_required_sensors`` names
sensors by :attr:`Sensor.id`.

``rules`` says how harden judges what the sensor watches: ``"open"`` sensors load rules harden
reads (Falco rules, osquery schedule, Tetragon policies, Sysmon and auditd configuration);
``"vendor"`` sensors take their detection content from the vendor's console, which is not on
the host: for them harden judges that the sensor runs.

Example::

    >>> SENSORS["falco"].linux_exes[0]
    '/usr/bin/falco'
    >>> sorted(s.id for s in SENSORS.values() if s.windows_services)[:3]
    ['defender', 'elastic', 'falcon']
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sensor:
    id: str
    name: str
    rules: str  # "open" | "vendor"
    linux_exes: tuple[str, ...] = ()  # absolute paths; a trailing "*" matches a version directory
    linux_units: tuple[str, ...] = ()
    linux_packages: tuple[str, ...] = ()
    windows_services: tuple[str, ...] = ()  # service names (Win32_Service Name)

    def matches_exe(self, exe: str) -> bool:
        for pattern in self.linux_exes:
            if "*" in pattern:
                head, _, tail = pattern.partition("*")
                if exe.startswith(head) and exe.endswith(tail) and "/" in exe[len(head) :]:
                    rest = exe[len(head) : len(exe) - len(tail)]
                    if rest.count("/") <= 1:
                        return True
            elif exe == pattern:
                return True
        return False


_CATALOG = (
    Sensor("auditd", "auditd (Linux audit daemon)", "open", ("/sbin/auditd", "/usr/sbin/auditd"),
           ("auditd.service",), ("auditd", "audit")),
    Sensor("falco", "Falco", "open", ("/usr/bin/falco", "/usr/local/bin/falco"),
           ("falco.service", "falco-modern-bpf.service", "falco-bpf.service", "falco-kmod.service",
            "falco-custom.service"), ("falco",)),
    Sensor("tetragon", "Tetragon", "open", ("/usr/local/bin/tetragon", "/usr/bin/tetragon"), ("tetragon.service",)),
    Sensor("osquery", "osquery", "open", ("/opt/osquery/bin/osqueryd", "/usr/bin/osqueryd", "/usr/local/bin/osqueryd"),
           ("osqueryd.service",), ("osquery",), ("osqueryd",)),
    Sensor("sysmon", "Sysmon", "open", ("/opt/sysmon/sysmon", "/usr/bin/sysmon"), ("sysmon.service",),
           ("sysmonforlinux",), ("Sysmon", "Sysmon64")),
    Sensor("auditbeat", "Auditbeat", "open", ("/usr/share/auditbeat/bin/auditbeat",), ("auditbeat.service",),
           ("auditbeat",)),
    Sensor("elastic", "Elastic Agent / Elastic Defend", "vendor",
           ("/opt/Elastic/Agent/elastic-agent", "/opt/Elastic/Agent/data/*/elastic-agent",
            "/opt/Elastic/Endpoint/elastic-endpoint"),
           ("elastic-agent.service", "ElasticEndpoint.service"), ("elastic-agent",),
           ("Elastic Agent", "ElasticEndpoint")),
    Sensor("wazuh", "Wazuh agent", "vendor",
           ("/var/ossec/bin/wazuh-agentd", "/var/ossec/bin/wazuh-modulesd", "/var/ossec/bin/wazuh-logcollector",
            "/var/ossec/bin/wazuh-syscheckd"), ("wazuh-agent.service",), ("wazuh-agent",), ("WazuhSvc",)),
    Sensor("mde", "Microsoft Defender for Endpoint", "vendor", ("/opt/microsoft/mdatp/sbin/wdavdaemon",),
           ("mdatp.service",), ("mdatp",), ("Sense",)),
    Sensor("falcon", "CrowdStrike Falcon", "vendor", ("/opt/CrowdStrike/falcon-sensor", "/opt/CrowdStrike/falcond"),
           ("falcon-sensor.service",), ("falcon-sensor",), ("CSFalconService",)),
    Sensor("sentinelone", "SentinelOne", "vendor", ("/opt/sentinelone/bin/sentinelone-agent",),
           ("sentinelone.service",), ("sentinelagent",), ("SentinelAgent",)),
    # Windows only: Microsoft Defender Antivirus (real-time and behaviour monitoring, tamper protection).
    Sensor("defender", "Microsoft Defender Antivirus", "vendor", windows_services=("WinDefend",)),
)  # fmt: skip

SENSORS: dict[str, Sensor] = {s.id: s for s in _CATALOG}
LINUX_SENSORS = tuple(s for s in _CATALOG if s.linux_exes)
WINDOWS_SENSORS = tuple(s for s in _CATALOG if s.windows_services)
