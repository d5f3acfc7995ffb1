"""What ansible-runner keeps on disk: never the environment harden runs in.

ansible-runner 2.x writes ``artifacts/<ident>/command`` with the command line, its cwd and the
WHOLE environment ansible-playbook got (ansible_runner/runner.py, ``Runner.run``), and, unless
told not to, ``env/envvars``, ``env/extravars`` and ``env/cmdline`` (utils.dump_artifacts). harden
suppresses the env/ files and rewrites ``command`` before ansible-playbook starts: only the
variables harden set keep their values; the inherited ones are named, not recorded.

Real ansible-runner and ansible-playbook, one local-connection play on this machine (a debug task).
"""

import json
import secrets
from pathlib import Path

import pytest

from hardening.ansible_env import ENV_NOTE, keep_own_env
from hardening.apply import RunnerJob, run_playbook
from hardening.verbose import set_verbosity


@pytest.fixture
def project(tmp_path):
    proj = tmp_path / "playbooks"
    proj.mkdir()
    (proj / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Say something\n      ansible.builtin.debug:\n        msg: 'hello {{ greeting }}'\n"
    )
    inv = tmp_path / "hosts.ini"
    inv.write_text("here ansible_connection=local ansible_python_interpreter=auto_silent\n")
    return proj, inv


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_the_environment_never_reaches_the_artifacts(project, tmp_path, monkeypatch, capsys):
    proj, inv = project
    secret = "s3cr3t-" + secrets.token_hex(8)
    monkeypatch.setenv("HARDEN_TEST_CLOUD_SECRET", secret)  # as an inventory plugin's credentials would be
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret + "-aws")
    private = tmp_path / "apply" / "run1"
    set_verbosity(0)
    run = run_playbook(RunnerJob(private, proj, inv, ident="apply", extravars={"greeting": "world"}))
    assert run.rc == 0 and run.ok_hosts == ("here",), run.failures

    # ansible-playbook did get the environment (it needs SSH_AUTH_SOCK, proxies, cloud credentials) ...
    files = _files(private)
    assert files and not (private / "env").exists()  # no env/envvars, env/extravars, env/cmdline
    # ... and no file harden keeps holds it
    for f in files:
        data = f.read_bytes()
        assert secret.encode() not in data, f
    record = json.loads((private / "artifacts" / "apply" / "command").read_text())
    assert record["harden_note"] == ENV_NOTE
    assert {"HARDEN_TEST_CLOUD_SECRET", "AWS_SECRET_ACCESS_KEY", "HOME"} <= set(record["env_inherited"])
    assert record["env"]["ANSIBLE_HOST_KEY_CHECKING"] in ("True", "False", "true", "false")
    assert "HARDEN_TEST_CLOUD_SECRET" not in record["env"] and "HOME" not in record["env"]
    assert any("greeting" in a for a in record["command"])  # -e is on the command line, as documented
    assert capsys.readouterr().err == ""  # quiet without -v


def test_v_streams_ansibles_output_to_stderr_with_its_verbosity(project, tmp_path, capsys):
    proj, inv = project
    set_verbosity(3)
    try:
        run = run_playbook(RunnerJob(tmp_path / "p", proj, inv, ident="check", extravars={"greeting": "you"}))
    finally:
        set_verbosity(0)
    assert run.rc == 0
    out = capsys.readouterr()
    assert "hello you" in out.err and "TASK [Say something]" in out.err
    assert out.out == ""  # Ansible's output is progress: stderr
    record = json.loads((tmp_path / "p" / "artifacts" / "check" / "command").read_text())
    assert "-vvv" in record["command"]  # ansible-playbook ran with the same verbosity


def test_keep_own_env_rewrites_only_a_command_record(tmp_path):
    cmd = tmp_path / "command"
    cmd.write_text(json.dumps({"command": ["ansible-playbook"], "cwd": "/x", "env": {"A": "1", "B": "secret"}}))
    assert keep_own_env(cmd, {"A": "1"})
    data = json.loads(cmd.read_text())
    assert data["env"] == {"A": "1"} and data["env_inherited"] == ["B"] and cmd.stat().st_mode & 0o777 == 0o600
    assert keep_own_env(cmd, {"A": "1"})  # once more (after the run): the names stay
    assert json.loads(cmd.read_text())["env_inherited"] == ["B"]
    assert not keep_own_env(tmp_path / "missing", {})
    (tmp_path / "junk").write_text("not json")
    assert not keep_own_env(tmp_path / "junk", {})
