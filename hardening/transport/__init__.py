"""The one way to reach a host: the inventory's connection picks the transport.

Every command that runs a script on hosts (audit, collect, hunt, verify, allowlist) opens
its transport here, so each gets the same output cap (``--max-output``, default
:data:`~hardening.transport.base.MAX_OUTPUT`) and the same known_hosts handling (the
``--known-hosts`` file, else the host's ``ansible_ssh_known_hosts_file``, else
``~/.ssh/known_hosts``). The transports are imported when first used: paramiko and
pywinrm cost start-up time a command that does not need them should not pay.

Example::

    result = run_script(target, script, AuditOptions(timeout=30))
    result = open_transport(target, timeout=30, known_hosts="kh", max_output=MAX_OUTPUT).run(script)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hardening.transport.base import MAX_OUTPUT, RunResult

if TYPE_CHECKING:
    from hardening.inventory import Connection, Target


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; imports it on first attribute use."""

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_deferred_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__["_deferred_real"] = real
        return getattr(real, name)


def defer_invoke() -> None:
    """Import invoke only when paramiko first uses it.

    paramiko.config imports invoke at import time only to run ``Match exec`` lines of ssh_config,
    and invoke pulls in asyncio, unittest.mock and importlib.metadata: about a third of paramiko's
    import time, spent before the first SSH connection can start. A stand-in module takes its
    place in ``sys.modules``; the first attribute paramiko reads from it (``invoke.run``, for a
    ``Match exec``) imports the real one. Nothing changes if invoke was already imported or is not
    installed (paramiko then reports its import error as before).
    """
    if "invoke" in sys.modules or importlib.util.find_spec("invoke") is None:
        return
    sys.modules["invoke"] = _Deferred("invoke")


# Every module of this package that imports paramiko is imported after this line.
defer_invoke()


class Transport(Protocol):
    """One script, one round trip: raises :class:`~hardening.transport.base.TransportError` on failure."""

    def run(self, script: str) -> RunResult: ...


class ConnectOptions(Protocol):
    """What opening a transport needs from a command's options (AuditOptions, HuntOptions, VerifyOptions)."""

    @property
    def timeout(self) -> float: ...

    @property
    def known_hosts(self) -> str | None: ...

    @property
    def max_output(self) -> int: ...


TransportFactory = Callable[["Target", float, "str | None", int], Transport]


def _ssh(target: Target, timeout: float, known_hosts: str | None, max_output: int) -> Transport:
    from hardening.transport.ssh import SshTransport

    return SshTransport(target, timeout, known_hosts, max_output)


def _local(target: Target, timeout: float, known_hosts: str | None, max_output: int) -> Transport:
    from hardening.transport.local import LocalTransport

    return LocalTransport(target, timeout, max_output)


def _winrm(target: Target, timeout: float, known_hosts: str | None, max_output: int) -> Transport:
    from hardening.transport.winrm import WinrmTransport

    return WinrmTransport(target, timeout, max_output)


def _psrp(target: Target, timeout: float, known_hosts: str | None, max_output: int) -> Transport:
    from hardening.transport.psrp import PsrpTransport

    return PsrpTransport(target, timeout, max_output)


def _factories() -> Mapping[Connection, TransportFactory]:
    from hardening.inventory import Connection

    return {Connection.SSH: _ssh, Connection.LOCAL: _local, Connection.WINRM: _winrm, Connection.PSRP: _psrp}


def open_transport(
    target: Target, timeout: float, known_hosts: str | None = None, max_output: int = MAX_OUTPUT
) -> Transport:
    """The transport of ``target``'s connection (ssh, local, winrm or psrp), bounded by ``timeout`` seconds
    and ``max_output`` bytes (stdout + stderr). ``known_hosts`` is used by SSH only."""
    return _factories()[target.connection](target, timeout, known_hosts, max_output)


def run_script(target: Target, script: str, options: ConnectOptions) -> RunResult:
    """One round trip on ``target`` with ``options``' timeout, known_hosts and output cap."""
    return open_transport(target, options.timeout, options.known_hosts, options.max_output).run(script)


__all__ = ["MAX_OUTPUT", "ConnectOptions", "Transport", "TransportFactory", "open_transport", "run_script"]
