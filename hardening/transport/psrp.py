"""PSRP transport over pypsrp: one runspace pool, one pipeline running the collector, bounded in time.

For ``ansible_connection=psrp`` hosts, as Ansible's psrp connection plugin does it: PowerShell
remoting (MS-PSRP over WS-Management) instead of WinRS, which hardened hosts often disable
("Allow Remote Shell Access" = Disabled) while PowerShell remoting keeps working. The
collector is the same script, added to the pipeline as one script (``AddScript``): it runs in
the language mode of the session configuration (``ansible_psrp_configuration_name``, default
``Microsoft.PowerShell``), which the collector, written for Constrained Language Mode, accepts.
Its output objects are the collector's JSON lines; error records become the standard error.

Settings come from the ``ansible_psrp_*`` variables (:func:`hardening.inventory._psrp_settings`):
protocol, port, path, auth (negotiate by default), cert_validation, ca_path, certificate_pem,
message_encryption, configuration_name.

Example::

    result = PsrpTransport(target, timeout=300).run(script)
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from hardening.inventory import Target, WinrmSettings
from hardening.model import HostStatus
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError, output_limit_message

OPERATION_TIMEOUT_CODE = 2150858793
CLEANUP_GRACE = 3.0  # seconds after the deadline to stop the pipeline and close the pool (best effort)


def plaintext_refusal(settings: WinrmSettings, endpoint: str) -> str:
    """Why Basic over http is refused ("" when it is not): the password would cross in clear."""
    if settings.basic_over_http and not settings.allow_plaintext:
        return (
            f"refusing Basic authentication over http to {endpoint}: the password would cross the network in "
            "clear. Use https, or negotiate/kerberos/ntlm authentication, or accept it knowingly with "
            "harden_winrm_allow_plaintext: true"
        )
    return ""


class PsrpTransport:
    """Run one script on one Windows host over PowerShell remoting (pypsrp)."""

    def __init__(self, target: Target, timeout: float, max_output: int = MAX_OUTPUT) -> None:
        self.target = target
        self.timeout = timeout
        self.max_output = max_output
        self.settings = target.winrm or WinrmSettings(transport="negotiate")
        self.port = target.port or self.settings.default_port()
        self.endpoint = self.settings.endpoint(target.host, self.port)
        s = self.settings
        # ansible_psrp_*_timeout (Ansible's defaults 20/30/30 s), each within the host's deadline.
        self.operation_timeout = max(1, min(s.operation_timeout or 20, int(timeout) // 2))
        self.read_timeout = max(self.operation_timeout + 1, s.read_timeout or self.operation_timeout + 10)
        self.connection_timeout = max(1, min(s.connection_timeout or 30, int(timeout)))
        self._deadline = time.monotonic() + timeout  # every HTTP request is bounded by the time left to it

    def _bound(self, wsman: Any) -> None:
        """Bound every request of ``wsman`` by the host deadline, without pypsrp's read-timeout retries.

        pypsrp retries a Receive up to 5 times on a read timeout (sleeping 2, 6, 14, 30, 62 s), with
        a read timeout fixed when the session is built: a host that stalls would hold the audit for
        minutes. Here each request gets the time left (at most ``ansible_psrp_read_timeout``, default
        the operation timeout + 10 s) as its read timeout and is tried once; with no time left it is not sent.
        """
        http = wsman.transport
        send = http.send

        def bounded_send(message: bytes, *, retries_on_read_timeout: int = 0, timeout: Any = None) -> bytes:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TransportError(HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {self.endpoint}")
            # pypsrp passes its own read timeout for a Receive with a shorter OperationTimeout.
            wanted = timeout if isinstance(timeout, int | float) and timeout > 0 else self.read_timeout
            read = max(0.2, min(float(wanted), float(self.read_timeout), left))
            return send(message, retries_on_read_timeout=0, timeout=(min(read, self.connection_timeout), read))

        http.send = bounded_send

    def _wsman(self) -> Any:
        from pypsrp.wsman import WSMan

        s = self.settings
        kwargs: dict[str, Any] = {
            "port": self.port,
            "username": self.target.user,
            "password": self.target.password,
            "ssl": s.scheme == "https",
            "path": s.path.lstrip("/"),
            "auth": s.transport,
            "cert_validation": (s.ca_trust_path or True) if s.cert_validation else False,
            # pypsrp cannot seal Basic messages; Basic over http got here only by harden_winrm_allow_plaintext.
            "encryption": "never" if s.basic_over_http else s.message_encryption,
            "operation_timeout": self.operation_timeout,
            "connection_timeout": self.connection_timeout,
            "read_timeout": self.read_timeout,
        }
        if s.cert_pem or s.cert_key_pem:
            kwargs["certificate_pem"] = s.cert_pem
            kwargs["certificate_key_pem"] = s.cert_key_pem
        try:
            return WSMan(self.target.host, **kwargs)
        except Exception as exc:
            raise TransportError(HostStatus.ERROR, f"PSRP settings for {self.endpoint} are unusable: {exc}") from None

    def run(self, script: str) -> RunResult:
        """Open a runspace pool, run ``script`` as one pipeline, collect its output to the end."""
        refused = plaintext_refusal(self.settings, self.endpoint)
        if refused:
            raise TransportError(HostStatus.ERROR, refused)
        from pypsrp.powershell import PowerShell, RunspacePool

        deadline = self._deadline = time.monotonic() + self.timeout
        wsman = self._wsman()
        self._bound(wsman)
        pool = ps = None
        opened = False
        try:
            try:
                pool = RunspacePool(wsman, configuration_name=self.settings.configuration_name)
                pool.open()
                opened = True
                ps = PowerShell(pool)
                ps.add_script(script)
                ps.begin_invoke()
                return self._collect(ps, deadline)
            except Exception as exc:
                error = self._map(exc, opened)
                error.partial = _text(ps.output).encode("utf-8") if ps is not None else b""
                raise error from None
        finally:
            self._deadline = time.monotonic() + CLEANUP_GRACE
            _cleanup(pool, ps, wsman)

    def _collect(self, ps: Any, deadline: float) -> RunResult:
        from pypsrp.complex_objects import PSInvocationState

        while ps.state == PSInvocationState.RUNNING:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportError(HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {self.endpoint}")
            ps.poll_invoke(timeout=max(1, min(self.operation_timeout, int(left))))
            self._check_size(ps)
        self._check_size(ps)
        stderr = _stderr(ps)
        failed = ps.had_errors or ps.state != PSInvocationState.COMPLETED
        return RunResult(_text(ps.output).encode("utf-8"), stderr.encode("utf-8"), 1 if failed else 0)

    def _check_size(self, ps: Any) -> None:
        """Every stream counts against ``max_output`` (as stdout + stderr do over WinRM), in UTF-8 bytes."""
        size = len(_text(ps.output).encode("utf-8"))
        for name in STREAMS:
            size += sum(len(str(r).encode("utf-8")) + 1 for r in getattr(ps.streams, name, None) or [])
        if size > self.max_output:
            raise TransportError(HostStatus.ERROR, output_limit_message(self.max_output))

    def _map(self, exc: Exception, opened: bool) -> TransportError:
        """A pypsrp/requests exception as a host status and a message a person can act on."""
        import requests
        from pypsrp import exceptions as px

        where = self.endpoint
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, requests.exceptions.SSLError):
            return TransportError(
                HostStatus.AUTH_FAILED,
                f"TLS certificate of {where} could not be verified ({_short(str(exc))}); set ansible_psrp_ca_path",
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return TransportError(HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {where}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            status = HostStatus.ERROR if opened else HostStatus.UNREACHABLE
            return TransportError(status, f"cannot reach {where} over PSRP: {_short(str(exc))}")
        if isinstance(exc, px.AuthenticationError):
            return TransportError(HostStatus.AUTH_FAILED, f"PSRP authentication failed at {where}: {exc}")
        if isinstance(exc, px.WSManFaultError):
            status = HostStatus.AUTH_FAILED if exc.code in (5, 2147942405) else HostStatus.ERROR
            return TransportError(status, f"WinRM fault {exc.code}: {_short(str(exc.reason or exc))} ({where})")
        if isinstance(exc, px.WinRMTransportError):
            status = HostStatus.AUTH_FAILED if exc.code == 401 else HostStatus.ERROR
            return TransportError(status, f"PSRP HTTP {exc.code} from {where}: {_short(str(exc.response_text))}")
        if type(exc).__module__.startswith("spnego"):
            return TransportError(HostStatus.AUTH_FAILED, f"authentication with {where} failed: {_short(str(exc))}")
        return TransportError(HostStatus.ERROR, f"PSRP error with {where}: {_short(repr(exc))}")


# The pipeline's streams besides output (pypsrp's PSDataStreams): all count against the output limit.
STREAMS = ("error", "warning", "verbose", "debug", "information", "progress")


def _stderr(ps: Any) -> str:
    """Error records, then warnings, as text: the standard error of the run."""
    lines = [str(e) for e in ps.streams.error or []]
    lines += [f"WARNING: {w}" for w in getattr(ps.streams, "warning", None) or []]
    return "\n".join(lines)


def _text(output: Any) -> str:
    """The pipeline's output objects (the collector's JSON lines) as text, one per line."""
    return "".join(f"{o}\n" for o in output or [])


def _cleanup(pool: Any, ps: Any, wsman: Any) -> None:
    """Best effort: stop the pipeline, close the pool, drop the HTTP session; failures are ignored."""
    from pypsrp.complex_objects import PSInvocationState

    if ps is not None and ps.state == PSInvocationState.RUNNING:
        with contextlib.suppress(Exception):
            ps.stop()
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.close()
    with contextlib.suppress(Exception):
        wsman.close()


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
