"""``harden verify`` and ``harden hunt`` for Windows hosts, end to end over WinRM (no Windows needed).

pywinrm speaks to ``tests/support/wsman_server.py`` on 127.0.0.1. For verify the server is the test
double of the Windows host: it reads the callback script it receives on stdin and really
connects back to the controller's listeners for the ports its fixture says are open (see that
module's docstring), so the listener side, tokens, judgement and verify.json are the real ones.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from wsman_server import CLM_REFUSED, Account, WsmanServer

from hardening.hunt.run import load_schema
from hardening.hunt.verify_windows import (
    Attempt,
    CallbackOutputError,
    callback_script,
    classify,
    parse_callback_output,
)
from hardening.hunt.windows import hunt_script

HARDEN = str(Path(sys.executable).parent / "harden")
GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"


def harden(*args, timeout=120):
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now (the listeners bind them moments later)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def closed_port() -> int:
    return free_ports(1)[0]


def winvars(port, user, password="pw", **extra):
    base = {"ansible_connection": "winrm", "ansible_host": "127.0.0.1", "ansible_port": port,
            "ansible_user": user, "ansible_password": password, "ansible_winrm_scheme": "http",
            "harden_winrm_allow_plaintext": True}  # fmt: skip
    return {**base, **extra}


def write_inventory(path: Path, groups: dict[str, dict]) -> Path:
    path.write_text(json.dumps({"all": {"children": {g: {"hosts": h} for g, h in groups.items()}}}))
    return path


def code_lines(script: str) -> list[str]:
    return [line.split("#", 1)[0] for line in script.splitlines()]


def test_callback_script_is_ascii_clm_safe_and_carries_each_token():
    tokens = {4444: "a" * 32, 443: "b" * 32}
    script = callback_script("127.0.0.1", tokens, 2.2)
    script.encode("ascii")
    for line in code_lines(script) + code_lines(hunt_script()):
        assert not any(bad in line for bad in CLM_REFUSED), line
    assert "Invoke-WebRequest" in script and "-TimeoutSec $Timeout" in script and "$Timeout = 3" in script
    assert "uri = 'http://127.0.0.1:4444/HARDEN-VERIFY/" + "a" * 32 + "'" in script
    assert "uri = 'http://127.0.0.1:443/HARDEN-VERIFY/" + "b" * 32 + "'" in script
    for bad_host, bad_tokens in (("127.0.0.1'; Remove-Item x; '", tokens), ("127.0.0.1", {4444: "Z" * 32})):
        with pytest.raises(ValueError):
            callback_script(bad_host, bad_tokens, 3)


def test_callback_output_parser_and_classification():
    out = json.dumps(
        {"harden_collector": "windows-verify", "method": "Invoke-WebRequest", "done": True,
         "results": {"port": 53, "connected": False, "status": "ConnectFailure", "message": "Unable to connect"}}
    )  # fmt: skip
    method, attempts = parse_callback_output("noise\r\n" + out, [53, 443])
    assert method == "Invoke-WebRequest" and set(attempts) == {53}  # a lone result object is a list of one
    assert classify(attempts[53]).outcome == "refused"
    assert classify(None).outcome == "error"
    assert classify(Attempt(1, False, "Timeout")).outcome == "timeout"
    assert classify(Attempt(1, False, "ProtocolError")).outcome == "connected"
    assert classify(Attempt(1, False, "ProxyNameResolutionFailure")).outcome == "error"
    assert classify(Attempt(1, False, "", "Cannot bind parameter")).outcome == "error"
    for bad in ("", "not json", '{"harden_collector":"windows-hunt"}', '{"harden_collector":"windows-verify"}'):
        with pytest.raises(CallbackOutputError):
            parse_callback_output(bad, [53])


def test_verify_mixed_inventory_linux_and_windows(tmp_path):
    p = free_ports(4)
    mixed = Account("pw", b"", callbacks={p[0]: "open", p[1]: "blocked", p[2]: "refused", p[3]: "no-token"})
    tricky = Account("pw", b"", callbacks={p[0]: "foreign-token", p[1]: "misdirected", p[2]: "open"})
    with WsmanServer({"mixed": mixed}) as basic, WsmanServer({"tricky": tricky}, auth="ntlm") as ntlm:
        inv = write_inventory(
            tmp_path / "inv.yml",
            {
                "linux": {"controller": {"ansible_connection": "local"}},
                "windows": {
                    "win-mixed": winvars(basic.port, "mixed"),
                    "win-tricky": winvars(ntlm.port, "tricky", ansible_winrm_transport="ntlm"),
                },
            },
        )
        ports = ",".join(map(str, p))
        r = harden("verify", inv, "--out", tmp_path / "o", "--ports", ports, "--callback-host", "127.0.0.1",
                   "--attempt-timeout", "2", "--timeout", "30")  # fmt: skip
    assert r.returncode == 1, r.stderr  # something is open
    doc = json.loads((tmp_path / "o" / "verify.json").read_text())
    jsonschema.validate(doc, load_schema("verify.v1.json"))
    hosts = {h["name"]: h for h in doc["hosts"]}
    result = {n: [c["result"] for c in h["callbacks"]] for n, h in hosts.items()}
    assert result == {
        "controller": ["open"] * 4,  # loopback: nothing filters it
        "win-mixed": ["open", "blocked", "blocked", "error"],
        "win-tricky": ["error", "error", "open", "blocked"],
    }, hosts
    assert hosts["controller"]["platform"] == "linux" and hosts["controller"]["method"] == "bash"
    for name in ("win-mixed", "win-tricky"):
        h = hosts[name]
        assert (h["platform"], h["status"], h["callback_host"]) == ("windows", "ok", "127.0.0.1"), h
        assert h["method"] == "Invoke-WebRequest" and {c["method"] for c in h["callbacks"]} == {"Invoke-WebRequest"}
    detail = {n: [c["detail"] for c in h["callbacks"]] for n, h in hosts.items()}
    assert "came from 127.0.0.1" in detail["win-mixed"][0]
    assert "timed out" in detail["win-mixed"][1] and "refused or unreachable" in detail["win-mixed"][2]
    assert "token never arrived" in detail["win-mixed"][3]
    assert all("token never arrived" in d for d in detail["win-tricky"][:2])
    # The listeners counted only valid tokens: one per host and port that really sent its own.
    counts = {lst["port"]: (lst["connections"], lst["tokens"], lst["stray"]) for lst in doc["listeners"]}
    assert counts == {p[0]: (3, 2, 1), p[1]: (2, 1, 1), p[2]: (2, 2, 0), p[3]: (2, 1, 1)}, doc["listeners"]
    assert doc["summary"] == {
        "hosts": 3,
        "open": 6,
        "open_outside_policy": 6,
        "blocked": 3,
        "error": 3,
        "not_reached": 0,
    }
    # One shell and one command per Windows host; the double connected only for its connecting ports.
    for server, user, connects in ((basic, "mixed", 2), (ntlm, "tricky", 3)):
        seen = server.stats[user]
        assert (seen["Create"], seen["Command"], seen["Delete"]) == (1, 1, 1), seen
        assert seen["callback_connects"] == connects, seen
        assert server.errors == []


def test_verify_learns_the_callback_from_the_winrm_connection(tmp_path):
    p = free_ports(2)
    clixml = b'#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">Invoke-Expression : blocked by policy</S></Objs>'
    accounts = {
        "w": Account("pw", b"", callbacks={p[0]: "open"}),
        "broken": Account("pw", b"", stderr=clixml, exit_code=1),
    }
    with WsmanServer(accounts) as srv:
        inv = write_inventory(
            tmp_path / "inv.yml",
            {"windows": {"w1": winvars(srv.port, "w"), "w-broken": winvars(srv.port, "broken"),
                         "w-refused": winvars(closed_port(), "w")}},
        )  # fmt: skip
        r = harden("verify", inv, "--out", tmp_path / "o", "--ports", f"{p[0]},{p[1]}", "--attempt-timeout", "1")
    assert r.returncode == 1, r.stderr
    doc = json.loads((tmp_path / "o" / "verify.json").read_text())
    jsonschema.validate(doc, load_schema("verify.v1.json"))
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert hosts["w1"]["callback_host"] == "127.0.0.1"  # learned: no --callback-host given
    assert [c["result"] for c in hosts["w1"]["callbacks"]] == ["open", "blocked"]
    assert hosts["w-broken"]["status"] == "error" and not hosts["w-broken"]["callbacks"]
    assert "blocked by policy" in hosts["w-broken"]["message"] and "exit 1" in hosts["w-broken"]["message"]
    assert hosts["w-refused"]["status"] == "unreachable" and "callback address" in hosts["w-refused"]["message"]
    assert srv.stats["w"]["Command"] == 1 and srv.errors == []


def test_hunt_windows_host_end_to_end(tmp_path):
    raw = (GOLDEN / "windows_webshell.json").read_bytes()
    script = hunt_script().encode("ascii")
    with WsmanServer({"web": Account("pw", raw, expect_stdin=script)}, auth="ntlm") as srv:
        inv = write_inventory(
            tmp_path / "inv.yml",
            {"web": {"iis1": winvars(srv.port, "web", ansible_winrm_transport="ntlm", harden_role="web")}},
        )
        r = harden("hunt", inv, "--out", tmp_path / "o", "--timeout", "20")
        seen = srv.stats["web"]
        errors = list(srv.errors)
    assert r.returncode == 1, r.stderr  # a high detection
    doc = json.loads((tmp_path / "o" / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    (h,) = doc["hosts"]
    assert (h["name"], h["platform"], h["status"], h["roles"]) == ("iis1", "windows", "ok", ["web"]), h
    found = {d["pid"]: d for d in h["detections"]}
    assert found[2310]["severity"] == "high" and found[2310]["remote"] == "203.0.113.7:4444"
    assert found[2300]["severity"] == "medium" and 5120 not in found and 3000 not in found
    assert any("stdio" in w for w in h["warnings"])
    for w in h["warnings"]:  # every warning is on the terminal too, not only in hunt.json
        assert f"warning: iis1: {w}" in r.stderr, r.stderr[-2000:]
    assert (seen["Create"], seen["Command"], seen["Delete"]) == (1, 1, 1), seen
    assert seen["stdin_bytes"] == len(script) and errors == []
    assert seen["encrypted"] > 0 and seen["plaintext"] == 0
