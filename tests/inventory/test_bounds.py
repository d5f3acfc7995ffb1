"""Reading the inventory and its variables is bounded in time and memory: a YAML alias bomb
("billion laughs") in a vars file, or a vars source that never ends, exits 2 with a message
instead of hanging harden. Both engines read the inventory the same way first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hardening.inventory import InventoryError, InventoryLimits, check_aliases, load_inventory, run_bounded

HARDEN = str(Path(sys.executable).parent / "harden")


def bomb(key: str = "harden_egress_allow", levels: int = 10, indent: str = "") -> str:
    """A billion laughs: ``levels`` anchors of nine aliases each (9**levels strings, a few hundred bytes)."""
    lines = [f'{indent}l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    lines.append(f"{indent}{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def harden(*args: object, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "HARDEN_"))}
    full.update(env or {})
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=full)


def _ini(tmp_path: Path) -> Path:
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nweb1 ansible_host=127.0.0.1 ansible_port=9\n")
    return inv


@pytest.mark.parametrize("where", ["group_vars", "host_vars", "inline", "unused_key"])
def test_an_alias_bomb_exits_2_at_once(tmp_path, where):
    inv = _ini(tmp_path)
    if where == "group_vars":
        (tmp_path / "group_vars").mkdir()
        (tmp_path / "group_vars" / "all.yml").write_text(bomb())
    elif where == "host_vars":
        (tmp_path / "host_vars" / "web1").mkdir(parents=True)
        (tmp_path / "host_vars" / "web1" / "vars.yaml").write_text(bomb("ansible_ssh_common_args"))
    elif where == "inline":
        inv = tmp_path / "inv.yml"
        inv.write_text("all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n  vars:\n" + bomb(indent="    "))
    else:  # a variable harden never reads: Ansible itself (--engine ansible, apply) would walk it
        (tmp_path / "group_vars").mkdir()
        (tmp_path / "group_vars" / "web.yml").write_text(bomb("something_else"))
    started = time.monotonic()
    for engine in ("native", "ansible"):
        r = harden("audit", inv, "--engine", engine, "--out", tmp_path / "out", timeout=60)
        assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
        assert "alias bomb" in r.stderr and "not read" in r.stderr, r.stderr
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out" / "results.json").exists()  # nothing audited


def test_a_bomb_no_scan_sees_is_stopped_by_the_time_bound(tmp_path):
    """A vars source harden cannot look into (here a dynamic inventory script that never ends) is cut
    off after HARDEN_INVENTORY_TIMEOUT seconds: exit 2, nothing audited."""
    script = tmp_path / "inventory.sh"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    started = time.monotonic()
    r = harden("audit", script, "--out", tmp_path / "out", env={"HARDEN_INVENTORY_TIMEOUT": "2"}, timeout=50)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "took more than 2 s" in r.stderr and "HARDEN_INVENTORY_TIMEOUT" in r.stderr
    assert time.monotonic() - started < 20


def test_the_memory_bound_ends_the_child_not_harden(tmp_path):
    def hog() -> list[bytes]:
        return [bytes(64 * 1024 * 1024) for _ in range(64)]  # 4 GiB

    started = time.monotonic()
    with pytest.raises(InventoryError, match="needed more than 256 MB"):
        run_bounded(hog, InventoryLimits(seconds=60, memory_mb=256), tmp_path / "inv")
    with pytest.raises(InventoryError, match="took more than 1 s"):
        run_bounded(lambda: time.sleep(30), InventoryLimits(seconds=1), tmp_path / "inv")
    assert time.monotonic() - started < 20
    assert run_bounded(lambda: ["fine", 1], InventoryLimits(), tmp_path / "inv") == ["fine", 1]


def test_errors_inside_the_bound_keep_their_message(tmp_path):
    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  hosts:\n    web1:\n      ansible_connection: telnet\n")
    with pytest.raises(InventoryError, match="telnet"):
        load_inventory(inv, env={})
    with pytest.raises(InventoryError, match="HARDEN_INVENTORY_TIMEOUT"):
        load_inventory(inv, env={"HARDEN_INVENTORY_TIMEOUT": "soon"})


def test_aliases_that_do_not_explode_are_fine(tmp_path):
    ok = tmp_path / "ok.yml"
    ok.write_text("base: &base {a: 1, b: [1, 2, 3]}\nx: *base\ny: *base\nz: {<<: *base, c: 3}\n")
    check_aliases(ok)
    endless = tmp_path / "endless.yml"
    endless.write_text("a: &a [1, *a]\n")
    with pytest.raises(InventoryError, match="endless"):
        check_aliases(endless)
    deep = tmp_path / "deep.yml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    check_aliases(deep)  # no recursion limit in the scan
