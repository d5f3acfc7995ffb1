"""A plain, non-editable install works from another directory: data files are package data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
