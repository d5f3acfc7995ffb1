"""Inventories and settings as ordinary Ansible setups have them, read the way ansible-core reads them.

Each test runs the installed ``harden hosts`` in a directory of its own (ansible.cfg is found
there, as Ansible finds it) and compares with what ``ansible-inventory`` says of the same files.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "HOME": str(tmp_path / "home"), **extra}


def hosts(tmp_path: Path, inventory: str, *args: str, **env: str) -> list[dict]:
    r = subprocess.run(
        [str(BIN / "harden"), "hosts", inventory, "--json", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def ansible_inventory(tmp_path: Path, *sources: str) -> dict:
    argv = [str(BIN / "ansible-inventory"), *(a for s in sources for a in ("-i", s)), "--list"]
    r = subprocess.run(argv, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_generator_plugin_inventory_is_read_like_ansible_inventory(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "gen.yml").write_text(
        "plugin: ansible.builtin.generator\nhosts:\n  name: '{{ app }}-{{ env }}'\n"
        "layers:\n  app: [web, api]\n  env: [dev, prod]\n"
    )
    ours = {h["name"] for h in hosts(tmp_path, "gen.yml")}
    listed = ansible_inventory(tmp_path, "gen.yml")
    theirs = {h for name, group in listed.items() if name != "_meta" for h in group.get("hosts", [])}
    assert ours == theirs == {"web-dev", "web-prod", "api-dev", "api-prod"}


def test_constructed_groups_in_an_inventory_directory_and_limit(tmp_path):
    (tmp_path / "home").mkdir()
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "01-hosts.ini").write_text("[app]\nweb1 role=web\ndb1 role=db\ndb2 role=db\n")
    (inv / "02-constructed.yml").write_text(
        "plugin: ansible.builtin.constructed\nstrict: true\ngroups:\n  databases: role == 'db'\n"
    )
    assert {h["name"] for h in hosts(tmp_path, "inventory", "--limit", "databases")} == {"db1", "db2"}
    assert set(ansible_inventory(tmp_path, "inventory")["databases"]["hosts"]) == {"db1", "db2"}


def test_ansible_cfg_settings_apply_unless_the_host_sets_its_own(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nremote_user = deploy\nprivate_key_file = /keys/fleet\nhost_key_checking = False\n"
        "[privilege_escalation]\nbecome = True\nbecome_user = admin\n"
        "[ssh_connection]\nssh_common_args = -o ProxyJump=jump@192.0.2.9:2222\n"
    )
    (tmp_path / "inv.ini").write_text(
        "plain ansible_host=192.0.2.10\n"
        "own ansible_host=192.0.2.11 ansible_user=other ansible_host_key_checking=true ansible_become=false "
        "ansible_ssh_common_args='-o ProxyJump=none'\n"
    )
    by = {h["name"]: h for h in hosts(tmp_path, "inv.ini")}
    plain, own = by["plain"], by["own"]
    assert (plain["user"], plain["key_file"], plain["host_key_checking"]) == ("deploy", "/keys/fleet", False)
    assert (plain["become"], plain["become_user"]) == (True, "admin")
    assert plain["route"]["jumps"] == ["jump@192.0.2.9:2222"]
    assert (own["user"], own["host_key_checking"], own["become"]) == ("other", True, False)
    assert own["route"]["jumps"] == [] and own["key_file"] == "/keys/fleet"


def test_ansible_config_env_and_the_environment_win_over_the_working_directory(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "ansible.cfg").write_text("[defaults]\nremote_user = fromcwd\n")
    (tmp_path / "other.cfg").write_text("[defaults]\nremote_user = fromenvfile\nhost_key_checking = False\n")
    (tmp_path / "inv.ini").write_text("h ansible_host=192.0.2.10\n")
    (h,) = hosts(tmp_path, "inv.ini", ANSIBLE_CONFIG=str(tmp_path / "other.cfg"))
    assert h["user"] == "fromenvfile" and h["host_key_checking"] is False
    (h,) = hosts(tmp_path, "inv.ini", ANSIBLE_REMOTE_USER="fromvar", ANSIBLE_HOST_KEY_CHECKING="true")
    assert h["user"] == "fromvar" and h["host_key_checking"] is True


def test_the_users_ssh_config_decides_where_ssh_goes(tmp_path):
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "config").write_text("Host web1\n  HostName 192.0.2.50\n  Port 2200\n  ProxyJump gw\nHost gw\n  User hop\n")
    (tmp_path / "inv.ini").write_text("web1\nweb2 ansible_ssh_common_args='-F /nonexistent/config'\n")
    by = {h["name"]: h for h in hosts(tmp_path, "inv.ini")}
    assert by["web1"]["route"]["summary"] == "192.0.2.50:2200 via hop@gw:22"
    assert "does not exist" in by["web2"]["route"]["refused"]  # refused, never a direct connection instead
