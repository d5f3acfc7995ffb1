"""The environment harden gives ansible-runner: the user's own Ansible configuration, not a replacement.

ansible-runner starts ansible-playbook in its project directory (harden's package or the
generated playbooks), where the user's ``./ansible.cfg`` would never be found, and it turns host
key checking off unless told. So harden passes the configuration file Ansible would have used
from the user's working directory (``ANSIBLE_CONFIG`` as set, else ``./ansible.cfg``; Ansible finds
``~/.ansible.cfg`` and ``/etc/ansible/ansible.cfg`` by itself), keeps every ``ANSIBLE_*`` the user
set, and sets host key checking only from what the user configured (default: on, as Ansible).

What ansible-runner keeps of the environment: it starts ansible-playbook with the whole
environment of harden (``SSH_AUTH_SOCK``, proxies, cloud credentials for inventory plugins: what
the user's Ansible needs) and records all of it in ``artifacts/<ident>/command``. harden rewrites
that record before ansible-playbook starts (:func:`runner_kwargs`'s status handler): its ``env``
keeps only the variables harden set (listed above; no secrets), ``env_inherited`` names the others
without their values. ``env/`` files (envvars, extravars, cmdline) are not written
(``suppress_env_files``); extra variables are on ansible-playbook's command line (``command``).

Example::

    envvars = runner_env({"ANSIBLE_ROLES_PATH": "/out/playbooks/roles"})
    ansible_runner.run(private_data_dir=d, playbook="site.yml", **runner_kwargs(envvars))
"""

from __future__ import annotations

import configparser
import json
import os
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


def ansible_config_file(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The one ansible.cfg Ansible reads for a command run in ``cwd`` (it reads only the first it finds)."""
    first = user_config(cwd, env)
    for path in (first, Path("~/.ansible.cfg").expanduser(), Path("/etc/ansible/ansible.cfg")):
        if path is not None and path.is_file():
            return path
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


#: What the rewritten ``artifacts/<ident>/command`` says about the environment it no longer holds.
ENV_NOTE = (
    "harden: ansible-playbook inherited harden's environment; only the variables harden set are "
    "recorded in env, the others by name in env_inherited (docs/security.md)"
)


def keep_own_env(command_file: Path, own: Mapping[str, str]) -> bool:
    """Rewrite ansible-runner's ``command`` record: ``env`` keeps what harden set (``own``), the
    inherited variables are named in ``env_inherited`` without their values. False if no record."""
    try:
        data = json.loads(command_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    env = data.get("env")
    if not isinstance(env, dict):
        return False
    kept = {k: v for k, v in env.items() if k in own}  # harden's names (ansible-runner may adjust a value)
    earlier = data.get("env_inherited") if isinstance(data.get("env_inherited"), list) else []
    data["env"] = kept
    data["env_inherited"] = sorted({str(k) for k in earlier} | {k for k in env if k not in kept})
    data["harden_note"] = ENV_NOTE
    tmp = command_file.with_name(command_file.name + ".harden-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    os.replace(tmp, command_file)
    return True


def _status_handler(own: Mapping[str, str]) -> Callable[..., None]:
    """ansible-runner calls this with each status; at ``running`` the ``command`` record has just been
    written and ansible-playbook has not started yet: the record loses the inherited values then."""

    def handler(status_data: Mapping[str, Any], runner_config: Any = None) -> None:
        if status_data.get("status") == "running" and runner_config is not None:
            keep_own_env(Path(runner_config.artifact_dir) / "command", own)

    return handler


def runner_kwargs(envvars: Mapping[str, str]) -> dict[str, Any]:
    """The ansible-runner arguments every harden run shares: ``envvars``, no ``env/`` files, the
    ``command`` record without the inherited environment, and ``-v`` as ansible-playbook's verbosity."""
    from hardening.verbose import verbosity

    kwargs: dict[str, Any] = {
        "envvars": dict(envvars),
        "suppress_env_files": True,
        "status_handler": _status_handler(envvars),
    }
    if verbosity():
        kwargs["verbosity"] = verbosity()
    return kwargs


def scrub_command_records(artifacts: Path, own: Mapping[str, str]) -> None:
    """After a run: every ``artifacts/*/command`` without the inherited environment (again, in case
    a run stopped before its status handler ran)."""
    for command_file in artifacts.glob("*/command"):
        keep_own_env(command_file, own)


def show_event(event: Mapping[str, Any], blank: Callable[[str], str] | None = None) -> None:
    """``-v``: Ansible's own output of one runner event, on stderr (as ansible-playbook prints it),
    passwords blanked by ``blank`` and escape sequences and control characters dropped."""
    text = event.get("stdout")
    if not isinstance(text, str) or not text:
        return
    from hardening.report.text import strip_control

    for line in text.splitlines():
        sys.stderr.write(strip_control(blank(line) if blank else line) + "\n")
    sys.stderr.flush()
