"""dns.sh's dnsmasq configuration reader (consecutive files through one head | sed) against the
per-file reader it replaced (kept below as the reference), under dash, bash and busybox ash: files
given on a command line and in directories, conf-file/conf-dir includes over three rounds, a file
past the 1 MiB cap, a name with a newline, a last line (a comment) without a newline."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.facts import collector

SHELLS = ("dash", "bash", "busybox")
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
