"""Inventories are read by ansible-core: INI, YAML, group_vars/host_vars, limits, errors."""

import textwrap
from pathlib import Path

import pytest

from hardening.inventory import Connection, InventoryError, load_inventory


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_ini_with_groups_children_and_vars_dirs(tmp_path):
    inv = write(
        tmp_path / "inv.ini",
        """
        [web]
        w1 ansible_host=10.0.0.1 ansible_port=2222
        w2 ansible_host="{{ 'w2' + '.example' }}"
        [db]
        d1 ansible_connection=local
        [servers:children]
        web
        db
        [win]
        win1 ansible_connection=winrm
        """,
    )
    write(tmp_path / "group_vars" / "web.yml", "ansible_user: deploy\nharden_egress_allow: [198.18.0.0/24]\n")
    write(tmp_path / "host_vars" / "w1.yml", "ansible_become: true\nansible_become_password: s3cret\n")
    targets = {t.name: t for t in load_inventory(inv, env={})}
    assert set(targets) == {"w1", "w2", "d1", "win1"}
    w1 = targets["w1"]
    assert (w1.host, w1.port, w1.user, w1.become) == ("10.0.0.1", 2222, "deploy", True)
    assert w1.become_password == "s3cret" and "s3cret" not in repr(w1)
    assert str(w1.policy.egress_allow[0].net) == "198.18.0.0/24"
    assert targets["w2"].host == "w2.example"
    assert targets["d1"].connection is Connection.LOCAL
    assert targets["win1"].connection is Connection.WINRM


def test_yaml_inventory_and_limit(tmp_path):
    inv = write(
        tmp_path / "inv.yml",
        """
        all:
          children:
            web:
              hosts:
                a: {ansible_host: 127.0.0.1, ansible_ssh_private_key_file: ~/k}
                b: {}
            db:
              hosts:
                c: {ansible_ssh_common_args: "-o UserKnownHostsFile=/tmp/kh -o Foo=bar"}
        """,
    )
    assert [t.name for t in load_inventory(inv, limit="web", env={})] == ["a", "b"]
    (a,) = load_inventory(inv, limit="a", env={})
    assert a.key_file == str(Path("~/k").expanduser())
    (c,) = load_inventory(inv, limit="c", env={})
    assert c.known_hosts == "/tmp/kh"


def test_host_key_checking_follows_ansible_env_and_vars(tmp_path):
    inv = write(tmp_path / "i.ini", "a\nb ansible_host_key_checking=false\nc ansible_host_key_checking=true\n")
    default = {t.name: t.host_key_checking for t in load_inventory(inv, env={})}
    assert default == {"a": True, "b": False, "c": True}
    off = {t.name: t.host_key_checking for t in load_inventory(inv, env={"ANSIBLE_HOST_KEY_CHECKING": "False"})}
    assert off == {"a": False, "b": False, "c": True}


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[web\nw1 = =\n", "Failed to parse"),
        ("a ansible_port=notaport\n", "ansible_port"),
        ("a ansible_connection=docker\n", "ansible_connection"),
        ("a ansible_become=true ansible_become_method=su\n", "ansible_become_method"),
        ("a harden_egress_allow=not-a-cidr\n", "harden_egress_allow"),
    ],
)
def test_bad_inventories_name_file_and_problem(tmp_path, text, problem):
    inv = write(tmp_path / "bad.ini", text)
    with pytest.raises(InventoryError) as err:
        load_inventory(inv, env={})
    assert problem in str(err.value)
    assert "bad.ini" in str(err.value) or "host a" in str(err.value)


def test_missing_inventory_and_empty_limit(tmp_path):
    with pytest.raises(InventoryError, match="not found"):
        load_inventory(tmp_path / "nope.ini", env={})
    inv = write(tmp_path / "i.ini", "a\n")
    with pytest.raises(InventoryError, match="matches no host"):
        load_inventory(inv, limit="zzz", env={})


def test_vault_encrypted_values_decrypt_with_password_file(tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(b"correct horse")
    blob = VaultLib([("default", secret)]).encrypt("sudo-Pw-42", secret).decode()
    indented = "\n".join("    " + line for line in blob.splitlines())
    write(tmp_path / "group_vars" / "all.yml", f"ansible_become_password: !vault |\n{indented}\n")
    inv = write(tmp_path / "inv.ini", "a ansible_become=true\n")
    pw = tmp_path / "vault-pass"
    pw.write_text("correct horse\n")
    (a,) = load_inventory(inv, vault_password_file=pw, env={})
    assert a.become_password == "sudo-Pw-42"
    # Without the password (a fresh process: ansible keeps vault secrets process-wide)
    import subprocess
    import sys
    from pathlib import Path as P

    harden = str(P(sys.executable).parent / "harden")
    r = subprocess.run([harden, "audit", str(inv), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "--vault-password-file" in r.stderr and "host a" in r.stderr


def test_every_policy_variable_reaches_the_policy_from_group_vars(tmp_path):
    """The loader keeps only the variables harden reads: every one Policy.from_vars reads must be
    among them (harden_log_collectors and harden_required_sensors once were not: silently no policy)."""
    import inspect
    import re

    from hardening.policy import VARIABLES, Policy

    read = set(re.findall(r'"(harden_\w+)"', inspect.getsource(Policy.from_vars)))
    assert read == set(VARIABLES)
    inv = tmp_path / "inv.ini"
    inv.write_text(
        textwrap.dedent(
            """\
            [web]
            web1 ansible_host=127.0.0.1

            [web:vars]
            harden_egress_allow=198.51.100.0/24
            harden_dns_resolvers=192.0.2.53
            harden_allowed_binaries=/usr/bin/ncat
            harden_probe_addresses=203.0.113.9
            harden_required_sensors=auditd
            harden_log_collectors=198.18.0.1:6514
            """
        )
    )
    (t,) = load_inventory(inv)
    p = t.policy
    assert [str(d.net) for d in p.egress_allow] == ["198.51.100.0/24"]
    assert [str(a) for a in p.dns_resolvers] == ["192.0.2.53"] and p.allowed_binaries == ("/usr/bin/ncat",)
    assert [str(a) for a in p.probe_addresses] == ["203.0.113.9"] and p.required_sensors == ("auditd",)
    assert [c.label() for c in p.log_collectors] == ["198.18.0.1/32:6514"]


def test_hosts_share_equal_policies_and_strings_but_keep_their_own(tmp_path):
    """10,000 hosts of one group hold its policy and variables once; a host whose policy
    variables differ gets its own policy, and a bad value is still refused for that host."""
    inv = write(
        tmp_path / "inv.ini",
        """
        [web]
        w1 ansible_host=10.0.0.1
        w2 ansible_host=10.0.0.2
        w3 ansible_host=10.0.0.3 harden_egress_allow=192.0.2.0/24
        [web:vars]
        harden_egress_allow=198.18.0.0/24
        ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null'
        """,
    )
    t = {x.name: x for x in load_inventory(inv, env={})}
    assert t["w1"].policy is t["w2"].policy
    assert t["w3"].policy is not t["w1"].policy
    assert [str(d.net) for d in t["w3"].policy.egress_allow] == ["192.0.2.0/24"]
    assert [str(d.net) for d in t["w1"].policy.egress_allow] == ["198.18.0.0/24"]
    a, b = t["w1"].variables["ansible_ssh_common_args"], t["w2"].variables["ansible_ssh_common_args"]
    assert a == b == "-o UserKnownHostsFile=/dev/null" and a is b
    assert (t["w1"].host, t["w2"].host, t["w3"].host) == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    bad = write(
        tmp_path / "bad.ini",
        "[web]\nw1\nw2 harden_egress_allow=nonsense\n[web:vars]\nharden_egress_allow=198.18.0.0/24\n",
    )
    with pytest.raises(InventoryError, match="w2"):
        load_inventory(bad, env={})
