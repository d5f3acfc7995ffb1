"""The WinRM transport against the WS-Management test server (issue 18, items 4, 7 and 9).

Real pywinrm on the client side; ``tests/support/wsman_server.py`` plays the host, extended here with
the faults a busy host sends (WSMan fault 170 on Send, OperationTimeout on Send) and a host whose
collector stops mid-way (some area lines printed, then nothing until the deadline).
"""

import json
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from wsman_server import NS, OPERATION_TIMEOUT, Account, WsmanServer, make_test_ca

from hardening.audit import AuditOptions, audit_windows_host
from hardening.facts.windows import collector_script
from hardening.inventory import target_from_vars
from hardening.model import HostStatus, Status
from hardening.transport import winrm as winrm_transport
from hardening.transport.base import TransportError
from hardening.transport.winrm import WinrmTransport

FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = collector_script()
ERROR_BUSY = 170


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.jsonl").read_bytes()


def winvars(port, user, password="pw", **extra):
    base = {"ansible_connection": "winrm", "ansible_host": "127.0.0.1", "ansible_port": port,
            "ansible_user": user, "ansible_password": password}  # fmt: skip
    return {**base, **extra}


def http_basic(port, user, **extra):
    """Basic over http, accepted knowingly (the test server has no TLS)."""
    return winvars(port, user, ansible_winrm_scheme="http", harden_winrm_allow_plaintext=True, **extra)


class BusyServer(WsmanServer):
    """A WS-Man server that answers the first Sends with the given fault codes, and can stop
    streaming stdout after ``hang_after`` bytes (the collector still running at the deadline)."""

    def __init__(self, accounts, send_faults=(), hang_after=None, **kw):
        super().__init__(accounts, **kw)
        self.send_faults = list(send_faults)
        self.hang_after = hang_after
        self.sends = 0

    def soap(self, user, body):
        header = ET.fromstring(body).find("s:Header", NS)
        name = header.findtext("a:Action", "", NS).rsplit("/", 1)[-1]
        if name == "Send":
            self.sends += 1
            if self.send_faults:
                code = self.send_faults.pop(0)
                message_id = header.findtext("a:MessageID", "", NS)
                if code == OPERATION_TIMEOUT:  # the input is still processed (Ansible's observation)
                    super().soap(user, body)
                    return self.fault(message_id, code, "The WS-Management service cannot complete the operation.")
                return self.fault(message_id, code, "The requested resource is in use.")
        return super().soap(user, body)

    def receive(self, user, message_id, body):
        cid = body.find("rsp:Receive/rsp:DesiredStream", NS).get("CommandId", "")
        cmd = self.commands.get(cid)
        if self.hang_after is not None and cmd is not None and cmd.sent >= self.hang_after:
            time.sleep(0.2)
            return self.fault(message_id, OPERATION_TIMEOUT, "The operation timed out.")
        return super().receive(user, message_id, body)


# --- item 7: Basic over http -------------------------------------------------------------------------


def test_item7_basic_over_http_is_refused_before_any_request():
    with WsmanServer({"u": Account("pw", fixture("server2022-default"))}) as srv:
        for extra in ({}, {"ansible_winrm_transport": "basic"}):
            t = target_from_vars("w", winvars(srv.port, "u", ansible_winrm_scheme="http", **extra), {})
            with pytest.raises(TransportError) as err:
                WinrmTransport(t, 5).run(SCRIPT)
            assert err.value.status is HostStatus.ERROR
            assert "in clear" in err.value.message and "harden_winrm_allow_plaintext" in err.value.message
        assert srv.stats["u"]["Create"] == 0 and srv.stats["-"]["auth_rejected"] == 0  # nothing was sent
        t = target_from_vars("w", http_basic(srv.port, "u"), {})
        assert WinrmTransport(t, 10).run(SCRIPT).exit_code == 0


def test_item7_ntlm_over_http_is_not_refused_and_insecure_settings_are_reported(tmp_path):
    _ca, tls = make_test_ca(str(tmp_path))
    with WsmanServer({"u": Account("pw", fixture("server2022-hardened"))}, auth="ntlm") as ntlm:
        t = target_from_vars(
            "w", winvars(ntlm.port, "u", ansible_winrm_scheme="http", ansible_winrm_transport="ntlm"), {}
        )
        assert WinrmTransport(t, 10).run(SCRIPT).exit_code == 0
    with WsmanServer({"u": Account("pw", fixture("server2022-hardened"))}, tls=tls) as https:
        t = target_from_vars(
            "w",
            winvars(https.port, "u", ansible_winrm_transport="basic", ansible_winrm_server_cert_validation="ignore",
                    harden_egress_allow=["10.0.0.0/8"]),
            {},
        )  # fmt: skip
        result = audit_windows_host(t, AuditOptions(timeout=10))
    assert result.status is HostStatus.OK
    assert "insecure WinRM settings" in result.message and "cert_validation=ignore" in result.message
    t = target_from_vars("w", http_basic(1, "u", ansible_winrm_message_encryption="never"), {})
    assert any("in clear" in w for w in t.winrm.warnings())


# --- item 9: retries as Ansible's winrm plugin does them -----------------------------------------------


@pytest.fixture
def fast_retry(monkeypatch):
    monkeypatch.setattr(winrm_transport, "BUSY_RETRY_S", 0.1)


def test_item9_fault_170_on_send_is_retried(fast_retry):
    acc = Account("pw", fixture("server2022-default"), expect_stdin=SCRIPT.encode())
    with BusyServer({"u": acc}, send_faults=[ERROR_BUSY, ERROR_BUSY]) as srv:
        run = WinrmTransport(target_from_vars("w", http_basic(srv.port, "u"), {}), 15).run(SCRIPT)
        assert run.exit_code == 0 and run.stdout == fixture("server2022-default")
        assert srv.errors == []


def test_item9_fault_170_three_times_gives_up_with_the_fault(fast_retry):
    acc = Account("pw", fixture("server2022-default"))
    with BusyServer({"u": acc}, send_faults=[ERROR_BUSY] * 3) as srv:
        with pytest.raises(TransportError) as err:
            WinrmTransport(target_from_vars("w", http_basic(srv.port, "u"), {}), 15).run(SCRIPT)
        assert "170" in err.value.message and srv.sends == 3


def test_item9_operation_timeout_on_send_is_taken_as_delivered():
    acc = Account("pw", fixture("server2022-default"), expect_stdin=SCRIPT.encode())
    with BusyServer({"u": acc}, send_faults=[OPERATION_TIMEOUT]) as srv:
        run = WinrmTransport(target_from_vars("w", http_basic(srv.port, "u"), {}), 15).run(SCRIPT)
        assert run.exit_code == 0 and srv.errors == [] and srv.sends == 1


# --- item 4: a host that overruns keeps its finished areas ------------------------------------------


def test_item4_an_overrun_host_is_judged_on_the_areas_it_finished():
    out = fixture("server2022-default")
    lines = out.split(b"\r\n")
    upto = len(b"\r\n".join(lines[:5])) + 20  # meta .. powershell whole, sysmon's line cut, then silence
    acc = Account("pw", out, chunks=len(out) // 64)  # 64-byte Receives: the cut lands inside sysmon's line
    with BusyServer({"u": acc}, hang_after=upto) as srv:
        t = target_from_vars("w", http_basic(srv.port, "u"), {})
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            WinrmTransport(t, 6).run(SCRIPT)
        assert err.value.status is HostStatus.TIMEOUT and b'"powershell"' in err.value.partial
        result = audit_windows_host(t, AuditOptions(timeout=6))
        assert time.monotonic() - started < 2 * (6 + 4)
    assert result.status is HostStatus.TIMEOUT and "finished before were judged" in result.message
    status = {c.id: c.status for c in result.checks}
    assert status["egress.default_deny"] is Status.FAIL  # judged from the firewall line
    assert status["powershell.logging"] is Status.FAIL
    assert status["audit.sysmon"] is Status.ERROR and status["binaries.netcat"] is Status.ERROR
    assert Status.PASS not in status.values()  # not fully audited: never a pass


def test_item4_windows_hosts_get_their_own_default_timeout():
    from hardening.audit import WINDOWS_TIMEOUT

    assert WINDOWS_TIMEOUT >= 180
    assert AuditOptions(timeout=60, windows_timeout=WINDOWS_TIMEOUT).for_windows().timeout == WINDOWS_TIMEOUT
    assert AuditOptions(timeout=7).for_windows().timeout == 7


def test_item4_the_cli_gives_winrm_hosts_minutes_unless_timeout_is_given():
    import click
    from click.testing import CliRunner

    from hardening.cli import _windows_timeout

    @click.command()
    @click.option("--timeout", type=float, default=60.0)
    def probe(timeout):
        click.echo(json.dumps(_windows_timeout(timeout)))

    assert json.loads(CliRunner().invoke(probe, []).output) >= 180
    assert json.loads(CliRunner().invoke(probe, ["--timeout", "6"]).output) == 6
