"""WinRM transport over pywinrm: one shell, one command, the collector on stdin, bounded in time.

The command line carries only a short bootstrap (cmd.exe caps a command line at 8,191
characters, so ``run_ps``'s ``-EncodedCommand <whole script>`` breaks on real hosts for any
script over about 3 KB). The bootstrap is the one Ansible uses in spirit
(``ansible/executor/powershell/bootstrap_wrapper.ps1``): it reads the script from ``$input``
(standard input) and runs it. Unlike Ansible it does not call ``[Parser]::ParseInput`` (a
.NET call refused under Constrained Language Mode); ``Invoke-Expression`` runs the text in
the session's language mode, which the collector is written for.

Connection settings come from the Ansible variables (see
:class:`hardening.inventory.WinrmSettings`); errors map to host statuses with the WinRM
fault text in the message.

Example::

    result = WinrmTransport(target, timeout=60).run(script)
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
from typing import Any

from hardening.inventory import Target, WinrmSettings
from hardening.model import HostStatus
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError, output_limit_message

# Runs in the remote powershell.exe: read stdin to the end, run it. No .NET calls.
BOOTSTRAP = "$ProgressPreference='SilentlyContinue'; $input | Out-String | Invoke-Expression"
POWERSHELL = "powershell.exe"
WSMAN_TIMEOUT_CODE = 2150858793  # the Receive operation timed out: retry (no output yet)
_ACCESS_DENIED_CODES = {5, 2147942405}
SEND_CHUNK = 32 * 1024  # bytes of script per Send (the envelope limit is 150 KiB after base64)
CLEANUP_S = 3.0
ERROR_BUSY = 170  # WSMan fault on Send while an earlier (timed-out) Send is still processed: retry
SEND_ATTEMPTS = 3
BUSY_RETRY_S = 5.0  # Ansible's winrm plugin: 3 attempts, 5 s apart


def bootstrap_arguments() -> list[str]:
    """powershell.exe arguments that read the script from stdin; short enough for any command line.

    >>> args = bootstrap_arguments()
    >>> args[:4]
    ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass']
    >>> len(" ".join(args)) < 400
    True
    """
    encoded = base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    return ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded]


def clixml_text(stderr: bytes) -> str:
    """PowerShell writes errors to a redirected stderr as CLIXML; keep the error lines' text.

    >>> clixml_text(b'#< CLIXML\\r\\n<Objs><S S="Error">boom_x000D__x000A_</S></Objs>')
    'boom'
    """
    text = stderr.decode("utf-8", "replace")
    if "#< CLIXML" not in text:
        return text.strip()
    parts = re.findall(r'<S S="Error">(.*?)</S>', text, re.DOTALL)
    joined = "".join(parts).replace("_x000D__x000A_", "\n").replace("_x000A_", "\n")
    joined = joined.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return joined.strip()


def _fault_text(exc: Any) -> str:
    reason = str(getattr(exc, "reason", "") or exc).strip()
    code = getattr(exc, "wsman_fault_code", None)
    return f"WinRM fault{f' {code}' if code is not None else ''}: {reason}"


class WinrmTransport:
    """Run one script on one Windows host over WinRM (pywinrm)."""

    def __init__(self, target: Target, timeout: float, max_output: int = MAX_OUTPUT) -> None:
        self.target = target
        self.timeout = timeout
        self.max_output = max_output
        self.settings = target.winrm or WinrmSettings()
        self.endpoint = self.settings.endpoint(target.host, target.port)
        self.operation_timeout = max(1, min(20, int(timeout) // 2))

    def _protocol(self) -> Any:
        try:
            from winrm.protocol import Protocol
        except ImportError as exc:  # pragma: no cover - pywinrm is a dependency
            raise TransportError(HostStatus.ERROR, f"pywinrm is not installed: {exc}") from None
        s = self.settings
        kwargs: dict[str, Any] = {
            "transport": s.transport,
            "username": self.target.user,
            "password": self.target.password,
            "server_cert_validation": "validate" if s.cert_validation else "ignore",
            "message_encryption": s.message_encryption,
            "operation_timeout_sec": self.operation_timeout,
            "read_timeout_sec": self.operation_timeout + 10,
        }
        if s.ca_trust_path:
            kwargs["ca_trust_path"] = s.ca_trust_path
        if s.cert_pem or s.cert_key_pem:
            kwargs["cert_pem"] = s.cert_pem
            kwargs["cert_key_pem"] = s.cert_key_pem
        try:
            return Protocol(self.endpoint, **kwargs)
        except Exception as exc:
            text = str(exc)
            missing = any(w in text.lower() for w in ("credential", "password", "username", "cert_pem"))
            raise TransportError(
                HostStatus.AUTH_FAILED if missing else HostStatus.ERROR,
                f"WinRM settings for {self.endpoint} are unusable: {text} "
                "(set ansible_user/ansible_password, or the certificate variables)"
                if missing
                else f"WinRM settings for {self.endpoint} are unusable: {text}",
            ) from None

    def _budget(self, protocol: Any, deadline: float, cap: float | None = None) -> None:
        """Bound the next HTTP request by what is left of the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError(HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {self.endpoint}")
        limit = self.operation_timeout + 10 if cap is None else cap
        protocol.transport.read_timeout_sec = max(0.2, min(left, limit))

    def _map(self, exc: Exception, started: bool) -> TransportError:
        """A pywinrm/requests exception as a host status and a message a person can act on."""
        import requests
        from winrm import exceptions as wx

        where = self.endpoint
        if isinstance(exc, TransportError):
            return exc
        if isinstance(exc, requests.exceptions.SSLError):
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                return TransportError(
                    HostStatus.AUTH_FAILED,
                    f"TLS certificate of {where} could not be verified ({_short(text)}); set "
                    "ansible_winrm_ca_trust_path to the CA that signed it (or, knowingly, "
                    "ansible_winrm_server_cert_validation=ignore)",
                )
            return TransportError(HostStatus.ERROR, f"TLS error with {where}: {_short(text)}")
        if isinstance(exc, requests.exceptions.Timeout):
            return TransportError(HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {where}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            status = HostStatus.ERROR if started else HostStatus.UNREACHABLE
            verb = "connection lost while collecting from" if started else "cannot connect to"
            return TransportError(status, f"{verb} {where}: {_short(str(exc))}")
        if isinstance(exc, wx.InvalidCredentialsError | wx.AuthenticationError):
            return TransportError(
                HostStatus.AUTH_FAILED,
                f"WinRM authentication failed for {self.target.user} at {where} "
                f"(transport {self.settings.transport}): {exc}",
            )
        if isinstance(exc, wx.WSManFaultError):
            if exc.wsman_fault_code in _ACCESS_DENIED_CODES:
                return TransportError(HostStatus.AUTH_FAILED, f"{_fault_text(exc)} ({where})")
            return TransportError(HostStatus.ERROR, f"{_fault_text(exc)} ({where})")
        if isinstance(exc, wx.WinRMTransportError):
            body = _short(re.sub(r"<[^>]+>", " ", str(exc.response_text or "")))
            return TransportError(HostStatus.ERROR, f"WinRM HTTP {exc.code} from {where}: {body}".strip())
        if isinstance(exc, wx.WinRMError):
            text = str(exc)
            if "kerberos" in text or "credssp" in text:
                text += " (pip install 'pywinrm[kerberos]' or 'pywinrm[credssp]')"
            return TransportError(HostStatus.ERROR, f"WinRM error with {where}: {text}")
        if isinstance(exc, PermissionError):  # requests_ntlm: no NTLM challenge from the server
            return TransportError(HostStatus.AUTH_FAILED, f"NTLM authentication with {where} failed: {exc}")
        if type(exc).__module__.startswith("spnego"):
            return TransportError(HostStatus.AUTH_FAILED, f"authentication with {where} failed: {_short(str(exc))}")
        return TransportError(HostStatus.ERROR, f"WinRM error with {where}: {exc!r}")

    def refusal(self) -> str:
        """Why these settings are refused before connecting ("" when they are not)."""
        s = self.settings
        if s.basic_over_http and not s.allow_plaintext:
            return (
                f"refusing Basic authentication over http to {self.endpoint}: the password would cross the network "
                "in clear (pywinrm encrypts only NTLM, Kerberos and CredSSP messages). Use https "
                "(ansible_winrm_scheme=https), or ansible_winrm_transport=ntlm/kerberos, or accept it knowingly "
                "with harden_winrm_allow_plaintext: true"
            )
        return ""

    def run(self, script: str) -> RunResult:
        """Open a shell, start the bootstrap, send ``script`` on stdin, read to the exit code.

        A failure after the command started carries the standard output received so far
        (:attr:`TransportError.partial`): the collector prints one line per finished area.
        """
        refused = self.refusal()
        if refused:
            raise TransportError(HostStatus.ERROR, refused)
        data = script.encode("ascii")
        deadline = time.monotonic() + self.timeout
        protocol = self._protocol()
        shell_id = command_id = None
        out = bytearray()
        try:
            try:
                self._budget(protocol, deadline)
                shell_id = protocol.open_shell(codepage=65001, noprofile=True)
                self._budget(protocol, deadline)
                command_id = protocol.run_command(shell_id, POWERSHELL, bootstrap_arguments(), console_mode_stdin=False)
                for i in range(0, max(1, len(data)), SEND_CHUNK):
                    last = i + SEND_CHUNK >= len(data)
                    self._send(protocol, shell_id, command_id, data[i : i + SEND_CHUNK], last, deadline)
                return self._receive(protocol, shell_id, command_id, deadline, out)
            except Exception as exc:
                error = self._map(exc, started=shell_id is not None)
                error.partial = bytes(out)
                raise error from None
        finally:
            self._cleanup(protocol, shell_id, command_id)

    def _send(self, protocol: Any, shell_id: str, command_id: str, chunk: bytes, last: bool, deadline: float) -> None:
        """One Send, retried as Ansible's winrm plugin does: fault 170 (busy) up to 3 times 5 s apart;
        an OperationTimeout on Send is taken as delivered (the server still processes the input)."""
        from winrm.exceptions import WinRMError, WinRMOperationTimeoutError

        for attempt in range(1, SEND_ATTEMPTS + 1):
            self._budget(protocol, deadline)
            try:
                protocol.send_command_input(shell_id, command_id, chunk, end=last)
                return
            except WinRMOperationTimeoutError:
                return
            except WinRMError as exc:
                busy = getattr(exc, "wsman_fault_code", None) == ERROR_BUSY or "'wsmanfault_code': '170'" in str(exc)
                if not busy or attempt == SEND_ATTEMPTS:
                    raise
                time.sleep(max(0.0, min(BUSY_RETRY_S, deadline - time.monotonic())))

    def _receive(self, protocol: Any, shell_id: str, command_id: str, deadline: float, out: bytearray) -> RunResult:
        from winrm.exceptions import WinRMOperationTimeoutError

        err = bytearray()
        while True:
            self._budget(protocol, deadline)
            try:
                chunk_out, chunk_err, code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue  # no output within the operation timeout: ask again
            out += chunk_out
            err += chunk_err
            if len(out) + len(err) > self.max_output:
                raise TransportError(HostStatus.ERROR, output_limit_message(self.max_output))
            if done:
                return RunResult(bytes(out), bytes(err), code)

    def _cleanup(self, protocol: Any, shell_id: str | None, command_id: str | None) -> None:
        """Best effort, a few seconds at most: terminate the command, delete the shell, drop the session."""
        end = time.monotonic() + CLEANUP_S
        # Cleanup must never hide the host's real outcome: every failure here is ignored.
        with contextlib.suppress(Exception):
            if shell_id is not None:
                if command_id is not None:
                    self._budget(protocol, end, CLEANUP_S)
                    protocol.cleanup_command(shell_id, command_id)
                self._budget(protocol, end, CLEANUP_S)
                protocol.close_shell(shell_id, close_session=False)
        with contextlib.suppress(Exception):
            protocol.transport.close_session()


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
