"""The collector script itself, run by the local ``sh`` (no lab): pieces side by side, the done
marker only after every piece finished, cleanup when the reader goes away, the binaries
piece's refusal to run anything but a netcat-like for its help, and the header's process-saving
readers against what they replace: one cat for a whole "==> path <==" section (_h_files_body,
_h_files_capped) against one cat per file (_h_files_loop), shell-read text files (_h_text)
against cat (_h_file)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from hardening.facts import collector
from hardening.facts.sections import parse_sections

SHELLS = ("dash", "bash", "busybox")  # make install (hardening/lab/host_setup.sh) installs them


@pytest.fixture(autouse=True)
def _shell_present(request: pytest.FixtureRequest) -> None:
    shell = request.node.callspec.params.get("shell") if hasattr(request.node, "callspec") else None
    if shell and not shutil.which(shell):
        if os.environ.get("CI"):
            pytest.fail(f"{shell} is not installed (make install installs it)")
        pytest.skip(f"{shell} is not installed")


def _run(script: str, shell: str, tmp: Path, **kw: object) -> subprocess.CompletedProcess[bytes]:
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp)}
    return subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30, env=env, **kw)


@pytest.mark.parametrize("shell", SHELLS)
def test_pieces_run_side_by_side_and_print_in_order(shell, tmp_path, tmp_path_factory):
    """Each slow piece waits (at most 10 s) for the other's mark: both print only if they ran at once."""
    sync = tmp_path_factory.mktemp("sync")

    def waits_for(me: str, other: str, word: str) -> str:
        return (
            f"_h_run {me} sh -c 'touch {sync}/{me}; i=0; while [ ! -e {sync}/{other} ] && [ $i -lt 100 ]; "
            f"do sleep 0.1; i=$((i+1)); done; [ -e {sync}/{other} ] && echo {word}'"
        )

    fast = "_h_run second.b echo two"
    pieces = (waits_for("first.a", "first.c", "one"), waits_for("first.c", "first.a", "three"), fast)
    out = _run(collector.assemble("abc", pieces), shell, tmp_path)
    secs = parse_sections(out.stdout.decode(), "abc")
    assert secs.complete and out.returncode == 0, out.stderr
    names = [n for n in secs if not n.startswith("meta.") and n != "__done__"]
    assert names == ["first.a", "first.c", "second.b"]  # the order of the pieces, not of finishing
    assert secs.text("first.a").strip() == "one" and secs.text("first.c").strip() == "three"  # side by side
    assert secs.text("second.b").strip() == "two"
    assert not list(tmp_path.iterdir())  # the private directory is gone


@pytest.mark.parametrize("shell", SHELLS)
def test_a_piece_killed_midway_means_no_done_marker(shell, tmp_path):
    killed = "_h_run dying.a echo before\nsh -c 'kill -9 $PPID'\n_h_run dying.b echo never"
    out = _run(collector.assemble("abc", (killed, "_h_run fine.a echo ok")), shell, tmp_path)
    secs = parse_sections(out.stdout.decode(), "abc")
    assert not secs.complete  # the host will count as not fully audited
    assert out.returncode == 1
    assert b"a collector piece did not finish" in out.stderr
    assert "dying.b" not in secs


@pytest.mark.parametrize("shell", SHELLS)
def test_a_reader_that_goes_away_leaves_nothing_behind(shell, tmp_path):
    """The controller stops reading (timeout, output cap): the collector ends and cleans up."""
    flood = "_h_run flood.a sh -c 'head -c 3000000 /dev/zero | tr \"\\\\0\" x'"
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)},
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(collector.assemble("abc", (flood,)).encode())
        proc.stdin.close()
        proc.stdout.read(100)
        proc.stdout.close()
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    for _ in range(50):  # bounded: up to 5 s for the EXIT trap's cleanup
        if not list(tmp_path.iterdir()):
            break
        time.sleep(0.1)
    assert not list(tmp_path.iterdir())


def _binrec() -> str:
    text = (Path(collector.__file__).parent / "binaries.sh").read_text()
    return re.search(r"<<'HARDEN_BINREC'\n(.*?)\nHARDEN_BINREC\n", text, re.S).group(1)


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/true").is_file(), reason="needs root and /usr/bin/true")
def test_a_symlink_named_nc_to_another_system_program_is_never_run(tmp_path):
    """``ln -s /sbin/halt /tmp/nc`` must not make the audit run ``halt -h`` as root."""
    (tmp_path / "nc").symlink_to("/usr/bin/true")
    (tmp_path / "binrec.sh").write_text(_binrec())
    out = subprocess.run(
        ["sh", str(tmp_path / "binrec.sh"), str(tmp_path), str(os.geteuid()), str(tmp_path / "nc")],
        capture_output=True,
        timeout=30,
    )
    fields = out.stdout.split(b"\0")
    assert fields[0] == b"@bin" and fields[1] == str(tmp_path / "nc").encode()
    assert fields[4] == os.path.realpath("/usr/bin/true").encode()
    assert fields[9] == b"norun:not a netcat-like program"
    assert fields[10] == b""  # no help output


@pytest.mark.parametrize("shell", SHELLS)
def test_h_text_on_a_file_it_may_not_read_says_so_and_the_piece_goes_on(shell, tmp_path):
    """As an unprivileged user: rc 1 and the shell's message, like cat; the piece is not cut short
    (a failed redirection on the special builtin ":" would end the whole shell)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run the collector as another user")
    import tempfile

    shared = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        shared.chmod(0o755)
        secret = shared / "secret"
        secret.write_text("root only\n")
        secret.chmod(0o600)
        body = f"_h_text t.secret {secret}\n_h_text t.after /proc/self/stat\n"
        script = collector.assemble("n0nce", (body,))
        argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
        run = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
            input=script.encode(),
            capture_output=True,
            timeout=30,
            env={"PATH": os.environ["PATH"], "TMPDIR": str(shared)},
        )
    finally:
        shutil.rmtree(shared)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert sections.complete
    assert sections["t.secret"].rc == 1 and b"root only" not in run.stdout
    assert b"ermission denied" in bytes(sections["t.secret!err"].body)
    assert sections["t.after"].rc == 0


def _shell_function(piece: str, name: str) -> str:
    """The definition of shell function ``name`` in ``<piece>.sh`` (from ``name() {`` to its ``}``)."""
    text = (Path(collector.__file__).parent / f"{piece}.sh").read_text()
    return re.search(rf"^{re.escape(name)}\(\) {{\n.*?^}}\n", text, re.S | re.M).group(0)


_HEX_CASES = {
    "comm": b"dnsmasq\n",
    "empty": b"",
    "argv": b"/usr/sbin/dnsmasq\0-x\0/run/dnsmasq/dnsmasq.pid\0-u\0dnsmasq\0--local-service\0",
    "all-bytes": bytes(range(256)),
    "24-lines": bytes(range(256)) + bytes(range(128)),
    "25-lines": b"\0\xff a" * 100,
    "long": b"L" * 3000 + b"\0",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_dns_hex_prints_what_od_and_tr_print(shell, tmp_path):
    """dns.sh's _dns_hex (od, words joined by the shell up to 24 lines) against od | tr -d ' \\n'."""
    for name, data in _HEX_CASES.items():
        (tmp_path / name).write_bytes(data)
    body = _shell_function("dns", "_dns_hex") + "".join(
        f"_h_run new.{n} _dns_hex {tmp_path / n}\n"
        f"_h_run old.{n} sh -c \"od -An -v -tx1 2>/dev/null <'{tmp_path / n}' | tr -d ' \\n'\"\n"
        for n in _HEX_CASES
    )
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    for name, data in _HEX_CASES.items():
        assert bytes(sections[f"new.{name}"].body) == bytes(sections[f"old.{name}"].body) == data.hex().encode(), name


@pytest.mark.parametrize("shell", SHELLS)
def test_dnsmasq_files_show_only_the_options_the_parser_reads(shell, tmp_path):
    """A file named by a dnsmasq command line is read as root, and any user can start the
    system's dnsmasq with "-C /etc/shadow": only log-queries, log-facility, port, conf-file and
    conf-dir lines (what dns.py reads) are printed; includes are still followed."""
    main = tmp_path / "main.conf"
    inc = tmp_path / "inc.conf"
    main.write_text(
        "root:$6$SECRET:19000:0:99999:7:::\nserver=1.1.1.1\n  log-queries\nportx=1\n"
        f"port=5353\nconf-file={inc}\n# log-queries in a comment\nlog-queries extra\n"
    )
    inc.write_text("log-facility=/var/log/q.log\ndhcp-range=10.0.0.2,10.0.0.9\nconf-dir = /nowhere\n")
    fn = _shell_function("dns", "_dns_dnsmasq_conf").replace("/etc/dnsmasq", f"{tmp_path}/absent")
    body = f"_dns_dm_cmdline_paths() {{ echo {main}; }}\n{fn}_h_run dns.dnsmasq_conf _dns_dnsmasq_conf\n"
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path)
    assert run.returncode == 0, run.stderr
    shown = parse_sections(run.stdout, "n0nce").text("dns.dnsmasq_conf")
    assert shown == (
        f"==> {main} <==\n  log-queries\nport=5353\nconf-file={inc}\n"
        f"==> {inc} <==\nlog-facility=/var/log/q.log\nconf-dir = /nowhere\n"
    )


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
@pytest.mark.parametrize("shell", SHELLS)
def test_a_config_a_resolvers_command_line_names_is_read_with_its_rights(shell, tmp_path):
    """named -c / unbound -c of a resolver anyone could have started: the check tools run with
    that process's uid, gid and groups (setpriv); a root process's config as root; without
    setpriv, not at all (126, and why)."""
    shared = Path(tempfile.mkdtemp(prefix="harden-dns-as-"))  # pytest's own tmp is root's alone
    shared.chmod(0o755)
    fake = shared / "bin"
    fake.mkdir()
    for tool in ("named-checkconf", "unbound-checkconf"):
        (fake / tool).write_text('#!/bin/sh\necho "uid=$(id -u) gid=$(id -g) groups=$(id -G) $*"\n')
        (fake / tool).chmod(0o755)
    conf = shared / "resolver.conf"
    conf.write_text("options { };\n")
    other = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--groups=65534,4", "sleep", "30"])
    try:
        for _ in range(100):  # until setpriv has dropped to 65534 and run sleep (at most 5 s)
            if "Uid:\t65534" in Path(f"/proc/{other.pid}/status").read_text():
                break
            time.sleep(0.05)
        names = ("_dns_t", "_dns_oneline", "_dns_as", "_dns_unbound", "_dns_named")
        fns = "".join(_shell_function("dns", f) for f in names)
        body = (
            f"PATH={fake}:/usr/bin:/bin\n{fns}"
            "_dns_trusted() { return 0; }\n"
            f"_dns_args() {{ printf '%s\\n' resolver -u x -c {conf} >\"$HT/dnsarg\"; }}\n"
            f"_dns_found=' {other.pid}:named {other.pid}:unbound'\n"
            "_h_run t.named _dns_named\n_h_run t.unbound _dns_unbound\n"
            f"_dns_found=' {os.getpid()}:named'\n_h_run t.root _dns_named\n"
            f"_dns_found=' {other.pid}:named'\n"
            '_h_has() { [ "$1" != setpriv ] && command -v "$1" >/dev/null 2>&1; }\n_h_run t.none _dns_named\n'
        )
        run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path)
    finally:
        other.kill()
        other.wait(timeout=10)
        shutil.rmtree(shared)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert sections.text("t.named") == f"uid=65534 gid=65534 groups=65534 4 -p {conf}\n"
    assert sections.text("t.unbound").startswith(
        f"@config {conf}\nlog-queries=uid=65534 gid=65534 groups=65534 4 -o log-queries {conf} \n"
    )
    assert sections.text("t.root").startswith("uid=0 gid=0 ")
    assert sections.rc("t.none") == 126 and sections.text("t.none") == ""
    assert "setpriv missing" in sections.stderr("t.none")


@pytest.mark.parametrize("shell", SHELLS)
def test_nameds_started_with_different_configs_are_not_judged_by_one(shell, tmp_path):
    """One named-checkconf stands for every named: when the trusted nameds name different
    configs (a user may start the system's named with "-c ~/mine.conf"), none is checked
    (125, and why); nameds that agree are checked once."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "named-checkconf").write_text('#!/bin/sh\necho "checked $*"\n')
    (fake / "named-checkconf").chmod(0o755)
    me = os.getpid()
    names = ("_dns_t", "_dns_as", "_dns_named")
    body = (
        f"PATH={fake}:/usr/bin:/bin\n"
        + "".join(_shell_function("dns", f) for f in names)
        + "_dns_trusted() { return 0; }\n"
        "_dns_args() { case $1 in 1) c=/etc/bind/named.conf ;; *) c=/home/u/mine.conf ;; esac; "
        'printf \'%s\\n\' named -u bind -c "$c" >"$HT/dnsarg"; }\n'
        f"_dns_found=' 1:named {me}:named'\n_h_run t.differ _dns_named\n"
        f"_dns_args() {{ printf '%s\\n' named -c /etc/x.conf >\"$HT/dnsarg\"; }}\n"
        f"_dns_found=' {me}:named {me}:named'\n_h_run t.same _dns_named\n"
    )
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert sections.rc("t.differ") == 125 and sections.text("t.differ") == ""
    assert "different configs" in sections.stderr("t.differ")
    assert sections.text("t.same") == "checked -p /etc/x.conf\n"


_LS_L_FD = (
    "total 0\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 0 -> /dev/null\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 3 -> socket:[18315272]\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 4 -> /tmp/socket:[77]\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 5 -> /tmp/x socket:[]y socket:[12]z socket:[socket:[9]\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 6 -> anon_inode:[eventpoll]\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 7 -> socket:[1]socket:[2]\n"
    "lrwx------ 1 root root 64 Dec  7 04:00 8 -> pipe:[55] (socket:[3x] socket:[4]"
)


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("readable", [True, False])
def test_dns_socks_prints_what_grep_and_tr_print(shell, readable, tmp_path):
    """dns.sh's _dns_socks against the pipeline it replaces, on ls -l lines whose targets name
    sockets, files that look like sockets, and a last line without a newline; a line without
    " -> " (a link ls could not read) sets _dls=no."""
    text = _LS_L_FD if readable else _LS_L_FD + "\nlrwx------ 1 999 999 64 Dec  7 04:00 9\n"
    (tmp_path / "fd").write_text(text)
    old = f"grep -o 'socket:\\[[0-9]*\\]' <'{tmp_path / 'fd'}' | tr -dc '0-9\\n' | tr '\\n' ' '"
    body = (
        _shell_function("dns", "_dns_socks")
        + f'_h_run old sh -c "{old}"\n'
        + f'_dls=yes\n_h_run new _dns_socks {tmp_path / "fd"}\n_h_run dls echo "$_dls"\n'
    )
    run = _run(collector.assemble("n0nce", (body,)), shell, tmp_path)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert bytes(sections["new"].body) == bytes(sections["old"].body) == b"18315272 77  12 9 1 2 4 "
    assert sections.text("dls").strip() == ("yes" if readable else "no")


_MARKERS = (b"program to exec after connect", b"--sh-exec", b"EXEC", b"OpenBSD netcat", b"BusyBox v")


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("repeat", [1, 1200])
def test_binrec_markers_are_grep_and_sort_u(shell, repeat, tmp_path):
    """The markers field (sorted, unique) of a file with every marker, many times (past the
    1000 lines the shell sorts itself, sort -u does), in the reverse of C order."""
    f = tmp_path / "nc"
    f.write_bytes(b"x".join(reversed(_MARKERS)) * repeat + b"\0tail")
    (tmp_path / "binrec.sh").write_text(_binrec())
    argv = [shell, "sh"] if shell == "busybox" else [shell]
    out = subprocess.run(
        [*argv, str(tmp_path / "binrec.sh"), str(tmp_path), str(os.geteuid()), str(f)], capture_output=True, timeout=60
    )
    fields = out.stdout.split(b"\0")
    assert fields[:2] == [b"@bin", str(f).encode()]
    assert fields[8] == b"".join(m + b"\n" for m in sorted(_MARKERS))
    assert fields[9] == b"norun:not a system directory"


def _netcat_alias() -> tuple[str, str] | None:
    """A symlink on this machine named like a netcat whose real file is a system netcat."""
    for name in ("nc", "netcat", "ncat", "nc.traditional", "nc.openbsd"):
        for d in ("/usr/bin", "/bin"):
            p = Path(d, name)
            if p.is_symlink() and p.exists():
                real = os.path.realpath(p)
                if real.startswith(("/usr/bin/", "/bin/")) and real != str(p):
                    return str(p), real
    return None


@pytest.mark.skipif(os.geteuid() != 0 or _netcat_alias() is None, reason="needs root and a netcat symlink")
@pytest.mark.parametrize("shell", SHELLS)
def test_binrec_alias_record_is_the_same_with_or_without_the_cache(shell, tmp_path):
    """A symlink alias of a system netcat after its real file reuses the real file's content
    facts and help output (no second read or run; the help output kept in a variable): its record
    is byte-identical to the one binrec prints for the alias alone, and the real file's own record
    is unchanged."""
    alias, real = _netcat_alias()
    (tmp_path / "binrec.sh").write_text(_binrec())
    argv = [shell, "sh"] if shell == "busybox" else [shell]

    def records(*paths: str) -> list[bytes]:
        out = subprocess.run(
            [*argv, str(tmp_path / "binrec.sh"), str(tmp_path), str(os.geteuid()), *paths],
            capture_output=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return [b"@bin\0" + r for r in out.stdout.split(b"@bin\0")[1:]]

    both = records(real, alias, alias)
    assert both == [*records(real), *records(alias), *records(alias)]
    fields = both[1].split(b"\0")
    assert fields[4] == real.encode() and fields[9] == b"run" and fields[10]  # help output


_READLINK = """#!/bin/sh
n=0
for a in "$@"; do case $a in -*) ;; *) n=$((n + 1)) ;; esac; done
echo "$n" >>CALLS
[ "$n" -le MOST ] || { echo "readlink: one path only" >&2; exit 1; }
exec REAL "$@"
"""


@pytest.mark.skipif(os.geteuid() != 0 or _netcat_alias() is None, reason="needs root and a netcat symlink")
@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("newline", [False, True])
def test_binrec_one_readlink_for_all_is_one_per_path(shell, newline, tmp_path):
    """The symlinks' readlink -f and readlink answers from one call each are the records that one
    call per path gives (a readlink that takes one path only, like busybox's): system aliases,
    a symlink elsewhere, a dangling one; with a target that holds a newline (an answer on two
    lines), one call per path after all."""
    alias, real = _netcat_alias()
    d = tmp_path / "home"
    d.mkdir()
    (d / "nc").symlink_to(alias)
    (d / "netcat").symlink_to(d / "gone")
    (d / "ncat").symlink_to("new\nline")
    (tmp_path / "binrec.sh").write_text(_binrec())
    argv = [shell, "sh"] if shell == "busybox" else [shell]
    paths = [real, alias, alias, str(d / "nc"), str(d / "netcat"), *([str(d / "ncat")] if newline else [])]
    links = str(len(paths) - 1)
    runs, calls = {}, {}
    for name, most in (("many", 99), ("one", 1), ("symlinked", 99)):
        bin_dir = tmp_path / f"bin-{name}"
        bin_dir.mkdir()
        wrapper = _READLINK.replace("CALLS", str(bin_dir / "calls")).replace("MOST", str(most))
        program = bin_dir / ("readlink.real" if name == "symlinked" else "readlink")
        program.write_text(wrapper.replace("REAL", str(shutil.which("readlink"))))
        program.chmod(0o755)
        if name == "symlinked":  # like busybox's applet links: never asked for many paths
            (bin_dir / "readlink").symlink_to(program)
        work = tmp_path / f"ht-{name}"
        work.mkdir()
        out = subprocess.run(
            [*argv, str(tmp_path / "binrec.sh"), str(work), str(os.geteuid()), *paths],
            capture_output=True,
            timeout=60,
            env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "LC_ALL": "C"},
        )
        assert out.returncode == 0, out.stderr
        runs[name] = out.stdout
        calls[name] = (bin_dir / "calls").read_text().split()
    assert runs["many"] == runs["one"] == runs["symlinked"]
    assert set(calls["symlinked"]) == {"1"}
    # a readlink that fails for many paths is not asked for many again
    assert calls["one"][0] == links and set(calls["one"][1:]) == {"1"}
    # readlink -f and readlink, each once for every symlink; one call per path after a newline
    per_path = [links, links, *calls["one"][1:]]
    assert calls["many"] == (per_path if newline else [links, links])
    records = runs["many"].split(b"@bin\0")[1:]
    assert len(records) == len(paths)
    assert records[1].split(b"\0")[1:3] == [b"symlink", os.readlink(alias).encode() + b"\n"]
    if newline:
        assert records[5].split(b"\0")[2] == b"new\nline\n"


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


_ERR = {
    "short": b"dpkg-query: no packages found matching falco\n",
    "unterminated": b"no newline at the end",
    "shell-looking": b"-n\n%s \\\\n \\t\n  spaces  \n\n",
    "utf8-and-bad-bytes": "caf\u00e9 \u2603\n".encode() + b"\xff\xfe\x80\n",
    "nul": b"before\0after\n",
    "nul-last": b"x\n\0",
    "only-newlines": b"\n\n\n",
    "at-1024": b"y" * 1023 + b"\n",
    "at-1025": b"z" * 1024 + b"\n",
    "one-long-line": b"w" * 3000,
    "past-the-cap": b"v" * 70000 + b"\n",
}


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("lang", "fdinfo"), [("", True), ("C.UTF-8", True), ("", False)])
def test_stderr_read_by_the_shell_is_what_head_printed(shell, lang, fdinfo, tmp_path):
    """_h_err: a command's stderr, exactly its bytes up to 64 KiB, whether the shell read it (up
    to 1 KiB) or head did (longer, or with a NUL byte, which the shell's read drops; or every
    message, where /proc/self/fdinfo cannot be read); also from a shell function, and nothing at
    all for an empty stderr. A head function beside the real one records which sections needed it."""
    for name, data in _ERR.items():
        (tmp_path / name).write_bytes(data)
    marks = tmp_path / "marks"
    marks.mkdir()
    body = f'head() {{ : >"{marks}/$_hn"; command head "$@"; }}\n'
    body += "".join(f"_h_run e.{n} sh -c 'cat -- \"$1\" >&2; exit 3' sh {tmp_path / n}\n" for n in _ERR)
    body += f"_fn() {{ echo out; cat -- {tmp_path / 'short'} >&2; }}\n_h_run fn _fn\n_h_run quiet echo fine\n"
    (tmp_path / "run").mkdir()
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path / "run")} | ({"LANG": lang} if lang else {})
    script = collector.assemble("n0nce", (body,))
    if not fdinfo:
        assert script.count("</proc/self/fdinfo/4") == 1
        script = script.replace("</proc/self/fdinfo/4", f"<{tmp_path}/no-fdinfo")
    run = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30, env=env)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    for name, data in _ERR.items():
        assert sections.rc(f"e.{name}") == 3
        assert bytes(sections[f"e.{name}!err"].body) == data[:65536], name
    assert bytes(sections["fn!err"].body) == _ERR["short"] and sections.text("fn") == "out\n"
    assert "quiet!err" not in sections.by_name and sections.text("quiet") == "fine\n"
    by_head = {p.name for p in marks.iterdir()}
    if fdinfo:
        assert by_head == {f"e.{n}" for n in ("nul", "nul-last", "at-1025", "one-long-line", "past-the-cap")}
    else:
        assert by_head == {f"e.{n}" for n in _ERR} | {"fn"}


@pytest.mark.parametrize("shell", SHELLS)
def test_stderr_written_through_another_description_is_all_there(shell, tmp_path):
    """Bytes that reach the stderr file through another open file description (>>/dev/stderr
    appends past fd 4's offset, >/dev/stderr rewrites the file from 0) do not move that offset:
    the section is the file as head reads it, not the first offset bytes. A stderr file that
    cannot be opened ends the section with 2, the command not run (as a failed 2> would)."""
    body = (
        "_h_run a.b sh -c 'echo first >&2; echo second >>/dev/stderr; exit 4'\n"
        "_h_run c.d sh -c 'echo abc >&2; printf \"xyz\\nmore\\n\" >/dev/stderr'\n"
        "_h_run e.f sh -c 'printf a >&2; printf \"bcd\\nefgh\" >>/dev/stderr'\n"
        'rm -f "$HT/err.0"\nmkdir "$HT/err.0"\n_h_run g.h echo never\nrmdir "$HT/err.0"\n_h_run i.j echo then\n'
    )
    script = collector.assemble("n0nce", (body,))
    run = _run(script, shell, tmp_path)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert bytes(sections["a.b!err"].body) == b"first\nsecond\n" and sections.rc("a.b") == 4
    assert bytes(sections["c.d!err"].body) == b"xyz\nmore\n"
    assert bytes(sections["e.f!err"].body) == b"abcd\nefgh"
    assert sections.rc("g.h") == 2 and sections.text("g.h") == "" and "g.h!err" not in sections.by_name
    assert sections.text("i.j") == "then\n" and "__done__" in sections.by_name


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("personality", ["", "linux32", "uname26", "no-arch"])
def test_uname_from_the_kernel_is_what_uname_prints(shell, personality, tmp_path):
    """meta.uname from /proc/sys/kernel (no process) is uname -srm's output, and under a
    personality that changes what uname(2) says (linux32, uname26) or without kernel.arch
    (Linux before 6.1) it is uname's own."""
    if personality not in ("", "no-arch") and not shutil.which("setarch"):
        pytest.skip("setarch is not installed")
    prefixes = {"linux32": ["setarch", "linux32"], "uname26": ["setarch", os.uname().machine, "--uname-2.6"]}
    pre = prefixes.get(personality, [])
    want = subprocess.run([*pre, "uname", "-srm"], capture_output=True, check=True).stdout
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    env = {"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)}
    script = collector.assemble("n0nce", ())
    if personality == "no-arch":
        assert script.count("</proc/sys/kernel/arch") == 1
        script = script.replace("</proc/sys/kernel/arch", f"<{tmp_path}/no-arch")
    run = subprocess.run([*pre, *argv], input=script.encode(), capture_output=True, timeout=30, env=env)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert (bytes(sections["meta.uname"].body), sections.rc("meta.uname")) == (want, 0)
    assert "meta.uname!err" not in sections.by_name


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("dd", ["missing-dd-xyz", "false", "printf 'x\\ny\\n'", "printf y", "printf x", "dd"])
def test_output_without_a_working_dd_goes_straight_out(shell, dd, tmp_path):
    """The dd probe: a dd that is missing, fails or copies something else than "x" leaves the
    output unbuffered (no FIFO, which nothing would read); the complete output either way."""
    script = collector.assemble("n0nce", ("_h_run a.b echo hi",))
    probe = 'dd obs=65536 >"$HT/dd" 2>/dev/null <<'
    assert script.count(probe) == 1
    script = script.replace(probe, f'{dd} >"$HT/dd" 2>/dev/null <<')
    script = script.replace("_hfail=\n", 'echo "fifo=$([ -p "$HT/out" ] && echo yes)" >&2\n_hfail=\n', 1)
    run = _run(script, shell, tmp_path)
    assert run.returncode == 0, run.stderr
    sections = parse_sections(run.stdout, "n0nce")
    assert sections.text("a.b") == "hi\n" and "__done__" in sections.by_name
    assert (b"fifo=yes" in run.stderr) == (dd == "dd"), run.stderr


def test_pieces_that_share_work_are_told_so_explicitly():
    """dns leaves its TCP tables to processes, audit its dpkg line to sensors, only when they run
    beside it; the variable is always set by the script (never left to the host's environment)."""
    full = collector.build_linux_script("n0")
    assert "_dns_tcp=processes\n" in full and "_ha_pkg=sensors\n" in full
    alone = collector.build_linux_script("n0", ("dns", "audit"))
    assert "_dns_tcp=\n" in alone and "_ha_pkg=\n" in alone
    assert "_dns_tcp=processes" not in alone and "_ha_pkg=sensors" not in alone
