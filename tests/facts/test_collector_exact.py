"""The header's process-saving readers print exactly what their references print (run by the
local dash, bash and busybox; no lab): one cat for a whole "==> path <==" section (_h_files_body,
_h_files_capped) against the loop of one cat per file (_h_files_loop), and the shell-read text
files (_h_text) against cat (_h_file)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.facts import collector
from hardening.facts.sections import parse_sections

SHELLS = ("dash", "bash", "busybox")


@pytest.fixture(autouse=True)
def _shell_present(request: pytest.FixtureRequest) -> None:
    shell = request.node.callspec.params.get("shell") if hasattr(request.node, "callspec") else None
    if shell and not shutil.which(shell):
        if os.environ.get("CI"):
            pytest.fail(f"{shell} is not installed (make install installs it)")
        pytest.skip(f"{shell} is not installed")


def _run(script: str, shell: str, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp)}
    return subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30, env=env)


_FILES = {
    "plain": b"Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n",
    "no-final-newline": b"%devs ALL = NOPASSWD: RST",
    "empty": b"",
    "shell-looking": b"-n\n%s %d \\\\n \\t\n  spaces  \n==> fake <==\n",
    "new\nline": b"x\n",
    "with space": b"*.* @@loghost:514\n",
}


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("reader", ["_h_files_body", "_h_files_capped 4194304"])
def test_one_cat_prints_what_the_per_file_loop_prints(shell, reader, tmp_path):
    """Same bytes, exit code and stderr as _h_files_loop, for plain, empty, unterminated and
    shell-looking files, a newline and a space in a name, a directory and an unmatched glob (not
    plain files: skipped), a missing file, and a file that cannot be read (cat's message, exit 1)."""
    d = tmp_path / "conf.d"
    d.mkdir()
    for name, data in _FILES.items():
        (d / name).write_bytes(data)
    (d / "subdir").mkdir()
    (tmp_path / "run").mkdir()
    unreadable = "/proc/self/mem"  # a plain file whose read fails, even for root (EIO at offset 0)
    globs = f"{tmp_path}/main.conf {d}/* {tmp_path}/none.d/*.conf {unreadable} {d}/plain"
    (tmp_path / "main.conf").write_bytes(b"include conf.d\n")
    body = (
        f"_h_run ref.all _h_files_loop {globs}\n_h_run one.all {reader} {globs}\n"
        f"_h_run ref.none _h_files_loop {tmp_path}/none.d/*\n_h_run one.none {reader} {tmp_path}/none.d/*\n"
    )
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path / "run")
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    for case in ("all", "none"):
        loop, one = sections[f"ref.{case}"], sections[f"one.{case}"]
        assert (bytes(one.body), one.rc) == (bytes(loop.body), loop.rc), case
        assert sections.stderr(f"one.{case}") == sections.stderr(f"ref.{case}"), case
    assert b"==> " + str(d / "new?line").encode() + b" <==\nx\n\n" in bytes(sections["one.all"].body)
    assert sections["one.all"].rc == 1 and sections["one.none"].rc == 0


@pytest.mark.parametrize("shell", SHELLS)
def test_capped_files_stop_at_the_cap(shell, tmp_path):
    (tmp_path / "big").write_bytes(b"x" * 5000)
    (tmp_path / "run").mkdir()
    body = f"_h_run capped _h_files_capped 1000 {tmp_path}/big\n"
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path / "run")
    sections = parse_sections(run.stdout, "n0nce")
    assert len(bytes(sections["capped"].body)) == 1000 and sections["capped"].rc == 0


_TEXT = {
    "cmdline": b"BOOT_IMAGE=/vmlinuz root=UUID=1 ro quiet apparmor=1 security=apparmor\n",
    "lsm": b"lockdown,capability,landlock,yama,apparmor",
    "enforce": b"1",
    "enabled": b"Y\n",
    "shell-looking": b"-n\n%s \\\\n \\t\n  spaces  \n\n",
    "empty": b"",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_kernel_text_read_by_the_shell_prints_what_cat_prints(shell, tmp_path):
    """_h_text against _h_file (cat): same bytes, exit code and stderr, also for a missing file, a
    directory and /proc/self/attr/current (EINVAL without an LSM that sets it)."""
    for name, data in _TEXT.items():
        (tmp_path / name).write_bytes(data)
    paths = [str(tmp_path / n) for n in _TEXT] + [str(tmp_path / "nope"), str(tmp_path), "/proc/self/attr/current"]
    if Path("/proc/cmdline").exists():
        paths.append("/proc/cmdline")
    body = "".join(f"_h_file f.{i} {p}\n_h_text t.{i} {p}\n" for i, p in enumerate(paths))
    (tmp_path / "run").mkdir()
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path / "run")
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    for i, p in enumerate(paths):
        by_cat, by_shell = sections[f"f.{i}"], sections[f"t.{i}"]
        assert (bytes(by_shell.body), by_shell.rc) == (bytes(by_cat.body), by_cat.rc), p
        assert sections.stderr(f"t.{i}") == sections.stderr(f"f.{i}"), p
