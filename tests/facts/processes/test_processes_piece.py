"""processes.sh's cmdline section without the probe grep, against the probe-then-grep it
replaced, under dash, bash and busybox ash, with this machine's grep, a grep without -a (which
must then run again with -s, as after the probe), and a grep that writes to stderr and exits 0 or 2 (shown
once, output not repeated). The piece's /proc/[0-9]*/cmdline glob is moved to files of our own."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from busybox_tools import use_tools

from hardening.facts import collector

SHELLS = ("dash", "bash", "busybox")


@pytest.fixture(autouse=True, params=["system", "busybox"])
def _tools(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """Every test with this machine's tools, then with busybox's applets first on PATH."""
    use_tools(request.param, monkeypatch, tmp_path_factory)


_OLD = """
if echo | grep -a -q '' 2>/dev/null; then _hpa=-a; else _hpa=-s; fi
_old_cmdline() { grep "$_hpa" -s -z -H '' "$P"/[0-9]*/cmdline | head -c "$HPK"; }
"""
_GREPS = {
    "real": None,
    "no-a": '#!/bin/sh\nfor a; do [ "$a" = -a ] && { echo "grep: invalid option -- a" >&2; exit 2; }; done\n'
    'exec /usr/bin/grep "$@"\n',
    "warns": '#!/bin/sh\n/usr/bin/grep "$@"\nrc=$?\necho "grep: a warning" >&2\nexit $rc\n',
    # exit 2 as after a file that went away, with a message: not the probe's doing
    "warns-2": '#!/bin/sh\n/usr/bin/grep "$@"\nrc=$?\necho "grep: a warning" >&2\n'
    'case " $* " in *" -z "*) exit 2 ;; esac\nexit $rc\n',
}


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("grep", list(_GREPS))
def test_cmdline_without_the_probe_is_what_the_probe_gave(shell, grep, tmp_path):
    if not shutil.which(shell) or not Path("/usr/bin/grep").exists():
        pytest.skip(f"{shell} or /usr/bin/grep is not installed")
    proc = tmp_path / "proc"
    for pid, argv in ((1, b"/sbin/init\0splash\0"), (22, b"sshd: /usr/sbin/sshd -D\0"), (333, b"\xff\x01bin\0a\nb\0")):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(argv)
    (proc / "4").mkdir()  # a process that went away: no cmdline
    (tmp_path / "bin").mkdir()
    if _GREPS[grep]:
        (tmp_path / "bin" / "grep").write_text(_GREPS[grep])
        (tmp_path / "bin" / "grep").chmod(0o755)
    text = (Path(collector.__file__).parent / "processes.sh").read_text().replace("/proc/[0-9]*/", '"$P"/[0-9]*/')
    new = re.search(r"^_hpa=-a\n_hp_cmdline\(\) {\n.*?^}\n", text, re.S | re.M).group(0)
    script = (
        f"PATH='{tmp_path}/bin':$PATH\nHT='{tmp_path}'\n_hpiece=\nHPK=4194304\nP='{proc}'\n"
        + new
        + f"_hp_cmdline >'{tmp_path}/new' 2>'{tmp_path}/new.err'\necho $? $_hpa\n"
        + _OLD
        + f"_old_cmdline >'{tmp_path}/old' 2>'{tmp_path}/old.err'\necho $? $_hpa\n"
    )
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    run = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=60)
    assert run.returncode == 0 and not run.stderr, run.stderr
    flag = "-s" if grep == "no-a" else "-a"
    assert run.stdout.decode().split("\n")[:2] == [f"0 {flag}", f"0 {flag}"]  # head's status
    new = (tmp_path / "new").read_bytes()
    assert new == (tmp_path / "old").read_bytes()
    assert (tmp_path / "new.err").read_bytes() == (tmp_path / "old.err").read_bytes()
    if grep != "no-a":  # with -a every record, bytes as they are; stderr as grep wrote it, once
        assert new.count(b"/cmdline:") == 5 and f"{proc}/333/cmdline:\xff\x01bin\0".encode("latin-1") in new
        assert (tmp_path / "new.err").read_text() == ("" if grep == "real" else "grep: a warning\n")
    else:  # -s in its place: what this grep makes of the bytes without -a, as after the probe
        assert b"/sbin/init\0" in new and b"-D\0" in new
