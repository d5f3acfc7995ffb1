"""Ansible users' ordinary setups on real lab hosts: plugin inventories, ansible.cfg, the collection.

- a constructed plugin inventory (``plugin: ansible.builtin.constructed``) over the static lab
  inventory, audited with both engines (same hosts, same verdicts), its SARIF checked against
  the SARIF 2.1.0 schema and GitHub's documented upload requirements;
- an ansible.cfg in the working directory that alone sets the key (private_key_file), the user
  (remote_user), become and the host-key policy (host_key_checking and the known_hosts file in
  ssh_common_args), used by both engines and by ``harden apply``; a changed host key is refused by
  both; a secret in the environment reaches no file harden keeps (ansible-runner's artifacts);
- ``ansible-galaxy collection build`` of playbooks/, ``ansible-galaxy collection install`` into a
  temporary directory, and a user's playbook naming the roles by FQCN run by ansible-playbook
  against a lab host, which harden then audits as fixed.

The audits of the session lab only read; the tests that change hosts get labs of their own.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from labutil import DEBS, pexec, private_lab
from sarif_github import github_problems

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RESOLVERS = "harden_dns_resolvers=198.18.0.2"  # as tests/lab/test_remediation_lab.py
PASSING_AFTER = ("egress.default_deny", "egress.allowlist", "dns.query_logging", "binaries.netcat")


def _env(**extra: str) -> dict[str, str]:
    """This environment without the runner's own ANSIBLE_* settings: what ansible.cfg says must count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}", **extra}


def run(*argv: str | Path, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout
    )


def harden(*args: str | Path, cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess[str]:
    return run(BIN / "harden", *args, cwd=cwd, timeout=timeout, **env)


def statuses(doc: dict) -> dict[tuple[str, str], str]:
    return {(h["name"], c["id"]): c["status"] for h in doc["hosts"] for c in h["checks"]}


def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(resources.files("hardening.schemas").joinpath("sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft7Validator(schema)


def no_file_holds(root: Path, secret: str) -> None:
    for f in root.rglob("*"):
        if f.is_file() and not f.is_symlink():
            assert secret.encode() not in f.read_bytes(), f


# ------------------------------------------------------------------------- constructed inventory


def test_constructed_plugin_inventory_with_both_engines_and_github_ready_sarif(lab, tmp_path):
    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "01-lab.ini").write_text(lab.inventory.read_text())
    (inv / "02-constructed.yml").write_text(
        "plugin: ansible.builtin.constructed\nstrict: true\n"
        "groups:\n  key_login: ansible_ssh_private_key_file is defined\n"
        "keyed_groups:\n  - key: ansible_user\n    prefix: user\n"
    )
    graph = run(BIN / "ansible-inventory", "-i", inv, "--graph", "key_login", cwd=tmp_path)
    assert graph.returncode == 0, graph.stderr
    wanted = {"default", "hardened", "ufw"}  # half logs in with a password
    assert {line.strip("|-@: ") for line in graph.stdout.splitlines()} >= wanted | {"key_login"}

    docs = {}
    validator = sarif_validator()
    for engine in ("native", "ansible"):
        out = tmp_path / engine
        r = harden("audit", "-i", inv, "-l", "key_login", "--engine", engine, "--out", out,
                   "--format", "json,sarif", cwd=tmp_path)  # fmt: skip
        assert r.returncode == 1, r.stderr[-3000:]  # the lab's default host fails checks
        doc = json.loads((out / "results.json").read_text())
        hosts = {h["name"]: h for h in doc["hosts"]}
        assert set(hosts) == wanted
        for name, h in hosts.items():
            assert h["status"] == "ok", (engine, name, h["message"])
            assert "key_login" in h["groups"] and any(g.startswith("user_") for g in h["groups"]), h["groups"]
        log = json.loads((out / "harden.sarif").read_text())
        assert not list(validator.iter_errors(log))
        assert github_problems(log) == []
        (sarif_run,) = log["runs"]
        assert sarif_run["automationDetails"]["id"].startswith("harden/inventory/")
        docs[engine] = doc
    assert statuses(docs["native"]) == statuses(docs["ansible"])


# ------------------------------------------------------------------------------- ansible.cfg


@pytest.fixture(scope="module")
def clab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "c") as up:
        yield up


def _known_hosts_for(known_hosts: Path, old_port: int, new_port: int) -> str:
    lines = [ln for ln in known_hosts.read_text().splitlines() if ln.startswith(f"[127.0.0.1]:{old_port} ")]
    assert lines
    return "".join(ln.replace(f"[127.0.0.1]:{old_port} ", f"[127.0.0.1]:{new_port} ", 1) + "\n" for ln in lines)


def test_ansible_cfg_sets_key_user_become_and_host_key_policy_for_both_engines_and_apply(lab, clab, tmp_path):
    target = clab.host("default")
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    known = tmp_path / "known_hosts"
    (work / "inventory.ini").write_text(
        f"[lab]\ntarget ansible_host=127.0.0.1 ansible_port={target.port}\n"
        "[lab:vars]\nharden_egress_allow=198.18.0.0/24\nharden_log_collectors=198.18.0.1:6514\n"
    )  # no user, key, become or ssh arguments: ansible.cfg has them (the policy as the lab inventory's)
    (work / "ansible.cfg").write_text(
        f"[defaults]\nremote_user = harden\nprivate_key_file = {clab.key}\nhost_key_checking = True\n"
        "interpreter_python = /usr/bin/python3\n"
        "[privilege_escalation]\nbecome = True\n"
        f"[ssh_connection]\nssh_common_args = -o UserKnownHostsFile={known}\n"
    )
    secret = "env-secret-" + secrets.token_hex(8)

    # 1. a host key that is not the host's: refused by both engines, as host_key_checking says
    other = lab.host("hardened")
    known.write_text(_known_hosts_for(lab.known_hosts, other.port, target.port))
    for engine in ("native", "ansible"):
        r = harden("audit", "inventory.ini", "--engine", engine, "--out", tmp_path / f"bad-{engine}", cwd=work)
        assert r.returncode == 3, r.stderr[-3000:]
        (h,) = json.loads((tmp_path / f"bad-{engine}" / "results.json").read_text())["hosts"]
        assert h["status"] == "auth_failed" and "host key" in h["message"].lower(), (engine, h["message"])

    # 2. the right one: both engines log in with the key and user of ansible.cfg and agree
    known.write_text(_known_hosts_for(clab.known_hosts, target.port, target.port))
    docs = {}
    for engine in ("native", "ansible"):
        out = tmp_path / engine
        r = harden("audit", "inventory.ini", "--engine", engine, "--out", out, "-v", cwd=work,
                   HARDEN_TEST_SECRET=secret)  # fmt: skip
        assert r.returncode == 1, r.stderr[-3000:]
        docs[engine] = json.loads((out / "results.json").read_text())
        (h,) = docs[engine]["hosts"]
        assert h["status"] == "ok" and "without root" not in h["message"], (engine, h["message"])  # become: cfg
        assert "target\tegress.default_deny\tfail" in r.stdout and "TASK [" not in r.stdout  # results on stdout
        if engine == "native":
            assert f"harden: target: ssh harden@127.0.0.1:{target.port}, become root" in r.stderr
        else:  # -v: ansible-playbook's own output, on stderr
            assert "TASK [Collector" in r.stderr, r.stderr[-2000:]
            record = json.loads((out / "ansible" / "artifacts" / "collect" / "command").read_text())
            assert record["env"]["ANSIBLE_CONFIG"] == str((work / "ansible.cfg").resolve())
            assert "HARDEN_TEST_SECRET" in record["env_inherited"]
        no_file_holds(out, secret)
    assert statuses(docs["native"]) == statuses(docs["ansible"])

    # 3. harden apply from the same directory: ansible-playbook gets the same ansible.cfg
    out = tmp_path / "native"
    r = harden("apply", out, "-i", "inventory.ini", "-e", DEBS, "-e", RESOLVERS, "-v", cwd=work, timeout=900,
               HARDEN_TEST_SECRET=secret)  # fmt: skip
    log = r.stdout + r.stderr
    # exit 1: audit.auditd and appcontrol.enforced cannot pass in a container (no kernel audit, no LSM)
    assert r.returncode == 1, log[-4000:]
    assert "== apply: successful" in r.stdout and "TASK [" in r.stderr, log[-4000:]
    (run_dir,) = sorted((out / "apply").iterdir())
    after = statuses(json.loads((run_dir / "after" / "results.json").read_text()))
    for check in PASSING_AFTER:
        assert after[("target", check)] == "pass", (check, log[-4000:])
    for ident in ("check", "apply"):
        record = json.loads((run_dir / "artifacts" / ident / "command").read_text())
        assert record["env"]["ANSIBLE_CONFIG"] == str((work / "ansible.cfg").resolve())
        assert record["env"]["ANSIBLE_HOST_KEY_CHECKING"] == "True"  # as configured, not turned off
        assert "HARDEN_TEST_SECRET" in record["env_inherited"]
    assert not (run_dir / "env").exists()
    no_file_holds(out, secret)


# ---------------------------------------------------------------------------------- collection


@pytest.fixture(scope="module")
def glab(lab, tmp_path_factory):
    with private_lab(tmp_path_factory, ("default",), "g") as up:
        yield up


def test_galaxy_build_install_and_a_users_playbook_with_fqcn_roles_on_a_lab_host(glab, tmp_path):
    build = run(BIN / "ansible-galaxy", "collection", "build", ROOT / "playbooks", "--output-path", tmp_path,
                cwd=tmp_path)  # fmt: skip
    assert build.returncode == 0, build.stderr
    (tarball,) = tmp_path.glob("harden-revshell-*.tar.gz")
    colls = tmp_path / "collections"
    inst = run(BIN / "ansible-galaxy", "collection", "install", tarball, "-p", colls, "--no-deps", cwd=tmp_path)
    assert inst.returncode == 0, inst.stderr
    listed = run(BIN / "ansible-galaxy", "collection", "list", "-p", colls, cwd=tmp_path)
    assert "harden.revshell" in listed.stdout, listed.stdout + listed.stderr

    user = tmp_path / "user"  # a user's project: nothing of the repository in sight
    user.mkdir()
    (user / "site.yml").write_text(
        "- name: Harden the lab\n  hosts: lab\n  roles:\n"
        "    - role: harden.revshell.harden_auditd\n"
        "    - role: harden.revshell.harden_egress\n"  # harden_egress_allow: the lab inventory's policy
    )
    policy = '{"harden_dns_resolvers": ["198.18.0.1"]}'  # the lab hosts' resolver (egress keeps DNS to it)
    play = run(BIN / "ansible-playbook", "-i", glab.inventory, "site.yml", "-e", DEBS, "-e", policy, cwd=user,
               timeout=900,
               ANSIBLE_COLLECTIONS_PATH=colls, ANSIBLE_ROLES_PATH=tmp_path / "no-roles")  # fmt: skip
    assert play.returncode == 0, (play.stdout + play.stderr)[-4000:]
    assert "harden.revshell.harden_egress : " in play.stdout and "harden.revshell.harden_auditd : " in play.stdout
    host = glab.host("default")
    assert pexec(host.container, "test", "-s", "/etc/audit/rules.d/harden-reverse-shell.rules").returncode == 0

    out = tmp_path / "after"
    r = harden("audit", glab.inventory, "--out", out, cwd=tmp_path)
    assert r.returncode == 1, r.stderr[-2000:]  # other checks still fail: only two roles ran
    after = statuses(json.loads((out / "results.json").read_text()))
    assert after[("default", "egress.default_deny")] == "pass" and after[("default", "egress.allowlist")] == "pass"
    assert after[("default", "binaries.netcat")] == "fail"  # not a role the playbook named


# ------------------------------------------------------------------------------ -K and -e


def test_become_password_and_extra_vars_flags_reach_both_engines(lab, tmp_path):
    half = lab.host("half")  # logs in with a password; sudo asks for it
    assert lab.password
    common = f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes"
    (tmp_path / "inv.ini").write_text(
        f"half ansible_host=127.0.0.1 ansible_port={half.port} ansible_user=harden "
        f"ansible_password={lab.password} ansible_become=true ansible_ssh_common_args='{common}'\n"
    )  # no ansible_become_password: -K gives it

    def audit(engine: str, out: str, *flags: str, answer: str | None = None) -> dict:
        proc = subprocess.run(
            [str(BIN / "harden"), "audit", "inv.ini", "--engine", engine, "--out", out, "--timeout", "30", *flags],
            cwd=tmp_path, env=_env(), input=answer, capture_output=True, text=True, timeout=300,
            start_new_session=True,  # no terminal: getpass reads the answer from stdin
        )  # fmt: skip
        assert proc.returncode in (1, 3), proc.stderr[-3000:]
        for text in (proc.stdout, proc.stderr):
            assert lab.password not in text
        (h,) = json.loads((tmp_path / out / "results.json").read_text())["hosts"]
        return h

    for engine in ("native", "ansible"):
        h = audit(engine, f"{engine}-nok")
        assert h["status"] == "auth_failed", (engine, h["message"])  # sudo wants a password nobody gave
        h = audit(engine, f"{engine}-k", "-K", answer=f"{lab.password}\n")
        assert h["status"] == "ok" and "without root" not in h["message"], (engine, h["message"])
        no_file_holds(tmp_path / f"{engine}-k", lab.password)
        h = audit(engine, f"{engine}-e", "-K", "-e", "ansible_user=nobody-here", answer=f"{lab.password}\n")
        assert h["status"] == "auth_failed", (engine, h["message"])  # -e wins over the inventory's user
