"""What Molecule's scenario (``molecule/default``) needs from the lab, so ``molecule test`` runs on its own.

The scenario's ``create.yml`` calls :func:`molecule_up` (``python -m hardening.lab molecule-up``)
before it starts the instance container, and ``destroy.yml`` calls :func:`molecule_down`. Every
value has a working default and every default can be overridden (the test suite does):

- the lab image: built or found as the lab builds it (``auto``), or a given image that exists;
- the lab network 198.18.0.0/24 with its host guard (:mod:`hardening.lab.network`), created if missing;
- the instance's address: a free lab address (``auto``) or a given one, with its fixed MAC;
- the destination the egress allowlist must refuse: a lab host of its own (state ``default``,
  sshd on 22, prefix ``<instance>-peer``) started here (``auto``), or a given lab address.

The allowed destination is the host side of the bridge (198.18.0.1): the scenario's verify step
listens there itself (``molecule/default/listen.py``, bounded).

Example::

    >>> validate_lab_address("198.18.0.140", "--ip")
    '198.18.0.140'
    >>> peer_prefix("harden-molecule-0")
    'harden-molecule-0-peer'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from hardening.lab.errors import LabError, run
from hardening.lab.image import IMAGE_REPO, build_image, image_exists
from hardening.lab.lab import (
    DEFAULT_NETWORK,
    _require_root,
    _used_ips,
    allocate_ips,
    lab_down,
    lab_up,
    mac_for,
)
from hardening.lab.network import DEADEND, GATEWAY, SUBNET, ensure_network, install_guard

AUTO = "auto"
#: The file under the work directory that create.yml's later steps (prepare, verify) read.
STATE_FILE = "molecule.json"
PEER_STATE = "default"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MoleculeLab:
    """Where the instance goes and what it is tested against (written as ``molecule.json``)."""

    instance: str
    network: str
    image: str
    ip: str
    mac: str
    denied_ip: str
    peer: str | None  # the prefix of the lab host started as the refused destination, if one was

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def peer_prefix(instance: str) -> str:
    return f"{instance}-peer"


def validate_name(name: str, what: str) -> str:
    """A container or network name podman accepts and a filter cannot misread.

    >>> validate_name("harden-molecule-0", "--instance")
    'harden-molecule-0'
    """
    if not _NAME_RE.match(name):
        raise LabError(f"{what} {name!r}: use letters, digits, '_', '.', '-' (at most 63)")
    return name


def validate_lab_address(value: str, what: str) -> str:
    """An address a lab container may hold: inside 198.18.0.0/24, not the bridge, dead end or edges.

    >>> validate_lab_address("198.18.0.254", "--ip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hardening.lab.errors.LabError: --ip 198.18.0.254: the lab's dead-end route address; ...
    """
    net = IPv4Network(SUBNET)
    try:
        addr = IPv4Address(value)
    except ValueError:
        raise LabError(f"{what} {value!r}: not an IPv4 address (or {AUTO})") from None
    if addr not in net:
        raise LabError(f"{what} {value}: outside the lab network {SUBNET}")
    reserved = {
        str(net.network_address): "the network address",
        str(net.broadcast_address): "the broadcast address",
        GATEWAY: "the host side of the lab bridge",
        DEADEND: "the lab's dead-end route address",
    }
    if str(addr) in reserved:
        raise LabError(f"{what} {value}: {reserved[str(addr)]}; choose another {SUBNET} address")
    return str(addr)


def resolve_image(image: str, progress: Progress | None = None) -> str:
    """``auto`` (or the bare repository name): the lab image, built if podman lacks it.

    Any other ``image`` must exist already."""
    if image in (AUTO, IMAGE_REPO, IMAGE_REPO.removeprefix("localhost/")):
        return build_image(progress=progress)
    if not image_exists(image):
        raise LabError(f"image {image!r} not found: build the lab image with `make lab-image` or leave it {AUTO}")
    return image


def _remove_container(name: str) -> None:
    if run(["podman", "container", "exists", name], check=False).returncode == 0:
        run(["podman", "rm", "-f", "-t", "0", name], timeout=60)


def molecule_up(
    instance: str,
    workdir: Path,
    network: str = DEFAULT_NETWORK,
    image: str = AUTO,
    ip: str = AUTO,
    denied_ip: str = AUTO,
    progress: Progress | None = None,
) -> MoleculeLab:
    """Prepare everything the instance needs; write ``workdir/molecule.json`` and return it.

    Removes a leftover container named ``instance`` first (its address is then free again).
    Raises :class:`LabError` with what to do when something is missing or wrong.
    """
    say = progress or (lambda _msg: None)
    validate_name(instance, "--instance")
    validate_name(network, "--network")
    wanted_ip = AUTO if ip == AUTO else validate_lab_address(ip, "--ip")
    wanted_denied = AUTO if denied_ip == AUTO else validate_lab_address(denied_ip, "--denied-ip")
    if wanted_ip != AUTO and wanted_ip == wanted_denied:
        raise LabError(f"--ip and --denied-ip are both {wanted_ip}: the refused destination must be another host")
    _require_root()
    ref = resolve_image(image, say)
    _remove_container(instance)
    bridge = ensure_network(network)
    install_guard(bridge)
    workdir.mkdir(parents=True, exist_ok=True)
    peer: str | None = None
    if wanted_denied == AUTO:
        peer = peer_prefix(instance)
        started = lab_up(workdir / "peer", (PEER_STATE,), prefix=peer, network=network, progress=say)
        wanted_denied = started.hosts[0].ip
        say(f"refused destination: lab host {started.hosts[0].container} at {wanted_denied} (sshd on 22)")
    if wanted_ip == AUTO:
        wanted_ip = allocate_ips(1, _used_ips(network, exclude_prefix="") | {wanted_denied})[0]
    lab = MoleculeLab(instance, network, ref, wanted_ip, mac_for(wanted_ip), wanted_denied, peer)
    tmp = workdir / f".{STATE_FILE}.tmp"
    tmp.write_text(lab.to_json() + "\n", encoding="utf-8")
    tmp.replace(workdir / STATE_FILE)
    return lab


def molecule_down(instance: str, workdir: Path | None = None, network: str = DEFAULT_NETWORK) -> None:
    """Remove the instance and the peer lab host by name; the lab network and its guard go too when
    no other container uses them (as :func:`hardening.lab.lab_down`). Nothing there is fine."""
    validate_name(instance, "--instance")
    validate_name(network, "--network")
    _require_root()
    _remove_container(instance)
    lab_down(prefix=peer_prefix(instance), network=network, workdir=workdir / "peer" if workdir else None)
    if workdir is not None:
        (workdir / STATE_FILE).unlink(missing_ok=True)


__all__ = [
    "AUTO",
    "STATE_FILE",
    "MoleculeLab",
    "molecule_down",
    "molecule_up",
    "peer_prefix",
    "resolve_image",
    "validate_lab_address",
    "validate_name",
]
