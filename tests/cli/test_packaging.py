"""A plain, non-editable install works from another directory: data files are package data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_non_editable_install_runs_from_elsewhere(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(".venv", ".git", ".lab", "reports", "build", "*.egg-info", "__pycache__"),
    )
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(src)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    shutil.rmtree(src)  # the installed copy must not need the source tree
    probe = (
        "import hardening, hardening.checks as c;"
        "from hardening.facts.collector import new_linux_collector;"
        "from hardening.results import results_schema;"
        f"assert hardening.__file__.startswith({str(target)!r}), hardening.__file__;"
        "assert [k.meta.id for k in c.linux_checks()];"
        "assert '__done__' in new_linux_collector().script;"
        "assert results_schema()['title'];"
        # reports: templates, framework mappings and the SARIF schema come from the installed copy
        "import json, pathlib;"
        "from importlib import resources;"
        "from hardening.report import load_results, render_html, render_sarif, load_framework;"
        f"doc = load_results(pathlib.Path({str(ROOT / 'tests/golden/report/results.json')!r}));"
        "html = render_html(doc, load_framework('nist'));"
        "assert 'Hosts × checks' in html and 'policy drop;' in html and 'SC-7(5)' in html, html[:200];"
        "t = resources.files('hardening.templates').joinpath('report.html.j2');"
        f"assert str(t).startswith({str(target)!r}), str(t);"
        "assert json.loads(resources.files('hardening.schemas').joinpath('sarif-schema-2.1.0.json').read_text());"
        "assert json.loads(render_sarif(doc))['version'] == '2.1.0';"
        # remediation: roles (nested dirs) and the site template come from the installed copy
        "from hardening.remediate import plan, write_playbooks, roles_source, ROLES;"
        f"assert str(roles_source()).startswith({str(target)!r}), roles_source();"
        "assert all((roles_source() / r / 'tasks' / 'main.yml').is_file() for r in ROLES);"
        "assert (roles_source() / 'harden_egress' / 'files' / 'harden-nft-guard').is_file();"
        "res = {'hosts': [{'name': 'h', 'platform': 'linux', 'status': 'ok',"
        " 'checks': [{'id': 'egress.default_deny', 'status': 'fail'}]}]};"
        "d = write_playbooks(plan(res), pathlib.Path('out'));"
        "assert 'name: harden.revshell.harden_egress' in (d / 'site.yml').read_text();"
        "r = d / 'collections/ansible_collections/harden/revshell/roles';"
        "assert (r / 'harden_egress/templates/harden-egress.nft.j2').is_file();"
        "print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    cli = subprocess.run(
        [sys.executable, "-m", "hardening.cli", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "audit" in cli.stdout
