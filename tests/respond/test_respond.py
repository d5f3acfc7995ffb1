"""Pure and local tests of ``harden respond``: the incident lookup and its freshness, the process plan,
the scripts (run with sh against real processes of this machine that the test starts), the evidence
(hostile input: huge environment, binary junk, secrets), and the command's refusals.

The scripts read /proc and signal only the processes the test started (children of the test).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardening.facts.sections import parse_sections
from hardening.hunt.incident import Incident, Member
from hardening.hunt.model import Tier
from hardening.hunt.run import HostHunt, hunt_document, write_json
from hardening.model import HostStatus, Platform
from hardening.redact import Redactor
from hardening.respond import lookup
from hardening.respond.evidence import parse_flows, redact_environ, write_evidence
from hardening.respond.model import Action, Flow, ProcessRef, RespondError
from hardening.respond.plan import act_script, build_script, evidence_script, process_refs, undo_script

GOLDEN = Path(__file__).parents[1] / "golden" / "respond"
NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def member(pid, ppid, role="child", start=1765000000.25, process="bash", severity=None):
    return Member(pid, ppid, process, role, severity, "/usr/bin/" + process, process, "root", start)


def incident(members, host="web1", iid="i-0000abcd"):
    return Incident(iid, host, Tier.HIGH, members[0], tuple(members), ("198.18.0.1:4444",), ("reverse shell",))


def hunt_doc(incidents=(), status=HostStatus.OK, finished=NOW, host="web1"):
    h = HostHunt(host, "10.0.0.1", Platform.LINUX, status, incidents=tuple(incidents))
    doc = hunt_document([h], "inv.ini", finished.isoformat())
    doc["finished"] = finished.isoformat(timespec="seconds")
    return doc


# -- lookup: nothing runs without an incident of a recent hunt -------------------------------------


def test_find_recorded_fresh_incident():
    inc = incident([member(812, 1, "netcat", severity=Tier.HIGH), member(813, 812, "shell")])
    doc = hunt_doc([inc], finished=NOW - timedelta(minutes=3))
    rec = lookup.find_recorded(doc, Path("h.json"), "web1", "i-0000abcd", NOW, 900)
    assert (rec.root_pid, rec.root_start, rec.severity) == (812, 1765000000.25, "high")
    assert 179 < rec.age_s < 181


@pytest.mark.parametrize(
    ("doc", "host", "iid", "message"),
    [
        (hunt_doc(finished=NOW - timedelta(minutes=16)), "web1", "i-0000abcd", "16 min ago"),
        (hunt_doc(finished=NOW + timedelta(minutes=5)), "web1", "i-0000abcd", "in the future"),
        (hunt_doc(), "db1", "i-0000abcd", "was not hunted there"),
        (hunt_doc(status=HostStatus.TIMEOUT), "web1", "i-0000abcd", "not hunted fully"),
        (hunt_doc([incident([member(5, 1)], iid="i-11112222")]), "web1", "i-0000abcd", "its incidents: i-11112222"),
        (hunt_doc(), "web1", "0000abcd", "is not an incident id"),
        (hunt_doc(), "web1", "i-0000ABCD", "is not an incident id"),
    ],
)
def test_find_recorded_refusals(doc, host, iid, message):
    with pytest.raises(RespondError, match=message):
        lookup.find_recorded(doc, Path("h.json"), host, iid, NOW, 900)


def test_hunt_json_resolution(tmp_path):
    with pytest.raises(RespondError, match=r"no hunt\.json"):
        lookup.hunt_json_path(None, None, tmp_path / "reports")
    old = tmp_path / "reports" / "hunt-1" / "hunt.json"
    new = tmp_path / "reports" / "hunt-2" / "hunt.json"
    for p in (old, new):
        write_json(p, hunt_doc())
    os.utime(old, (1, 1))
    assert lookup.hunt_json_path(None, None, tmp_path / "reports") == new
    assert lookup.hunt_json_path(old.parent, None) == old
    assert lookup.hunt_json_path(None, old.parent) == old
    with pytest.raises(RespondError, match=r"no such hunt\.json"):
        lookup.hunt_json_path(None, tmp_path)
    (tmp_path / "x.json").write_text('{"schema": "harden.audit/v1"}')
    with pytest.raises(RespondError, match="not a harden hunt"):
        lookup.load_hunt(tmp_path / "x.json")


# -- plan: the incident's members, root first, only what can be verified --------------------------


def test_process_refs_root_first_and_unverifiable_left_out():
    members = [
        member(100, 1, "spawner", start=1.5),
        member(120, 100, "shell", start=3.0, severity=Tier.HIGH),
        member(110, 100, "netcat", start=2.0, severity=Tier.HIGH),
        member(130, 120, "child", start=4.0),
        member(140, 999, "other", start=0.5),  # joined by a pipe, outside the root's tree
        member(150, 120, "child", start=None),
        member(1, 0, "child", start=0.1),
    ]
    refs, left = process_refs(incident(members))
    assert [r.pid for r in refs] == [100, 110, 120, 130, 140]
    assert [r.token for r in refs][:2] == ["100:150", "110:200"]
    assert len(left) == 2 and "start time unknown" in left[0] and "pid 1" in left[1]


def test_scripts_carry_only_validated_values():
    ref = ProcessRef(812, 176500012346, 1, "sh; touch /tmp/pwned-r21", "shell", "$(reboot-now)")
    script = act_script("n1", Action.ISOLATE, [ref], "i-0000abcd", [Flow("tcp", "10.0.0.5", 4000, "10.0.0.1", 4444)])
    assert "\nRP=812:176500012346\n" in script and "\nRF=tcp,4,10.0.0.5,4000,10.0.0.1,4444\n" in script
    assert "pwned-r21" not in script and "reboot-now" not in script  # names and command lines never go in
    with pytest.raises(ValueError, match="unsafe"):
        build_script("n1", "act", {"RP": "1:2'; reboot; '"})
    with pytest.raises(ValueError):
        ProcessRef(1, 5, 0, "init", "child")
    with pytest.raises(ValueError):
        Flow("tcp", "10.0.0.05", 1, "10.0.0.1", 2)  # not normalised
    with pytest.raises(ValueError):
        Flow("tcp", "10.0.0.5", 1, "::1", 2)
    with pytest.raises(ValueError, match="not an isolation cgroup"):
        undo_script("n1", "i-0000abcd", 4026532883, "/etc/harden-isolate-0000abcd")
    with pytest.raises(ValueError):
        undo_script("n1", "i-0000abcd", 4026532883, "/sys/fs/cgroup/../../etc/harden-isolate-0000abcd")
    with pytest.raises(ValueError, match="not this incident"):
        undo_script("n1", "i-0000abcd", 4026532883, "/sys/fs/cgroup/x/harden-isolate-11112222")
    ok = undo_script("n1", "i-0000abcd", 4026532883, "/sys/fs/cgroup/unified/libpod_parent/harden-isolate-0000abcd")
    assert "RNS=4026532883" in ok


def test_parse_flows_from_lab_socket_lines():
    text = (GOLDEN / "lab_shell_sockets.txt").read_text()
    (flow,) = parse_flows(text)
    assert str(flow) == "tcp 198.18.0.137:33668 -> 198.18.0.1:36281"
    assert flow.token == "tcp,4,198.18.0.137,33668,198.18.0.1,36281"
    listening = (
        "tcp:    0: 0100007F:B1E5 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10433104 1"
    )
    assert parse_flows(listening + "\njunk: 1 2 3\n") == ()


# -- the scripts on real processes of this machine ------------------------------------------------


def _start_cs(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    btime = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
    )
    return round((btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")) * 100)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def _run(script: str, nonce: str = "n1"):
    out = subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, timeout=60)
    sections = parse_sections(out.stdout, nonce)
    assert sections.complete, out.stderr
    return sections


@pytest.fixture
def victim():
    """A child process of the test (a shell with a child), killed at the end."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DB_PASSWORD": "hunter42-db",
        "APP_URL": "https://deploy:s3cr3t-url@example.com/x",
        "NOISE": "a\x01b\x7f\tc",
    }
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], env=env)
    end = time.monotonic() + 5
    kids: list[int] = []
    while not kids and time.monotonic() < end:
        kids = [int(k) for k in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        time.sleep(0.02)
    assert kids
    refs = [ProcessRef(p, _start_cs(p), 0, "sh", "shell") for p in (proc.pid, *kids)]
    yield proc, refs
    for r in refs:
        with contextlib.suppress(OSError):
            os.kill(r.pid, 9)
    proc.wait(timeout=10)


def test_suspend_stops_root_first_and_kill_kills(victim):
    proc, refs = victim
    s = _run(act_script("n1", Action.SUSPEND, refs, "i-0000abcd"))
    assert s.text("r.act").splitlines() == [f"{r.pid}\tstopped" for r in refs]
    assert {_state(r.pid) for r in refs} == {"T"}
    s = _run(act_script("n1", Action.KILL, refs, "i-0000abcd"))
    assert s.text("r.act").splitlines() == [f"{r.pid}\tkilled" for r in refs]
    proc.wait(timeout=10)
    assert _state(refs[0].pid) == "gone"


def test_a_reused_pid_is_never_signalled(victim):
    _, refs = victim
    other = [ProcessRef(r.pid, r.start_cs + 500, 0, "sh", "shell") for r in refs]  # "another process" now
    s = _run(act_script("n1", Action.KILL, other, "i-0000abcd"))
    assert s.text("r.check").splitlines() == [f"{r.pid}\treused" for r in refs]
    assert s.text("r.act").splitlines() == [f"{r.pid}\treused" for r in refs]
    assert {_state(r.pid) for r in refs} <= {"S", "R"}


def test_the_response_session_is_never_signalled():
    me = os.getpid()  # an ancestor of the script's shell
    s = _run(act_script("n1", Action.KILL, [ProcessRef(me, _start_cs(me), 0, "python", "shell")], "i-0000abcd"))
    assert s.text("r.act").startswith(f"{me}\tskipped")


def test_isolate_refuses_without_nft_or_outside_the_host_namespaces(victim, tmp_path):
    """Whatever this machine lacks for isolate-process, the script refuses with a reason and
    loads nothing here: run with PATH lacking nft, it must refuse before any rule or cgroup."""
    _, refs = victim
    script = act_script("n1", Action.ISOLATE, refs, "i-0000abcd").replace(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"PATH={tmp_path}:/bin"
    )
    for tool in ("cat", "sed", "head", "readlink", "mktemp", "rm", "tr", "dd", "mkfifo", "wc", "cut", "sleep"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if found and not (tmp_path / tool).exists():
            (tmp_path / tool).symlink_to(found)
    s = _run(script)
    assert "refused\tnft (nftables) is not installed" in s.text("r.isolate")
    assert {_state(r.pid) for r in refs} <= {"S", "R"}


def test_evidence_of_a_real_process_has_no_secret(victim, tmp_path):
    _, refs = victim
    s = _run(evidence_script("n1", refs))
    ev = write_evidence(tmp_path / "ev", s, refs, Redactor.of(["hunter42-db"]), {"host": "t"})
    root = refs[0].pid
    environ = (tmp_path / "ev" / "processes" / str(root) / "environ.txt").read_text()
    assert "DB_PASSWORD=********" in environ and "APP_URL=https://********@example.com/x" in environ
    assert "NOISE=a\\x01b\\x7f\\x09c" in environ  # control characters shown, one line per variable
    for f in (tmp_path / "ev").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"hunter42-db" not in data and b"s3cr3t-url" not in data, f
    manifest = json.loads((tmp_path / "ev" / "manifest.json").read_text())
    for f in manifest["files"]:
        assert hashlib.sha256((tmp_path / "ev" / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    sh = Path(os.path.realpath(f"/proc/{root}/exe")).read_bytes()
    assert (tmp_path / "ev" / "exe" / f"{hashlib.sha256(sh).hexdigest()}.bin").read_bytes() == sh
    assert ev.verdicts == {r.pid: "ok" for r in refs}
    assert (tmp_path / "ev" / "processes" / str(root) / "cmdline.txt").read_text() == "sh\n-c\nsleep 60 & wait\n"


def _sections(parts: dict[str, bytes], nonce: str = "n1"):
    out = b"".join(
        b"\n@@n1 B " + k.encode() + b"\n" + v + b"\n@@n1 E " + k.encode() + b" 0\n" for k, v in parts.items()
    )
    return parse_sections(out + b"\n@@n1 B __done__\n\n@@n1 E __done__ 0\n", nonce)


def test_hostile_evidence_is_bounded_escaped_and_redacted(tmp_path):
    ref = ProcessRef(4242, 176500012346, 1, "bash", "shell")
    junk = bytes(range(256)) * 4
    huge = b"X=" + b"y" * 262142
    exe = b"\x7fELF" + os.urandom(1000)
    digest = hashlib.sha256(exe).hexdigest()
    parts = {
        "r.check": b"4242\tok\n9999\tok\n",
        "e.4242.stat": b"4242 (bash) S 1 " + junk,
        "e.4242.cmdline": b"bash\0-c\0mysql -h db --password x\0\xff\xfe\0",
        "e.4242.environ": b"AWS_SECRET_ACCESS_KEY=abc\0GH=ghp_" + b"a" * 36 + b"\0" + huge,
        "e.4242.fds": b"0\t/tmp/\n../../etc/passwd\n1\tsocket:[7]\n",
        "e.4242.exe": b"/tmp/../../x (deleted)\n",
        "e.4242.exe_sha256": digest.encode() + b"\n",
        "e.4242.exe_copy": base64.b64encode(exe),
        "e.9999.exe_copy": base64.b64encode(b"not ours"),
    }
    ev = write_evidence(
        tmp_path / "ev", _sections(parts), [ref], Redactor(), {"host": "h"}, limits={"environ_bytes": 262144}
    )
    d = tmp_path / "ev"
    assert sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file()) == sorted(
        [f.path for f in ev.files] + ["manifest.json"]
    )  # every file is in the manifest, and only names harden chose
    assert not (d / "processes" / "9999").exists()
    env = (d / "processes" / "4242" / "environ.txt").read_text()
    assert "AWS_SECRET_ACCESS_KEY=********" in env and "GH=********" in env
    notes = json.loads((d / "manifest.json").read_text())["notes"]
    assert any("environ cut at 262144 bytes" in n for n in notes)
    stat = (d / "processes" / "4242" / "stat.txt").read_text(encoding="utf-8")  # valid text, whatever came
    assert "\\x00" in stat and "\\x1b" in stat
    assert (d / "exe" / f"{digest}.bin").read_bytes() == exe and oct((d / "exe" / f"{digest}.bin").stat().st_mode)[
        -3:
    ] == "400"
    cmd = (d / "processes" / "4242" / "cmdline.txt").read_text().splitlines()
    assert cmd[:2] == ["bash", "-c"] and cmd[3] == "\\xff\\xfe"
    assert all(oct(p.stat().st_mode)[-3:] in ("600", "400", "700") for p in d.rglob("*"))


def test_redact_environ_by_name_form_and_host_password():
    raw = b"PWD=/srv\0OLDPWD=/\0API_KEY=k1\0SSH_AUTH_SOCK=/tmp/a\0MSG=pw is hunter42!\0URL=redis://:pw123@r:6379\0"
    text, n = redact_environ(raw, Redactor.of(["hunter42"]))
    assert text.splitlines() == [
        "PWD=/srv",
        "OLDPWD=/",
        "API_KEY=********",
        "SSH_AUTH_SOCK=/tmp/a",
        "MSG=pw is ********!",
        "URL=redis://********@r:6379",
    ]
    assert n == 3


# -- the command: refusals and the log ------------------------------------------------------------


def _cli(tmp_path, monkeypatch, fresh_incidents, *args):
    from hardening import respond_cli
    from hardening.respond import run

    inv = tmp_path / "inv.ini"
    inv.write_text("[x]\nweb1 ansible_connection=local ansible_become=false\n")
    inc = incident([member(812, 1, "netcat", severity=Tier.HIGH), member(813, 812, "shell")])
    write_json(tmp_path / "hunt.json", hunt_doc([inc], finished=datetime.now(UTC)))
    calls = []

    def fake_hunt(target, options, suppressions=()):
        calls.append(target.name)
        return HostHunt("web1", "x", Platform.LINUX, HostStatus.OK, incidents=tuple(fresh_incidents(inc)))

    monkeypatch.setattr(run, "hunt_host", fake_hunt)
    monkeypatch.setattr(run, "collect_evidence", lambda *a: pytest.fail("evidence taken after a refusal"))
    r = CliRunner().invoke(respond_cli.respond_cmd, [str(inv), "web1", "--out", str(tmp_path), *args])
    log = tmp_path / "respond" / "actions.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return r, entries, calls


def test_cli_refuses_without_confirmation(tmp_path, monkeypatch):
    r, log, calls = _cli(tmp_path, monkeypatch, lambda i: [i], "--incident", "i-0000abcd", "--action", "kill")
    assert r.exit_code == 2 and "no terminal" in r.output
    assert calls == ["web1"] and log[-1]["result"].startswith("refused: not confirmed")
    assert log[-1]["action"] == "kill" and log[-1]["host"] == "web1" and log[-1]["local_user"]


def test_cli_refuses_an_incident_that_is_not_live(tmp_path, monkeypatch):
    r, log, _ = _cli(tmp_path, monkeypatch, lambda i: [], "--incident", "i-0000abcd", "--action", "suspend", "--yes")
    assert r.exit_code == 2 and "not live any more" in r.output and "Nothing done" in r.output
    assert "not live any more" in log[-1]["result"]


def test_cli_refuses_bad_options_before_any_host_contact(tmp_path, monkeypatch):
    r, _, calls = _cli(tmp_path, monkeypatch, lambda i: [i], "--incident", "i-0000abcd")
    assert r.exit_code == 2 and "--action" in r.output and calls == []
    r, _, calls = _cli(tmp_path, monkeypatch, lambda i: [i], "--undo-isolate", "i-0000abcd", "--action", "kill")
    assert r.exit_code == 2 and calls == []
    r, _, calls = _cli(
        tmp_path, monkeypatch, lambda i: [i], "--incident", "i-0000abcd", "--action", "kill", "--connections-only"
    )
    assert r.exit_code == 2 and calls == []


def test_stale_hunt_is_refused_before_any_host_contact(tmp_path, monkeypatch):
    from hardening import respond_cli
    from hardening.respond import run

    inv = tmp_path / "inv.ini"
    inv.write_text("[x]\nweb1 ansible_connection=local ansible_become=false\n")
    inc = incident([member(812, 1, "netcat", severity=Tier.HIGH)])
    write_json(tmp_path / "hunt.json", hunt_doc([inc], finished=datetime.now(UTC) - timedelta(minutes=20)))
    monkeypatch.setattr(run, "hunt_host", lambda *a: pytest.fail("host contacted"))
    r = CliRunner().invoke(
        respond_cli.respond_cmd,
        [str(inv), "web1", "--out", str(tmp_path), "--incident", "i-0000abcd", "--action", "kill", "--yes"],
    )
    assert r.exit_code == 2 and "20 min ago" in r.output


def test_windows_hosts_are_refused(tmp_path):
    from hardening.inventory import load_inventory
    from hardening.respond.run import RespondOptions, verify_live

    inv = tmp_path / "inv.ini"
    inv.write_text("[w]\nwin1 ansible_connection=winrm ansible_host=127.0.0.1 ansible_user=u ansible_password=p\n")
    (target,) = load_inventory(inv)
    with pytest.raises(RespondError, match="does not act on Windows hosts"):
        verify_live(target, "i-0000abcd", RespondOptions())


def test_respond_is_listed(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hardening.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert "respond" in r.stdout


def test_the_host_scripts_ship_with_the_package():
    import tomllib

    root = Path(__file__).parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert data["hardening.respond"] == ["*.sh"]
    assert {p.name for p in (root / "hardening" / "respond").glob("*.sh")} == {
        "common.sh",
        "evidence.sh",
        "act.sh",
        "undo.sh",
    }
