"""Shared fixtures. ``lab``: a session-wide lab of real sshd hosts (one per state).

Tests that use it are marked ``@pytest.mark.lab`` (deselect with ``-m "not lab"``).
The lab needs root and podman (``make install``); without them the lab tests are
skipped on a workstation but fail under CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests' own helper modules in tests/support (labutil, wsman_server, hunt_scenarios, ssh_server) import by name.
sys.path.insert(0, str(Path(__file__).parent / "support"))

from hardening.lab import DEFAULT_NETWORK, DEFAULT_STATES, GUARD_TABLE, Lab, LabError, lab_down, lab_up


def _lab_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    if shutil.which("podman") is None:
        return "podman not installed: run `make install`"
    return None


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A lab with the four states under a unique prefix; torn down after the session."""
    reason = _lab_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"lab tests cannot run under CI: {reason}")
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("lab")
    prefix = f"harden-t{os.getpid()}"
    try:
        up = lab_up(workdir, DEFAULT_STATES, prefix=prefix)
    except LabError as exc:
        pytest.fail(f"lab_up failed: {exc}")
    try:
        yield up
    finally:
        lab_down(prefix=prefix, workdir=workdir)
        left = subprocess.run(
            ["podman", "ps", "-aq", "--filter", f"label=harden.lab.prefix={prefix}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert not left, f"lab_down left containers behind: {left}"
        others = subprocess.run(
            ["podman", "ps", "-aq", "--filter", f"network={DEFAULT_NETWORK}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not others:  # we were the last lab: network and host guard must be gone
            guard = subprocess.run(["nft", "list", "table", "inet", GUARD_TABLE], capture_output=True)
            assert guard.returncode != 0, "lab_down left the host guard table behind"
            net = subprocess.run(["podman", "network", "exists", DEFAULT_NETWORK])
            assert net.returncode != 0, "lab_down left the lab network behind"
