"""Bring the lab of real test hosts up and down: one container per host *state*.

Each host is a container from the lab image running ``entrypoint.sh STATE`` (mounted
read-only from this package), which contains the network, applies ``states/STATE.sh``
and becomes sshd, published on ``127.0.0.1:<port>``. ``lab_up`` waits for every SSH
banner, then writes the keypair, ``known_hosts`` and an Ansible ``inventory.ini`` into
the work directory.

Example::

    >>> lab = lab_up(Path(".lab"))                     # doctest: +SKIP
    >>> [(h.name, h.port) for h in lab.hosts]          # doctest: +SKIP
    [('default', 40123), ('hardened', 40124), ('half', 40125), ('ufw', 40126)]
    >>> lab_down(workdir=Path(".lab"))                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from ipaddress import IPv4Network
from pathlib import Path

from hardening.lab.errors import LabError, run
from hardening.lab.image import build_image
from hardening.lab.network import (
    DEADEND,
    GATEWAY,
    HOST_RANGE,
    SUBNET,
    ensure_network,
    install_guard,
    network_lock,
    remove_guard,
    remove_network,
)

DEFAULT_PREFIX = "harden-lab"
DEFAULT_NETWORK = "harden-lab"
DEFAULT_WORKDIR = Path(".lab")
LABEL_PREFIX = "harden.lab.prefix"
LABEL_STATE = "harden.lab.state"
LABEL_IP = "harden.lab.ip"
KEY_NAME = "id_ed25519"
BANNER_TIMEOUT = 20.0
_MOUNT = "/opt/harden-lab"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class StateSpec:
    """How Ansible/harden logs in to a host in this state.

    ``key_login``: the lab key is authorized for ``user``; ``password_login``: ``user`` has
    the lab password and sshd accepts passwords; ``become``: escalate with sudo;
    ``become_password``: sudo asks for the password.
    """

    name: str
    user: str
    key_login: bool = True
    password_login: bool = False
    become: bool = True
    become_password: bool = False


STATES: Mapping[str, StateSpec] = {
    "default": StateSpec("default", "harden"),
    "hardened": StateSpec("hardened", "harden"),
    "half": StateSpec("half", "harden", key_login=False, password_login=True, become_password=True),
    "ufw": StateSpec("ufw", "root", become=False),
}
DEFAULT_STATES: tuple[str, ...] = ("default", "hardened", "half", "ufw")


@dataclass(frozen=True)
class LabHost:
    """One lab host: inventory ``name`` (= its state), podman ``container``, lab ``ip``,
    sshd published on ``127.0.0.1:port`` (0 when not published), and whether it runs."""

    name: str
    container: str
    state: str
    ip: str
    port: int
    running: bool


@dataclass(frozen=True)
class Lab:
    """A running lab and the files ``lab_up`` wrote for reaching it."""

    hosts: tuple[LabHost, ...]
    inventory: Path
    known_hosts: Path
    key: Path
    prefix: str = DEFAULT_PREFIX
    network: str = DEFAULT_NETWORK
    password: str | None = None

    def host(self, name: str) -> LabHost:
        """The host called ``name`` (e.g. ``lab.host("hardened")``)."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


# ---------------------------------------------------------------------------------- helpers


def lab_dir() -> Path:
    """This package's folder (entrypoint.sh + states/), bind-mounted into every container."""
    path = Path(str(resources.files("hardening.lab")))
    if not (path / "entrypoint.sh").is_file():
        raise LabError(f"lab scripts missing under {path}: reinstall harden (`make install`)")
    return path


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (rootful podman and a host nftables guard): run as root")


def _write_private(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_keypair(workdir: Path) -> tuple[Path, str]:
    """Return (private key path, public key line); creates an ed25519 pair (0600) if missing."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = workdir / KEY_NAME
    pub = workdir / f"{KEY_NAME}.pub"
    if not (key.is_file() and pub.is_file()):
        k = Ed25519PrivateKey.generate()
        priv = k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
        line = k.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        _write_private(key, priv, 0o600)
        _write_private(pub, line + b" harden-lab\n", 0o644)
    os.chmod(key, 0o600)
    return key.resolve(), pub.read_text().strip()


def _containers(filters: Iterable[str]) -> list[dict[str, object]]:
    argv = ["podman", "ps", "-a", "--format", "json"]
    for f in filters:
        argv += ["--filter", f]
    return json.loads(run(argv).stdout or "[]")


def _name(c: Mapping[str, object]) -> str:
    names = c.get("Names") or []
    return str(names[0]) if isinstance(names, list) and names else str(c.get("Id", ""))[:12]


def _labels(c: Mapping[str, object]) -> Mapping[str, str]:
    labels = c.get("Labels") or {}
    return labels if isinstance(labels, dict) else {}


def _published_port(c: Mapping[str, object]) -> int:
    for p in c.get("Ports") or []:  # type: ignore[union-attr]
        if isinstance(p, dict) and p.get("container_port") == 22:
            return int(p.get("host_port") or 0)
    return 0


def _used_ips(network: str, exclude_prefix: str) -> set[str]:
    """Addresses held by containers on ``network`` other than this prefix's."""
    used: set[str] = set()
    for c in _containers([f"network={network}"]):
        labels = _labels(c)
        if labels.get(LABEL_PREFIX) == exclude_prefix:
            continue
        if LABEL_IP in labels:
            used.add(labels[LABEL_IP])
            continue
        info = json.loads(run(["podman", "inspect", _name(c)]).stdout)[0]
        for net in (info.get("NetworkSettings", {}).get("Networks") or {}).values():
            if net.get("IPAddress"):
                used.add(net["IPAddress"])
    return used


def allocate_ips(count: int, used: set[str]) -> list[str]:
    """``count`` free addresses from the upper half of the lab subnet.

    >>> allocate_ips(2, {"198.18.0.128"})
    ['198.18.0.129', '198.18.0.130']
    """
    base = IPv4Network(SUBNET).network_address
    free = [str(base + i) for i in HOST_RANGE if str(base + i) not in used]
    if len(free) < count:
        raise LabError(f"lab subnet {SUBNET} is full ({len(used)} addresses in use): remove some labs")
    return free[:count]


def mac_for(ip: str) -> str:
    """A fixed, locally administered MAC for a lab address.

    A replaced container keeps its address's MAC, so the host's neighbour cache never
    points at a container that is gone (a random MAC left new sshds unreachable for ~20 s).

    >>> mac_for("198.18.0.130")
    '02:68:6c:12:00:82'
    """
    _, b, c, d = (int(x) for x in ip.split("."))
    return f"02:68:6c:{b:02x}:{c:02x}:{d:02x}"


def wait_for_banner(port: int, timeout: float = BANNER_TIMEOUT, host: str = "127.0.0.1") -> str:
    """Wait until ``host:port`` answers with an SSH banner; return it (``'SSH-2.0-OpenSSH_9.2p1 ...'``)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(2)
                data = s.recv(256)
            if data.startswith(b"SSH-"):
                return data.split(b"\r\n", 1)[0].decode("ascii", "replace")
            last = f"unexpected answer {data[:40]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise LabError(f"no SSH banner on {host}:{port} within {timeout:.0f} s ({last})")


# ----------------------------------------------------------------------------------- public


def lab_status(prefix: str = DEFAULT_PREFIX) -> list[LabHost]:
    """The lab containers with ``prefix`` (running or not), sorted by name."""
    hosts = []
    for c in _containers([f"label={LABEL_PREFIX}={prefix}"]):
        labels = _labels(c)
        state = labels.get(LABEL_STATE, "")
        hosts.append(
            LabHost(
                name=state,
                container=_name(c),
                state=state,
                ip=labels.get(LABEL_IP, ""),
                port=_published_port(c),
                running=str(c.get("State")) == "running",
            )
        )
    return sorted(hosts, key=lambda h: h.name)


def _remove_containers(prefix: str) -> None:
    names = [_name(c) for c in _containers([f"label={LABEL_PREFIX}={prefix}"])]
    if names:
        run(["podman", "rm", "-f", "-t", "0", *names], timeout=60)


def _start(image: str, prefix: str, network: str, state: str, ip: str, pubkey: str, password: str) -> str:
    """``podman run`` one lab host on the network; its name (:func:`_ready` waits for its sshd)."""
    container = f"{prefix}-{state}"
    env = {
        "HARDEN_LAB_PUBKEY": pubkey,
        "HARDEN_LAB_DEADEND": DEADEND,
        "HARDEN_LAB_SUBNET": SUBNET,
    }
    if STATES[state].password_login or STATES[state].become_password:
        env["HARDEN_LAB_PASSWORD"] = password
    argv = ["podman", "run", "-d", "--name", container, "--hostname", state]
    argv += ["--label", f"{LABEL_PREFIX}={prefix}", "--label", f"{LABEL_STATE}={state}"]
    argv += ["--label", f"{LABEL_IP}={ip}", "--network", network, "--ip", ip, "--mac-address", mac_for(ip)]
    argv += ["--dns", GATEWAY]
    # NET_ADMIN: nft/ufw inside. SYS_PTRACE: root may read other users' /proc/<pid>/fd, as
    # root on a real host can (the DNS check maps port 53 to its process that way).
    argv += ["-p", "127.0.0.1::22", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE"]
    argv += ["--stop-signal", "SIGKILL"]
    argv += ["-v", f"{lab_dir()}:{_MOUNT}:ro"]
    for k, v in env.items():
        argv += ["-e", f"{k}={v}"]
    argv += [image, "/bin/sh", f"{_MOUNT}/entrypoint.sh", state]
    run(argv, timeout=60)
    return container


def _ready(container: str, state: str, ip: str) -> LabHost:
    """The started host once its sshd answers and its off-lab traffic is contained."""
    port_out = run(["podman", "port", container, "22/tcp"]).stdout.strip().splitlines()
    port = int(port_out[0].rsplit(":", 1)[1]) if port_out else 0
    if not port:
        raise LabError(f"{container}: sshd port not published")
    try:
        wait_for_banner(port)
    except LabError as exc:
        logs = run(["podman", "logs", "--tail", "15", container], check=False)
        raise LabError(f"{container} ({state}): {exc}; container log: {(logs.stdout + logs.stderr)[-1500:]}") from exc
    route = run(["podman", "exec", container, "ip", "route", "get", "203.0.113.5"]).stdout
    if f"via {DEADEND} " not in route:
        raise LabError(f"{container}: off-lab traffic is not contained (ip route get says {route.strip()!r})")
    return LabHost(state, container, state, ip, port, True)


def _host_keys(host: LabHost) -> list[str]:
    out = run(["podman", "exec", host.container, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"]).stdout
    lines = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            lines.append(f"[127.0.0.1]:{host.port} {parts[0]} {parts[1]}")
    if not lines:
        raise LabError(f"{host.container}: no SSH host keys found")
    return lines


def render_inventory(hosts: Iterable[LabHost], key: Path, known_hosts: Path, password: str | None) -> str:
    """The Ansible INI inventory for ``hosts``: group ``lab``, every value shell-quoted.

    >>> h = LabHost("ufw", "harden-lab-ufw", "ufw", "198.18.0.131", 40001, True)
    >>> print(render_inventory([h], Path("/k"), Path("/kh"), None).splitlines()[1])
    ufw ansible_host=127.0.0.1 ansible_port=40001 ansible_user=root ansible_ssh_private_key_file=/k \
ansible_ssh_common_args='-o UserKnownHostsFile=/kh -o StrictHostKeyChecking=yes' harden_lab_ip=198.18.0.131
    """
    common = f"-o UserKnownHostsFile={shlex.quote(str(known_hosts))} -o StrictHostKeyChecking=yes"
    lines = ["[lab]"]
    for h in hosts:
        spec = STATES[h.state]
        pairs: list[tuple[str, str]] = [
            ("ansible_host", "127.0.0.1"),
            ("ansible_port", str(h.port)),
            ("ansible_user", spec.user),
        ]
        if spec.key_login:
            pairs.append(("ansible_ssh_private_key_file", str(key)))
        if spec.password_login and password:
            pairs.append(("ansible_password", password))
        if spec.become:
            pairs.append(("ansible_become", "true"))
            if spec.become_password and password:
                pairs.append(("ansible_become_password", password))
        pairs += [("ansible_ssh_common_args", common), ("harden_lab_ip", h.ip)]
        lines.append(" ".join([h.name] + [f"{k}={shlex.quote(v)}" for k, v in pairs]))
    lines += ["", "[lab:vars]", f"harden_egress_allow={shlex.quote(SUBNET)}"]
    # the lab's log collector (nothing listens there): logging.forwarding's policy
    lines.append(f"harden_log_collectors={GATEWAY}:6514")
    lines.append("ansible_python_interpreter=/usr/bin/python3")
    return "\n".join(lines) + "\n"


def lab_up(
    workdir: Path = DEFAULT_WORKDIR,
    states: Iterable[str] = DEFAULT_STATES,
    prefix: str = DEFAULT_PREFIX,
    network: str = DEFAULT_NETWORK,
    progress: Progress | None = None,
    packages: tuple[str, ...] | None = None,
) -> Lab:
    """Start one container per state (replacing any with the same ``prefix``), wait for sshd.

    Creates the network and the host guard if needed, writes ``workdir/{id_ed25519,
    known_hosts,inventory.ini}``, and returns the :class:`Lab`. On any failure the
    containers of this prefix are removed and :class:`LabError` says what went wrong.
    ``packages``: the image's package list (default :data:`~hardening.lab.image.PACKAGES`).
    """
    say = progress or (lambda _msg: None)
    states = tuple(states)
    unknown = [s for s in states if s not in STATES]
    if unknown or not states or len(set(states)) != len(states):
        raise LabError(f"states must be distinct names among {sorted(STATES)}; got {list(states)}")
    _require_root()
    image = build_image(progress=say) if packages is None else build_image(progress=say, packages=packages)
    workdir.mkdir(parents=True, exist_ok=True)
    key, pubkey = ensure_keypair(workdir)
    password = "lab-" + secrets.token_hex(8)
    _remove_containers(prefix)
    started = time.monotonic()
    try:
        with network_lock():  # until the containers are on it (lab_down of another lab waits)
            bridge = ensure_network(network)
            install_guard(bridge)  # before any container exists
            say(f"network {network} (bridge {bridge}, {SUBNET}), guard table installed")
            ips = allocate_ips(len(states), _used_ips(network, prefix))
            with ThreadPoolExecutor(max_workers=4) as pool:
                futures = [
                    pool.submit(_start, image, prefix, network, s, ip, pubkey, password)
                    for s, ip in zip(states, ips, strict=True)
                ]
                names = [f.result() for f in futures]
        with ThreadPoolExecutor(max_workers=4) as pool:
            ready = [pool.submit(_ready, n, s, ip) for n, s, ip in zip(names, states, ips, strict=True)]
            hosts = tuple(f.result() for f in ready)
        known = [line for h in hosts for line in _host_keys(h)]
    except BaseException:
        _remove_containers(prefix)
        raise
    say(f"{len(hosts)} hosts up in {time.monotonic() - started:.1f} s")
    known_hosts = (workdir / "known_hosts").resolve()
    _write_private(known_hosts, ("\n".join(known) + "\n").encode(), 0o644)
    inventory = (workdir / "inventory.ini").resolve()
    uses_password = any(STATES[s].password_login or STATES[s].become_password for s in states)
    text = render_inventory(hosts, key, known_hosts, password if uses_password else None)
    _write_private(inventory, text.encode(), 0o600)
    return Lab(
        hosts=hosts,
        inventory=inventory,
        known_hosts=known_hosts,
        key=key,
        prefix=prefix,
        network=network,
        password=password if uses_password else None,
    )


def lab_down(prefix: str = DEFAULT_PREFIX, network: str = DEFAULT_NETWORK, workdir: Path | None = None) -> None:
    """Remove the containers of ``prefix``; then, if no other container uses ``network``,
    the network and the host guard; and the files ``lab_up`` wrote into ``workdir``."""
    _require_root()
    _remove_containers(prefix)
    with network_lock():
        if not _containers([f"network={network}"]):
            remove_network(network)
            remove_guard()
    if workdir is not None:
        for name in ("inventory.ini", "known_hosts", KEY_NAME, f"{KEY_NAME}.pub"):
            (workdir / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            workdir.rmdir()
