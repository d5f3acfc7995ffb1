"""A small WS-Management (WinRM) server on 127.0.0.1 for tests: no Windows needed.

It speaks enough of MS-WSMV for pywinrm's real client path: HTTP Basic, NTLM (pyspnego
acceptor) with message encryption (``multipart/encrypted``), HTTPS; Create / Command /
Send / Receive / Signal / Delete with ``RelatesTo`` echoing the request's MessageID;
faults as HTTP 500 in the wsmanfault namespace; HTTP/1.1 keep-alive (NTLM authenticates
a connection) and Nagle off.

It "executes" harden's bootstrap: the Command must be ``powershell.exe ... -EncodedCommand
<bootstrap>`` on a short command line; the stdin it then receives (the full collector
script) is checked to have arrived intact and ASCII, and the command's stdout is the
account's recorded collector JSON (a fixture host), streamed over several Receives after
one operation-timeout fault (which the client must retry).

Each account (user name) is one fixture host. Everything seen is counted in
:attr:`WsmanServer.stats` so tests can assert one shell and one command per host.

``harden verify``'s Windows callback (an account with ``callbacks``): the test double of the
Windows host's behaviour. When the stdin is the callback script
(``hardening/hunt/verify_windows.ps1`` filled in), the server reads the callback address,
attempt timeout and each port's URL (with its token) from the script text and does what
``Invoke-WebRequest`` would do on a host whose firewall gives that port's fixture behaviour:
``open`` really connects (127.0.0.0/8 only, bounded) and sends the HTTP request carrying the
token; ``blocked`` reports a timeout and ``refused`` a connect failure without connecting;
``no-token``, ``foreign-token`` and ``misdirected`` really connect but send no token, an
unknown token, or another port's token (what a proxy/scanner/NAT mix-up would look like).
Its stdout is the JSON the script prints, built from what actually happened on each connection.
The script's code lines are also checked for what Constrained Language Mode refuses.

Example::

    with WsmanServer({"alice": Account("pw", b'{"a": 1}')}, auth="basic") as srv:
        ...  # point pywinrm at srv.endpoint
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import socket
import ssl
import struct
import tempfile
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENC = "application/HTTP-SPNEGO-session-encrypted"
OPERATION_TIMEOUT = 2150858793
CMD_MAX = 8191  # cmd.exe command line limit


@dataclass
class Account:
    """One fixture host behind one user name."""

    password: str
    stdout: bytes
    stderr: bytes = b""
    exit_code: int = 0
    expect_stdin: bytes | None = None  # the collector script the command must receive
    fault_on: str = ""  # an action ("Command", "Create", "Receive") answered with a fault
    fault_code: int = 2150858770
    fault_text: str = "The WS-Management service cannot process the request."
    chunks: int = 3  # stdout comes over this many Receives
    callbacks: dict[int, str] | None = None  # verify double: port -> open|blocked|refused|no-token|...
    language_mode: str = "ConstrainedLanguage"


@dataclass
class _Command:
    user: str
    stdin: bytearray = field(default_factory=bytearray)
    stdin_done: bool = False
    receives: int = 0
    sent: int = 0
    output: bytes | None = None


class WsmanServer:
    """Threaded WS-Man server; use as a context manager (stops and cleans up on exit)."""

    def __init__(self, accounts: dict[str, Account], auth: str = "basic", tls: ssl.SSLContext | None = None) -> None:
        self.accounts = accounts
        self.auth = auth
        self.stats: dict[str, Counter[str]] = defaultdict(Counter)
        self.errors: list[str] = []
        self.commands: dict[str, _Command] = {}
        self.shells: dict[str, str] = {}
        self.lock = threading.Lock()
        self._cred_file: str | None = None
        self._old_env: str | None = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/wsman"

    def __enter__(self) -> WsmanServer:
        if self.auth == "ntlm":
            fd, self._cred_file = tempfile.mkstemp(prefix="ntlm-users-")
            with os.fdopen(fd, "w") as f:
                for user, acc in self.accounts.items():
                    f.write(f":{user}:{acc.password}\n")
            self._old_env = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self._cred_file
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
        if self._cred_file:
            os.unlink(self._cred_file)
            if self._old_env is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self._old_env

    # --- SOAP ---------------------------------------------------------------------------------

    def soap(self, user: str, body: bytes) -> tuple[int, bytes]:
        """Answer one SOAP request from an authenticated ``user``."""
        root = ET.fromstring(body)
        header = root.find("s:Header", NS)
        action = header.findtext("a:Action", "", NS)
        message_id = header.findtext("a:MessageID", "", NS)
        selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        shell = selector.text if selector is not None else None
        name = action.rsplit("/", 1)[-1]
        acc = self.accounts[user]
        with self.lock:
            self.stats[user][name] += 1
        if acc.fault_on == name:
            return self.fault(message_id, acc.fault_code, acc.fault_text)
        if name != "Create" and shell not in self.shells:
            return self.fault(
                message_id,
                2150858843,
                "The request for the Windows Remote Shell with ShellId failed "
                "because the shell was not found on the server.",
            )
        body_el = root.find("s:Body", NS)
        if name == "Create":
            shell = str(uuid.uuid4()).upper()
            with self.lock:
                self.shells[shell] = user
            inner = (
                f"<x:ResourceCreated><a:Address>{self.endpoint}</a:Address><a:ReferenceParameters>"
                f"<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
                f'<w:SelectorSet><w:Selector Name="ShellId">{shell}</w:Selector></w:SelectorSet>'
                f"</a:ReferenceParameters></x:ResourceCreated>"
                f"<rsp:Shell><rsp:ShellId>{shell}</rsp:ShellId><rsp:State>Connected</rsp:State></rsp:Shell>"
            )
            return 200, self.envelope(TRANSFER + "CreateResponse", message_id, inner)
        if name == "Command":
            return self.command(user, message_id, body_el)
        if name == "Send":
            stream = body_el.find("rsp:Send/rsp:Stream", NS)
            cmd = self.commands.get(stream.get("CommandId", ""))
            if cmd is None:
                return self.fault(message_id, 2150858843, "unknown CommandId")
            cmd.stdin += base64.b64decode(stream.text or "")
            if stream.get("End") == "true":
                cmd.stdin_done = True
            return 200, self.envelope(ACTION + "SendResponse", message_id, "<rsp:SendResponse/>")
        if name == "Receive":
            return self.receive(user, message_id, body_el)
        if name == "Signal":
            return 200, self.envelope(ACTION + "SignalResponse", message_id, "<rsp:SignalResponse/>")
        if name == "Delete":
            with self.lock:
                self.shells.pop(shell, None)
            return 200, self.envelope(TRANSFER + "DeleteResponse", message_id, "")
        return self.fault(message_id, 2150858817, f"unsupported action {action}")

    def command(self, user: str, message_id: str, body: ET.Element) -> tuple[int, bytes]:
        exe = body.findtext("rsp:CommandLine/rsp:Command", "", NS)
        args = body.findtext("rsp:CommandLine/rsp:Arguments", "", NS)
        line = f"{exe} {args}"
        if len(line) > CMD_MAX:
            self.errors.append(f"command line of {len(line)} characters exceeds cmd.exe's {CMD_MAX}")
            return self.fault(message_id, 2147942606, "The command line is too long.")
        words = args.split()
        if exe.lower() != "powershell.exe" or "-EncodedCommand" not in words:
            self.errors.append(f"unexpected command: {line[:200]}")
        else:
            encoded = words[words.index("-EncodedCommand") + 1]
            script = base64.b64decode(encoded).decode("utf-16-le")
            if "$input" not in script:
                self.errors.append(f"bootstrap does not read stdin: {script!r}")
        cid = str(uuid.uuid4()).upper()
        with self.lock:
            self.commands[cid] = _Command(user)
        inner = f"<rsp:CommandResponse><rsp:CommandId>{cid}</rsp:CommandId></rsp:CommandResponse>"
        return 200, self.envelope(ACTION + "CommandResponse", message_id, inner)

    def receive(self, user: str, message_id: str, body: ET.Element) -> tuple[int, bytes]:
        cid = body.find("rsp:Receive/rsp:DesiredStream", NS).get("CommandId", "")
        cmd = self.commands.get(cid)
        if cmd is None:
            return self.fault(message_id, 2150858843, "unknown CommandId")
        acc = self.accounts[user]
        cmd.receives += 1
        if cmd.receives == 1 or not cmd.stdin_done:
            # No output yet: the operation timed out; the client must ask again.
            return self.fault(
                message_id,
                OPERATION_TIMEOUT,
                "The WS-Management service cannot complete the "
                "operation within the time specified in OperationTimeout.",
            )
        stdout, stderr, code = acc.stdout, acc.stderr, acc.exit_code
        if acc.callbacks is not None and b"windows-verify" in cmd.stdin:
            if cmd.output is None:
                cmd.output = self.callback_double(user, acc, bytes(cmd.stdin).decode("ascii", "replace"))
            stdout = cmd.output
        if acc.expect_stdin is not None and bytes(cmd.stdin) != acc.expect_stdin:
            self.errors.append(f"stdin differs from the collector script ({len(cmd.stdin)} bytes received)")
            stdout, stderr, code = b"", b'#< CLIXML\r\n<Objs><S S="Error">script mangled</S></Objs>', 1
        try:
            bytes(cmd.stdin).decode("ascii")
        except UnicodeDecodeError:
            self.errors.append("stdin is not ASCII")
        size = -(-len(stdout) // max(1, acc.chunks)) or 1
        part = stdout[cmd.sent : cmd.sent + size]
        cmd.sent += len(part)
        done = cmd.sent >= len(stdout)
        streams = f'<rsp:Stream Name="stdout" CommandId="{cid}">{base64.b64encode(part).decode()}</rsp:Stream>'
        if done:
            streams += f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>'
            if stderr:
                streams += (
                    f'<rsp:Stream Name="stderr" CommandId="{cid}">{base64.b64encode(stderr).decode()}</rsp:Stream>'
                )
            streams += f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>'
            state = (
                f'<rsp:CommandState CommandId="{cid}" State="{ACTION}CommandState/Done">'
                f"<rsp:ExitCode>{code}</rsp:ExitCode></rsp:CommandState>"
            )
            with self.lock:
                self.stats[user]["stdin_bytes"] = len(cmd.stdin)
        else:
            state = f'<rsp:CommandState CommandId="{cid}" State="{ACTION}CommandState/Running"/>'
        inner = f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"
        return 200, self.envelope(ACTION + "ReceiveResponse", message_id, inner)

    # --- the Windows host's side of ``harden verify`` (test double) ----------------------------

    def callback_double(self, user: str, acc: Account, script: str) -> bytes:
        """Do what the callback script would do on a host with ``acc.callbacks``; return its JSON."""
        for line in script.splitlines():
            code = line.split("#", 1)[0]
            for refused in CLM_REFUSED:
                if refused in code:
                    self.errors.append(f"callback script uses {refused!r} (refused under CLM): {line.strip()}")
        host = re.search(r"^\$Callback = '([^']*)'$", script, re.MULTILINE)
        timeout = re.search(r"^\$Timeout = (\d+)$", script, re.MULTILINE)
        attempts = re.findall(r"@\{ port = (\d+); uri = '([^']*)' \}", script)
        if not host or not timeout or not attempts or len(attempts) > 16:
            self.errors.append("callback script: no $Callback/$Timeout/attempts found (or too many)")
            return b""
        tokens = {int(p): uri.rsplit("/", 1)[-1] for p, uri in attempts}
        results = []
        for port_text, uri in attempts:
            port = int(port_text)
            behaviour = acc.callbacks.get(port, "blocked") if acc.callbacks else "blocked"
            others = [t for p, t in tokens.items() if p != port]
            path = {
                "no-token": "/",
                "foreign-token": f"/HARDEN-VERIFY/{uuid.uuid4().hex}",
                "misdirected": f"/HARDEN-VERIFY/{others[0] if others else uuid.uuid4().hex}",
            }.get(behaviour, uri.split(f":{port}", 1)[-1])
            if behaviour == "blocked":
                status = (False, "Timeout", "The operation has timed out.")
            elif behaviour == "refused":
                status = (False, "ConnectFailure", "Unable to connect to the remote server")
            elif ipaddress.ip_address(host.group(1)) not in ipaddress.ip_network("127.0.0.0/8"):
                self.errors.append(f"callback double refuses to connect to {host.group(1)} (not loopback)")
                status = (False, "ConnectFailure", "Unable to connect to the remote server")
            else:
                status = web_request(host.group(1), port, path, min(3.0, float(timeout.group(1))))
                with self.lock:
                    self.stats[user]["callback_connects"] += 1
            connected, web_status, message = status
            results.append(
                {"port": port, "connected": connected, "status": web_status, "message": message,
                 "error_id": "" if connected else "WebCmdletWebResponseException"}
            )  # fmt: skip
        doc = {
            "harden_collector": "windows-verify", "schema": 1, "method": "Invoke-WebRequest",
            "callback": host.group(1), "language_mode": acc.language_mode, "results": results, "done": True,
        }  # fmt: skip
        return json.dumps(doc, separators=(",", ":")).encode()

    def envelope(self, action: str, relates_to: str, body: str) -> bytes:
        return (
            f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" '
            f'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" '
            f'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header>'
            f"<a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
            f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f"<a:RelatesTo>{relates_to}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
        ).encode()

    def fault(self, relates_to: str, code: int, text: str) -> tuple[int, bytes]:
        inner = (
            f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value>"
            f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(text)}</s:Text></s:Reason>'
            f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" '
            f'Code="{code}" Machine="127.0.0.1"><f:Message>{escape(text)}</f:Message></f:WSManFault>'
            "</s:Detail></s:Fault>"
        )
        return 500, self.envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, inner)

    # --- HTTP and authentication ------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True
            ntlm: Any = None
            user: str | None = None

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                auth = self.headers.get("Authorization", "")
                if server.auth == "basic":
                    self.user = self.basic(auth)
                    if self.user is None:
                        server.stats["-"]["auth_rejected"] += 1
                        self.reply(401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
                        return
                elif not self.ntlm_step(auth):
                    return
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/encrypted"):
                    body = self.unseal(body)
                    server.stats[self.user]["encrypted"] += 1
                elif body and server.auth == "ntlm":
                    server.stats[self.user]["plaintext"] += 1
                    self.reply(400)  # AllowUnencrypted=false: real WinRM refuses
                    return
                if not body:
                    self.reply(200)
                    return
                try:
                    code, answer = server.soap(self.user, body)
                except Exception as exc:  # a server bug must show in the test, not hang it
                    server.errors.append(f"server error: {exc!r}")
                    code, answer = server.fault("", 2150858752, f"test server error {exc!r}")
                if self.ntlm is not None:
                    self.reply(
                        code,
                        self.seal(answer),
                        {"Content-Type": f'multipart/encrypted;protocol="{SPNEGO_ENC}";boundary="Encrypted Boundary"'},
                    )
                else:
                    self.reply(code, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})

            def basic(self, header: str) -> str | None:
                if not header.startswith("Basic "):
                    return None
                user, _, pw = base64.b64decode(header[6:]).decode("utf-8", "replace").partition(":")
                acc = server.accounts.get(user)
                return user if acc is not None and acc.password == pw else None

            def ntlm_step(self, header: str) -> bool:
                """Drive the NTLM handshake; True when the connection is authenticated."""
                import spnego

                if self.user is not None and self.ntlm is not None and self.ntlm.complete:
                    return True
                scheme, _, token = header.partition(" ")
                if scheme not in ("Negotiate", "NTLM") or not token:
                    self.reply(401, headers={"WWW-Authenticate": "Negotiate"})
                    return False
                if self.ntlm is None:
                    self.ntlm = spnego.server(protocol="ntlm")
                try:
                    out = self.ntlm.step(base64.b64decode(token))
                except Exception:
                    server.stats["-"]["auth_rejected"] += 1
                    self.ntlm = None
                    self.reply(401, headers={"WWW-Authenticate": "Negotiate"})
                    return False
                if not self.ntlm.complete:
                    self.reply(401, headers={"WWW-Authenticate": f"Negotiate {base64.b64encode(out or b'').decode()}"})
                    return False
                self.user = str(self.ntlm.client_principal or "").rsplit("\\", 1)[-1]
                if self.user not in server.accounts:
                    self.reply(401)
                    return False
                return True

            def unseal(self, body: bytes) -> bytes:
                parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
                length = int(parts[0].split(b"Length=")[1].strip())
                payload = parts[1]
                if payload.endswith(BOUNDARY + b"--\r\n"):
                    payload = payload[: -len(BOUNDARY + b"--\r\n")]
                payload = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
                sig_len = struct.unpack("<i", payload[:4])[0]
                data = self.ntlm.unwrap(payload[4 : 4 + sig_len] + payload[4 + sig_len :]).data
                if len(data) != length:
                    raise ValueError("decrypted length mismatch")
                return data

            def seal(self, message: bytes) -> bytes:
                wrapped = self.ntlm.wrap(message, encrypt=True).data
                return (
                    BOUNDARY + b"\r\n\tContent-Type: " + SPNEGO_ENC.encode() + b"\r\n"
                    b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                    + str(len(message)).encode()
                    + b"\r\n"
                    + BOUNDARY
                    + b"\r\n"
                    b"\tContent-Type: application/octet-stream\r\n"
                    + struct.pack("<i", 16)
                    + wrapped[:16]
                    + wrapped[16:]
                    + BOUNDARY
                    + b"--\r\n"
                )

        return Handler


CLM_REFUSED = ("Add-Type", "New-Object", "]::", ".GetType(", "[System.Net.Sockets")


def web_request(host: str, port: int, path: str, timeout: float) -> tuple[bool, str, str]:
    """What ``Invoke-WebRequest -Uri http://host:port{path} -TimeoutSec`` reports: (connected,
    WebException.Status or Success, message). A real connection; the caller bounds it to loopback."""
    try:
        conn = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        return False, "Timeout", "The operation has timed out."
    except OSError:
        return False, "ConnectFailure", "Unable to connect to the remote server"
    with conn:
        request = (
            f"GET {path} HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) "
            f"WindowsPowerShell/5.1.20348.2849\r\nHost: {host}:{port}\r\nConnection: Keep-Alive\r\n\r\n"
        )
        reply = b""
        try:
            conn.sendall(request.encode("ascii"))
            while len(reply) < 4096:
                chunk = conn.recv(1024)
                if not chunk:
                    break
                reply += chunk
                if b"\r\n\r\n" in reply:
                    break
        except TimeoutError:  # connected, but no answer in time: the cmdlet cannot tell the two apart
            return False, "Timeout", "The operation has timed out."
        except OSError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    if not m:
        return (
            False,
            "ReceiveFailure",
            "The underlying connection was closed: An unexpected error occurred on a receive.",
        )
    if m.group(1).startswith(b"2"):
        return True, "Success", ""
    return False, "ProtocolError", f"The remote server returned an error: ({m.group(1).decode()})."


class SilentServer:
    """Accepts TCP connections and never answers: a WinRM endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


def make_test_ca(directory: str) -> tuple[str, ssl.SSLContext]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost: (CA PEM path, server TLS context)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harden test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_path = os.path.join(directory, "ca.pem")
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server.key")
    with open(ca_path, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ca_path, ctx
