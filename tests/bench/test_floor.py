"""bench/floor.py's pure parts: strace parsing, glue/evidence split, the evidence script.

The fixture is a real capture (tests/bench/data/README.md): the collector's header plus its
``audit`` and ``privilege`` pieces in the lab's ``hardened`` container.
"""

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRACE = Path(__file__).with_name("data") / "collector-audit-privilege.strace"


def _load():
    spec = importlib.util.spec_from_file_location("harden_bench_floor", ROOT / "bench" / "floor.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


floor = _load()


@pytest.fixture(scope="module")
def calls():
    return floor.parse_strace(TRACE.read_text().splitlines())


@pytest.fixture(scope="module")
def evidence(calls):
    return floor.classify(calls)


def test_decode_c_string():
    assert floor.decode_c_string(r"a\"b\\c\n\t") == 'a"b\\c\n\t'
    assert floor.decode_c_string(r"\x41\101\0") == "AA\0"
    assert floor.decode_c_string("${Package} ${Version}") == "${Package} ${Version}"


def test_unfinished_calls_are_joined_at_their_start(calls):
    text = TRACE.read_text()
    assert text.count("<unfinished ...>") == text.count(" resumed>") > 0
    # every execve line (finished or resumed later) is one call; none is lost or doubled
    assert sum(c.name == "execve" for c in calls) == text.count(" execve(")
    # augenrules's execve was split in the capture; joined, it keeps its argv and result
    (aug,) = [c for c in calls if c.name == "execve" and "augenrules" in c.args]
    assert aug.ret == 0
    assert floor.execve_argv(aug.args) == ("/usr/sbin/augenrules", ("augenrules", "--check"))


def test_fork_results_are_translated_to_strace_pids(calls):
    # the capture's line 783: "24396 <... vfork resumed>) = 472 /* 24398 in strace's PID NS */"
    forks = [c.ret for c in calls if c.pid == 24396 and c.name == "vfork"]
    assert forks == [24398, 24437, 24459]
    assert any(c.pid == 24398 and c.name == "execve" and "find" in c.args for c in calls)
    pids = {c.pid for c in calls}
    children = [c.ret for c in calls if c.name in ("clone", "clone3", "fork", "vfork") and c.ret and c.ret > 0]
    # a child that made none of the traced calls (a subshell of builtins) has no line of its own
    assert len([c for c in children if c in pids]) > 0.9 * len(children)


def test_execve_argv_decodes_and_refuses_truncation():
    args = r'"/usr/bin/dpkg-query", ["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n"], 0x55 /* 36 vars */'
    assert floor.execve_argv(args) == (
        "/usr/bin/dpkg-query",
        ("dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n"),
    )
    with pytest.raises(ValueError, match="truncated"):
        floor.execve_argv(r'"/usr/bin/find", ["find", "/proc/1/exe"...], 0x55 /* 36 vars */')


def test_evidence_programs_are_the_non_glue_ones_the_collector_started(evidence):
    names = sorted(Path(p[0]).name for p in evidence.programs)
    assert names == [
        "auditctl",
        "auditctl",
        "augenrules",
        "dpkg-query",
        "find",
        "getent",
        "nginx",
        "stat",
        "sudo",
        "sudo",
    ]
    assert ("/usr/bin/sudo", "-n", "-l", "-U", "www-data") in evidence.programs  # started by timeout (glue)
    assert ("/usr/sbin/auditctl", "-l") in evidence.programs
    assert evidence.repeated == 0


def test_glue_started_by_evidence_counts_as_evidence(evidence):
    text = TRACE.read_text()
    # augenrules (a shell script) runs mktemp, cmp and rm itself: they are its cost, not glue
    assert text.count('execve("/usr/bin/mktemp"') == 2
    assert evidence.glue["mktemp"] == 1  # the collector's own scratch directory
    assert "cmp" not in evidence.glue
    assert evidence.glue["timeout"] == 3
    assert evidence.glue["cat"] >= 1 and evidence.glue["head"] >= 1 and evidence.glue["sh"] == 1
    assert "nsenter" not in evidence.glue  # the capture's wrapper


def test_files_are_the_glues_reads_without_scratch_or_loader(evidence):
    for path in ("/etc/sudoers", "/etc/sudoers.d/harden-lab", "/etc/audit/audit.rules", "/etc/os-release"):
        assert path in evidence.files
    assert "/proc/1/status" in evidence.files
    assert not [f for f in evidence.files if f.startswith(("/tmp/", "/lib", "/usr/lib", "/etc/ld.so", "/dev/"))]
    assert "/proc/filesystems" not in evidence.files
    assert {"/etc/sudoers.d", "/etc/audit/rules.d", "/proc"} <= set(evidence.dirs)
    assert not evidence.unresolved


def test_evidence_script_quotes_every_word():
    ev = floor.Evidence(
        programs=(("/usr/bin/dpkg-query", "-W", "-f", "${Package} $(id)", "x'; rm -rf /; '"),),
        files=("/etc/a file", "/proc/1/status"),
        dirs=("/etc/$(reboot)",),
    )
    script = floor.evidence_script(ev)
    program_line = next(ln for ln in script.splitlines() if ln.startswith("/usr/bin/dpkg-query"))
    words = shlex.split(program_line)
    assert words[:5] == list(ev.programs[0])  # one word each, unexpanded
    assert words[5:] == ["</dev/null", ">/dev/null", "2>&1"]
    cat_line = next(ln for ln in script.splitlines() if ln.startswith("cat -- "))
    assert shlex.split(cat_line)[2:4] == ["/etc/a file", "/proc/1/status"]
    assert "'/etc/$(reboot)'" in script


def test_evidence_script_runs_under_sh(tmp_path):
    marker = tmp_path / "ran"
    ev = floor.Evidence(
        programs=(("/bin/sh", "-c", 'printf %s "$0" > "$1"', "x $(y)\n'z'", str(marker)),), files=(), dirs=("/",)
    )
    done = subprocess.run(["sh", "-s"], input=floor.evidence_script(ev), text=True, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "x $(y)\n'z'"


# The binaries piece's find on the lab's `default` container (same capture method, full collector).
FIND = (
    r'"/usr/bin/find", ["find", "/usr/sbin/", "/usr/bin/", "/usr/games/", "-maxdepth", "1", "(", "-type", "f", "-o", '
    r'"-type", "l", ")", "(", "-name", "nc", "-o", "-name", "nc.traditional", "-o", "-name", "nc.openbsd", "-o", '
    r'"-name", "netcat", "-o", "-name", "ncat", "-o", "-name", "socat", "-o", "-name", "busybox*", ")", "-exec", '
    r'"sh", "/tmp/tmp.IW9hhkQqjz/binrec.sh", "/tmp/tmp.IW9hhkQqjz", "{}", "+"], 0x55d74ffef4b8 /* 36 vars */'
)


def test_find_loses_the_exec_of_the_collectors_script_only():
    path, argv = floor.execve_argv(FIND)
    run, dropped = floor.drop_scratch_exec((path, *argv[1:]), ["/tmp/tmp.IW9hhkQqjz"])
    assert dropped
    assert run == (path, *argv[1:-6], "-print")
    # an -exec of a host program stays; so does anything without scratch paths
    own = ("/usr/bin/find", "/etc", "-name", "x", "-exec", "stat", "{}", "+")
    assert floor.drop_scratch_exec(own, ["/tmp/tmp.IW9hhkQqjz"]) == (own, False)
    assert floor.drop_scratch_exec((path, *argv[1:]), []) == ((path, *argv[1:]), False)


def test_busybox_is_glue_only_as_a_glue_applet():
    assert floor.program_name("/bin/busybox", ("sh", "-s")) == "sh"
    assert floor.program_name("/bin/busybox", ("busybox", "cat", "/etc/passwd")) == "cat"
    assert floor.program_name("/bin/busybox", ("busybox", "--list")) == "busybox"
    assert "busybox" not in floor.GLUE  # busybox --list is a netcat's help output: evidence
    assert floor.program_name("/usr/bin/nc.openbsd", ("nc", "-h")) == "nc.openbsd"
