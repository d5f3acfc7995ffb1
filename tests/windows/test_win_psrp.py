"""ansible_connection=psrp over PowerShell remoting with pypsrp (issue 18, item 8).

The host is ``tests/support/psrp_server.py``: a WS-Management server speaking MS-PSRP through
psrpcore's server-side runspace pool, which refuses WinRS like a host with "Allow Remote Shell
Access" disabled. The client is harden's real PSRP transport (pypsrp).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from psrp_server import WINRS_DISABLED, PsrpServer
from wsman_server import Account

from hardening.audit import AuditOptions, audit_windows_host
from hardening.facts.windows import collector_script
from hardening.inventory import Connection, target_from_vars
from hardening.model import HostStatus, Status
from hardening.transport import open_transport
from hardening.transport.base import TransportError
from hardening.transport.psrp import PsrpTransport

HARDEN = str(Path(sys.executable).parent / "harden")
FIXTURES = Path(__file__).parent / "fixtures"
SCRIPT = collector_script()


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.jsonl").read_bytes()


def psrp_vars(port, user, password="pw", **extra):
    base = {"ansible_connection": "psrp", "ansible_host": "127.0.0.1", "ansible_psrp_port": port,
            "ansible_user": user, "ansible_password": password, "ansible_psrp_protocol": "http"}  # fmt: skip
    return {**base, **extra}


def test_psrp_variables_follow_ansible_psrp_defaults():
    t = target_from_vars("w", {"ansible_connection": "psrp", "ansible_user": "u"}, {})
    assert t.connection is Connection.PSRP and t.connection.is_windows
    assert t.winrm.scheme == "https" and t.winrm.transport == "negotiate" and t.winrm.cert_validation
    assert t.winrm.configuration_name == "Microsoft.PowerShell"
    assert t.winrm.endpoint(t.host, t.port) == "https://w:5986/wsman"
    t = target_from_vars(
        "w",
        {"ansible_connection": "psrp", "ansible_psrp_port": 5985, "ansible_psrp_auth": "ntlm",
         "ansible_psrp_configuration_name": "JEA-Audit", "ansible_psrp_cert_validation": "ignore",
         "ansible_psrp_host": "10.0.0.5", "ansible_psrp_password": "s", "ansible_psrp_path": "wsman"},
        {},
    )  # fmt: skip
    assert (t.host, t.port, t.winrm.scheme, t.winrm.transport) == ("10.0.0.5", 5985, "http", "ntlm")
    assert t.winrm.configuration_name == "JEA-Audit" and not t.winrm.cert_validation and t.password == "s"
    assert type(open_transport(t, 5)) is PsrpTransport
    with pytest.raises(Exception, match="ansible_psrp_auth"):
        target_from_vars("w", {"ansible_connection": "psrp", "ansible_psrp_auth": "telnet"}, {})


def test_psrp_runs_the_unchanged_collector_in_one_pipeline_with_ntlm_sealed():
    acc = Account("pw", fixture("server2022-hardened"), expect_stdin=SCRIPT.encode())
    with PsrpServer({"u": acc}, auth="ntlm") as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", ansible_psrp_auth="ntlm"), {})
        run = PsrpTransport(t, 15).run(SCRIPT)
        assert (
            run.exit_code == 0
            and run.stdout.decode().splitlines() == fixture("server2022-hardened").decode().splitlines()
        )
        assert srv.errors == [] and srv.scripts == [SCRIPT]
        seen = srv.stats["u"]
        assert (seen["psrp_Create"], seen["psrp_Command"], seen["psrp_Delete"]) == (1, 1, 1), seen
        assert seen["encrypted"] > 0 and seen["plaintext"] == 0


def test_psrp_audits_a_host_that_refuses_winrs(tmp_path):
    acc = Account("pw", fixture("server2022-hardened"), expect_stdin=SCRIPT.encode())
    with PsrpServer({"u": acc}, auth="ntlm") as srv:
        common = {"ansible_host": "127.0.0.1", "ansible_user": "u", "ansible_password": "pw",
                  "harden_egress_allow": ["10.0.0.0/8"]}  # fmt: skip
        hosts = {
            "over-winrs": {**common, "ansible_connection": "winrm", "ansible_port": srv.port,
                           "ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm"},
            "over-psrp": {**common, "ansible_connection": "psrp", "ansible_port": srv.port,
                          "ansible_psrp_protocol": "http", "ansible_psrp_auth": "ntlm"},
        }  # fmt: skip
        inv = tmp_path / "inv.yml"
        inv.write_text(json.dumps({"all": {"hosts": hosts}}))
        r = subprocess.run(
            [HARDEN, "audit", str(inv), "--out", str(tmp_path / "o"), "--timeout", "20"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert srv.stats["u"]["winrs_refused"] >= 1
    assert r.returncode in (0, 1, 3), r.stderr
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    got = {h["name"]: h for h in doc["hosts"]}
    assert got["over-winrs"]["status"] == "error" and "remote shell" in got["over-winrs"]["message"]
    assert got["over-psrp"]["status"] == "ok", got["over-psrp"]["message"]
    assert got["over-psrp"]["platform"] == "windows"
    assert {c["status"] for c in got["over-psrp"]["checks"]} == {"pass"}
    assert WINRS_DISABLED.split(".")[0] in got["over-winrs"]["message"]


def test_psrp_refuses_basic_over_http_unless_opted_in():
    acc = Account("pw", fixture("server2022-default"))
    with PsrpServer({"u": acc}) as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", ansible_psrp_auth="basic"), {})
        with pytest.raises(TransportError, match="harden_winrm_allow_plaintext"):
            PsrpTransport(t, 5).run(SCRIPT)
        assert srv.stats["u"]["psrp_Create"] == 0
        t = target_from_vars(
            "w", psrp_vars(srv.port, "u", ansible_psrp_auth="basic", harden_winrm_allow_plaintext=True), {}
        )
        assert PsrpTransport(t, 10).run(SCRIPT).exit_code == 0


def test_psrp_overrun_is_bounded_and_keeps_the_finished_areas():
    acc = Account("pw", fixture("server2022-default"))
    with PsrpServer({"u": acc}, auth="ntlm", hang_after_lines=3) as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", ansible_psrp_auth="ntlm"), {})
        started = time.monotonic()
        result = audit_windows_host(t, AuditOptions(timeout=5))
        assert time.monotonic() - started < 5 + 10
    assert result.status is HostStatus.TIMEOUT
    status = {c.id: c.status for c in result.checks}
    assert status["egress.default_deny"] is Status.FAIL  # the firewall line arrived
    assert status["binaries.netcat"] is Status.ERROR and Status.PASS not in status.values()


def test_psrp_auth_failure_and_unreachable_are_host_statuses():
    acc = Account("pw", fixture("server2022-default"))
    with PsrpServer({"u": acc}, auth="ntlm") as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", "wrong", ansible_psrp_auth="ntlm"), {})
        with pytest.raises(TransportError) as err:
            PsrpTransport(t, 5).run(SCRIPT)
        assert err.value.status is HostStatus.AUTH_FAILED
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = target_from_vars("w", psrp_vars(port, "u", ansible_psrp_auth="ntlm"), {})
    with pytest.raises(TransportError) as err:
        PsrpTransport(t, 5).run(SCRIPT)
    assert err.value.status is HostStatus.UNREACHABLE


@pytest.mark.parametrize("stall", ["open", "pipeline"])
def test_psrp_host_that_stalls_is_bounded_by_the_host_timeout(stall):
    # pypsrp alone retries a stalled Receive 5 times (2+6+14+30+62 s of back-off): > 75 s for timeout=3.
    acc = Account("pw", fixture("server2022-default"))
    with PsrpServer({"u": acc}, auth="ntlm", stall=stall) as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", ansible_psrp_auth="ntlm"), {})
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            PsrpTransport(t, 3).run(SCRIPT)
        took = time.monotonic() - started
    assert err.value.status is HostStatus.TIMEOUT, err.value
    assert took < 3 + 5, took  # the deadline, plus the bounded clean-up


def test_psrp_error_stream_counts_against_the_output_limit():
    acc = Account("pw", b'{"harden_collector":"windows","schema":2,"meta":{}}\n')
    with PsrpServer({"u": acc}, auth="ntlm", error_records=200) as srv:
        t = target_from_vars("w", psrp_vars(srv.port, "u", ansible_psrp_auth="ntlm"), {})
        with pytest.raises(TransportError, match="output") as err:
            PsrpTransport(t, 15, max_output=64 * 1024).run(SCRIPT)
        assert err.value.status is HostStatus.ERROR
        run = PsrpTransport(t, 15, max_output=1024 * 1024).run(SCRIPT)
        assert run.stderr.count(b"error record") == 200


def test_ansible_variables_review_item_11():
    # Ansible's comma-separated transport list: the first is used (no fall-back to a weaker one)
    t = target_from_vars("w", {"ansible_connection": "winrm", "ansible_winrm_transport": "ntlm,basic"}, {})
    assert t.winrm.transport == "ntlm"
    # plaintext (pywinrm's Basic) over https runs inside TLS: not refused
    t = target_from_vars(
        "w",
        {"ansible_connection": "winrm", "ansible_winrm_transport": "plaintext", "ansible_winrm_scheme": "https"},
        {},
    )
    assert not t.winrm.basic_over_http
    assert target_from_vars(
        "w", {"ansible_connection": "winrm", "ansible_winrm_transport": "plaintext", "ansible_winrm_scheme": "http"}, {}
    ).winrm.basic_over_http
    # the psrp plugin's alias of ca_path, and its timeouts
    t = target_from_vars(
        "w",
        {"ansible_connection": "psrp", "ansible_psrp_cert_trust_path": "/etc/ca.pem",
         "ansible_psrp_connection_timeout": 7, "ansible_psrp_read_timeout": "40",
         "ansible_psrp_operation_timeout": 15, "ansible_psrp_cert_validation": "ignore"},
        {},
    )  # fmt: skip
    assert t.winrm.ca_trust_path == "/etc/ca.pem"
    assert (t.winrm.connection_timeout, t.winrm.read_timeout, t.winrm.operation_timeout) == (7, 40, 15)
    p = PsrpTransport(t, 300)
    assert (p.connection_timeout, p.read_timeout, p.operation_timeout) == (7, 40, 15)
    short = PsrpTransport(t, 6)  # within the host deadline
    assert short.operation_timeout == 3 and short.connection_timeout == 6
    # warnings name the variables the host was configured with
    assert t.winrm.warnings() and all("ansible_psrp_cert_validation" in w for w in t.winrm.warnings())
    with pytest.raises(Exception, match="ansible_psrp_read_timeout"):
        target_from_vars("w", {"ansible_connection": "psrp", "ansible_psrp_read_timeout": "soon"}, {})
