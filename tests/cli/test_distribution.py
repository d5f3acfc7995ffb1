"""The Python distribution's name does not collide with the unrelated PyPI project "harden"; the command is harden."""

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def test_distribution_name_is_not_harden_and_the_command_is():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["name"] == "harden-revshell"
    assert project["scripts"] == {"harden": "hardening.cli:main"}
