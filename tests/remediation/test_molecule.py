"""Molecule: converge every Linux role on the lab image, idempotence, functional verify.

Runs ``molecule test`` (molecule/default) with the venv on PATH. The instance sits on the
lab network (with its host guard) at a free lab address; this test listens on
198.18.0.1:<port> (IP_FREEBIND: the bridge address appears when the instance starts) so
the verify step can prove an allowed connection works; a session lab host's sshd (answering
before the roles run) is the non-allowed destination that must then fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hardening.lab import DEFAULT_NETWORK, GATEWAY, build_image
from hardening.lab.lab import _used_ips, allocate_ips, mac_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lab, pytest.mark.molecule]


def _listener(stop: threading.Event) -> tuple[socket.socket, threading.Thread]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
    s.bind((GATEWAY, 0))
    s.listen(8)
    s.settimeout(0.5)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return s, t


def test_molecule_converge_idempotence_verify(lab):  # the lab fixture brings the network and its guard
    molecule = Path(sys.executable).parent / "molecule"
    if not molecule.exists():
        pytest.fail("molecule not installed: pip install -e '.[test]'")
    ip = allocate_ips(1, _used_ips(DEFAULT_NETWORK, "harden-molecule"))[0]
    stop = threading.Event()
    sock, thread = _listener(stop)
    env = {
        **os.environ,
        "PATH": f"{molecule.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HARDEN_MOLECULE_ID": str(os.getpid()),
        "HARDEN_MOLECULE_IMAGE": build_image(),
        "HARDEN_MOLECULE_IP": ip,
        "HARDEN_MOLECULE_MAC": mac_for(ip),
        "HARDEN_MOLECULE_PORT": str(sock.getsockname()[1]),
        "HARDEN_MOLECULE_DENIED_IP": lab.host("hardened").ip,  # sshd on 22; not in the allowlist
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    }
    try:
        out = subprocess.run([str(molecule), "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
        subprocess.run(
            ["podman", "rm", "-f", "-t", "0", f"harden-molecule-{os.getpid()}"], capture_output=True, check=False
        )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    assert "idempotence" in log.lower()
    assert "connect to a lab address outside the allowlist" in log.lower()
