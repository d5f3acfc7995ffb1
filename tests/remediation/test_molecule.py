"""Molecule: converge every Linux role on the lab image, idempotence, functional verify.

Two ways, both the real ``molecule test`` (molecule/default) with the venv on PATH:

- standalone, as a user runs it: a fresh copy of the checkout, an environment scrubbed of
  every HARDEN_MOLECULE_* variable (and of the rest: PATH, HOME, LANG only). The scenario's
  create step builds or finds the lab image, creates the lab network and its guard if missing,
  picks a free lab address and starts a lab host as the refused destination; verify listens at
  the allowed destination itself; destroy removes all of it by name.
- with the test suite's overrides: the session lab's image, a lab host of the session lab as
  the refused destination, an address and a listener chosen here (IP_FREEBIND: the bridge
  address appears when the instance starts).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hardening.lab import DEFAULT_NETWORK, GATEWAY, GUARD_TABLE, build_image
from hardening.lab.lab import _used_ips, allocate_ips
from hardening.lab.molecule import molecule_down, peer_prefix

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.lab, pytest.mark.molecule]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MOLECULE_TIMEOUT = 900


def _listener(stop: threading.Event) -> tuple[socket.socket, threading.Thread]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
    s.bind((GATEWAY, 0))
    s.listen(8)
    s.settimeout(0.5)

    def serve() -> None:
        accepted = 0
        while not stop.is_set() and accepted < 16:
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            accepted += 1
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return s, t


def _molecule(cwd: Path, env: dict[str, str]) -> str:
    """``molecule test`` in ``cwd``, bounded: on overrun its whole process group is killed."""
    molecule = BIN / "molecule"
    if not molecule.exists():
        pytest.fail("molecule not installed: pip install -e '.[test]'")
    proc = subprocess.Popen(
        [str(molecule), "test"], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=MOLECULE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"molecule test took more than {MOLECULE_TIMEOUT} s: {ANSI.sub('', out)[-4000:]}")
    log = ANSI.sub("", out)
    assert proc.returncode == 0, log[-6000:]
    return log


def _fresh_checkout(dest: Path) -> Path:
    """The files a clone would have (tracked and new, not ignored: no .venv, no caches), symlinks kept."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src, dst = ROOT / rel, dest / rel
        if not src.is_symlink() and not src.exists():  # deleted in the worktree, not yet committed
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    return dest


def _containers(name_filter: str) -> list[str]:
    out = subprocess.run(
        ["podman", "ps", "-a", "--format", "{{.Names}}", "--filter", name_filter],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return out.stdout.split()


def test_molecule_test_runs_on_its_own_from_a_fresh_checkout(tmp_path):
    if os.geteuid() != 0 or shutil.which("podman") is None:
        if os.environ.get("CI"):
            pytest.fail("molecule needs root and podman under CI")
        pytest.skip("molecule on the lab needs root and podman")
    checkout = _fresh_checkout(tmp_path / "checkout")
    (tmp_path / "home").mkdir()
    env = {  # what a root shell with the venv activated has; nothing of harden's own
        "PATH": os.pathsep.join(
            [str(BIN), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        ),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
    }
    assert not [k for k in env if k.startswith("HARDEN_")]
    instance = "harden-molecule-0"  # molecule.yml's default name
    try:
        log = _molecule(checkout, env)
    finally:
        molecule_down(instance)  # by name; a no-op when destroy already did it
    assert "idempotence" in log.lower() and "connect to a lab address outside the allowlist" in log.lower()
    assert "it heard the instance's address" in log.lower()  # verify's own listener was reached
    assert not _containers(f"name=^{instance}$") and not _containers(f"label=harden.lab.prefix={peer_prefix(instance)}")
    if not _containers(f"network={DEFAULT_NETWORK}"):  # nobody else's lab: destroy removed network and guard
        assert subprocess.run(["podman", "network", "exists", DEFAULT_NETWORK], timeout=60).returncode != 0
        assert subprocess.run(["nft", "list", "table", "inet", GUARD_TABLE], capture_output=True).returncode != 0


def test_molecule_with_the_test_suites_overrides(lab):  # the lab fixture brings the network and its guard
    ip = allocate_ips(1, _used_ips(DEFAULT_NETWORK, "harden-molecule"))[0]
    stop = threading.Event()
    sock, thread = _listener(stop)
    instance = f"harden-molecule-{os.getpid()}"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HARDEN_MOLECULE_ID": str(os.getpid()),
        "HARDEN_MOLECULE_IMAGE": build_image(),
        "HARDEN_MOLECULE_IP": ip,
        "HARDEN_MOLECULE_PORT": str(sock.getsockname()[1]),
        "HARDEN_MOLECULE_DENIED_IP": lab.host("hardened").ip,  # sshd on 22; not in the allowlist
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    }
    try:
        log = _molecule(ROOT, env)
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
        molecule_down(instance)
    assert "idempotence" in log.lower()
    assert "connect to a lab address outside the allowlist" in log.lower()
    # someone else listens (HARDEN_MOLECULE_PORT): verify starts no listener of its own
    assert re.search(r"TASK \[Start a listener[^\n]*\n+skipping: \[localhost\]", log), log[-6000:]
    assert not _containers(f"name=^{instance}$")
