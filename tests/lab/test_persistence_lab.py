"""`harden hunt` persistence on a real lab container: every Linux persistence kind planted with a
reverse-shell payload (each entry high), then its benign look-alike (none high), hunted over SSH by
the real transport; and the same collector on this machine (``ansible_connection=local``).

Nothing planted runs: the payloads are files (cron lines, units, rules...) that would run at the
next boot, login or event. The container is the lab's own (unique prefix), removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hardening.hunt.run import load_schema

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import persistence_plants as pp
from labutil import harden_cli, private_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def plab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "p21p") as up:
        yield up


def _hunt(inventory: Path, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    r = harden_cli("hunt", inventory, "--out", out, "--timeout", "60")
    doc = json.loads((out / "hunt.json").read_text())
    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    return r, doc


def test_every_persistence_kind_payload_high_benign_not(plab, tmp_path):
    c = plab.host("default").container
    entries: dict[str, dict[str, dict]] = {}
    runs = {}
    for name, plants in (("malicious", pp.MALICIOUS), ("benign", pp.BENIGN)):
        pp.plant(c, plants)
        try:
            r, doc = _hunt(plab.inventory, tmp_path / name)
        finally:
            pp.unplant(c, plants)
        (h,) = doc["hosts"]
        assert h["status"] == "ok", h
        p = h["persistence"]
        assert p["read"] and p["complete"] and p["warnings"] == [] and p["ownership"] == "dpkg", p
        entries[name] = {e["path"]: e for e in p["entries"]}
        runs[name] = (r, p)
    r, p = runs["malicious"]
    assert r.returncode == 1, r.stderr[-2000:]  # high persistence fails the hunt
    for plant in pp.MALICIOUS:
        e = entries["malicious"].get(plant.path)
        want = "low" if plant.path.endswith(".timer") else "high"  # a timer names its unit: the unit is the payload
        assert e is not None and e["severity"] == want, (plant.path, e)
        assert e["kind"] == plant.kind and e["owner"] == "root" and e["mode"] == plant.mode, e
        assert e["mtime"] and e["size"] and e["reasons"], e
        assert any(line["text"] in plant.content for line in e["lines"]), (e["lines"], plant.content)
    assert "persistence" in r.stdout and "/etc/cron.d/p21-rev" in r.stdout  # the console table
    assert p["counts"]["systemd"]["package_owned"] >= 20
    r, p = runs["benign"]
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for plant in pp.BENIGN:
        e = entries["benign"].get(plant.path)
        assert e is None or e["severity"] in ("low", "info"), (plant.path, e)
    assert entries["benign"]["/etc/cron.d/p21-logrotate"]["severity"] == "low"
    for quiet in ("/root/.bashrc", "/root/.ssh/authorized_keys", "/var/www/html/p21.php"):
        assert quiet not in entries["benign"], entries["benign"].get(quiet)
    assert p["host_seconds"] is not None and p["host_seconds"] < 10


def test_persistence_on_this_machine_is_read_whole(lab, tmp_path):
    """The same piece on this machine's root namespace (local transport, root): read, complete or
    saying why not, within the time the hunt allows."""
    inv = tmp_path / "local.ini"
    inv.write_text("[here]\nthis-machine ansible_connection=local ansible_become=false\n")
    _, doc = _hunt(inv, tmp_path / "local")
    (h,) = doc["hosts"]
    assert h["status"] == "ok", h
    p = h["persistence"]
    assert p["read"] and p["host_seconds"] is not None and p["host_seconds"] < 30, p
    assert p["complete"] or p["warnings"], p
    assert sum(c["files"] for c in p["counts"].values()) > 20
