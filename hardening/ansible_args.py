"""Ansible's own command-line flags, meaning what they mean to ``ansible`` and ``ansible-playbook``.

``-i INVENTORY`` (instead of the positional argument), ``-u USER`` and ``--private-key FILE``
(defaults below the inventory's own ``ansible_user`` / key, as in Ansible), ``-K`` (ask the
become password), ``-e`` extra variables (``k=v``, JSON/YAML, ``@file``; highest precedence, as in
Ansible), ``--vault-id`` and ``--ask-vault-pass`` (``-J``), ``-v`` (repeatable, :mod:`hardening.verbose`).
Commands that read an inventory take them
through :func:`ansible_options`; the values reach ansible-core's inventory reading through
:data:`hardening.inventory.OVERRIDES` and the ``ANSIBLE_*`` environment (so the precedence is
Ansible's own).

Example::

    harden audit -i inventory.ini -u deploy --private-key ~/.ssh/fleet -K -e @policy.yml -vv
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

#: commands whose first positional argument is the inventory (``-i`` is accepted for them)
INVENTORY_COMMANDS = frozenset({"audit", "collect", "hunt", "verify", "allowlist", "hosts", "respond"})


class ArgsError(click.UsageError):
    pass


def move_inventory_flag(argv: Sequence[str]) -> list[str]:
    """``harden audit -l web -i inv.ini`` -> ``harden audit inv.ini -l web`` (for the commands above).

    >>> move_inventory_flag(["audit", "-l", "web", "-i", "inv.ini"])
    ['audit', 'inv.ini', '-l', 'web']
    >>> move_inventory_flag(["apply", "DIR", "--inventory", "inv.ini"])
    ['apply', 'DIR', '--inventory', 'inv.ini']
    """
    args = list(argv)
    if not args or args[0] not in INVENTORY_COMMANDS:
        return args
    found: list[str] = []
    rest = [args[0]]
    i = 1
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        if a in ("-i", "--inventory", "--inventory-file") and i + 1 < len(args):
            found.append(args[i + 1])
            i += 2
            continue
        if a.startswith("--inventory="):
            found.append(a.split("=", 1)[1])
        elif a.startswith("-i") and len(a) > 2 and not a.startswith("--"):
            found.append(a[2:])
        else:
            rest.append(a)
        i += 1
    if len(found) > 1:
        raise ArgsError(
            "harden reads one inventory source: put the files in one directory (read in name order, "
            "as Ansible does) and pass the directory"
        )
    return [rest[0], *found, *rest[1:]]


def parse_extra_vars(values: Sequence[str], cwd: Path | None = None) -> dict[str, Any]:
    """``-e`` values merged left to right: ``k=v k2=v2``, a JSON/YAML mapping, or ``@file``.

    >>> parse_extra_vars(["a=1 b='x y'", '{"c": [1]}'])
    {'a': '1', 'b': 'x y', 'c': [1]}
    """
    import yaml

    out: dict[str, Any] = {}
    for value in values:
        text = value.strip()
        if text.startswith("@"):
            path = Path(text[1:]).expanduser()
            path = path if path.is_absolute() else (cwd or Path.cwd()) / path
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError, UnicodeError) as exc:
                raise ArgsError(f"-e @{path}: cannot read: {exc}") from None
        elif text.startswith(("{", "[")):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ArgsError(f"-e {text[:60]!r}: not JSON/YAML: {exc}") from None
        else:
            try:
                pairs = shlex.split(text)
            except ValueError as exc:
                raise ArgsError(f"-e {text[:60]!r}: {exc}") from None
            if not all("=" in p for p in pairs):
                raise ArgsError(f"-e {text[:60]!r}: expected key=value pairs, JSON/YAML or @file")
            data = dict(p.split("=", 1) for p in pairs)
        if not isinstance(data, dict):
            raise ArgsError(f"-e {text[:60]!r}: extra variables must be a mapping")
        out.update({str(k): v for k, v in data.items()})
    json.dumps(out, default=str)  # plain data only travels to the inventory reader
    return out


def verbose_option(f: F) -> F:
    """``-v``/``--verbose``, repeatable (``-vvv``), as in Ansible; the command receives ``verbosity``."""
    return click.option(
        "-v",
        "--verbose",
        "verbosity",
        count=True,
        help="More detail on stderr, repeatable (-vvv), as in Ansible: the native engine's log, "
        "ansible-playbook's verbosity for --engine ansible and apply.",
    )(f)


def _apply(
    user: str | None,
    private_key: Path | None,
    ask_become_pass: bool,
    extra_vars: tuple[str, ...],
    vault_ids: tuple[str, ...],
    ask_vault_pass: bool,
    verbosity: int = 0,
) -> None:
    from hardening import inventory
    from hardening.verbose import set_verbosity

    set_verbosity(verbosity)

    if user:
        os.environ["ANSIBLE_REMOTE_USER"] = user  # below ansible_user, above ansible.cfg: Ansible's order
    if private_key:
        os.environ["ANSIBLE_PRIVATE_KEY_FILE"] = str(private_key.expanduser().resolve())
    become_password = getpass.getpass("BECOME password: ") if ask_become_pass else None
    vault_password = getpass.getpass("Vault password: ") if ask_vault_pass else None
    inventory.OVERRIDES = inventory.Overrides(
        extra_vars=parse_extra_vars(extra_vars),
        vault_ids=tuple(vault_ids),
        vault_password=vault_password,
        become_password=become_password,
    )


def ansible_options(f: F) -> F:
    """Add ``-u``, ``--private-key``, ``-K``, ``-e``, ``--vault-id``, ``-J``, ``-v`` to a command (consumed here)."""

    @functools.wraps(f)
    def wrapper(
        *args: Any,
        ansible_user: str | None = None,
        private_key: Path | None = None,
        ask_become_pass: bool = False,
        extra_vars: tuple[str, ...] = (),
        vault_ids: tuple[str, ...] = (),
        ask_vault_pass: bool = False,
        verbosity: int = 0,
        **kwargs: Any,
    ) -> Any:
        _apply(ansible_user, private_key, ask_become_pass, extra_vars, vault_ids, ask_vault_pass, verbosity)
        return f(*args, **kwargs)

    options = [
        click.option(
            "-u",
            "--user",
            "ansible_user",
            metavar="USER",
            help="Connect as USER (as ansible -u; the inventory's ansible_user wins).",
        ),
        click.option(
            "--private-key",
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="SSH private key (as ansible --private-key; the inventory's key variable wins).",
        ),
        click.option("-K", "--ask-become-pass", is_flag=True, help="Ask for the privilege escalation (sudo) password."),
        click.option(
            "-e",
            "--extra-vars",
            "extra_vars",
            multiple=True,
            metavar="VARS",
            help="Extra variables: key=value, JSON/YAML, or @file (highest precedence, as in Ansible); "
            "e.g. -e @policy.yml with harden_egress_allow.",
        ),
        click.option(
            "--vault-id", "vault_ids", multiple=True, metavar="ID", help="Vault identity (as ansible --vault-id)."
        ),
        click.option(
            "-J", "--ask-vault-pass", "--ask-vault-password", is_flag=True, help="Ask for the vault password."
        ),
        verbose_option,
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]
