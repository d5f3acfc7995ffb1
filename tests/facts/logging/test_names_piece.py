"""logging.sh's forwarding host names (_hl_sed, one sed) against the pipeline it replaced
(grep -v comments | grep -oE | sed), under dash, bash and busybox ash, with GNU sed and busybox
sed: hand-written lines (several matches per line, matches hiding one another, comments) and a
seeded random mix of the pattern's pieces."""

from __future__ import annotations

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


OLD = (
    "grep -v '^[[:space:]]*#' | grep -oE \"$_hl_re\" | "
    "sed -n -e 's/\"$//' -e 's/.*[=\"(@/[:space:]]//' -e '/^[A-Za-z][A-Za-z0-9.-]*$/p'"
)
LINES = (
    "# a comment: *.* @@commented.example:514\n"
    "   # indented comment @@x.example\n"
    "auth,authpriv.* @@198.51.100.1:6514\n"
    "& @host-a.example\n"
    "*.* @@relay.example.org:514 @second @@third;x\n"
    '*.* action(type="omfwd" target="siem.example.org" port="6514") target = "t2.example" target="1.2.3.4"\n'
    '@@target="hidden.example"\n'
    "remote_server = audit.example.com\n"
    "remote_server=a@b\n"
    "URL=https://upload.example.net:19532\n"
    'destination d { network("ng.example" port(6514)); tcp ( "tcp.example" ); udp6("u6.ex") syslog("s.ex"); };\n'
    "\t @tab.example\t@@x-y.z\n"
    '@@@@ @ @1 @a.b.c- target="" network("-bad")\n'
    "last line without a newline @@end.example @two"
)
_TOKENS = ("target", "=", " ", '"', "a", "b1", ".", "-", "@", "@@", "remote_server", "URL=", "https://", "://")
_TOKENS += ("network", "tcp", "udp6", "syslog", "(", ")", "#", "\t", "Z9", "/", ",", ";", '"x.y"', "\\")


def _defs() -> str:
    text = (Path(collector.__file__).parent / "logging.sh").read_text()
    return re.search(r"^_hl_re=.*?^ba'\n", text, re.S | re.M).group(0)


def _random_lines() -> str:
    rnd = random.Random(7)
    return "".join("".join(rnd.choice(_TOKENS) for _ in range(rnd.randint(0, 14))) + "\n" for _ in range(3000))


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("sed", ["sed", "busybox sed"])
def test_one_sed_prints_the_names_grep_o_and_sed_print(shell, sed, tmp_path):
    if not shutil.which(shell) or not shutil.which(sed.split()[0]):
        pytest.skip(f"{shell} or {sed} is not installed")
    (tmp_path / "hand").write_text(LINES)
    (tmp_path / "random").write_text(_random_lines())
    script = _defs() + "".join(
        f"{{ {OLD}; }} <'{tmp_path / n}' >'{tmp_path / n}.old'\n"
        f"{sed} -n -E \"$_hl_sed\" <'{tmp_path / n}' >'{tmp_path / n}.new'\n"
        for n in ("hand", "random")
    )
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    run = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=60)
    assert run.returncode == 0 and not run.stderr, run.stderr
    # _hl_resolve takes the names by $(...): a last line without a newline may end them without one.
    hand = (tmp_path / "hand.new").read_text().rstrip("\n")
    assert hand == (tmp_path / "hand.old").read_text().rstrip("\n")
    assert hand.split() == [
        "host-a.example", "relay.example.org", "second", "third", "siem.example.org", "t2.example", "target",
        "audit.example.com", "a", "b", "upload.example.net", "ng.example", "tcp.example", "u6.ex", "s.ex",
        "tab.example", "x-y.z", "a.b.c-", "end.example", "two",
    ]  # fmt: skip
    rnd = (tmp_path / "random.new").read_text()
    assert rnd == (tmp_path / "random.old").read_text() and len(rnd.split()) > 300


_OLD_RESOLVE_NAMES = """
            _hlns=$(_hl_names)
            [ -z "$_hlns" ] || _hlns=$(printf '%s\\n' "$_hlns" | sort -u)
"""


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("conf", ["*.* @@b.example\n*.* @a.example:514\n@@b.example\n", "# @@x.example\n", ""])
def test_resolve_takes_the_names_through_a_scratch_file_as_it_did_through_a_variable(shell, conf, tmp_path):
    """_hl_resolve (names from a scratch file) against its old form (names in a variable), with the
    piece's /etc paths moved under tmp_path and getent answered by a stub."""
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed")
    etc = tmp_path / "etc"
    (etc / "rsyslog.d").mkdir(parents=True)
    (etc / "rsyslog.conf").write_text(conf)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "getent").write_text("#!/bin/sh\necho \"198.51.100.9 STREAM $3\"\necho '2001:db8::9 DGRAM'\n")
    (tmp_path / "bin" / "getent").chmod(0o755)
    text = (Path(collector.__file__).parent / "logging.sh").read_text().replace("/etc/", f"{etc}/")
    new = re.search(r"^_hl_resolve\(\) {\n.*?^}\n", text, re.S | re.M).group(0)
    marker = (
        '            _hl_names >"$HT/hln$_hpiece"\n'
        '            [ ! -s "$HT/hln$_hpiece" ] || _hlns=$(sort -u "$HT/hln$_hpiece")\n'
    )
    assert marker in new
    old = new.replace("_hl_resolve()", "_old_resolve()").replace(marker, _OLD_RESOLVE_NAMES.lstrip("\n"))
    names = re.search(r"^_hl_names\(\) {\n.*?^}\n", text, re.S | re.M).group(0)
    script = (
        f"PATH='{tmp_path}/bin':$PATH\nHT='{tmp_path}'\n_hpiece=\nHLK=4194304\n"
        '_h_has() { command -v "$1" >/dev/null 2>&1; }\n'
        + _defs()
        + names
        + new
        + old
        + f"_hl_resolve >'{tmp_path}/new'\necho $?\n_old_resolve >'{tmp_path}/old'\necho $?\n"
    )
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    run = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=60)
    assert run.returncode == 0 and not run.stderr and run.stdout == b"0\n0\n", (run.stdout, run.stderr)
    got = (tmp_path / "new").read_text()
    assert got == (tmp_path / "old").read_text()
    if "@@b" in conf:
        assert got == ("a.example 198.51.100.9\na.example 2001:db8::9\nb.example 198.51.100.9\nb.example 2001:db8::9\n")
    else:
        assert got == ""
