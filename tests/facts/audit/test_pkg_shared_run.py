"""The audit piece beside the sensors piece, run for real against dpkg-query
on a private --admindir: the shared line gives the same package as the audit piece's own query.
The database entries are what dpkg writes for each state; dpkg-query itself is the real one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.facts import audit, collector
from hardening.facts.sections import parse_sections

DPKG = shutil.which("dpkg-query")
STATES = {
    "installed": "install ok installed",
    "hold": "hold ok installed",
    "config-files": "deinstall ok config-files",
    "unpacked": "install ok unpacked",
    "half-configured": "install ok half-configured",
    "half-installed": "install reinstreq half-installed",
    "absent": None,
}


def _db(tmp: Path, status: str | None) -> Path:
    db = tmp / "db"
    (db / "info").mkdir(parents=True)
    (db / "updates").mkdir()
    (db / "available").write_text("")
    entry = (
        ""
        if status is None
        else (
            f"Package: auditd\nStatus: {status}\nArchitecture: amd64\nMaintainer: x <x@x>\n"
            "Version: 1:3.0.9-1\nDescription: d\n\n"
        )
    )
    (db / "status").write_text(
        entry + "Package: falco\nStatus: install ok installed\nArchitecture: amd64\n"
        "Maintainer: x <x@x>\nVersion: 0.36\nDescription: d\n\n"
    )
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg-query").write_text(f'#!/bin/sh\nexec {DPKG} --admindir={db} "$@"\n')
    (bin_dir / "dpkg-query").chmod(0o755)
    return bin_dir


def _package(shell: str, bin_dir: Path, names: tuple[str, ...]):
    pieces = tuple(f"PATH={bin_dir}:/usr/bin:/bin\n" + collector._linux_piece(n, names) for n in names)
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    out = subprocess.run(
        argv,
        input=collector.assemble("n0", pieces).encode(),
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(bin_dir.parent)},
    )
    s = parse_sections(out.stdout, "n0")
    assert s.complete, out.stderr
    return s, audit.parse(s).package


@pytest.mark.parametrize("shell", ["dash", "bash", "busybox"])
@pytest.mark.parametrize("state", sorted(STATES))
def test_shared_line_gives_the_package_the_own_query_gives(shell, state, tmp_path):
    if DPKG is None or not shutil.which(shell):
        if os.environ.get("CI"):
            pytest.fail(f"CI installs dpkg-query and {shell}")
        pytest.skip(f"needs dpkg-query and {shell}")
    bin_dir = _db(tmp_path, STATES[state])
    alone, own = _package(shell, bin_dir, ("audit",))
    shared, got = _package(shell, bin_dir, ("audit", "sensors"))
    assert "audit.pkg" in alone and "audit.pkg_from" not in alone
    assert "audit.pkg_from" in shared and "audit.pkg" not in shared
    assert got == own
    assert (got != "") == (state in ("installed", "hold"))
