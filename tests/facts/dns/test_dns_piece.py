"""dns.sh's dnsmasq configuration reader (consecutive files through one head | sed) against the
per-file reader it replaced (kept below as the reference), under dash, bash and busybox ash: files
given on a command line and in directories, conf-file/conf-dir includes over three rounds, a file
past the 1 MiB cap, a name with a newline, a last line (a comment) without a newline."""

from __future__ import annotations

import os
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


_OLD = r"""
_old_dnsmasq_conf() {
    _dq=$HT/dmq
    _dnx=$HT/dmnext
    {
        echo /etc/dnsmasq.conf
        echo /etc/dnsmasq.d
        _dns_dm_cmdline_paths
    } >"$_dq"
    _dseen=$_h_nl
    _dn=0
    while [ -s "$_dq" ] && [ "$_dn" -lt 64 ]; do
        : >"$_dnx"
        while IFS= read -r _df; do
            case $_df in /proc/* | /sys/* | /dev/*) continue ;; /*) ;; *) continue ;; esac
            case $_dseen in *"$_h_nl$_df$_h_nl"*) continue ;; esac
            _dseen=$_dseen$_df$_h_nl
            _dn=$((_dn + 1))
            [ "$_dn" -gt 64 ] && break
            if [ -d "$_df" ]; then
                for _dg in "$_df"/*; do
                    [ -f "$_dg" ] && echo "$_dg" >>"$_dnx"
                done
            elif [ -f "$_df" ]; then
                printf '==> %s <==\n' "$_df"
                # at most 1 MiB per file: a config is small, a hostile include need not be
                head -c 1048576 <"$_df" | sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
                    -e "/^[[:space:]]*conf-/w $HT/dmc"
                if [ -s "$HT/dmc" ]; then
                    head -c 1048576 <"$_df" | sed -n -e 's/^[[:space:]]*conf-file=\([^,]*\).*/\1/p' \
                        -e 's/^[[:space:]]*conf-dir=\([^,]*\).*/\1/p' >>"$_dnx"
                fi
            fi
        done <"$_dq"
        _dx=$_dq
        _dq=$_dnx
        _dnx=$_dx
    done
}
"""


def _piece_part(start: str, end: str) -> str:
    text = (Path(collector.__file__).parent / "dns.sh").read_text()
    return text[text.index(start) : text.index(end)]


def _run(shell: str, tmp: Path, cmdline_paths: list[str], reader: str) -> bytes:
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    script = (
        f"HT='{tmp / 'ht'}'\n_h_nl='\n'\n"
        + _piece_part("_dns_dm_sed1=", "# _dns_oneline CMD")
        + _OLD
        + "_dns_dm_cmdline_paths() {\n"
        + "".join(f"    printf '%s\\n' '{p}'\n" for p in cmdline_paths)
        + "}\n"
        + f"{reader}\necho rc=$?\n"
    )
    (tmp / "ht").mkdir(exist_ok=True)
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    run = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=60, cwd=tmp)
    assert not run.stderr, run.stderr
    return run.stdout


def _tree(t: Path) -> list[str]:
    (t / "d1").mkdir()
    (t / "d2").mkdir()
    (t / "main.conf").write_text(
        f"# dnsmasq.conf\nport=53\n\n  conf-file={t}/inc1.conf\nconf-dir={t}/d2,.bak\n   \nlog-queries\n"
    )
    (t / "inc1.conf").write_text(f"conf-file={t}/inc2.conf\nserver=198.51.100.1\n#conf-file=/etc/shadow\n")
    (t / "inc2.conf").write_text("log-facility=/var/log/dnsmasq.log\n")
    (t / "d2" / "x.conf").write_text("no-resolv\n")
    (t / "d1" / "a.conf").write_text("listen-address=127.0.0.1\n")
    (t / "d1" / "b.conf").write_text("# only a comment, no newline")
    (t / "d1" / "c\nd.conf").write_text("cache-size=0\n")
    (t / "d1" / "e.conf").write_text("bind-interfaces\n# last, no newline")
    (t / "d1" / "big.conf").write_bytes(b"server=1.2.3.45\n" * 70000)  # 1.1 MB: cut at 1 MiB, a line end
    (t / "other.conf").write_text("conf-file=relative.conf\nconf-file=/proc/self/environ\n")
    return [f"{t}/main.conf", f"{t}/d1", f"{t}/other.conf", f"{t}/main.conf"]


@pytest.mark.parametrize("shell", SHELLS)
def test_batched_reader_prints_what_the_per_file_reader_printed(shell, tmp_path):
    paths = _tree(tmp_path)
    new = _run(shell, tmp_path, paths, "_dns_dnsmasq_conf")
    old = _run(shell, tmp_path, paths, "_old_dnsmasq_conf")
    assert new == old
    headers = re.findall(rb"^==> (.*) <==$", new, re.M)
    t = str(tmp_path).encode()
    assert headers[:3] == [t + b"/main.conf", t + b"/other.conf", t + b"/inc1.conf"]
    assert t + b"/inc2.conf" in headers and t + b"/d2/x.conf" in headers and t + b"/d1/big.conf" in headers
    assert new.count(b"server=1.2.3.45\n") == 1048576 // 16 and new.endswith(b"rc=0\n")
    assert b"/etc/shadow" not in new and b"environ" not in new.replace(b"conf-file=/proc/self/environ", b"")


@pytest.mark.parametrize("shell", SHELLS)
def test_a_last_line_without_a_newline_no_longer_hides_the_next_header(shell, tmp_path):
    (tmp_path / "a.conf").write_text("port=53")
    (tmp_path / "b.conf").write_text("no-resolv\n")
    paths = [f"{tmp_path}/a.conf", f"{tmp_path}/b.conf"]
    new = _run(shell, tmp_path, paths, "_dns_dnsmasq_conf")
    old = _run(shell, tmp_path, paths, "_old_dnsmasq_conf")
    assert f"port=53\n==> {tmp_path}/b.conf <==\nno-resolv\n".encode() in new
    assert f"port=53==> {tmp_path}/b.conf <==".encode() in old  # the old reader glued them


def _sh(shell: str, script: str, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    script = f"HT='{tmp}'\n_h_nl='\n'\n" + _piece_part("# _dns_hex FILE", "# _dns_socks FILE") + script
    return subprocess.run(argv, input=script.encode(), capture_output=True, timeout=60, cwd=tmp)


_COMMS = {
    "dnsmasq": b"dnsmasq\n",
    "resolve": b"systemd-resolve\n",
    "dots": b"dnscrypt-proxy.1_\n",
    "space": b"dns masq\n",
    "upper": b"Dnsmasq\n",
    "no-newline": b"dnsmasq",
    "two-lines": b"dns\nmasq\n",
    "after-newline": b"dns\nx",
    "newline": b"\n",
    "empty": b"",
    "high": b"dns\xe9\n",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_comm_hex_by_the_shell_is_what_od_prints_or_declines(shell, tmp_path):
    for name, data in _COMMS.items():
        (tmp_path / f"comm.{name}").write_bytes(data)
    script = "".join(
        f"_dns_comm_hex comm.{n} >comm.{n}.new && echo {n} >>shell\n"
        f"[ -s comm.{n}.new ] || _dns_hex comm.{n} >comm.{n}.new\n"
        f"od -An -v -tx1 <comm.{n} | tr -d ' \\n' >comm.{n}.old\n"
        for n in _COMMS
    )
    run = _sh(shell, script, tmp_path)
    assert run.returncode == 0 and not run.stderr, run.stderr
    for name, data in _COMMS.items():
        new = (tmp_path / f"comm.{name}.new").read_bytes()
        assert new == (tmp_path / f"comm.{name}.old").read_bytes() == data.hex().encode(), name
    assert (tmp_path / "shell").read_text().split() == ["dnsmasq", "resolve", "dots"]


_ARGVS = {
    "dnsmasq": b"/usr/sbin/dnsmasq\0-x\0/run/dnsmasq/dnsmasq.pid\0-u\0dnsmasq\0-7\0/etc/dnsmasq.d,.dpkg-dist\0",
    "all-bytes": bytes(range(256))[:200] + b"\0",
    "high-bytes": bytes(range(200, 256)) + b"\0\0%s%%\\n\\0\0",
    "no-final-nul": b"-C\0/etc/dnsmasq.alt.conf",
    "empty": b"",
    "long": b"-C\0" + b"/x" * 300 + b"\0",  # past 24 lines of od: no hex kept, tr
}


@pytest.mark.parametrize("shell", SHELLS)
def test_args_from_the_kept_hex_are_what_tr_prints(shell, tmp_path):
    """_dns_args from the hex _dns_hex kept (as dns.procs keeps it) against tr '\\0' '\\n'; a
    cmdline too long to keep (and a pid without hex: this shell's) goes to tr."""
    for name, data in _ARGVS.items():
        (tmp_path / f"argv.{name}").write_bytes(data)
    script = "".join(
        f"_dns_hex argv.{n} >/dev/null\n"
        f'[ -z "$_dhok" ] || _dns_hexes="$_dns_hexes 99999999{i}:$_dh"\n'
        f'_dns_args 99999999{i}\ncp "$HT/dnsarg" argv.{n}.new\n'
        f"tr '\\0' '\\n' <argv.{n} >argv.{n}.old\n"
        for i, n in enumerate(_ARGVS)
    )
    script += "_dns_args $$\ncp \"$HT/dnsarg\" self.new\ntr '\\0' '\\n' </proc/$$/cmdline >self.old\n"
    script += 'echo "$_dns_hexes" >kept\n'
    run = _sh(shell, script, tmp_path)
    assert run.returncode == 0 and not run.stderr, run.stderr
    for name, data in _ARGVS.items():
        new = (tmp_path / f"argv.{name}.new").read_bytes()
        if name == "long":
            assert new == b""  # no hex kept for it: tr of the cmdline of a pid that does not exist
        else:
            assert new == (tmp_path / f"argv.{name}.old").read_bytes() == data.replace(b"\0", b"\n"), name
    assert (tmp_path / "self.new").read_bytes() == (tmp_path / "self.old").read_bytes() != b""
    assert len((tmp_path / "kept").read_text().split()) == len(_ARGVS) - 1


_OLD_TRUSTED = r"""
_old_trusted() {
    _dtx=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    _dtx=${_dtx% (deleted)}
    case $_dtx in
    /usr/sbin/"$2" | /usr/bin/"$2" | /sbin/"$2" | /bin/"$2") return 0 ;;
    esac
    return 1
}
"""


@pytest.mark.parametrize("shell", SHELLS)
def test_trusted_by_test_ef_is_what_readlink_said(shell, tmp_path):
    """_dns_trusted (test -ef first) against the readlink-only check, on this shell's own process
    (named as itself and as another program), a process that does not exist, and a copy of the
    shell outside the system directories."""
    name = Path(os.path.realpath(shutil.which(shell) or shell)).name
    shutil.copy(os.path.realpath(shutil.which(shell) or shell), tmp_path / name)
    cases = [("$$", name), ("$$", "dnsmasq"), ("999999999", name), ("$_cp", name)]
    applet = "sh " if shell == "busybox" else ""
    script = (
        _piece_part("# _dns_trusted PID NAME", "# Config paths named on running dnsmasq")
        + _OLD_TRUSTED
        + f"'{tmp_path / name}' {applet}-c 'sleep 3; :' >/dev/null 2>&1 & _cp=$!\nsleep 1\n"
        + "".join(f"_dns_trusted {p} {n}; a=$?; _old_trusted {p} {n}; echo $a $?\n" for p, n in cases)
        + "kill $_cp\n"
    )
    run = _sh(shell, script, tmp_path)
    assert run.returncode == 0 and not run.stderr, run.stderr
    assert run.stdout.decode().split("\n")[:4] == ["0 0", "1 1", "1 1", "1 1"]
