"""privilege.sh's process-saving shell code against the programs it replaces, under dash, bash
and busybox ash: _hr_sortun (the accounts' uids, distinct and in numeric order) against sort -un."""

from __future__ import annotations

import os
import random
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


# The web roots as nginx -T and Apache's files give them: quotes, relative roots, a root that
# looks like a deleted executable, one that starts with "x", a last line without a newline.
_NGINX = (
    "# configuration file /etc/nginx/nginx.conf:\n"
    'server {\n    root /var/www/html;\n    location /a {\n    alias "/srv/a b"; }\n'
    "    root relative/dir;\n\troot '/srv/q';\n    root /srv/gone (deleted);\n  root xdir/y;\n}\n"
)
_APACHE = 'DocumentRoot "/srv/apache"\n  DocumentRoot /srv/plain extra\nDocumentRoot relative\nDocumentRoot /srv/last'
_NGINX_SUBST = r"s/^[[:space:]]*\(root\|alias\)[[:space:]]\{1,\}\([^;]*\);.*/\2/"
_APACHE_SUBST = r's/^[[:space:]]*DocumentRoot[[:space:]]\{1,\}"\{0,1\}\([^"]*\)"\{0,1\}.*/\1/'


@pytest.mark.parametrize("shell", SHELLS)
def test_roots_sed_prints_and_writes_what_sed_and_its_cleaning_sed_did(shell, tmp_path):
    """_hr_roots prints what sed -n 'SUBSTp' printed, and writes what the cleaning sed made of it."""
    for name, text in (("nginx", _NGINX), ("apache", _APACHE)):
        (tmp_path / name).write_text(text)
    script = _function("_hr_roots") + "".join(
        f"_hr_roots '{subst}' '{tmp_path / n}.w' <'{tmp_path / n}' >'{tmp_path / n}.new'\n"
        f"sed -n '{subst}p' <'{tmp_path / n}' >'{tmp_path / n}.old'\n"
        f"sed -e 's/\"//g' -e \"s/'//g\" -e '/^\\//!d' <'{tmp_path / n}.old' >'{tmp_path / n}.clean'\n"
        for n, subst in (("nginx", _NGINX_SUBST), ("apache", _APACHE_SUBST))
    )
    run = _sh(shell, script)
    assert run.returncode == 0 and not run.stderr, run.stderr
    for n in ("nginx", "apache"):
        assert (tmp_path / f"{n}.new").read_bytes() == (tmp_path / f"{n}.old").read_bytes()
        # (after a last line without a newline, GNU sed's w writes none, busybox sed's one)
        w, clean = ((tmp_path / f"{n}.{x}").read_bytes().rstrip(b"\n") for x in ("w", "clean"))
        assert w == clean
    assert (tmp_path / "nginx.w").read_text().split("\n") == [
        "/var/www/html",
        "/srv/a b",
        "/srv/q",
        "/srv/gone (deleted)",
        "",
    ]
    assert (tmp_path / "apache.w").read_text().rstrip("\n") == "/srv/apache\n/srv/plain extra\n/srv/last"


# The old pipeline: executables cleaned by one sed, roots by another, then the paths.
_OLD_PATHS = r"""
{ sed -e 's/ (deleted)$//' -e '/^\//!d' <"$T/exes"; cat "$T/roots"; } >"$T/pp"
_hrp=$(sed -n -e '2001s/.*/!/p' -e 2001q -e :a -e '/^\/\{0,1\}$/d' -e p -e 's|/[^/]*$||' -e ta <"$T/pp" |
    sort -u | head -8000)
case $_hrp in
'!'*) sort -u <"$T/pp" | sed -n -e 2001q -e :a -e '/^\/\{0,1\}$/d' -e p -e 's|/[^/]*$||' -e ta | sort -u | head -8000 ;;
*) printf '%s\n' "$_hrp" ;;
esac
"""


def _exes(n: int) -> str:
    base = ["/usr/sbin/sshd", "/usr/bin/dash (deleted)", "", "/memfd:x (deleted)", "/opt/a/b/c/d"]
    return "".join(f"{p}\n" for p in base + [f"/srv/app{i % 997}/bin/run{i}" for i in range(n)])


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("n", [0, 1990, 2500, 9000])
def test_paths_from_marked_executables_are_the_old_pipelines(shell, n, tmp_path):
    """_hr_paths ($_hrl) with find's "x"-marked executables and the roots files (below and past the 2000
    lines of the sort-free path, past the 8000 of the cap) against the pipeline it replaced."""
    exes = _exes(n)
    (tmp_path / "exes").write_text(exes)
    (tmp_path / "pe").write_text("".join(f"x{line}\n" for line in exes.splitlines()))
    (tmp_path / "wrn").write_text("/var/www/html\n/srv/a b\n/srv/gone (deleted)\n")
    (tmp_path / "wre").write_text("/var/www/html\n")
    (tmp_path / "roots").write_text((tmp_path / "wrn").read_text() + (tmp_path / "wre").read_text())
    script = (
        f"T='{tmp_path}'\nHT='{tmp_path}'\n_hpiece=\n"
        + re.search(
            r"^_hr_xsed='.*?'\n", (Path(collector.__file__).parent / "privilege.sh").read_text(), re.S | re.M
        ).group(0)
        + _function("_hr_paths")
        + "_hr_exes() { :; }\n"
        + f"_hr_paths\nprintf '%s\\n' \"$_hrl\" >'{tmp_path}/new'\n"
        + f"_old=$({_OLD_PATHS}\n)\nprintf '%s\\n' \"$_old\" >'{tmp_path}/old'\n"
    )
    run = _sh(shell, script)
    assert run.returncode == 0 and not run.stderr, run.stderr
    new = (tmp_path / "new").read_text()
    assert new == (tmp_path / "old").read_text()
    lines = new.splitlines()
    assert "/memfd:x" in lines and "" not in lines and len(lines) <= 8000
    if n < 2000:  # all lines: the roots too, " (deleted)" kept (only an executable's is the kernel's)
        assert "/srv/gone (deleted)" in lines and "/srv/a b" in lines and "/usr/bin/dash" in lines
    else:  # the first 2000 sorted paths
        assert "/srv/gone (deleted)" not in lines and len(lines) > 2000


@pytest.mark.parametrize("shell", SHELLS)
def test_a_find_without_printf_gives_clean_executables_by_readlink(shell, tmp_path):
    """With busybox's find (no -printf) _hr_exes lists the executables by readlink, already
    cleaned (no "x" mark, absolute): _hr_paths then takes them as they are."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "find").symlink_to(busybox)
    script = f"HT='{tmp_path}'\n_hpiece=\nPATH='{tmp_path}/bin':$PATH\n" + _function("_hr_exes") + "_hr_exes\n"
    run = _sh(shell, script)
    assert run.returncode == 0 and not run.stderr, run.stderr
    exes = (tmp_path / "pe").read_text().splitlines()
    assert exes and all(e.startswith("/") and not e.endswith(" (deleted)") for e in exes)
    assert os.path.realpath(shutil.which(shell)) in exes


@pytest.mark.parametrize("shell", SHELLS)
def test_stat_runs_in_the_shell_and_restores_field_splitting_and_globbing(shell, tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / "g1").touch()
    script = (
        _function("_hr_stat")
        + f"_h_nl='\n'\nHRK=4194304\n_hr_paths() {{ _hrl='{tmp_path}/a b\n{tmp_path}/g1'; }}\n"
        + f"_hr_stat >'{tmp_path}/out'\necho rc=$?\nw='1 2'\nset -- $w {tmp_path}/g*\necho $#\n"
    )
    run = _sh(shell, script)
    assert run.returncode == 0 and not run.stderr, run.stderr
    assert run.stdout.split() == ["rc=0", "3"]
    out = (tmp_path / "out").read_text().splitlines()
    assert [line.split(" ", 3)[3] for line in out] == [f"{tmp_path}/a b", f"{tmp_path}/g1"]
