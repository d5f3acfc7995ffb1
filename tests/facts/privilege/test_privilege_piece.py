"""privilege.sh's process-saving shell code against the programs it replaces, under dash, bash
and busybox ash: _hr_sortun (the accounts' uids, distinct and in numeric order) against sort -un."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.facts import collector

SHELLS = ("dash", "bash", "busybox")


def _function(name: str) -> str:
    text = (Path(collector.__file__).parent / "privilege.sh").read_text()
    return re.search(rf"^{re.escape(name)}\(\) {{\n.*?^}}\n", text, re.S | re.M).group(0)


def _sh(shell: str, script: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    return subprocess.run(argv, input=script, capture_output=True, text=True, timeout=60)


def _uid_lists() -> list[list[str]]:
    rnd = random.Random(23)
    lists = [["33", "999", "1000", "33", "100", "5"], ["1"], ["7", "7", "7"], ["4294967294", "65534", "1", "2"]]
    lists += [[str(rnd.choice((1, 33, 100, 999, 1000, 65534, 4294967294))) for _ in range(rnd.randint(1, 40))]]
    lists += [[str(rnd.randint(1, 60)) for _ in range(300)] for _ in range(3)]
    lists += [[str(u) for u in range(200, 0, -3)]]  # 67 distinct: sort
    lists += [[str(u % 9 + 1) for u in range(600)]]  # 600 lines: sort
    lists += [["12", "012"], ["5", "99999999999"]]  # a leading zero, 11 digits: sort
    return lists


@pytest.mark.parametrize("shell", SHELLS)
def test_sortun_is_sort_un_or_declines(shell):
    lists = _uid_lists()
    script = _function("_hr_sortun") + "".join(
        "_hrus='{}'\nif _hr_sortun; then echo shell $_hrus; else echo sort; fi\n".format("\n".join(u)) for u in lists
    )
    run = _sh(shell, script)
    assert run.returncode == 0 and not run.stderr, run.stderr
    got = run.stdout.splitlines()
    assert len(got) == len(lists)
    for uids, line in zip(lists, got, strict=True):
        expected = sorted(set(uids), key=int)
        small = len(uids) <= 512 and len(expected) <= 64 and all(re.fullmatch(r"[1-9]\d{0,9}", u) for u in uids)
        assert line == ("shell " + " ".join(expected) if small else "sort"), uids
    assert sum(g.startswith("shell") for g in got) >= 7
