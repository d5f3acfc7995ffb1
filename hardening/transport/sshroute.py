"""Where an SSH connection really goes: the host, port, user, keys and jump hosts OpenSSH would use.

Ansible's ssh connection runs OpenSSH, which reads the inventory's options (``ansible_host``,
``ansible_port``, ``ansible_user``, the private key, ``ansible_ssh_common_args`` /
``ansible_ssh_extra_args``) and then the user's ssh_config (``~/.ssh/config``, or the file
given with ``-F``): ``HostName``, ``Port``, ``User``, ``IdentityFile``, ``ProxyJump``,
``ProxyCommand``. The first value found for a setting wins, command line before the file. The
native engine (paramiko) resolves the same route here, so both engines reach the same machine;
what it cannot follow is refused with the reason (:class:`RouteError`), never ignored.

Pure except for reading the ssh_config file. paramiko (its ssh_config parser) is imported only
when there is a file to read: without one the route is known before paramiko is loaded, so an
audit's first connection can start that much sooner (hardening.transport.early).

Example::

    >>> r = resolve_route("10.0.0.5", 22, "deploy", None, ("-o ProxyJump=jump@bastion:2222",), config_text="")
    >>> (r.host, [(h.user, h.host, h.port) for h in r.jumps])
    ('10.0.0.5', [('jump', 'bastion', 2222)])
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import paramiko

#: options harden follows; any other -o option is OpenSSH tuning that does not change the peer
_FOLLOWED = {"hostname", "port", "user", "identityfile", "proxyjump", "proxycommand", "userknownhostsfile"}
MAX_JUMPS = 4
_OPTION = re.compile(r"\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)$", re.S)  # "Key=Value" or "Key Value"
_TOKEN = re.compile(r"%[hpr%]")


class RouteError(Exception):
    """The route cannot be followed exactly (the host is refused: never connect somewhere else)."""


@dataclass(frozen=True)
class Hop:
    """A jump host, as OpenSSH resolves it (its own ssh_config entry applies)."""

    host: str
    port: int = 22
    user: str | None = None
    key_files: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"


@dataclass(frozen=True)
class SshRoute:
    host: str
    port: int
    user: str | None
    key_files: tuple[str, ...] = ()
    jumps: tuple[Hop, ...] = ()
    proxy_command: str | None = None  # with %h %p %r already expanded

    def describe(self) -> str:
        """``host:port``, and how it is reached when not directly."""
        via = f" via {' -> '.join(map(str, self.jumps))}" if self.jumps else ""
        via += f" via ProxyCommand {self.proxy_command!r}" if self.proxy_command else ""
        return f"{self.host}:{self.port}{via}"


def command_line_options(args: Iterable[str | None]) -> tuple[dict[str, str], str | None]:
    """(the -o / -J / -p / -l / -i options of ``args``, first value of each wins; the -F file or None)."""
    found: dict[str, str] = {}
    config_file = None
    short = {"-J": "proxyjump", "-p": "port", "-l": "user", "-i": "identityfile"}
    for arg in args:
        if not arg:
            continue
        try:
            words = shlex.split(str(arg))
        except ValueError as exc:
            raise RouteError(f"cannot read ssh arguments {arg!r}: {exc}") from None
        i = 0
        while i < len(words):
            word = words[i]
            value = None
            key = None
            if word in ("-o", "-F", *short) and i + 1 < len(words):
                value, i = words[i + 1], i + 1
                key = word
            elif word.startswith("-o") and len(word) > 2:
                key, value = "-o", word[2:]
            elif word[:2] in short and len(word) > 2:
                key, value = word[:2], word[2:]
            elif word.startswith("-F") and len(word) > 2:
                key, value = "-F", word[2:]
            i += 1
            if key == "-F" and value:
                config_file = config_file or os.path.expanduser(value)
            elif key == "-o" and value:
                m = _OPTION.match(value)
                if m and m.group(1).lower() in _FOLLOWED:
                    found.setdefault(m.group(1).lower(), m.group(2).strip())
            elif key in short and value:
                found.setdefault(short[key], value)
    return found, config_file


def _config(config_text: str | None, config_file: str | None) -> paramiko.SSHConfig | None:
    """The ssh_config to apply; None when there is none (no -F, no ~/.ssh/config)."""
    if config_text is None:
        path = Path(config_file or "~/.ssh/config").expanduser()
        if config_file and not path.is_file():
            raise RouteError(f"ssh config {path} (from -F) does not exist")
        if not path.is_file():
            return None
    import paramiko

    if config_text is not None:
        return paramiko.SSHConfig.from_text(config_text)
    try:
        return paramiko.SSHConfig.from_path(str(path))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise RouteError(f"cannot read ssh config {path}: {exc}") from None


def _lookup(config: paramiko.SSHConfig | None, host: str) -> dict[str, object]:
    if config is None:
        return {"hostname": host}  # what paramiko's lookup gives for an empty ssh_config
    import paramiko

    try:
        return dict(config.lookup(host))
    except (paramiko.SSHException, ValueError, LookupError) as exc:  # e.g. Match exec without invoke
        raise RouteError(f"cannot apply ssh config to {host}: {exc}") from None


def _port(value: object, what: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise RouteError(f"{what}: port {value!r} is not a number") from None
    if not 0 < port < 65536:
        raise RouteError(f"{what}: port {port} out of range")
    return port


def _keys(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value] if value else []
    return tuple(os.path.expanduser(str(k)) for k in items)


def _hops(spec: str, config: paramiko.SSHConfig | None) -> tuple[Hop, ...]:
    if spec.strip().lower() == "none":
        return ()
    hops = []
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ssh://"):
            part = part[len("ssh://") :]
        user, _, rest = part.rpartition("@")
        host, port = rest, None
        if rest.startswith("["):  # [v6]:port
            host, _, tail = rest[1:].partition("]")
            port = tail[1:] if tail.startswith(":") else None
        elif rest.count(":") == 1:
            host, port = rest.split(":")
        if not host:
            raise RouteError(f"ProxyJump {spec!r}: no host in {part!r}")
        entry = _lookup(config, host)
        if "proxyjump" in entry or "proxycommand" in entry:
            raise RouteError(f"jump host {host} has its own ProxyJump/ProxyCommand: nested jumps are not followed")
        hops.append(
            Hop(
                host=str(entry.get("hostname") or host),
                port=_port(port or entry.get("port") or 22, f"jump host {host}"),
                user=user or (str(entry["user"]) if entry.get("user") else None),
                key_files=_keys(entry.get("identityfile")),
            )
        )
    if len(hops) > MAX_JUMPS:
        raise RouteError(f"ProxyJump {spec!r}: more than {MAX_JUMPS} jump hosts")
    return tuple(hops)


def resolve_route(
    host: str,
    port: int | None,
    user: str | None,
    key_file: str | None,
    ssh_args: Iterable[str | None],
    config_text: str | None = None,
) -> SshRoute:
    """The route OpenSSH takes for ``host`` with these inventory values and ssh arguments.

    ``port``, ``user`` and ``key_file`` are what Ansible passes on the command line (they win
    over ssh_config); ``config_text`` replaces reading the ssh_config file (tests).
    """
    options, config_file = command_line_options(ssh_args)
    config = _config(config_text, config_file)
    entry = _lookup(config, host)

    def pick(key: str, given: object = None) -> object:
        return given if given not in (None, "") else options.get(key) or entry.get(key)

    real_host = str(options.get("hostname") or entry.get("hostname") or host)
    final_port = _port(pick("port", port) or 22, f"host {host}")
    final_user = pick("user", user)
    keys = _keys(key_file) + _keys(options.get("identityfile")) + _keys(entry.get("identityfile"))
    jump_spec = options.get("proxyjump") or entry.get("proxyjump")
    command = options.get("proxycommand") or entry.get("proxycommand")
    if jump_spec and command and str(command).lower() != "none":
        raise RouteError(f"host {host}: both ProxyJump and ProxyCommand are set")
    jumps = _hops(str(jump_spec), config) if jump_spec else ()
    proxy = None
    if command and str(command).lower() != "none":
        values = {"%h": real_host, "%p": str(final_port), "%r": str(final_user or ""), "%%": "%"}
        proxy = _TOKEN.sub(lambda m: values[m.group(0)], str(command))
    return SshRoute(real_host, final_port, str(final_user) if final_user else None, keys, jumps, proxy)
