"""Ansible's flags mean what they mean to ansible: -i, -u, --private-key, -e, --vault-id, -J, -K."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardening.ansible_args import ArgsError, move_inventory_flag, parse_extra_vars

BIN = Path(sys.executable).parent


def _hosts(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return subprocess.run(
        [str(BIN / "harden"), "hosts", "--json", *args],
        cwd=tmp_path,
        env={**env, "HOME": str(tmp_path)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dash_i_is_the_inventory_and_a_second_source_is_refused_with_the_way_out():
    assert move_inventory_flag(["audit", "--limit", "web", "-i", "inv.ini", "-f", "5"]) == [
        "audit", "inv.ini", "--limit", "web", "-f", "5",
    ]  # fmt: skip
    assert move_inventory_flag(["hunt", "--inventory=inv.yml"]) == ["hunt", "inv.yml"]
    assert move_inventory_flag(["collect", "-iinv.ini", "web1"]) == ["collect", "inv.ini", "web1"]
    with pytest.raises(ArgsError, match="one directory"):
        move_inventory_flag(["audit", "-i", "a.ini", "-i", "b.yml"])


def test_extra_vars_forms_merge_left_to_right(tmp_path):
    (tmp_path / "policy.yml").write_text("harden_egress_allow: [198.51.100.0/24]\nx: 1\n")
    got = parse_extra_vars(["x=0 y=a", f"@{tmp_path / 'policy.yml'}", '{"y": "b"}'])
    assert got == {"x": 1, "y": "b", "harden_egress_allow": ["198.51.100.0/24"]}
    for bad in ("novalue", "@/nonexistent/file.yml", "[1, 2]"):
        with pytest.raises(ArgsError):
            parse_extra_vars([bad])


def test_user_and_key_flags_sit_below_the_inventorys_own_values_and_extra_vars_win_over_it(tmp_path):
    key = tmp_path / "id_test"
    key.write_text("not a real key\n")
    (tmp_path / "inv.ini").write_text(
        "plain ansible_host=192.0.2.10\nown ansible_host=192.0.2.11 ansible_user=own ansible_ssh_private_key_file=/k\n"
        "[all:vars]\nharden_egress_allow=192.0.2.0/24\n"
    )
    r = _hosts(tmp_path, "-i", "inv.ini", "-u", "cli", "--private-key", str(key), "-e", "ansible_port=2222")
    assert r.returncode == 0, r.stderr
    by = {h["name"]: h for h in json.loads(r.stdout)}
    assert (by["plain"]["user"], by["plain"]["key_file"]) == ("cli", str(key.resolve()))
    assert (by["own"]["user"], by["own"]["key_file"]) == ("own", "/k")
    assert by["plain"]["port"] == by["own"]["port"] == 2222  # -e beats everything, as in Ansible


def test_vault_id_file_and_ask_vault_pass_unlock_vaulted_inventory_values(tmp_path):
    (tmp_path / "pw").write_text("s3cret-vault\n")
    vault = subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt_string", "--vault-password-file", str(tmp_path / "pw"),
         "deploy", "--name", "ansible_user"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert vault.returncode == 0, vault.stderr
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "web1.yml").write_text(vault.stdout)
    (tmp_path / "inv.ini").write_text("web1 ansible_host=192.0.2.10\n")
    assert _hosts(tmp_path, "inv.ini").returncode == 2  # vaulted and no secret: refused, with the way out
    r = _hosts(tmp_path, "inv.ini", "--vault-id", f"default@{tmp_path / 'pw'}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["user"] == "deploy"
    # label@prompt is asked for once, by the CLI (here on stdin)
    r = _hosts(tmp_path, "inv.ini", "--vault-id", "default@prompt", stdin="s3cret-vault\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["user"] == "deploy"
