"""A PowerShell remoting (MS-PSRP over WS-Management) test server on 127.0.0.1: no Windows needed.

It extends ``tests/support/wsman_server.py`` (HTTP, Basic/NTLM, SOAP envelopes, faults) with the PSRP
shell: Create carries the runspace pool's opening fragments (``creationXml``), Receive on the
shell returns the pool's answers, Command carries a pipeline's CreatePipeline fragments, Receive
on the command returns its output, Signal and Delete end them. The PSRP messages themselves are
produced and parsed by psrpcore's server-side runspace pool (``psrpcore.ServerRunspacePool``),
the counterpart of pypsrp's client.

Like a hardened host it refuses WinRS (the ``cmd`` shell) when ``allow_winrs`` is False, with
the fault a host with "Allow Remote Shell Access" disabled answers.

"Running" a pipeline is the test double of the host: the pipeline must be ONE script, the
account's ``expect_stdin`` text (the collector), and its output is the account's recorded
collector output, one string object per line.

Example::

    with PsrpServer({"alice": Account("pw", b'{"a": 1}')}) as srv:
        ...  # point pypsrp at 127.0.0.1:srv.port
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any
from xml.etree import ElementTree as ET

from psrpcore import CreatePipelineEvent, PSRPPayload, ServerPipeline, ServerRunspacePool, StreamType
from psrpcore.types import NETException, PSInvocationState
from wsman_server import ACTION, NS, OPERATION_TIMEOUT, TRANSFER, WsmanServer

PWSH_NS = "http://schemas.microsoft.com/powershell"
WINRS_DISABLED = (
    "The WS-Management service cannot process the request. The service is configured to not accept any remote "
    "shell requests."
)


class PsrpServer(WsmanServer):
    """WS-Man server speaking the PSRP shell; use as a context manager."""

    def __init__(
        self,
        accounts: dict[str, Any],
        allow_winrs: bool = False,
        hang_after_lines: int | None = None,
        stall: str | None = None,
        error_records: int = 0,
        **kw: Any,
    ) -> None:
        super().__init__(accounts, **kw)
        self.allow_winrs = allow_winrs
        self.hang_after_lines = hang_after_lines  # a pipeline that prints this many lines, then never ends
        # a host that stalls: Receive requests get no answer (until the server stops, 120 s at most), either
        # all of them ("open": the runspace pool never opens) or the pipeline's ("pipeline")
        self.stall = stall
        self.error_records = error_records  # a pipeline that floods the error stream with this many 1 KiB records
        self.closing = threading.Event()
        self.pools: dict[str, ServerRunspacePool] = {}
        self.pipelines: dict[str, ServerPipeline] = {}
        self.scripts: list[str] = []

    def soap(self, user: str, body: bytes) -> tuple[int, bytes]:
        root = ET.fromstring(body)
        header = root.find("s:Header", NS)
        uri = header.findtext("w:ResourceURI", "", NS)
        message_id = header.findtext("a:MessageID", "", NS)
        if "/powershell/" not in uri:
            if not self.allow_winrs:
                with self.lock:
                    self.stats[user]["winrs_refused"] += 1
                return self.fault(message_id, 2150858843, WINRS_DISABLED)
            return super().soap(user, body)
        name = header.findtext("a:Action", "", NS).rsplit("/", 1)[-1]
        selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
        shell = selector.text if selector is not None else None
        with self.lock:
            self.stats[user][f"psrp_{name}"] += 1
        body_el = root.find("s:Body", NS)
        if name == "Create":
            return self.create(user, message_id, uri, body_el)
        pool = self.pools.get(shell or "")
        if pool is None:
            return self.fault(message_id, 2150858843, "The shell was not found on the server.")
        if name == "Receive":
            desired = body_el.find("rsp:Receive/rsp:DesiredStream", NS)
            on_pipeline = desired is not None and bool(desired.get("CommandId"))
            if self.stall == "open" or (self.stall == "pipeline" and on_pipeline):
                self.closing.wait(120)
                return self.fault(message_id, OPERATION_TIMEOUT, "The operation timed out.")
            return self.receive_psrp(pool, message_id, body_el)
        if name == "Command":
            line = body_el.find("rsp:CommandLine", NS)
            cid = line.get("CommandId", str(uuid.uuid4())).upper()
            self.pipelines[cid] = ServerPipeline(pool, uuid.UUID(cid))
            self.feed(user, pool, line.findtext("rsp:Arguments", "", NS), uuid.UUID(cid))
            inner = f"<rsp:CommandResponse><rsp:CommandId>{cid}</rsp:CommandId></rsp:CommandResponse>"
            return 200, self.envelope(ACTION + "CommandResponse", message_id, inner)
        if name == "Send":
            stream = body_el.find("rsp:Send/rsp:Stream", NS)
            self.feed(user, pool, stream.text or "", uuid.UUID(stream.get("CommandId")))
            return 200, self.envelope(ACTION + "SendResponse", message_id, "<rsp:SendResponse/>")
        if name == "Signal":
            return 200, self.envelope(ACTION + "SignalResponse", message_id, "<rsp:SignalResponse/>")
        if name == "Delete":
            self.pools.pop(shell or "", None)
            return 200, self.envelope(TRANSFER + "DeleteResponse", message_id, "")
        return self.fault(message_id, 2150858817, f"unsupported PSRP action {name}")

    def __exit__(self, *exc: object) -> None:
        self.closing.set()  # wake stalled handlers first
        super().__exit__(*exc)

    def create(self, user: str, message_id: str, uri: str, body: ET.Element) -> tuple[int, bytes]:
        shell_el = body.find("rsp:Shell", NS)
        shell = (shell_el.get("ShellId") or str(uuid.uuid4())).upper()
        pool = ServerRunspacePool()
        self.pools[shell] = pool
        self.feed(user, pool, shell_el.findtext(f"{{{PWSH_NS}}}creationXml", ""), None)
        inner = (
            f"<x:ResourceCreated><a:Address>{self.endpoint}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{uri}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell}</w:Selector></w:SelectorSet>'
            f"</a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell}</rsp:ShellId><rsp:ResourceUri>{uri}</rsp:ResourceUri>"
            f"<rsp:State>Connected</rsp:State><rsp:InputStreams>stdin pr</rsp:InputStreams>"
            f"<rsp:OutputStreams>stdout</rsp:OutputStreams></rsp:Shell>"
        )
        return 200, self.envelope(TRANSFER + "CreateResponse", message_id, inner)

    def feed(self, user: str, pool: ServerRunspacePool, text: str, pipeline_id: uuid.UUID | None) -> None:
        """Hand base64 PSRP fragments to the pool; run a pipeline once its CreatePipeline is whole."""
        pool.receive_data(PSRPPayload(base64.b64decode(text), StreamType.default, pipeline_id))
        while (event := pool.next_event()) is not None:
            if isinstance(event, CreatePipelineEvent):
                self.run_pipeline(user, self.pipelines[str(event.pipeline_id).upper()], event)

    def run_pipeline(self, user: str, pipe: ServerPipeline, event: CreatePipelineEvent) -> None:
        """The host's double: one script, the collector; its output, the account's recorded lines."""
        acc = self.accounts[user]
        commands = event.pipeline.commands
        script = commands[0].command_text if commands else ""
        self.scripts.append(script)
        if len(commands) != 1 or not commands[0].is_script:
            self.errors.append(f"pipeline is not one script: {[c.command_text[:40] for c in commands]}")
        if acc.expect_stdin is not None and script.encode() != acc.expect_stdin:
            self.errors.append(f"script differs from the collector ({len(script)} characters received)")
        pipe.start()
        lines = acc.stdout.decode("utf-8").splitlines()
        for line in lines[: self.hang_after_lines]:
            pipe.write_output(line)
        if self.hang_after_lines is not None:
            return
        if acc.stderr:
            pipe.write_error(NETException(Message=acc.stderr.decode("utf-8", "replace")))
        for n in range(self.error_records):
            pipe.write_error(NETException(Message=f"error record {n}: " + "x" * 1024))
        pipe.complete()

    def receive_psrp(self, pool: ServerRunspacePool, message_id: str, body: ET.Element) -> tuple[int, bytes]:
        cid = (body.find("rsp:Receive/rsp:DesiredStream", NS).get("CommandId") or "").upper()
        payload = pool.data_to_send()
        if payload is None:
            time.sleep(0.05)
            return self.fault(message_id, OPERATION_TIMEOUT, "The operation timed out.")
        target = f' CommandId="{str(payload.pipeline_id).upper()}"' if payload.pipeline_id else ""
        streams = f'<rsp:Stream Name="stdout"{target}>{base64.b64encode(payload.data).decode()}</rsp:Stream>'
        state = ""
        pipe = self.pipelines.get(cid)
        if cid and pipe is not None and pipe.state == PSInvocationState.Completed and not pool._send_buffer:
            state = (
                f'<rsp:CommandState CommandId="{cid}" State="{ACTION}CommandState/Done">'
                "<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>"
            )
        inner = f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>"
        return 200, self.envelope(ACTION + "ReceiveResponse", message_id, inner)
