"""The roles are the Ansible collection harden.revshell: it builds, installs and resolves by FQCN.

No network: installed with --no-deps (ansible.windows and community.windows come with the
``ansible`` package harden depends on).
"""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from hardening.remediate import ROLES, plan, role_checks, write_playbooks

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "PATH": f"{BIN}:{env['PATH']}", "ANSIBLE_NOCOLOR": "1", **extra}


def _run(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_collection_builds_installs_and_its_roles_resolve_by_fqcn(tmp_path):
    _run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "build",
        str(ROOT / "playbooks"),
        "--output-path",
        str(tmp_path),
        cwd=tmp_path,
    )
    (tarball,) = tmp_path.glob("harden-revshell-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert {f"roles/{r}/tasks/main.yml" for r in ROLES} <= set(names)
    assert {"plugins/modules/harden_remove_packages.py", "plugins/modules/harden_quarantine.py"} <= set(names)
    assert not [n for n in names if n.endswith("__init__.py") or n == "harden_collect.yml" or "__pycache__" in n]
    assert manifest["collection_info"]["dependencies"].keys() == {"ansible.windows", "community.windows"}

    colls = tmp_path / "collections"
    _run(
        str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(colls), "--no-deps", cwd=tmp_path
    )
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: all\n  gather_facts: false\n  roles:\n"
        + "".join(f"    - role: harden.revshell.{r}\n" for r in ("harden_netcat", "harden_egress"))
    )
    out = _run(
        str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--list-tasks", str(play),
        cwd=tmp_path, ANSIBLE_COLLECTIONS_PATH=str(colls),
    ).stdout  # fmt: skip
    assert "harden.revshell.harden_netcat" in out and "harden.revshell.harden_egress" in out


def test_generated_site_playbook_tags_roles_by_check_and_resolves_its_own_collection(tmp_path):
    doc = {
        "hosts": [
            {
                "name": "h",
                "platform": "linux",
                "status": "ok",
                "checks": [{"id": "egress.allowlist", "status": "fail"}, {"id": "audit.auditd", "status": "fail"}],
            }
        ]
    }
    dest = write_playbooks(plan(doc), tmp_path)
    (dest / "hosts").write_text("h ansible_connection=local\n")
    listed = _run(
        str(BIN / "ansible-playbook"), "-i", "hosts", "site.yml", "--list-tasks", "--tags", "egress.allowlist", cwd=dest
    ).stdout  # the generated ansible.cfg points at ./collections
    assert "Run role harden_egress" in listed and "harden_auditd" not in listed
    assert set(role_checks("harden_egress")) == {"egress.default_deny", "egress.allowlist"}
    # the copy in the directory is a loadable collection, its modules included (static import)
    (dest / "probe.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [harden.revshell.harden_auditd]\n")
    tasks = _run(str(BIN / "ansible-playbook"), "-i", "hosts", "probe.yml", "--list-tasks", cwd=dest).stdout
    assert "harden.revshell.harden_auditd" in tasks
