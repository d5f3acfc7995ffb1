"""Packages of harden: its own, plus one per check folder under checks/ (``hardening.checks.<folder>``).

Everything else is in pyproject.toml. A check is added by adding its folder (see
docs/adding-a-check.md); nothing here names checks.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
CHECKS = sorted(p.name for p in (HERE / "checks").iterdir() if (p / "check.yaml").is_file())

setup(
    packages=[
        *find_packages(include=["hardening", "hardening.*"]),
        "hardening.checks",
        *(f"hardening.checks.{name}" for name in CHECKS),
        "hardening.templates",
        "hardening.playbooks",
    ],
)
