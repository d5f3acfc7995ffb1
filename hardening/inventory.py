"""Read an Ansible inventory with ansible-core's own API and turn each host into a :class:`Target`.

Nothing is parsed by hand: INI, YAML, group_vars/ and host_vars/ beside the inventory,
children groups, ``--limit`` patterns and Jinja2 in variables all behave as in Ansible.

Example::

    >>> targets = load_inventory(Path("inventory.ini"), limit="web")  # doctest: +SKIP
    >>> targets[0].connection
    <Connection.SSH: 'ssh'>
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from hardening.bounded import BoundedChild, Outcome, start_child
from hardening.policy import VARIABLES as POLICY_VARIABLES
from hardening.policy import Policy, PolicyError


class InventoryError(Exception):
    """The inventory cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Overrides:
    """What Ansible's command-line flags add to reading an inventory (:mod:`hardening.ansible_args`).

    ``extra_vars`` (``-e``) win over every inventory variable, as in Ansible; ``vault_ids``
    (``--vault-id``) and ``vault_password`` (``--ask-vault-pass``) unlock vaulted values;
    ``become_password`` (``-K``) is used for hosts that become without a password of their own.
    """

    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    vault_ids: tuple[str, ...] = ()
    vault_password: str | None = field(default=None, repr=False)
    become_password: str | None = field(default=None, repr=False)


#: set once by the CLI before any inventory is read (the forked reader inherits it)
OVERRIDES = Overrides()


class Connection(StrEnum):
    SSH = "ssh"
    LOCAL = "local"
    WINRM = "winrm"
    PSRP = "psrp"  # PowerShell remoting (pypsrp), for hosts where WinRS is disabled

    @property
    def is_windows(self) -> bool:
        """WinRM or PSRP: a Windows host, audited by the PowerShell collector."""
        return self in (Connection.WINRM, Connection.PSRP)


# ansible_connection values and what harden does with them.
_CONNECTIONS = {
    "ssh": Connection.SSH,
    "paramiko": Connection.SSH,
    "paramiko_ssh": Connection.SSH,
    "ansible.builtin.ssh": Connection.SSH,
    "ansible.builtin.paramiko_ssh": Connection.SSH,
    "smart": Connection.SSH,
    "local": Connection.LOCAL,
    "ansible.builtin.local": Connection.LOCAL,
    "winrm": Connection.WINRM,
    "ansible.builtin.winrm": Connection.WINRM,
    "psrp": Connection.PSRP,
    "ansible.builtin.psrp": Connection.PSRP,
}

_SSH_HOST = ("ansible_host", "ansible_ssh_host")
_HOST_VARS = {
    Connection.SSH: _SSH_HOST,
    Connection.LOCAL: _SSH_HOST,
    Connection.WINRM: ("ansible_winrm_host", "ansible_host"),
    Connection.PSRP: ("ansible_psrp_host", "ansible_host"),
}
_SSH_PORT = ("ansible_port", "ansible_ssh_port")
_PORT_VARS = {
    Connection.SSH: _SSH_PORT,
    Connection.LOCAL: _SSH_PORT,
    Connection.WINRM: ("ansible_winrm_port", "ansible_port"),
    Connection.PSRP: ("ansible_psrp_port", "ansible_port"),
}
_USER_VARS = {
    Connection.WINRM: ("ansible_winrm_user", "ansible_user"),
    Connection.PSRP: ("ansible_psrp_user", "ansible_user"),
}
_SSH_PASSWORD = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password")
_PASSWORD_VARS = {
    Connection.SSH: _SSH_PASSWORD,
    Connection.LOCAL: _SSH_PASSWORD,
    Connection.WINRM: ("ansible_winrm_password", "ansible_winrm_pass", "ansible_password"),
    Connection.PSRP: ("ansible_psrp_password", "ansible_psrp_pass", "ansible_password"),
}
_FALSE = {"false", "no", "off", "0", "n", "f"}
_TRUE = {"true", "yes", "on", "1", "y", "t"}


@dataclass(frozen=True)
class Target:
    """How to reach one inventory host, and its audit policy.

    ``password`` and ``become_password`` are secrets: they are excluded from ``repr``
    and never written anywhere.
    """

    name: str
    connection: Connection
    host: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    become: bool = False
    become_user: str = "root"
    become_password: str | None = field(default=None, repr=False)
    host_key_checking: bool = True
    known_hosts: str | None = None
    policy: Policy = field(default_factory=Policy)
    # ansible_ssh_common_args and ansible_ssh_extra_args (or [ssh_connection] in ansible.cfg): the
    # SSH transport follows their ProxyJump/ProxyCommand/-F like OpenSSH (hardening.transport.sshroute)
    ssh_args: tuple[str, ...] = ()
    variables: Mapping[str, Any] = field(default_factory=dict, repr=False)
    winrm: WinrmSettings | None = None

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """What the host is given and may echo back: its SSH (or WinRM) and become passwords.

        Every command blanks these in what the host sent back (:mod:`hardening.redact`).
        """
        return (self.password, self.become_password)


_WINRM_TRANSPORTS = ("ntlm", "kerberos", "credssp", "basic", "certificate", "plaintext", "ssl")


@dataclass(frozen=True)
class WinrmSettings:
    """How to speak WinRM to one host, from the ``ansible_winrm_*`` variables (Ansible's defaults).

    Example::

        >>> WinrmSettings().endpoint("win1", None)
        'https://win1:5986/wsman'
    """

    transport: str = "ssl"  # pywinrm name; Ansible's default: ssl (Basic over HTTPS) / plaintext (HTTP)
    scheme: str = "https"
    path: str = "/wsman"
    cert_validation: bool = True
    ca_trust_path: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    message_encryption: str = "auto"
    configuration_name: str = "Microsoft.PowerShell"  # PSRP only: the session configuration (endpoint)
    allow_plaintext: bool = False  # harden_winrm_allow_plaintext: Basic over http accepted knowingly
    psrp: bool = False  # from the ansible_psrp_* variables (names in messages)
    # PSRP only (ansible_psrp_*_timeout), seconds; None = harden's default. Always capped by the host deadline.
    connection_timeout: int | None = None
    read_timeout: int | None = None
    operation_timeout: int | None = None

    @property
    def basic_over_http(self) -> bool:
        """Basic authentication over http: the password and every message cross the network in clear.

        pywinrm's "plaintext" is Basic authentication; over https it runs inside TLS and is not refused.
        """
        return self.transport in ("plaintext", "basic", "ssl") and self.scheme == "http"

    def var(self, name: str) -> str:
        """The Ansible variable behind a setting, for messages: ``ansible_winrm_<name>`` or ``ansible_psrp_<name>``.

        >>> WinrmSettings(psrp=True).var("cert_validation")
        'ansible_psrp_cert_validation'
        """
        if not self.psrp:
            return {"cert_validation": "ansible_winrm_server_cert_validation"}.get(name, f"ansible_winrm_{name}")
        return f"ansible_psrp_{name}"

    def warnings(self) -> list[str]:
        """What these settings give away (shown with the host's result).

        >>> WinrmSettings(cert_validation=False).warnings()
        ['ansible_winrm_server_cert_validation=ignore: anyone on the path can pose as the host and read the password']
        """
        out = []
        if not self.cert_validation and self.scheme == "https":
            out.append(
                f"{self.var('cert_validation')}=ignore: anyone on the path can pose as the host and read the password"
            )
        if self.message_encryption == "never" and self.scheme == "http":
            out.append(f"{self.var('message_encryption')}=never over http: the collector's output crosses in clear")
        if self.basic_over_http and self.allow_plaintext:
            out.append("Basic authentication over http (harden_winrm_allow_plaintext): the password crosses in clear")
        return out

    def default_port(self) -> int:
        return 5985 if self.scheme == "http" else 5986

    def endpoint(self, host: str, port: int | None) -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{shown}:{port or self.default_port()}{self.path}"


def _winrm_settings(name: str, hostvars: Mapping[str, Any], port: int | None, user: Any) -> WinrmSettings:
    """Ansible's rules: scheme http when the port is 5985, else https; transport from the user form."""
    scheme = str(hostvars.get("ansible_winrm_scheme") or ("http" if port == 5985 else "https")).lower()
    if scheme not in ("http", "https"):
        raise InventoryError(f"host {name}: ansible_winrm_scheme={scheme!r} must be http or https")
    raw = hostvars.get("ansible_winrm_transport")
    if isinstance(raw, str) and "," in raw:
        # Ansible's winrm plugin accepts a comma-separated list and tries each in order; harden uses
        # the first (one authentication attempt per host, no silent fall-back to a weaker one).
        raw = [t for t in (p.strip() for p in raw.split(",")) if t]
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    if raw in (None, ""):
        transport = "kerberos" if user and "@" in str(user) else ("ssl" if scheme == "https" else "plaintext")
    else:
        transport = str(raw).strip().lower()
        if transport not in _WINRM_TRANSPORTS:
            raise InventoryError(
                f"host {name}: ansible_winrm_transport={transport!r} is not one of {', '.join(_WINRM_TRANSPORTS)}"
            )
        # Basic over HTTPS is what pywinrm calls "ssl"; over HTTP, "plaintext".
        if transport == "basic":
            transport = "ssl" if scheme == "https" else "plaintext"
    validation = str(hostvars.get("ansible_winrm_server_cert_validation") or "validate").strip().lower()
    if validation not in ("validate", "ignore"):
        raise InventoryError(
            f"host {name}: ansible_winrm_server_cert_validation={validation!r} must be validate or ignore"
        )
    encryption = str(hostvars.get("ansible_winrm_message_encryption") or "auto").strip().lower()
    if encryption not in ("auto", "always", "never"):
        raise InventoryError(
            f"host {name}: ansible_winrm_message_encryption={encryption!r} must be auto, always or never"
        )
    path = str(hostvars.get("ansible_winrm_path") or "/wsman")

    def _file(var: str) -> str | None:
        value = hostvars.get(var)
        return os.path.expanduser(str(value)) if value not in (None, "") else None

    return WinrmSettings(
        transport=transport,
        scheme=scheme,
        path=path if path.startswith("/") else "/" + path,
        cert_validation=validation == "validate",
        ca_trust_path=_file("ansible_winrm_ca_trust_path"),
        cert_pem=_file("ansible_winrm_cert_pem"),
        cert_key_pem=_file("ansible_winrm_cert_key_pem"),
        message_encryption=encryption,
        allow_plaintext=_bool(
            hostvars.get("harden_winrm_allow_plaintext"), f"host {name}: harden_winrm_allow_plaintext", False
        ),
    )


_PSRP_AUTH = ("basic", "certificate", "negotiate", "kerberos", "ntlm", "credssp")


def _psrp_settings(name: str, hostvars: Mapping[str, Any], port: int | None) -> WinrmSettings:
    """Ansible's psrp plugin rules (``ansible_psrp_*``): https unless the port is 5985, auth negotiate."""
    scheme = str(hostvars.get("ansible_psrp_protocol") or ("http" if port == 5985 else "https")).lower()
    if scheme not in ("http", "https"):
        raise InventoryError(f"host {name}: ansible_psrp_protocol={scheme!r} must be http or https")
    auth = str(hostvars.get("ansible_psrp_auth") or "negotiate").strip().lower()
    if auth not in _PSRP_AUTH:
        raise InventoryError(f"host {name}: ansible_psrp_auth={auth!r} is not one of {', '.join(_PSRP_AUTH)}")
    validation = str(hostvars.get("ansible_psrp_cert_validation") or "validate").strip().lower()
    if validation not in ("validate", "ignore"):
        raise InventoryError(f"host {name}: ansible_psrp_cert_validation={validation!r} must be validate or ignore")
    encryption = str(hostvars.get("ansible_psrp_message_encryption") or "auto").strip().lower()
    if encryption not in ("auto", "always", "never"):
        raise InventoryError(
            f"host {name}: ansible_psrp_message_encryption={encryption!r} must be auto, always or never"
        )
    path = str(hostvars.get("ansible_psrp_path") or "wsman")

    def _file(var: str) -> str | None:
        value = hostvars.get(var)
        return os.path.expanduser(str(value)) if value not in (None, "") else None

    return WinrmSettings(
        transport=auth,
        scheme=scheme,
        path=path if path.startswith("/") else "/" + path,
        cert_validation=validation == "validate",
        ca_trust_path=_file("ansible_psrp_ca_path") or _file("ansible_psrp_cert_trust_path"),
        cert_pem=_file("ansible_psrp_certificate_pem"),
        cert_key_pem=_file("ansible_psrp_certificate_key_pem"),
        message_encryption=encryption,
        configuration_name=str(hostvars.get("ansible_psrp_configuration_name") or "Microsoft.PowerShell"),
        allow_plaintext=_bool(
            hostvars.get("harden_winrm_allow_plaintext"), f"host {name}: harden_winrm_allow_plaintext", False
        ),
        psrp=True,
        connection_timeout=_seconds(name, hostvars, "ansible_psrp_connection_timeout"),
        read_timeout=_seconds(name, hostvars, "ansible_psrp_read_timeout"),
        operation_timeout=_seconds(name, hostvars, "ansible_psrp_operation_timeout"),
    )


def _seconds(name: str, hostvars: Mapping[str, Any], var: str) -> int | None:
    """A positive whole number of seconds, or None when unset."""
    value = hostvars.get(var)
    if value in (None, ""):
        return None
    try:
        seconds = int(str(value).strip())
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise InventoryError(f"host {name}: {var}={value!r} must be a positive number of seconds")
    return seconds


def _bool(value: Any, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InventoryError(f"{name}: expected a boolean, got {value!r}")


def _port(value: Any, host: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InventoryError(f"host {host}: ansible_port {value!r} is not a number") from None
    if not 0 < port < 65536:
        raise InventoryError(f"host {host}: ansible_port {port} is out of range")
    return port


def _first(hostvars: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = hostvars.get(name)
        if value not in (None, ""):
            return value
    return None


def _known_hosts_from_args(*args: Any) -> str | None:
    """``-o UserKnownHostsFile=PATH`` in ansible_ssh_common_args / ansible_ssh_extra_args."""
    found = None
    for arg in args:
        if not arg:
            continue
        try:
            words = shlex.split(str(arg))
        except ValueError:
            continue
        for i, word in enumerate(words):
            opt = word[2:] if word.startswith("-o") and len(word) > 2 else None
            if word == "-o" and i + 1 < len(words):
                opt = words[i + 1]
            if opt:
                key, _, value = opt.partition("=")
                if key.strip().lower() == "userknownhostsfile" and value.strip():
                    found = os.path.expanduser(value.strip().split()[0])
    return found


def target_from_vars(
    name: str, hostvars: Mapping[str, Any], env: Mapping[str, str], policies: dict[str, Policy] | None = None
) -> Target:
    """Build a :class:`Target` from one host's (already templated) variables.

    ``policies``: policies already read for other hosts, by their variables (see :func:`_policy`).
    """
    conn_name = str(hostvars.get("ansible_connection") or "ssh")
    connection = _CONNECTIONS.get(conn_name)
    if connection is None:
        raise InventoryError(
            f"host {name}: ansible_connection={conn_name!r} is not supported (ssh, paramiko, local, winrm, psrp)"
        )
    method = str(_first(hostvars, "ansible_become_method", "harden_cfg_become_method") or "sudo")
    become = _bool(
        _first(hostvars, "ansible_become", "harden_cfg_become"),
        f"host {name}: ansible_become (or [privilege_escalation] become)",
        False,
    )
    if become and method not in ("sudo", "ansible.builtin.sudo"):
        raise InventoryError(f"host {name}: ansible_become_method={method!r} is not supported (sudo)")
    env_check = env.get("ANSIBLE_HOST_KEY_CHECKING")  # the environment, then ansible.cfg, then True
    default_check = env_check if env_check is not None else hostvars.get("harden_cfg_host_key_checking")
    checking = _bool(default_check, "ANSIBLE_HOST_KEY_CHECKING (or host_key_checking in ansible.cfg)", True)
    checking = _bool(
        _first(
            hostvars,
            "ansible_host_key_checking",
            "ansible_ssh_host_key_checking",
            "ansible_paramiko_host_key_checking",
        ),
        f"host {name}: ansible_host_key_checking",
        checking,
    )
    try:
        policy = _policy(hostvars, policies)
    except PolicyError as exc:
        raise InventoryError(f"host {name}: {exc}") from None
    key_file = _first(
        hostvars, "ansible_ssh_private_key_file", "ansible_private_key_file", "harden_cfg_private_key_file"
    )
    winrm = connection.is_windows
    psrp = connection is Connection.PSRP
    ssh_args = tuple(
        str(a)
        for a in (
            _first(hostvars, "ansible_ssh_common_args", "harden_cfg_ssh_common_args"),
            _first(hostvars, "ansible_ssh_extra_args", "harden_cfg_ssh_extra_args"),
        )
        if a
    )
    port = _port(_first(hostvars, *_PORT_VARS[connection]), name)
    user = _first(hostvars, *_USER_VARS[connection]) if winrm else None
    settings = None
    if winrm:
        settings = _psrp_settings(name, hostvars, port) if psrp else _winrm_settings(name, hostvars, port, user)
    return Target(
        name=name,
        connection=connection,
        host=str(_first(hostvars, *_HOST_VARS[connection]) or name),
        port=port,
        user=user if winrm else _first(hostvars, "ansible_user", "ansible_ssh_user", "harden_cfg_remote_user"),
        key_file=os.path.expanduser(str(key_file)) if key_file else None,
        password=_first(hostvars, *_PASSWORD_VARS[connection]),
        become=become,
        become_user=str(_first(hostvars, "ansible_become_user", "harden_cfg_become_user") or "root"),
        become_password=_first(hostvars, "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")
        or (OVERRIDES.become_password if become else None),
        host_key_checking=checking,
        known_hosts=_known_hosts_from_args(*ssh_args),
        ssh_args=ssh_args,
        policy=policy,
        variables=hostvars,
        winrm=settings,
    )


# The variables harden reads; only these are templated (a Jinja2 error elsewhere is not ours).
_USED = (
    "ansible_connection", "ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port",
    "ansible_user", "ansible_ssh_user", "ansible_ssh_private_key_file", "ansible_private_key_file",
    "ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become",
    "ansible_become_method", "ansible_become_user", "ansible_become_password", "ansible_become_pass",
    "ansible_sudo_pass", "ansible_host_key_checking", "ansible_ssh_host_key_checking",
    "ansible_paramiko_host_key_checking", "ansible_ssh_common_args", "ansible_ssh_extra_args",
    *POLICY_VARIABLES, "harden_role", "harden_approved_networks", "group_names",
    "ansible_winrm_transport", "ansible_winrm_scheme", "ansible_winrm_path", "ansible_winrm_port",
    "ansible_winrm_host", "ansible_winrm_user", "ansible_winrm_pass", "ansible_winrm_password",
    "ansible_winrm_server_cert_validation", "ansible_winrm_ca_trust_path", "ansible_winrm_cert_pem",
    "ansible_winrm_cert_key_pem", "ansible_winrm_message_encryption", "harden_winrm_allow_plaintext",
    "ansible_psrp_host", "ansible_psrp_port", "ansible_psrp_user", "ansible_psrp_password", "ansible_psrp_pass",
    "ansible_psrp_protocol", "ansible_psrp_path", "ansible_psrp_auth", "ansible_psrp_cert_validation",
    "ansible_psrp_ca_path", "ansible_psrp_certificate_pem", "ansible_psrp_certificate_key_pem",
    "ansible_psrp_message_encryption", "ansible_psrp_configuration_name", "ansible_psrp_cert_trust_path",
    "ansible_psrp_connection_timeout", "ansible_psrp_read_timeout", "ansible_psrp_operation_timeout",
)  # fmt: skip


def _plain(value: Any) -> Any:
    """Strip ansible's tagged types down to plain Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


_WARNING = re.compile(r"\[WARNING\]: (Failed to parse .*)")


_UNPARSED = re.compile(r"\[WARNING\]: (Failed to parse |Unable to parse )")


def _parse_failure(source: Path, captured: str, exc: Exception) -> InventoryError:
    reasons = [m.group(1).strip() for m in _WARNING.finditer(captured)]
    detail = "; ".join(dict.fromkeys(reasons)) or str(exc).splitlines()[0]
    return InventoryError(f"{source}: cannot parse inventory: {detail}")


@dataclass(frozen=True)
class InventoryLimits:
    """How long, and with how much memory, reading the inventory and its variables may take.

    Variables come from files anyone with write access to the inventory's directory (or the
    CMDB behind a dynamic inventory) can shape: a YAML alias bomb ("billion laughs") in
    group_vars takes a few hundred bytes and grows without bound once something walks it.
    ``HARDEN_INVENTORY_TIMEOUT`` (seconds) and ``HARDEN_INVENTORY_MEMORY_MB`` raise the bounds.
    """

    seconds: float = 60.0  # 5,000 hosts with group_vars and host_vars read in about 6 s here
    memory_mb: int = 2048  # address space the loader may add to what harden has when it starts it

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InventoryLimits:
        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise InventoryError(f"{name}={raw!r} is not a number") from None
            if value <= 0:
                raise InventoryError(f"{name}={raw!r} must be positive")
            return value

        return cls(
            number("HARDEN_INVENTORY_TIMEOUT", cls.seconds), int(number("HARDEN_INVENTORY_MEMORY_MB", cls.memory_mb))
        )


def load_inventory(
    source: Path,
    limit: str | None = None,
    vault_password_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    limits: InventoryLimits | None = None,
) -> list[Target]:
    """Every host of ``source`` (after ``limit``), in inventory order (see :func:`start_loading`)."""
    return start_loading(source, limit, vault_password_file, env, limits).result()


@dataclass(frozen=True)
class PendingInventory:
    """An inventory being read in a bounded child process (:func:`start_loading`)."""

    child: BoundedRead
    env: Mapping[str, str]

    def result(self) -> list[Target]:
        """Wait for the child; the targets, or :class:`InventoryError` (also past the bounds)."""
        hosts: list[tuple[str, dict[str, Any]]] = self.child.result()
        strings: dict[str, str] = {}
        policies: dict[str, Policy] = {}
        targets = [target_from_vars(name, _shared(used, strings), self.env, policies) for name, used in hosts]
        _log_loaded(self.child.source, targets, self.env)
        return targets


def _policy(hostvars: Mapping[str, Any], policies: dict[str, Policy] | None) -> Policy:
    """:meth:`Policy.from_vars`, once for each distinct set of policy variables in ``policies``
    (a fleet's hosts mostly share their group's policy: 10,000 hosts, a handful of policies)."""
    if policies is None:
        return Policy.from_vars(hostvars)
    try:
        key = json.dumps([hostvars.get(k) for k in POLICY_VARIABLES], sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys JSON cannot sort: read this host's own
        return Policy.from_vars(hostvars)
    policy = policies.get(key)
    if policy is None:
        policy = policies[key] = Policy.from_vars(hostvars)
    return policy


def _shared(value: Any, strings: dict[str, str]) -> Any:
    """``value`` (a host's variables) with each plain string that another host also has replaced by
    that host's copy: 10,000 hosts' group variables are kept once, not 10,000 times."""
    if type(value) is str:
        return strings.setdefault(value, value)
    if type(value) is dict:
        return {_shared(k, strings): _shared(v, strings) for k, v in value.items()}
    if type(value) is list:
        return [_shared(v, strings) for v in value]
    return value


def _log_loaded(source: Path, targets: list[Target], env: Mapping[str, str]) -> None:
    """``-vv``: what was read, and the Ansible configuration file in effect."""
    from hardening.verbose import esc, verbosity, vlog

    if verbosity() < 2:
        return
    from hardening.ansible_env import ansible_config_file

    config = ansible_config_file(env=env)
    vlog(2, "inventory %s: %d hosts; Ansible configuration: %s", esc(source), len(targets), esc(config or "none"))


def start_loading(
    source: Path,
    limit: str | None = None,
    vault_password_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    limits: InventoryLimits | None = None,
) -> PendingInventory:
    """Start reading ``source``: ansible-core reads the inventory and each host's variables in a
    child process bounded by ``limits`` (default: :meth:`InventoryLimits.from_env`); past them,
    :meth:`PendingInventory.result` raises :class:`InventoryError` and nothing is audited. The
    child sends back each host's name and the variables harden uses (templated, plain values);
    the targets are built here. Meanwhile the caller may prepare what it needs next.
    """
    env = os.environ if env is None else env
    limits = limits or InventoryLimits.from_env(env)
    if not source.exists():
        raise InventoryError(f"{source}: inventory not found")
    _ansible_settings()  # here, not in the child: ansible-runner runs inherit them too
    return PendingInventory(start_bounded(lambda: _read_hosts(source, limit, vault_password_file), limits, source), env)


def _ansible_settings() -> None:
    # Fail loudly instead of Ansible's default warn-and-continue on an unparsable source.
    os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
    os.environ.setdefault("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "False")
    os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")


def _read_hosts(source: Path, limit: str | None, vault_password_file: Path | None) -> list[tuple[str, dict[str, Any]]]:
    """(name, the variables harden uses, templated and plain) of every host: ansible-core's part."""
    for path in _vars_files(source):
        check_aliases(path)
    from hardening import ansible_cache

    ansible_cache.install()
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    _init_plugins()
    loader = DataLoader()
    _vault(loader, vault_password_file)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            inventory = InventoryManager(loader=loader, sources=[str(source)])
            if limit:
                inventory.subset(limit)
            hosts = inventory.get_hosts("all")
    except AnsibleError as exc:
        raise _parse_failure(source, captured.getvalue(), exc) from None
    if _UNPARSED.search(captured.getvalue()):
        # ansible.constants was imported before our settings (e.g. by an embedding program):
        # Ansible then only warns; an unparsable inventory is still an error here.
        raise _parse_failure(source, captured.getvalue(), InventoryError("unparsable")) from None
    if limit and not hosts:
        raise InventoryError(f"{source}: --limit {limit!r} matches no host")
    variables = VariableManager(loader=loader, inventory=inventory)
    out = []
    for host in hosts:
        try:
            with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
                hostvars = {**variables.get_vars(host=host, include_hostvars=False), **OVERRIDES.extra_vars}
                templar = Templar(loader=loader, variables=hostvars)
                used = {k: _plain(templar.template(hostvars[k])) for k in _USED if k in hostvars}
                used.update(_config_settings({**hostvars, **used}))
        except AnsibleError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "undecryptable" in first or "vault" in first.lower():
                first = "a vault-encrypted variable cannot be decrypted: pass --vault-password-file FILE"
            raise InventoryError(f"{source}: host {host.name}: {first}") from None
        out.append((str(host.name), used))
    return out


#: A YAML file whose aliases expand it to more values than this (and a hundred times more than it
#: holds) is refused before Ansible reads it: a "billion laughs" takes a few hundred bytes.
MAX_EXPANDED = 1_000_000


#: Ansible settings (ansible.cfg, ANSIBLE_* environment) harden honours when the inventory does not
#: set the host variable: (connection plugin option or constant, the key handed to target_from_vars)
_SSH_OPTIONS = ("remote_user", "private_key_file", "host_key_checking", "ssh_common_args", "ssh_extra_args")
_BECOME = {"become": "DEFAULT_BECOME", "become_user": "DEFAULT_BECOME_USER", "become_method": "DEFAULT_BECOME_METHOD"}


def _config_settings(variables: Mapping[str, Any]) -> dict[str, Any]:
    """What Ansible's own configuration says for this host: the ssh connection plugin's options
    resolved with its precedence (host variables, then ``ANSIBLE_*``, then ansible.cfg), and the
    privilege escalation defaults. Read in the inventory child, where ansible-core is loaded."""
    from ansible import constants as C
    from ansible.errors import AnsibleError
    from ansible.plugins.loader import connection_loader

    out: dict[str, Any] = {}
    if _CONNECTIONS.get(str(variables.get("ansible_connection") or "ssh")) is not Connection.SSH:
        return out
    connection_loader.get("ssh", class_only=True)  # registers the plugin's option definitions
    for option in _SSH_OPTIONS:
        try:
            value = C.config.get_config_value(option, plugin_type="connection", plugin_name="ssh", variables=variables)
        except (AnsibleError, KeyError, TypeError, ValueError):
            continue
        if value not in (None, ""):
            out[f"harden_cfg_{option}"] = _plain(value)
    for key, constant in _BECOME.items():
        value = getattr(C, constant, None)
        if value not in (None, ""):
            out[f"harden_cfg_{key}"] = _plain(value)
    return out


def _vault(loader: Any, vault_password_file: Path | None) -> None:
    """Vault secrets from --vault-password-file, --vault-id and --ask-vault-pass, as ansible-core sets them up."""
    if vault_password_file is None and not OVERRIDES.vault_ids and OVERRIDES.vault_password is None:
        return
    from ansible.cli import CLI
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import VaultSecret

    files = [str(vault_password_file)] if vault_password_file is not None else []
    ids = [i for i in OVERRIDES.vault_ids if not i.endswith("@prompt")]  # prompts were answered by the CLI
    try:
        secrets = CLI.setup_vault_secrets(loader, vault_ids=ids, vault_password_files=files)
    except (AnsibleError, OSError) as exc:
        raise InventoryError(f"cannot read vault password: {exc}") from None
    if OVERRIDES.vault_password is not None:
        secrets.append(("default", VaultSecret(OVERRIDES.vault_password.encode())))
    loader.set_vault_secrets(secrets)


def _init_plugins() -> None:
    """Load Ansible's plugins as ``ansible-inventory`` does before it reads a source.

    Without it ansible-core (2.15+) knows no inventory plugin by name, and a plugin inventory
    (``plugin: ansible.builtin.constructed``, ``generator``, a collection's ``aws_ec2``) is
    refused as "unknown plugin". Which plugins may read a source is Ansible's own setting
    (``[inventory] enable_plugins`` in ansible.cfg, ``ANSIBLE_INVENTORY_ENABLED``).
    """
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader()


def _vars_files(source: Path) -> list[Path]:
    """The YAML files Ansible reads beside the inventory: the inventory itself (a file, or the files
    of a directory) and everything under group_vars/ and host_vars/ beside it."""
    base = source if source.is_dir() else source.parent
    found = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    for name in ("group_vars", "host_vars"):
        folder = base / name
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.is_file())
    return [p for p in found if p.suffix.lower() in ("", ".yml", ".yaml", ".json")]


def check_aliases(path: Path) -> None:
    """Raise :class:`InventoryError` when ``path``'s YAML aliases expand beyond :data:`MAX_EXPANDED`
    values (or refer to themselves). Only the node graph is built (PyYAML's composer), never the
    expansion; a file that is not YAML is left to Ansible."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open("rb") as f:
            docs = list(yaml.compose_all(f, Loader=loader))  # type: ignore[arg-type]
    except (yaml.YAMLError, OSError, ValueError, RecursionError):
        return
    for doc in docs:
        if doc is None:
            continue
        expanded, distinct = _expanded_size(doc)
        if expanded is None:
            raise InventoryError(f"{path}: a YAML alias refers to the value that holds it (endless): not read")
        if expanded > MAX_EXPANDED and expanded > 100 * distinct:
            raise InventoryError(
                f"{path}: its YAML aliases expand to {expanded:,} values from {distinct:,} written "
                "(an alias bomb, 'billion laughs'): not read"
            )


def _expanded_size(root: Any) -> tuple[int | None, int]:
    """(values the node graph stands for once aliases are expanded, distinct nodes); None for an alias
    inside its own anchor (endless). Iterative: a deeply nested file is no problem."""
    size: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    open_ids: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            open_ids.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            continue
        if key in size:
            continue
        if key in open_ids:  # an alias inside its own anchor
            return None, len(size) + 1
        open_ids.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)], len(size)


def _children(node: Any) -> list[Any]:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []
    out: list[Any] = []
    for item in value:
        out.extend(item if isinstance(item, tuple) else (item,))
    return out


T = TypeVar("T")


def run_bounded(work: Callable[[], T], limits: InventoryLimits, source: Path) -> T:
    """``work()`` in a child process within ``limits`` (see :func:`start_bounded`)."""
    return start_bounded(work, limits, source).result()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class BoundedRead:
    """Inventory work running in a bounded child (:func:`start_bounded`)."""

    child: BoundedChild
    limits: InventoryLimits
    source: Path

    def result(self) -> Any:
        """The work's result, or :class:`InventoryError` (its own, or past a bound)."""
        return _answer(self.child.outcome(), self.limits, self.source)


def start_bounded(work: Callable[[], Any], limits: InventoryLimits, source: Path) -> BoundedRead:
    """Start ``work()`` in a forked child whose address space may grow by ``limits.memory_mb`` and
    that is killed ``limits.seconds`` after it starts (:mod:`hardening.bounded`)."""
    return BoundedRead(start_child(work, limits.seconds, limits.memory_mb, (InventoryError,)), limits, source)


def _answer(outcome: Outcome, limits: InventoryLimits, source: Path) -> Any:
    """The inventory's reading of a child's outcome: the value, or an :class:`InventoryError` for a person."""
    what = f"{source}: reading the inventory and its variables"
    bomb = "(a YAML alias bomb in a vars file?); nothing was audited."
    if outcome.kind == "ok":
        return outcome.value
    if outcome.kind == "error":
        raise InventoryError(outcome.value)
    if outcome.kind == "timeout":
        raise InventoryError(
            f"{what} took more than {limits.seconds:g} s (a YAML alias bomb in a vars file? a slow vars plugin "
            "or vault script?); nothing was audited. HARDEN_INVENTORY_TIMEOUT=SECONDS raises the bound"
        )
    if outcome.kind == "memory":
        raise InventoryError(
            f"{what} needed more than {limits.memory_mb} MB {bomb} HARDEN_INVENTORY_MEMORY_MB raises the bound"
        )
    if outcome.kind == "died":
        raise InventoryError(
            f"{what} stopped ({outcome.value}), probably past its {limits.memory_mb} MB memory bound {bomb} "
            "HARDEN_INVENTORY_MEMORY_MB raises the bound"
        )
    raise InventoryError(f"{source}: cannot read the inventory: {outcome.value}")
