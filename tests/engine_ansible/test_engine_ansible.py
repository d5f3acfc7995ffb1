"""``--engine ansible``, the AWX playbook and ``harden judge`` over gathered collector output.

Unit tests read the real lab collector outputs (tests/golden/lab/*.out, ``harden collect``
format); the lab tests run both engines on the lab hosts and demand identical verdicts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardening.engine_ansible import (
    failure_status,
    judge_gathered,
    read_gathered,
    result_from_event,
    script_body,
    untty,
)
from hardening.facts.collector import build_linux_script
from hardening.inventory import load_inventory
from hardening.model import HostStatus

G = Path(__file__).parents[1] / "golden" / "lab"
EXPECTED = {k: v for k, v in json.loads((G / "expected.json").read_text()).items() if not k.startswith("_")}
PLAYBOOKS = Path(__file__).parents[2] / "playbooks"
HARDEN = str(Path(sys.executable).parent / "harden")


def test_collector_script_command_prints_the_built_in_collector():
    """`harden collector-script --body` is what an AWX project keeps as files/harden_collector.sh."""
    out = subprocess.run([HARDEN, "collector-script", "--body"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == script_body()
    assert "#!/bin/sh\nHN=n0nce\n" + out.stdout == build_linux_script("n0nce")


def test_untty_reverses_only_a_full_translation():
    assert untty("a\r\nb\r\n") == "a\nb\n"
    assert untty("a\r\r\nb\r\n") == "a\r\nb\n"  # a \r the host printed survives
    assert untty("a\nb\r\n") == "a\nb\r\n"  # not a tty: left alone
    assert untty("") == ""


@pytest.mark.parametrize(
    ("msg", "unreachable", "status"),
    [
        ("Failed to connect to the host via ssh: h@127.0.0.1: Permission denied (publickey).", True, "auth_failed"),
        ("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", True,
         "unreachable"),
        ("Failed to connect to the host via ssh: Connection timed out during banner exchange", True, "timeout"),
        ("Missing sudo password", False, "auth_failed"),
        ("Incorrect sudo password", False, "auth_failed"),
        ("The module failed to execute correctly", False, "error"),
    ],
)  # fmt: skip
def test_failure_status(msg, unreachable, status):
    assert failure_status(msg, unreachable).value == status


def _inventory(tmp_path: Path, hosts) -> Path:
    inv = tmp_path / "inv.ini"
    lines = ["[lab]", *(f"{h} ansible_host=127.0.0.1" for h in hosts), "", "[lab:vars]"]
    lines.append("harden_egress_allow=198.18.0.0/24")
    inv.write_text("\n".join(lines) + "\n")
    return inv


def _verdicts(results):
    return {r.name: {c.id: c.status.value for c in r.checks} for r in results}


def test_judge_gathered_gives_the_lab_verdicts(tmp_path):
    gathered = tmp_path / "gathered"
    gathered.mkdir()
    for host in EXPECTED:
        shutil.copy(G / f"{host}.out", gathered / f"{host}.out")
    targets = load_inventory(_inventory(tmp_path, EXPECTED))
    results = list(judge_gathered(gathered, targets))
    assert all(r.status is HostStatus.OK for r in results)
    assert _verdicts(results) == EXPECTED


def test_judge_gathered_undoes_a_tty(tmp_path):
    """Ansible's become runs under ``ssh -tt``: every newline comes back as CRLF."""
    gathered = tmp_path / "g"
    gathered.mkdir()
    head, _, body = (G / "hardened.out").read_text().partition("\n")
    (gathered / "hardened.out").write_text(head + " rc=0\n" + body.replace("\n", "\r\n"), newline="")
    g = read_gathered(gathered / "hardened.out")
    assert g.rc == 0 and g.host == "hardened"
    results = list(judge_gathered(gathered, load_inventory(_inventory(tmp_path, ["hardened"]))))
    assert _verdicts(results) == {"hardened": EXPECTED["hardened"]}


def test_judge_gathered_failures_are_host_statuses(tmp_path):
    gathered = tmp_path / "g"
    gathered.mkdir()
    (gathered / "down.out").write_text(
        "# harden collector failed host=down status=unreachable\nFailed to connect to the host via ssh\n"
    )
    shutil.copy(G / "default.out", gathered / "wrong.out")  # says host=default
    (gathered / "junk.out").write_text("hello\n")
    cut = (G / "ufw.out").read_text()
    (gathered / "cut.out").write_text(cut.replace("host=ufw", "host=cut")[: len(cut) // 2])
    names = ["down", "wrong", "junk", "missing", "cut"]
    results = {r.name: r for r in judge_gathered(gathered, load_inventory(_inventory(tmp_path, names)))}
    assert results["down"].status is HostStatus.UNREACHABLE
    assert results["wrong"].status is HostStatus.ERROR and "'default'" in results["wrong"].message
    assert results["junk"].status is HostStatus.ERROR and "not a harden collector output" in results["junk"].message
    assert results["missing"].status is HostStatus.ERROR and "no gathered output" in results["missing"].message
    assert results["cut"].status is HostStatus.ERROR and "incomplete" in results["cut"].message
    for r in results.values():  # a host not fully audited never passes
        assert all(c.status.value != "pass" for c in r.checks)


def test_result_from_event_maps_ansible_failures(tmp_path):
    from hardening.engine_ansible import _host_run

    target = load_inventory(_inventory(tmp_path, ["h"]))[0]
    unreachable = result_from_event(
        _host_run(target), "runner_on_unreachable", {"unreachable": True, "msg": "Permission denied (publickey)"}, "n"
    )
    assert unreachable.status is HostStatus.AUTH_FAILED
    no_sudo = result_from_event(_host_run(target), "runner_on_ok", {"msg": "Missing sudo password"}, "n")
    assert no_sudo.status is HostStatus.AUTH_FAILED
    text = (G / "half.out").read_text()
    nonce = text.split("nonce=")[1].split()[0]
    ok = result_from_event(_host_run(target), "runner_on_ok", {"stdout": text.partition("\n")[2], "rc": 0}, nonce)
    assert ok.status is HostStatus.OK
    assert {c.id: c.status.value for c in ok.checks} == EXPECTED["half"]


def _statuses(doc) -> set[tuple[str, str, str]]:
    return {(h["name"], c["id"], c["status"]) for h in doc["hosts"] for c in h["checks"]}


@pytest.mark.lab
def test_engines_agree_on_the_lab(lab, tmp_path):
    """Parity: the native SSH engine and --engine ansible give identical (host, check, status) sets."""
    docs = {}
    for engine in ("native", "ansible"):
        out = tmp_path / engine
        r = subprocess.run(
            [HARDEN, "audit", str(lab.inventory), "--engine", engine, "--out", str(out), "--forks", "4"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 1, r.stderr[-2000:]  # failing checks, every host fully audited
        docs[engine] = json.loads((out / "results.json").read_text())
        assert {h["status"] for h in docs[engine]["hosts"]} == {"ok"}
    assert _statuses(docs["native"]) == _statuses(docs["ansible"])
    assert {(h, c): s for h, c, s in _statuses(docs["ansible"])} == {
        (h, c): s for h, checks in EXPECTED.items() for c, s in checks.items()
    }
    # ansible-runner kept its directory as evidence; no password from the inventory is in it.
    artifacts = tmp_path / "ansible" / "ansible"
    assert (artifacts / "artifacts" / "collect" / "rc").is_file()
    secrets = [w.split("=", 1)[1] for w in lab.inventory.read_text().split() if w.startswith("ansible_password=")]
    kept = [p for p in (tmp_path / "ansible").rglob("*") if p.is_file()]
    for secret in secrets:
        assert not any(secret.encode() in p.read_bytes() for p in kept)


@pytest.mark.lab
def test_awx_playbook_then_harden_judge(lab, tmp_path):
    """The AWX way: the playbook saves <host>.out files, `harden judge` turns them into results."""
    gathered = tmp_path / "gathered"
    gathered.mkdir()
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path)}
    body = tmp_path / "harden_collector.sh"  # as docs/awx.md says: generated by the installed harden
    body.write_text(
        subprocess.run(
            [HARDEN, "collector-script", "--body"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    )
    r = subprocess.run(
        [str(bindir / "ansible-playbook"), "-i", str(lab.inventory), str(PLAYBOOKS / "harden_collect.yml"),
         "-e", f"harden_gather_dir={gathered}", "-e", f"harden_collector_body={body}", "-f", "4"],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:]
    assert sorted(p.name for p in gathered.iterdir()) == sorted(f"{h}.out" for h in EXPECTED)
    out = tmp_path / "out"
    j = subprocess.run(
        [HARDEN, "judge", str(gathered), "--inventory", str(lab.inventory), "--out", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert j.returncode == 1, j.stderr[-2000:]
    doc = json.loads((out / "results.json").read_text())
    assert {(h, c): s for h, c, s in _statuses(doc)} == {
        (h, c): s for h, checks in EXPECTED.items() for c, s in checks.items()
    }


def test_collect_playbook_passes_ansible_lint_production():
    lint = Path(sys.executable).parent / "ansible-lint"
    env = {"PATH": f"{lint.parent}:/usr/bin:/bin", "HOME": str(Path.home()), "ANSIBLE_NOCOLOR": "1"}
    r = subprocess.run(
        [str(lint), "--profile", "production", "--nocolor", "harden_collect.yml"],
        cwd=PLAYBOOKS, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]


def test_gathered_output_carries_the_collectors_version_and_a_mismatch_is_said(tmp_path):
    from hardening.engine_ansible import read_gathered

    (tmp_path / "web1.out").write_text("# harden collector output host=web1 nonce=abc123 rc=0 version=0.0.9\nbody\n")
    g = read_gathered(tmp_path / "web1.out")
    assert (g.host, g.nonce, g.rc, g.version) == ("web1", "abc123", 0, "0.0.9")
    (tmp_path / "old.out").write_text("# harden collector output host=old nonce=abc123 rc=0\nbody\n")
    assert read_gathered(tmp_path / "old.out").version == ""  # files from before the stamp still read


def test_collect_playbook_changes_nothing_and_stamps_the_version():
    import yaml

    text = (Path(__file__).parents[2] / "playbooks" / "harden_collect.yml").read_text()
    top = [task for play in yaml.safe_load(text) for task in play["tasks"]]
    tasks = [t for task in top for t in (task.get("block", []) + task.get("rescue", []) if "block" in task else [task])]
    assert len(tasks) > len(top)  # the collector's block was looked into
    changing = [t["name"] for t in tasks if "ansible.builtin.set_fact" not in t and t.get("changed_when") is not False]
    assert changing == []
    assert "version=' ~ (harden_collector_version" in text


def _collect(inventory: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The real playbook with local connections; ``tmp`` is the controller's temporary directory."""
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp.parent), "ANSIBLE_NOCOLOR": "1", "TMPDIR": str(tmp)}
    return subprocess.run(
        [str(bindir / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOKS / "harden_collect.yml"), *extra],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


def test_collect_playbook_saves_a_failure_raised_before_the_script_and_removes_its_scratch_script(tmp_path):
    """The task's timeout (like a sudo password Ansible lacks) fails the task outside what
    failed_when can turn into a result. With every host failing that way Ansible used to end the
    run there: no failure record, and the scratch script left in the controller's /tmp."""
    body, tmp, gathered = tmp_path / "body.sh", tmp_path / "tmp", tmp_path / "gathered"
    tmp.mkdir()
    gathered.mkdir()
    body.write_text("sleep 20\n")  # a collector that hangs on the host
    inventory = tmp_path / "inv.ini"
    inventory.write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    r = _collect(inventory, tmp, "-e", f"harden_gather_dir={gathered}", "-e", f"harden_collector_body={body}",
                 "-e", "harden_timeout=1")  # fmt: skip
    assert "Remove the temporary script" in r.stdout, r.stdout[-2000:]
    assert list(tmp.iterdir()) == []
    assert r.returncode != 0 and "not audited: h1" in r.stdout  # the run still fails, as Ansible's own did
    (result,) = judge_gathered(gathered, load_inventory(inventory))
    assert result.status is HostStatus.TIMEOUT and "Timed out" in result.message, result.message
    assert result.checks and all(c.status.value != "pass" for c in result.checks)


def test_collect_playbook_runs_only_the_controllers_script_and_keeps_one_line_of_a_failure(tmp_path):
    """A host's own variables cannot choose the script it runs (harden_collector_script is read on
    the controller), and a failure record keeps Ansible's first line, not what the host printed
    after it (a sudo that echoes what it was given)."""
    tmp, gathered = tmp_path / "tmp", tmp_path / "gathered"
    tmp.mkdir()
    gathered.mkdir()
    body = tmp_path / "body.sh"
    body.write_text("echo collected\n")
    evil, marker = tmp_path / "evil.sh", tmp_path / "EVIL_RAN"
    evil.write_text(f"touch {marker}\n")
    sudo = tmp_path / "sudo"
    sudo.write_text("#!/bin/sh\necho 'first line'; echo ECHOED-SECRET; exit 1\n")
    sudo.chmod(0o755)
    py = f"ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory = tmp_path / "inv.ini"
    inventory.write_text(
        f"steered {py} harden_collector_script={evil}\n"
        f"echoer {py} ansible_become=true ansible_become_user=nobody ansible_become_exe={sudo}\n"
    )
    r = _collect(inventory, tmp, "-e", f"harden_gather_dir={gathered}", "-e", f"harden_collector_body={body}")
    assert not marker.exists(), r.stdout[-2000:]
    assert "collected" in (gathered / "steered.out").read_text()
    echoed = (gathered / "echoer.out").read_text()
    assert echoed.startswith("# harden collector failed host=echoer status=error\n") and "ECHOED" not in echoed
    assert "ECHOED" not in r.stdout.split("TASK [Why the collector failed here]")[-1]
    assert r.returncode != 0 and "not audited: echoer" in r.stdout and list(tmp.iterdir()) == []


@pytest.mark.parametrize("hangs", [False, True])
def test_engine_ansible_writes_its_script_in_its_own_directory_not_in_tmp(tmp_path, hangs):
    """Nothing in the controller's temporary directory, also when every host's task times out
    (here: a sudo that never answers), which used to end the playbook before its clean-up. The
    output directory has a space and a quote in its name: the script's path is one word."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    inventory = tmp_path / "inv.ini"
    line = f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}"
    if hangs:
        sudo = tmp_path / "sudo"
        sudo.write_text("#!/bin/sh\nexec sleep 20\n")
        sudo.chmod(0o755)
        line += f" ansible_become=true ansible_become_user=nobody ansible_become_exe={sudo}"  # root to root skips it
    inventory.write_text(line + "\n")
    env = {"PATH": f"{Path(HARDEN).parent}:/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp)}
    out = tmp_path / "it's out" / "out"
    r = subprocess.run(
        [HARDEN, "audit", str(inventory), "--engine", "ansible", "--out", str(out), "--format", "json",
         "--timeout", "2" if hangs else "120"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert r.returncode in ((3,) if hangs else (0, 1)), r.stderr[-2000:]  # 3: a host not audited
    (host,) = json.loads((out / "results.json").read_text())["hosts"]
    assert host["status"] == ("timeout" if hangs else "ok"), host["message"]
    assert [p.name for p in tmp.rglob("*")] == []


def test_a_file_name_that_is_not_utf8_does_not_end_the_run(tmp_path):
    """A user's ``/tmp/$'\\xff'/nc`` comes back from Ansible as a lone surrogate (``\\udcff``):
    judged as the native engine judges the byte (U+FFFD), so results.json and the playbooks'
    host_vars can hold it. It used to end the whole run (UnicodeEncodeError)."""
    from ansible.parsing.yaml.loader import AnsibleLoader

    from hardening.engine_ansible import _host_run
    from hardening.remediate import plan_hosts, write_playbooks
    from hardening.results import host_text

    target = load_inventory(_inventory(tmp_path, ["h"]))[0]
    text = (G / "default.out").read_bytes().decode("utf-8", "surrogateescape")
    nonce = text.split("nonce=")[1].split()[0]
    stdout = text.partition("\n")[2].replace("/usr/bin/nc.openbsd", "/tmp/\udcff/nc.openbsd")
    res = {"stdout": stdout, "rc": 0, "stderr": "warn \udcfe", "msg": "\udcff"}
    result = result_from_event(_host_run(target), "runner_on_ok", res, nonce)
    assert result.status is HostStatus.OK
    line = host_text(result).encode("utf-8")  # what results.json and hosts.jsonl hold
    assert "/tmp/\ufffd/nc.openbsd".encode() in line and b"\\udc" not in line
    doc = {"hosts": [json.loads(line)]}
    host_vars = write_playbooks(plan_hosts(doc["hosts"]), tmp_path) / "host_vars"
    (f,) = host_vars.iterdir()
    loaded = AnsibleLoader(f.read_text(encoding="utf-8")).get_single_data()  # as ansible-inventory reads it
    assert "/tmp/\ufffd/nc.openbsd" in str(loaded)
    # the same path as an edited results.json may spell it ("\udcff"): no role is planned with it
    edited = json.loads(line.decode().replace("/tmp/\ufffd/", "/tmp/\\udcff/"))
    (plan,) = plan_hosts([edited]).hosts
    assert "harden_netcat" not in plan.roles and any("not UTF-8" in n for n in plan.notes), plan.notes
    write_playbooks(plan_hosts([edited]), tmp_path / "edited")
