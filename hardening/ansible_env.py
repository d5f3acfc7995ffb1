"""The environment harden gives ansible-runner: the user's own Ansible configuration, not a replacement.

ansible-runner starts ansible-playbook in its project directory (harden's package or the
generated playbooks), where the user's ``./ansible.cfg`` would never be found, and it turns host
key checking off unless told. So harden passes the configuration file Ansible would have used
from the user's working directory (``ANSIBLE_CONFIG`` as set, else ``./ansible.cfg``; Ansible finds
``~/.ansible.cfg`` and ``/etc/ansible/ansible.cfg`` by itself), keeps every ``ANSIBLE_*`` the user
set, and sets host key checking only from what the user configured (default: on, as Ansible).

Example::

    envvars = runner_env({"ANSIBLE_ROLES_PATH": "/out/playbooks/roles"})
"""

from __future__ import annotations

import configparser
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}


def user_config(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The ansible.cfg Ansible would read first for a command run in ``cwd``, if it is not a default path.

    Like Ansible, ``./ansible.cfg`` is ignored in a world-writable directory (anyone could plant it).
    """
    env = os.environ if env is None else env
    if env.get("ANSIBLE_CONFIG"):
        path = Path(env["ANSIBLE_CONFIG"]).expanduser()
        return path / "ansible.cfg" if path.is_dir() else path
    here = (cwd or Path.cwd()).resolve()
    candidate = here / "ansible.cfg"
    if candidate.is_file():
        try:
            world_writable = bool(here.stat().st_mode & stat.S_IWOTH)
        except OSError:
            world_writable = True
        if not world_writable:
            return candidate
    return None


def _configured_host_key_checking(config: Path | None) -> str | None:
    """``host_key_checking`` from the user's ansible.cfg ([defaults]), as True/False text, or None."""
    paths = [config] if config else []
    paths += [Path("~/.ansible.cfg").expanduser(), Path("/etc/ansible/ansible.cfg")]
    for path in paths:
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeError):
            return None
        value = parser.get("defaults", "host_key_checking", fallback=None)
        if value is not None and value.strip().lower() in _TRUE | _FALSE:
            return "True" if value.strip().lower() in _TRUE else "False"
        return None  # Ansible reads only the first file it finds
    return None


def runner_env(extra: Mapping[str, str] | None = None, cwd: Path | None = None) -> dict[str, str]:
    """``envvars`` for ansible-runner: PATH with this venv first, the user's config, host key checking kept."""
    config = user_config(cwd)
    bindir = Path(sys.executable).parent  # the venv harden runs from holds ansible-playbook
    env = {
        "ANSIBLE_NOCOLOR": "1",
        "PATH": os.pathsep.join([str(bindir), os.environ.get("PATH", "/usr/bin:/bin")]),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }
    if config is not None:
        env["ANSIBLE_CONFIG"] = str(config.resolve())
    checking = os.environ.get("ANSIBLE_HOST_KEY_CHECKING") or _configured_host_key_checking(config) or "True"
    env["ANSIBLE_HOST_KEY_CHECKING"] = checking  # ansible-runner would turn it off otherwise
    return {**env, **(extra or {})}
