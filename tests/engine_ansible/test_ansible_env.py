"""ansible-runner gets the user's Ansible configuration, never a replacement for it."""

import os
import sys
from pathlib import Path

from hardening.ansible_env import runner_env, user_config


def test_the_working_directorys_ansible_cfg_is_passed_on(tmp_path, monkeypatch):
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\nremote_user = deploy\n")
    tmp_path.chmod(0o755)
    env = runner_env(cwd=tmp_path)
    assert env["ANSIBLE_CONFIG"] == str((tmp_path / "ansible.cfg").resolve())
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "False"  # what the user configured, not forced on


def test_ansible_config_from_the_environment_wins_and_host_key_checking_defaults_on(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere.cfg"
    other.write_text("[defaults]\nremote_user = x\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(other))
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = runner_env(cwd=tmp_path)
    assert env["ANSIBLE_CONFIG"] == str(other.resolve()) and env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "false")
    assert runner_env(cwd=tmp_path)["ANSIBLE_HOST_KEY_CHECKING"] == "false"


def test_a_world_writable_directorys_ansible_cfg_is_ignored_as_ansible_does(tmp_path, monkeypatch):
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    shared.chmod(0o777)
    assert user_config(shared, env={}) is None
    shared.chmod(0o755)
    assert user_config(shared, env={}) == (shared / "ansible.cfg").resolve()


def test_extra_settings_are_added_and_path_starts_with_this_venv(tmp_path, monkeypatch):
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    env = runner_env({"ANSIBLE_ROLES_PATH": "/x/roles"}, cwd=tmp_path)
    assert env["ANSIBLE_ROLES_PATH"] == "/x/roles"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
