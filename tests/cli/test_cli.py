"""The command line as a user meets it: exit codes, messages, results.json against its schema."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema

from hardening.results import results_schema

HARDEN = str(Path(sys.executable).parent / "harden")


def harden(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_malformed_inventory_exits_2_naming_file_without_traceback(tmp_path):
    bad = tmp_path / "broken.ini"
    bad.write_text("[web\nw1 = =\n")
    r = harden("audit", bad, "--out", tmp_path / "out")
    assert r.returncode == 2
    assert "broken.ini" in r.stderr and "Failed to parse" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_unknown_option_and_missing_inventory_exit_2(tmp_path):
    r = harden("audit", "--no-such-option", "x.ini")
    assert r.returncode == 2 and "no-such-option" in r.stderr
    r = harden("audit", tmp_path / "missing.ini")
    assert r.returncode == 2 and "missing.ini" in r.stderr and "not found" in r.stderr


def test_unreachable_host_exits_3_and_never_passes(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text(f"gone ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=nobody\n")
    r = harden("audit", inv, "--out", tmp_path / "out", "--timeout", "5")
    assert r.returncode == 3, r.stderr
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    jsonschema.validate(doc, results_schema())
    (host,) = doc["hosts"]
    assert host["status"] == "unreachable"
    assert "Connection refused" in host["message"] or "refused" in host["message"].lower()
    assert host["checks"] and all(c["status"] == "error" for c in host["checks"])
    assert doc["complete"] is True
    assert (tmp_path / "out" / "hosts.jsonl").read_text().count("\n") == 1


def test_schema_rejects_a_pass_on_a_host_not_fully_audited():
    doc = {
        "schema": "harden.results/v1",
        "tool": {"name": "harden", "version": "0"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:00+00:00",
        "inventory": "i",
        "summary": {"hosts": 1, "host_status": {}, "check_status": {}},
        "hosts": [
            {
                "name": "h",
                "platform": "linux",
                "status": "timeout",
                "message": "",
                "checks": [
                    {
                        "id": "egress.default_deny",
                        "status": "pass",
                        "severity": "critical",
                        "title": "t",
                        "message": "m",
                        "evidence": {"facts": {}, "excerpt": ""},
                        "references": [],
                    }
                ],
            }
        ],
    }
    try:
        jsonschema.validate(doc, results_schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema accepted a passing check on a timed-out host")


def test_tarpit_that_never_sends_a_banner_times_out_within_the_bound(tmp_path):
    """A real listener on 127.0.0.1 that accepts and stays silent (bounded, cleaned up)."""
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()
    held = []

    def accept_and_hold():
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = server.accept()
                held.append(conn)
            except TimeoutError:
                continue

    t = threading.Thread(target=accept_and_hold, daemon=True)
    t.start()
    try:
        inv = tmp_path / "inv.ini"
        inv.write_text(
            f"tarpit ansible_host=127.0.0.1 ansible_port={port} ansible_user=x\n"
            f"gone ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=x\n"
        )
        started = time.monotonic()
        r = harden("audit", inv, "--out", tmp_path / "o", "--timeout", "3")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        server.close()
    assert r.returncode == 3
    hosts = {h["name"]: h for h in json.loads((tmp_path / "o" / "results.json").read_text())["hosts"]}
    assert hosts["tarpit"]["status"] == "timeout", hosts["tarpit"]["message"]
    assert hosts["gone"]["status"] == "unreachable"
    assert elapsed < 15, elapsed


def test_local_connection_audits_this_machine(tmp_path):
    """ansible_connection=local runs the same collector here; every check is judged."""
    import os

    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  hosts:\n    controller:\n      ansible_connection: local\n")
    r = harden("audit", inv, "--out", tmp_path / "o", "--timeout", "60")
    (host,) = json.loads((tmp_path / "o" / "results.json").read_text())["hosts"]
    assert host["status"] == "ok", host["message"]
    assert r.returncode in (0, 1)
    ids = {c["id"] for c in host["checks"]}
    assert ids == {
        "egress.default_deny", "egress.allowlist", "dns.query_logging",
        "audit.auditd", "edr.sensor", "logging.forwarding", "appcontrol.enforced",
        "services.least_privilege", "binaries.netcat",
    }  # fmt: skip
    if os.geteuid() != 0:
        assert "root" in host["message"]


def test_unreachable_winrm_host_is_unreachable_never_passing(tmp_path):
    inv = tmp_path / "inv.ini"
    port = closed_port()
    inv.write_text(
        f"win1 ansible_connection=winrm ansible_host=127.0.0.1 ansible_port={port} ansible_user=u ansible_password=p\n"
    )
    r = harden("audit", inv, "--out", tmp_path / "o", "--timeout", "5")
    assert r.returncode == 3
    (host,) = json.loads((tmp_path / "o" / "results.json").read_text())["hosts"]
    assert host["platform"] == "windows" and host["status"] == "unreachable", host["message"]
    assert "cannot connect" in host["message"]
    assert host["checks"] and not any(c["status"] == "pass" for c in host["checks"])
