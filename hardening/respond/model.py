"""The data of a response (pure): the action, the processes acted on, their flows, the results.

Example::

    >>> ref = ProcessRef(pid=812, start_cs=176500012346, ppid=1, process="socat", role="netcat")
    >>> ref.token
    '812:176500012346'
    >>> Flow("tcp", "198.18.0.5", 40000, "198.18.0.1", 4444).token
    'tcp,4,198.18.0.5,40000,198.18.0.1,4444'
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

INCIDENT_ID = re.compile(r"i-[0-9a-f]{8}")


class Action(StrEnum):
    SUSPEND = "suspend"
    KILL = "kill"
    ISOLATE = "isolate-process"

    @property
    def script_name(self) -> str:
        """What act.sh calls it (RA)."""
        return "isolate" if self is Action.ISOLATE else self.value


class RespondError(Exception):
    """The response was refused or could not start: nothing was done on the host (exit 2)."""


@dataclass(frozen=True)
class ProcessRef:
    """One process to act on, as harden listed it: the pid and its start time (centiseconds since the
    epoch, the incident id's start to two decimals) identify it; the rest is for people."""

    pid: int
    start_cs: int
    ppid: int
    process: str
    role: str
    cmdline: str = ""
    user: str = ""

    def __post_init__(self) -> None:
        if not (1 < self.pid < 2**31 and 0 < self.start_cs < 10**13):
            raise ValueError(f"bad process reference {self.pid}:{self.start_cs}")

    @property
    def token(self) -> str:
        """``PID:START`` as the scripts take it (integers only)."""
        return f"{int(self.pid)}:{int(self.start_cs)}"


@dataclass(frozen=True)
class Flow:
    """A connection of the incident's processes (from the evidence socket table lines): the addresses
    are normalised by :mod:`ipaddress`, so they hold only hex digits, dots and colons."""

    proto: str
    local: str
    local_port: int
    remote: str
    remote_port: int

    def __post_init__(self) -> None:
        if self.proto not in ("tcp", "udp"):
            raise ValueError(f"bad protocol {self.proto!r}")
        for port in (self.local_port, self.remote_port):
            if not 0 < port < 65536:
                raise ValueError(f"bad port {port}")
        for a in (self.local, self.remote):
            if str(ipaddress.ip_address(a)) != a:
                raise ValueError(f"address not normalised: {a!r}")
        if ipaddress.ip_address(self.local).version != ipaddress.ip_address(self.remote).version:
            raise ValueError("mixed address families")

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.local).version

    @property
    def token(self) -> str:
        return f"{self.proto},{self.family},{self.local},{self.local_port},{self.remote},{self.remote_port}"

    def __str__(self) -> str:
        def ep(a: str, p: int) -> str:
            return f"[{a}]:{p}" if ":" in a else f"{a}:{p}"

        return f"{self.proto} {ep(self.local, self.local_port)} -> {ep(self.remote, self.remote_port)}"


@dataclass(frozen=True)
class ProcessResult:
    """What the action did to one process: ``result`` stopped, killed, gone, reused (the pid is another
    process now: left alone), skipped, failed, moved; ``after`` its state a moment later (T, Z, gone...)."""

    pid: int
    result: str
    detail: str = ""
    after: str = ""
