"""Windows over WinRM end to end: ``harden audit`` on a mixed inventory against the test WS-Man server.

The real pywinrm path runs (Basic over HTTP, NTLM with message encryption, HTTPS with a test
CA and validation; bootstrap on the command line, collector on stdin, streamed stdout, exit
code, faults, timeouts). The server answers with the fixture hosts' collector JSON.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from wsman_server import Account, SilentServer, WsmanServer, make_test_ca

from hardening.facts.windows import collector_script
from hardening.inventory import Connection, InventoryError, target_from_vars
from hardening.model import HostStatus
from hardening.results import results_schema
from hardening.transport.base import TransportError
from hardening.transport.winrm import WinrmTransport, bootstrap_arguments

HARDEN = str(Path(sys.executable).parent / "harden")
GOLDEN = Path(__file__).parents[1] / "golden" / "windows"
SCRIPT = collector_script().encode("ascii")


def fixture(name: str) -> bytes:
    return (GOLDEN / f"{name}.json").read_bytes()


def harden(*args, timeout=120):
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def winvars(port, user, password="pw", **extra):
    base = {"ansible_connection": "winrm", "ansible_host": "127.0.0.1", "ansible_port": port,
            "ansible_user": user, "ansible_password": password,
            "harden_winrm_allow_plaintext": True}  # Basic over http: the test server has no TLS  # fmt: skip
    return {**base, **extra}


def test_winrm_variables_follow_ansible_defaults():
    t = target_from_vars("w", {"ansible_connection": "winrm", "ansible_user": "u"}, {})
    assert t.connection is Connection.WINRM and t.winrm.scheme == "https" and t.winrm.cert_validation
    assert t.winrm.endpoint(t.host, t.port) == "https://w:5986/wsman" and t.winrm.transport == "ssl"
    t = target_from_vars("w", {"ansible_connection": "winrm", "ansible_port": 5985}, {})
    assert t.winrm.scheme == "http" and t.winrm.transport == "plaintext"
    t = target_from_vars("w", {"ansible_connection": "winrm", "ansible_winrm_scheme": "http"}, {})
    assert t.winrm.endpoint("h", None) == "http://h:5985/wsman"
    t = target_from_vars("w", {"ansible_connection": "winrm", "ansible_user": "a@CORP.EXAMPLE"}, {})
    assert t.winrm.transport == "kerberos"
    t = target_from_vars(
        "w",
        {"ansible_connection": "winrm", "ansible_winrm_transport": "ntlm",
         "ansible_winrm_server_cert_validation": "ignore", "ansible_winrm_password": "s"},
        {},
    )  # fmt: skip
    assert t.winrm.transport == "ntlm" and not t.winrm.cert_validation and t.password == "s"
    with pytest.raises(InventoryError, match="ansible_winrm_transport"):
        target_from_vars("w", {"ansible_connection": "winrm", "ansible_winrm_transport": "telnet"}, {})
    with pytest.raises(InventoryError, match="cert_validation"):
        target_from_vars("w", {"ansible_connection": "winrm", "ansible_winrm_server_cert_validation": "no"}, {})


def test_bootstrap_is_short_and_reads_stdin():
    import base64

    args = bootstrap_arguments()
    assert len("powershell.exe " + " ".join(args)) < 400
    stub = base64.b64decode(args[-1]).decode("utf-16-le")
    assert "$input" in stub and "Invoke-Expression" in stub


def test_mixed_inventory_audits_linux_and_windows_in_one_run(tmp_path):
    ca, tls = make_test_ca(str(tmp_path))
    basic = WsmanServer(
        {
            "default": Account("pw", fixture("server2022-default"), expect_stdin=SCRIPT),
            "faulty": Account("pw", b"", fault_on="Command", fault_code=2150859046,
                              fault_text="The WinRM client cannot process the request: shell quota exceeded."),
        },
        auth="basic",
    )  # fmt: skip
    ntlm = WsmanServer({"hardened": Account("pw", fixture("server2022-hardened"), expect_stdin=SCRIPT)}, auth="ntlm")
    https = WsmanServer({"partial": Account("pw", fixture("server2022-partial"), expect_stdin=SCRIPT)}, tls=tls)
    with basic, ntlm, https, SilentServer() as silent:
        hosts = {
            "win-default": winvars(basic.port, "default", ansible_winrm_scheme="http"),
            "win-fault": winvars(basic.port, "faulty", ansible_winrm_scheme="http"),
            "win-badpw": winvars(basic.port, "default", "wrong", ansible_winrm_scheme="http"),
            "win-hardened": winvars(ntlm.port, "hardened", ansible_winrm_scheme="http", ansible_winrm_transport="ntlm",
                                    harden_egress_allow=["10.0.0.0/8"]),
            "win-partial": winvars(https.port, "partial", ansible_winrm_transport="basic",
                                   ansible_winrm_ca_trust_path=ca),
            "win-untrusted": winvars(https.port, "partial", ansible_winrm_transport="basic"),
            "win-silent": winvars(silent.port, "x", ansible_winrm_scheme="http"),
            "win-refused": winvars(closed_port(), "x", ansible_winrm_scheme="http"),
        }  # fmt: skip
        inv = tmp_path / "inv.yml"  # JSON is YAML
        inv.write_text(
            json.dumps(
                {
                    "all": {
                        "children": {
                            "linux": {"hosts": {"controller": {"ansible_connection": "local"}}},
                            "windows": {"hosts": hosts},
                        }
                    }
                }
            )
        )
        started = time.monotonic()
        r = harden("audit", inv, "--out", tmp_path / "o", "--timeout", "6", "--forks", "10")
        elapsed = time.monotonic() - started
    assert r.returncode in (1, 3), r.stderr
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    jsonschema.validate(doc, results_schema())
    hosts = {h["name"]: h for h in doc["hosts"]}
    status = {n: h["status"] for n, h in hosts.items()}
    assert status == {
        "controller": "ok", "win-default": "ok", "win-hardened": "ok", "win-partial": "ok",
        "win-fault": "error", "win-badpw": "auth_failed", "win-untrusted": "auth_failed",
        "win-silent": "timeout", "win-refused": "unreachable",
    }, {n: h["message"] for n, h in hosts.items()}  # fmt: skip
    assert hosts["controller"]["platform"] == "linux"
    assert all(h["platform"] == "windows" for n, h in hosts.items() if n.startswith("win-"))
    assert elapsed < 6 + 25  # the silent host is bounded by --timeout
    assert "shell quota exceeded" in hosts["win-fault"]["message"] and "2150859046" in hosts["win-fault"]["message"]
    assert "certificate" in hosts["win-untrusted"]["message"] and "ca_trust_path" in hosts["win-untrusted"]["message"]
    win_ids = [c["id"] for c in hosts["win-hardened"]["checks"]]
    assert win_ids == [
        "egress.default_deny", "egress.allowlist", "dns.query_logging", "edr.sensor",
        "logging.forwarding", "audit.sysmon",
        "powershell.language_mode", "powershell.logging", "appcontrol.enforced", "services.least_privilege",
        "binaries.netcat",
    ]  # fmt: skip
    assert {c["status"] for c in hosts["win-hardened"]["checks"]} == {"pass"}
    default = {c["id"]: c["status"] for c in hosts["win-default"]["checks"]}
    assert default["egress.default_deny"] == "fail" and default["binaries.netcat"] == "pass"
    partial = {c["id"]: c["status"] for c in hosts["win-partial"]["checks"]}
    assert partial["dns.query_logging"] == "pass" and partial["powershell.language_mode"] == "fail"
    for name in ("win-fault", "win-badpw", "win-untrusted", "win-silent", "win-refused"):
        assert hosts[name]["checks"] and not any(c["status"] == "pass" for c in hosts[name]["checks"])
    # One shell, one command, one delete per audited host; the script arrived whole; NTLM was sealed.
    for server, user in ((basic, "default"), (ntlm, "hardened"), (https, "partial")):
        seen = server.stats[user]
        assert (seen["Create"], seen["Command"], seen["Delete"]) == (1, 1, 1), seen
        assert seen["stdin_bytes"] == len(SCRIPT), seen
        assert server.errors == []
    # (https: win-untrusted shares the account but never got past TLS, hence still one Create)
    assert ntlm.stats["hardened"]["encrypted"] > 0 and ntlm.stats["hardened"]["plaintext"] == 0
    assert basic.stats["-"]["auth_rejected"] >= 1


def test_collect_writes_the_raw_collector_json(tmp_path):
    raw = fixture("server2022-partial")
    with WsmanServer({"partial": Account("pw", raw, expect_stdin=SCRIPT)}) as srv:
        inv = tmp_path / "inv.yml"
        inv.write_text(
            json.dumps({"all": {"hosts": {"w1": winvars(srv.port, "partial", ansible_winrm_scheme="http")}}})
        )
        r = harden("collect", inv, "w1", "--out", tmp_path / "w1.json", "--timeout", "10")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "w1.json").read_bytes() == raw


def test_collector_failure_reports_powershell_stderr(tmp_path):
    clixml = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">'
        b"Invoke-Expression : Cannot run this_x000D__x000A_</S></Objs>"
    )
    acc = Account("pw", b"", stderr=clixml, exit_code=1)
    with WsmanServer({"u": acc}) as srv:
        t = target_from_vars("w", winvars(srv.port, "u", ansible_winrm_scheme="http"), {})
        from hardening.audit import AuditOptions, audit_windows_host

        result = audit_windows_host(t, AuditOptions(timeout=10))
    assert result.status is HostStatus.ERROR
    assert "exit 1" in result.message and "Invoke-Expression : Cannot run this" in result.message


def test_mangled_stdin_is_detected_by_the_server(tmp_path):
    with WsmanServer({"u": Account("pw", fixture("server2022-default"), expect_stdin=SCRIPT + b"x")}) as srv:
        t = target_from_vars("w", winvars(srv.port, "u", ansible_winrm_scheme="http"), {})
        run = WinrmTransport(t, 10).run(SCRIPT.decode())
        assert run.exit_code == 1 and run.stdout == b""
        assert srv.errors and "stdin differs" in srv.errors[0]


def test_silent_endpoint_times_out_within_the_deadline():
    with SilentServer() as silent:
        t = target_from_vars("w", winvars(silent.port, "u", ansible_winrm_scheme="http"), {})
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            WinrmTransport(t, 2).run("Write-Output 1")
        assert err.value.status is HostStatus.TIMEOUT
        assert time.monotonic() - started < 2 + 4
