"""Hostile hosts echo the passwords they were given, disguised; no output shows them.

Real ``harden audit``, ``harden report``, ``harden hunt``, ``harden verify`` and ``harden collect``
runs against a paramiko SSH server on 127.0.0.1 (``tests/support/ssh_server.py``) whose hosts echo the
SSH password they saw and the become password they were sent (as sudo), with escape sequences,
control and invisible characters between the letters (``ssh_server.disguises``):

* ``echo``: a real collector output whose resolv.conf holds the echoes (evidence excerpts) and
  whose ``nft`` failed with the echoes on stderr (check messages, evidence facts);
* ``cut``: output cut short, the echoes on the last stderr line (the host's message);
* ``phish``: plays sudo, reads the password, refuses with the echoes (the host's message).

Every file written and everything printed is then searched as bytes and in the views a reader
gets: control and format characters stripped (the attacker's view), escape sequences acted on,
HTML entities decoded, and every JSON string decoded.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from ssh_server import Account, Reply, Request, SshServer, disguises, golden_output, wire, with_section_text

from hardening.redact import ANSI_SEQUENCE, IGNORABLE, REDACTED

BIN = Path(sys.executable).parent
HUNT_GOLDEN = Path(__file__).parents[1] / "golden" / "hunt" / "lab_shells.out"
_ANSI = re.compile(ANSI_SEQUENCE)
_IGN = re.compile(IGNORABLE)


def _echoes(req: Request) -> list[str]:
    return [d for pw in (req.ssh_password, req.become_password) if pw for d in disguises(pw)]


def _hunt_output(req: Request) -> bytes:
    raw = HUNT_GOLDEN.read_bytes()
    old, _, body = raw.partition(b"\n")
    body = body.replace(b"@@" + old.strip(), b"@@" + req.nonce.encode())
    args = b"".join(b"/proc/676/cmdline:" + wire(d) + b"\x00" for d in _echoes(req) if "\x00" not in d)
    assert b"/proc/676/cmdline:-i\x00" in body
    return body.replace(b"/proc/676/cmdline:-i\x00", b"/proc/676/cmdline:-i\x00" + args, 1)


def _echo(req: Request) -> Reply:
    echoes = _echoes(req)
    if b"SSHCONN" in req.script:  # harden verify asks where the controller is
        return Reply(wire(f"SSHCONN {echoes[1]} 1 127.0.0.1 22\n"))
    if b"hunt.cmdline" in req.script:
        return Reply(_hunt_output(req))
    n = req.nonce
    out = with_section_text(golden_output(n), n, "dns.resolv_conf", wire("".join(f"# {e}\n" for e in echoes)))
    nft_end = f"\n@@{n} E firewall.nft_ruleset 0\n".encode()
    err = f"\n@@{n} B firewall.nft_ruleset!err\n{echoes[1]} {echoes[2]}\n@@{n} E firewall.nft_ruleset!err 0\n"
    out = out.replace(nft_end, nft_end.replace(b" 0\n", b" 1\n") + wire(err), 1)
    return Reply(out, stderr=wire("".join(f"{e}\n" for e in echoes)))


def _cut(req: Request) -> Reply:
    out = golden_output(req.nonce)
    return Reply(out[: len(out) // 2], stderr=wire("sudo: " + " | ".join(_echoes(req)) + "\n"), rc=1)


def _plain(req: Request) -> Reply:
    return Reply(golden_output(req.nonce))


def _refuse(pw: str) -> bytes:
    return wire("Sorry, try again.\nsudo: " + " ".join(disguises(pw)) + "\n")


def unseen(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs") and not _IGN.match(c))


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def views(data: bytes) -> dict[str, str]:
    """What a person or a program may read out of an output file (or printed output)."""
    text = data.decode("utf-8", "replace")
    out = {"text": text, "unseen": unseen(text), "rendered": unseen(_ANSI.sub("", text))}
    out["html"] = unseen(_ANSI.sub("", html.unescape(text)))
    docs = []
    for chunk in [text, *text.splitlines()]:
        try:
            docs.append(json.loads(chunk))
        except ValueError:
            continue
    strings = [s for d in docs for s in _strings(d)]
    out["json"] = "\n".join(strings)
    out["json-unseen"] = "\n".join(unseen(s) for s in strings)
    out["json-rendered"] = "\n".join(unseen(_ANSI.sub("", s)) for s in strings)
    out["spaces"] = " ".join(out["rendered"].split())
    return out


def leaks(secrets_: list[str], where: str, data: bytes) -> list[str]:
    found = [f"{where}: bytes" for s in secrets_ if s.encode() in data]
    found += [f"{where}: {name}" for name, v in views(data).items() for s in secrets_ if s in v]
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    pw = {u: (f"Ssh-{u}-{secrets.token_hex(4)}", f"Sudo-{u}-{secrets.token_hex(4)}") for u in ("echo", "cut", "phish")}
    pw["plain"] = (f"Ssh-plain-{secrets.token_hex(4)}", f"Sudo-plain-{secrets.token_hex(4)}")
    accounts = {
        "echo": Account(pw["echo"][0], _echo),
        "cut": Account(pw["cut"][0], _cut),
        "phish": Account(pw["phish"][0], _plain, refuse_become=_refuse),
        "plain": Account(pw["plain"][0], _plain),
    }
    with SshServer(accounts) as srv:
        (tmp / "known_hosts").write_text(srv.known_hosts_line())
        hosts = {
            name: {"ansible_user": name, "ansible_password": ssh, "ansible_become_password": sudo}
            for name, (ssh, sudo) in pw.items()
        }
        hosts["web1\n"] = hosts.pop("plain")  # a host name that is no file name (remediation must skip it)
        inventory = {
            "all": {
                "vars": {"ansible_host": "127.0.0.1", "ansible_port": srv.port, "ansible_become": True},
                "hosts": hosts,
            }
        }
        (tmp / "inv.yml").write_text(yaml.safe_dump(inventory))
        yield tmp, srv, [p for pair in pw.values() for p in pair]


def harden(*args: object) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run([str(BIN / "harden"), *map(str, args)], capture_output=True, timeout=240, env=env)


def _outputs(run: subprocess.CompletedProcess[bytes], *dirs: Path) -> list[tuple[str, bytes]]:
    seen = [("stdout", run.stdout), ("stderr", run.stderr)]
    for d in dirs:
        seen += [(str(p.relative_to(d.parent)), p.read_bytes()) for p in sorted(d.rglob("*")) if p.is_file()]
    return seen


def test_audit_outputs_never_show_an_echoed_password(hostile):
    tmp, srv, passwords = hostile
    out = tmp / "audit"
    run = harden("audit", tmp / "inv.yml", "--known-hosts", tmp / "known_hosts", "--out", out, "--format", "all",
                 "--timeout", 60)  # fmt: skip
    assert run.returncode == 3, run.stderr.decode()[-2000:]
    doc = json.loads((out / "results.json").read_text())
    hosts = {h["name"]: h for h in doc["hosts"]}
    # the hosts did receive the passwords and did echo them: harden blanked them
    assert {(r.user, r.become_password is not None) for r in srv.requests} >= {("echo", True), ("cut", True)}
    assert REDACTED in hosts["cut"]["message"] and REDACTED in hosts["phish"]["message"]
    echo = {c["id"]: c for c in hosts["echo"]["checks"]}
    assert (
        REDACTED in echo["egress.default_deny"]["message"]
        and REDACTED in echo["dns.query_logging"]["evidence"]["excerpt"]
    )
    assert hosts["web1\n"]["status"] == "ok"
    # a host whose name is no file name gets no host_vars file (and nothing else with a control character)
    names = [p.name for p in (out / "playbooks").rglob("*")]
    assert "echo.yml" in names and not any(re.search(r"[\x00-\x1f]", n) for n in names)

    report = harden("report", out / "results.json", "--format", "all", "--out", tmp / "report")
    assert (tmp / "report" / "junit.xml").is_file(), report.stderr.decode()[-2000:]
    seen = _outputs(run, out) + _outputs(report, tmp / "report")
    assert {n for n, _ in seen} >= {"audit/results.json", "audit/hosts.jsonl", "audit/report.html",
                                    "audit/junit.xml", "audit/harden.sarif", "audit/report.md"}  # fmt: skip
    found = [leak for where, data in seen for leak in leaks(passwords, where, data)]
    assert not found, found


def test_hunt_verify_and_collect_never_show_an_echoed_password(hostile):
    tmp, _srv, passwords = hostile
    kh = tmp / "known_hosts"
    hunt = harden("hunt", tmp / "inv.yml", "--known-hosts", kh, "--out", tmp / "hunt", "--limit", "echo:phish")
    assert (tmp / "hunt" / "hunt.json").is_file(), hunt.stderr.decode()[-3000:]
    doc = json.loads((tmp / "hunt" / "hunt.json").read_text())
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert REDACTED in hosts["phish"]["message"]
    cmdlines = [d["cmdline"] for d in hosts["echo"]["detections"]]
    assert any(REDACTED in c for c in cmdlines), cmdlines
    verify = harden("verify", tmp / "inv.yml", "--known-hosts", kh, "--out", tmp / "verify", "--limit", "echo")
    assert (tmp / "verify" / "verify.json").is_file(), verify.stderr.decode()[-2000:]
    (tmp / "collect").mkdir()
    collect = harden("collect", tmp / "inv.yml", "echo", "--known-hosts", kh, "-o", tmp / "collect" / "echo.out")
    assert collect.returncode == 0, collect.stderr.decode()[-2000:]
    raw = (tmp / "collect" / "echo.out").read_bytes()
    assert REDACTED.encode() in raw and b"@@" in raw
    seen = _outputs(hunt, tmp / "hunt") + _outputs(verify, tmp / "verify") + _outputs(collect, tmp / "collect")
    found = [leak for where, data in seen for leak in leaks(passwords, where, data)]
    assert not found, found


def test_engine_ansible_keeps_no_echoed_password_in_runner_artifacts(tmp_path, monkeypatch):
    """``--engine ansible``: ansible-runner writes every event (with the host's output) and Ansible's
    display to DIR/ansible/artifacts; harden judges the output as it came and blanks what is kept."""
    import threading
    from types import SimpleNamespace

    import ansible_runner

    from hardening.audit import AuditOptions
    from hardening.engine_ansible import COLLECTOR_TASK, AnsibleRun, audit_fleet_ansible
    from hardening.inventory import Connection, Target

    ssh_pw, sudo_pw = f"Ssh-{secrets.token_hex(4)}", f"Sudo-{secrets.token_hex(4)}"

    def run_async(**kw):
        nonce = kw["extravars"]["harden_nonce"]
        req = Request("echo", "", b"", nonce, ssh_pw, sudo_pw)
        reply = _echo(req)
        text = reply.stdout.decode("utf-8", "surrogateescape")
        event = {
            "event": "runner_on_ok",
            "uuid": "e1",
            "stdout": "ok: [echo] " + " ".join(_echoes(req)),
            "event_data": {"host": "echo", "task": COLLECTOR_TASK, "res": {"stdout": text, "rc": 0, "stderr": ""}},
        }
        art = Path(kw["private_data_dir"]) / "artifacts" / kw["ident"]
        (art / "job_events").mkdir(parents=True)
        if kw["event_handler"](event):  # as ansible-runner does: the handler first, then the file
            (art / "job_events" / "1-e1.json").write_text(json.dumps(event))
        (art / "stdout").write_bytes(wire("PLAY [Run the harden collector]\n" + "\n".join(_echoes(req)) + "\n"))
        kw["finished_callback"](None)
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread, SimpleNamespace(rc=0, status="successful")

    monkeypatch.setattr(ansible_runner, "run_async", run_async)
    target = Target("echo", Connection.SSH, "127.0.0.1", password=ssh_pw, become=True, become_password=sudo_pw)
    run = AnsibleRun(tmp_path / "inv.ini", (target,), tmp_path / "ansible", AuditOptions())
    (result,) = list(audit_fleet_ansible(run))
    checks = {c.id: c for c in result.checks}
    assert REDACTED in checks["egress.default_deny"].message  # judged from the output, blanked
    files = [(str(p), p.read_bytes()) for p in sorted((tmp_path / "ansible").rglob("*")) if p.is_file()]
    assert any(REDACTED.encode() in data for _, data in files)
    found = [leak for where, data in files for leak in leaks([ssh_pw, sudo_pw], where, data)]
    assert not found, found


# ------------------------------------------------------------- one output cap for every command

FLOOD = 3 * 1024 * 1024  # more than --max-output 1 (MiB), well under the default cap


def _flood(req: Request) -> Reply:
    """Echo the passwords (disguised) first, on both streams, then keep talking past the cap."""
    echoes = "".join(f"{e}\n" for e in _echoes(req)) if req.ssh_password else ""
    block = b"x" * 65535 + b"\n"
    return Reply(
        (chunk for chunk in [wire(echoes), *[block] * (FLOOD // len(block))]),
        stderr=wire(echoes),
    )


@pytest.fixture(scope="module")
def flood(tmp_path_factory):
    """One hostile host (sudo accepted) that echoes its passwords and floods; its inventory."""
    tmp = tmp_path_factory.mktemp("flood")
    ssh, sudo = f"Ssh-flood-{secrets.token_hex(4)}", f"Sudo-flood-{secrets.token_hex(4)}"
    with SshServer({"flood": Account(ssh, _flood)}) as srv:
        (tmp / "known_hosts").write_text(srv.known_hosts_line())
        host = {"ansible_user": "flood", "ansible_password": ssh, "ansible_become_password": sudo}
        inventory = {
            "all": {
                "vars": {"ansible_host": "127.0.0.1", "ansible_port": srv.port, "ansible_become": True},
                "hosts": {"flood": host},
            }
        }
        (tmp / "inv.yml").write_text(yaml.safe_dump(inventory))
        yield tmp, srv, [ssh, sudo]


def test_hunt_stops_a_flooding_host_at_the_cap_and_shows_no_password(flood):
    """hunt had no output cap of its own: --max-output caps it as it caps audit (and verify)."""
    tmp, srv, passwords = flood
    run = harden("hunt", tmp / "inv.yml", "--known-hosts", tmp / "known_hosts", "--out", tmp / "hunt",
                 "--max-output", 1, "--timeout", 60)  # fmt: skip
    assert run.returncode == 3, run.stderr.decode()[-2000:]  # not reached: never a clean hunt
    (host,) = json.loads((tmp / "hunt" / "hunt.json").read_text())["hosts"]
    assert host["status"] == "error" and host["detections"] == []
    assert host["message"] == "the host sent more than 1 MiB of output (raise --max-output if this host is trusted)"
    assert any(r.become_password == passwords[1] for r in srv.requests)  # the host did get the password
    found = [leak for where, data in _outputs(run, tmp / "hunt") for leak in leaks(passwords, where, data)]
    assert not found, found


@pytest.mark.parametrize("command", ["verify", "audit"])
def test_verify_and_audit_stop_a_flooding_host_at_the_same_cap(flood, command):
    tmp, _srv, passwords = flood
    out = tmp / command
    run = harden(command, tmp / "inv.yml", "--known-hosts", tmp / "known_hosts", "--out", out,
                 "--max-output", 1, "--timeout", 60)  # fmt: skip
    assert run.returncode == 3, run.stderr.decode()[-2000:]
    doc = json.loads((out / f"{'results' if command == 'audit' else command}.json").read_text())
    (host,) = doc["hosts"]
    assert host["status"] == "error"
    assert host["message"].startswith("the host sent more than 1 MiB of output"), host["message"]
    found = [leak for where, data in _outputs(run, out) for leak in leaks(passwords, where, data)]
    assert not found, found


def test_hunt_options_max_output_caps_hunt_host(flood):
    """The API: HuntOptions.max_output reaches the transport; the result carries no password."""
    from hardening.hunt.run import HuntOptions, hunt_host
    from hardening.inventory import load_inventory
    from hardening.transport.base import output_limit_message

    tmp, _srv, passwords = flood
    (target,) = load_inventory(tmp / "inv.yml")
    options = HuntOptions(timeout=60, known_hosts=str(tmp / "known_hosts"), max_output=256 * 1024)
    result = hunt_host(target, options)
    assert result.status.value == "error" and result.message == output_limit_message(256 * 1024)
    assert not [s for s in passwords for text in (repr(result), result.message) if s in text]
