"""``harden verify`` on Windows hosts (WinRM): the callback script, its parser and the judgement.

Why ``Invoke-WebRequest``: the callback must run under Constrained Language Mode (CLM is
what a hardened host gives the WinRM session). ``New-Object System.Net.Sockets.TcpClient``
and its .NET methods are refused there; ``Test-NetConnection -Port`` opens a real TCP
connection but cannot send anything (no token, so a connection from a NAT or a scanner
could not be told apart) and cannot be bounded (it pings first and waits out Windows' ~21 s
SYN retries). ``Invoke-WebRequest`` is a cmdlet (allowed under CLM), opens a new outbound
TCP connection to ``http://CALLBACK:PORT/`` on any port and sends the token in its request
line (``GET /HARDEN-VERIFY/<token>``); ``-TimeoutSec`` bounds it. The controller's listener
accepts the token in that form and answers ``204`` so the host sees a completed request.
Trade-off: the request is HTTP, and Windows PowerShell 5.1 cannot turn the system (WinINet)
proxy off: with a proxy configured for the WinRM user, the connection goes through it and
the token arrives from the proxy's address (reported in the detail). That is still egress
a reverse shell could use (many speak HTTP), but not a raw outbound TCP connection.

The callback address is ``--callback-host``, or learned as the local address of a TCP
connection from the controller to the host's WinRM endpoint (``getsockname()``: how the
controller reaches the host; wrong behind NAT or an HTTP proxy, then pass
``--callback-host``); the same loopback/podman-bridge rule as for SSH applies.

Example::

    script = callback_script("198.18.0.1", {4444: "ab" * 16}, 3)
    method, attempts = parse_callback_output(stdout_text, [4444])
"""

from __future__ import annotations

import ipaddress
import math
import socket
from dataclasses import dataclass
from importlib import resources
from typing import Any

from hardening import hostjson
from hardening.inventory import Target, WinrmSettings
from hardening.model import HostStatus
from hardening.transport.base import TransportError

METHOD = "Invoke-WebRequest"
# WebException.Status values after which the TCP connection had been made (a response, or
# the peer closed/reset it after the request went out).
_CONNECTED = {
    "Success", "ProtocolError", "ReceiveFailure", "ConnectionClosed", "KeepAliveFailure",
    "ServerProtocolViolation", "PipelineFailure", "MessageLengthLimitExceeded",
}  # fmt: skip
_TIMEOUT = {"Timeout"}
_REFUSED = {"ConnectFailure"}


class CallbackOutputError(Exception):
    """The host's output is not the callback script's JSON."""


@dataclass(frozen=True)
class Attempt:
    """One port's attempt as the host reported it (``status``: WebException.Status or Success)."""

    port: int
    connected: bool
    status: str
    message: str = ""


def callback_uri(callback_host: str, port: int, token: str) -> str:
    """The URL whose request line carries the token.

    >>> callback_uri("::1", 443, "ab" * 16)
    'http://[::1]:443/HARDEN-VERIFY/abababababababababababababababab'
    """
    shown = f"[{callback_host}]" if ":" in callback_host else callback_host
    return f"http://{shown}:{port}/HARDEN-VERIFY/{token}"


def callback_script(callback_host: str, tokens: dict[int, str], timeout: float) -> str:
    """The PowerShell callback script for one host (ASCII). Every value is validated, never quoted in.

    >>> s = callback_script("127.0.0.1", {4444: "0" * 32}, 2.5)
    >>> "$Timeout = 3" in s and "port = 4444; uri = 'http://127.0.0.1:4444/HARDEN-VERIFY/" in s
    True
    """
    host = str(ipaddress.ip_address(callback_host))
    lines = []
    for port, token in tokens.items():
        if not 0 < int(port) < 65536 or len(token) != 32 or any(c not in "0123456789abcdef" for c in token):
            raise ValueError(f"bad port/token {port!r}/{token!r}")
        lines.append(f"    @{{ port = {int(port)}; uri = '{callback_uri(host, int(port), token)}' }}")
    template = resources.files("hardening.hunt").joinpath("verify_windows.ps1").read_text(encoding="ascii")
    script = (
        template.replace("@@CALLBACK@@", host)
        .replace("@@TIMEOUT@@", str(max(1, math.ceil(timeout))))
        .replace("@@ATTEMPTS@@", ",\n".join(lines))
    )
    script.encode("ascii")
    return script


def parse_callback_output(text: str, ports: list[int] | tuple[int, ...]) -> tuple[str, dict[int, Attempt]]:
    """(method, port -> attempt) from the script's JSON; CallbackOutputError when it is not that JSON.

    >>> out = '{"harden_collector":"windows-verify","method":"Invoke-WebRequest","done":true,'
    >>> out += '"results":[{"port":4444,"connected":false,"status":"Timeout","message":"timed out"}]}'
    >>> parse_callback_output(out, [4444])[1][4444].status
    'Timeout'
    """
    start = text.find("{")
    try:
        doc: Any = hostjson.loads(text[start:]) if start >= 0 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("harden_collector") != "windows-verify":
        raise CallbackOutputError("the callback script printed no result JSON (cut short, or PowerShell failed)")
    if doc.get("done") is not True:
        raise CallbackOutputError("the callback script stopped before the end")
    raw = doc.get("results")
    if isinstance(raw, dict):  # ConvertTo-Json unwraps a one-element array in some versions
        raw = [raw]
    attempts: dict[int, Attempt] = {}
    for r in raw if isinstance(raw, list) else []:
        if not isinstance(r, dict):
            continue
        port = r.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or port not in ports:
            continue
        attempts[port] = Attempt(
            port=port,
            connected=r.get("connected") is True,
            status=str(r.get("status") or "")[:64],
            message=" ".join(str(r.get("message") or "").split())[:300],
        )
    method = str(doc.get("method") or "")[:40]
    return method, attempts


@dataclass(frozen=True)
class Judged:
    """What a port's attempt says: ``connected`` / ``timeout`` / ``refused`` / ``error`` and why."""

    outcome: str
    detail: str


def classify(attempt: Attempt | None) -> Judged:
    """The host side of one attempt.

    >>> classify(Attempt(4444, False, "ConnectFailure", "Unable to connect to the remote server")).outcome
    'refused'
    >>> classify(Attempt(4444, True, "Success")).outcome
    'connected'
    """
    if attempt is None:
        return Judged("error", "the host did not report this attempt")
    text = f" ({attempt.message})" if attempt.message else ""
    if attempt.connected or attempt.status in _CONNECTED:
        return Judged("connected", f"connected ({attempt.status})")
    if attempt.status in _TIMEOUT:
        return Judged("timeout", f"the connection attempt timed out (dropped){text}")
    if attempt.status in _REFUSED:
        return Judged("refused", f"the connection failed (refused or unreachable){text}")
    what = attempt.status or "no WebException status"
    return Judged("error", f"Invoke-WebRequest failed before a connection could be judged: {what}{text}")


def learn_winrm_callback(target: Target, timeout: float) -> str:
    """The controller's local address on a TCP connection to the host's WinRM endpoint.

    That is the address the controller uses to reach the host; the host reaches the controller
    at the same address unless NAT or an HTTP proxy is in between (then: ``--callback-host``).
    Raises TransportError(UNREACHABLE) when the endpoint does not accept a connection.
    """
    settings = target.winrm or WinrmSettings()
    port = target.port or settings.default_port()
    try:
        with socket.create_connection((target.host, port), timeout=max(1.0, min(timeout, 10.0))) as s:
            address = str(s.getsockname()[0])
    except OSError as exc:
        raise TransportError(
            HostStatus.UNREACHABLE, f"cannot connect to {target.host}:{port} to learn the callback address: {exc}"
        ) from None
    return address.removeprefix("::ffff:")
