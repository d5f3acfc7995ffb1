"""The local lab: real Debian test hosts in podman containers, one per known *state*.

Public API (typed, frozen dataclasses)::

    build_image(progress=None) -> str          # image ref, built once from Debian packages
    lab_up(workdir, states=DEFAULT_STATES, prefix="harden-lab", network="harden-lab") -> Lab
    lab_down(prefix="harden-lab", network="harden-lab", workdir=None) -> None
    lab_status(prefix="harden-lab") -> list[LabHost]

States (``hardening/lab/states/<state>.sh``): ``default`` (stock Debian), ``hardened``
(everything a container can have), ``half`` (traps), ``ufw``. See shared/LAB.md for the
machine facts behind this and network.py for how lab packets are kept in the lab.

Example::

    >>> lab = lab_up(Path(".lab"))            # doctest: +SKIP
    >>> lab.inventory.name                    # doctest: +SKIP
    'inventory.ini'
"""

from hardening.lab.errors import LabError
from hardening.lab.image import HUNT_PACKAGES, PACKAGES, build_image, image_ref
from hardening.lab.lab import (
    DEFAULT_NETWORK,
    DEFAULT_PREFIX,
    DEFAULT_STATES,
    DEFAULT_WORKDIR,
    STATES,
    Lab,
    LabHost,
    StateSpec,
    lab_down,
    lab_status,
    lab_up,
)
from hardening.lab.network import DEADEND, GATEWAY, GUARD_TABLE, SUBNET

__all__ = [
    "DEADEND",
    "DEFAULT_NETWORK",
    "DEFAULT_PREFIX",
    "DEFAULT_STATES",
    "DEFAULT_WORKDIR",
    "GATEWAY",
    "GUARD_TABLE",
    "HUNT_PACKAGES",
    "PACKAGES",
    "STATES",
    "SUBNET",
    "Lab",
    "LabError",
    "LabHost",
    "StateSpec",
    "build_image",
    "image_ref",
    "lab_down",
    "lab_status",
    "lab_up",
]
