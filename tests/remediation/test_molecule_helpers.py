"""The lab helpers behind Molecule's create and destroy steps refuse what could leave the lab (no podman needed)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hardening.lab.errors import LabError
from hardening.lab.molecule import AUTO, molecule_up, validate_lab_address, validate_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "value",
    ["198.18.0.1", "198.18.0.254", "198.18.0.0", "198.18.0.255", "198.18.1.5", "10.0.0.5", "::1", "auto1", ""],
)
def test_addresses_outside_the_lab_or_reserved_in_it_are_refused(value):
    with pytest.raises(LabError):
        validate_lab_address(value, "--ip")


def test_a_lab_address_is_accepted_and_names_are_checked():
    assert validate_lab_address("198.18.0.200", "--ip") == "198.18.0.200"
    assert validate_name("harden-molecule-12", "--instance") == "harden-molecule-12"
    for bad in ("", "-x", "a b", "x;rm", "n" * 64, "label=x"):
        with pytest.raises(LabError):
            validate_name(bad, "--instance")


def test_the_same_address_for_instance_and_refused_destination_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(LabError, match="another host"):
        molecule_up("harden-molecule-t", tmp_path, ip="198.18.0.140", denied_ip="198.18.0.140")
    assert not list(tmp_path.iterdir())


def test_molecule_commands_need_an_instance():
    r = subprocess.run(
        [sys.executable, "-m", "hardening.lab", "molecule-up"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "needs --instance" in r.stderr


def test_every_harden_molecule_variable_has_a_default():
    """molecule.yml reads without any HARDEN_MOLECULE_* set: each ${VAR} has a ${VAR:-default}."""
    text = (ROOT / "molecule" / "default" / "molecule.yml").read_text()
    uses = re.findall(r"\$\{(HARDEN_MOLECULE_[A-Z_]+)(:-[^}]*)?\}", text)
    assert uses and all(default for _, default in uses), uses
    defaults = dict(uses)
    assert defaults["HARDEN_MOLECULE_IMAGE"] == f":-{AUTO}" and defaults["HARDEN_MOLECULE_IP"] == f":-{AUTO}"
    assert yaml.safe_load(text)["driver"]["name"] == "podman"


def test_the_network_lock_keeps_a_second_process_out_until_released(tmp_path):
    """lab_up holds it from creating the network until its containers are on it; lab_down from
    "no container uses it" until it is gone: another process waits in between."""
    from hardening.lab.network import network_lock

    path = str(tmp_path / "net.lock")
    probe = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
        "except BlockingIOError:\n    print('held')"
    )
    with network_lock(path):
        held = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, timeout=30)
    free = subprocess.run([sys.executable, "-c", probe, path], capture_output=True, text=True, timeout=30)
    assert (held.stdout.strip(), free.stdout.strip()) == ("held", "free")
