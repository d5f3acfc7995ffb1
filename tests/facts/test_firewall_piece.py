"""firewall.sh runs the plain iptables-save / ip6tables-save only when firewall.py could read them.

firewall.py reads the plain tool's dump only when `iptables -V` does not say nf_tables (the
plain tool is then the legacy one) or when the *-nft-save tool is missing or exits 127. The stand-in programs
below print what iptables 1.8 prints for `-V`; the real programs are checked by the lab tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.facts import collector
from hardening.facts.sections import parse_sections

SHELLS = ("dash", "bash", "busybox")


def _tools(bin_dir: Path, version: str, version_rc: int, nft_save: tuple[str, ...], nft_rc: int = 0) -> None:
    bin_dir.mkdir()
    progs = {"iptables": f"echo '{version}'\nexit {version_rc}", "iptables-save": "echo '# plain'"}
    progs["ip6tables-save"] = "echo '# plain6'"
    progs.update({name: f"echo '# {name}'\nexit {nft_rc}" for name in nft_save})
    for name, body in progs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)


def _run(shell: str, tmp: Path) -> dict[str, tuple[int | None, str]]:
    piece = f"PATH={tmp / 'bin'}:/usr/bin:/bin\n" + collector._piece("firewall")
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    out = subprocess.run(
        argv,
        input=collector.assemble("n0", (piece,)).encode(),
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp)},
    )
    secs = parse_sections(out.stdout, "n0")
    assert secs.complete, out.stderr
    names = ("firewall.iptables_version", "firewall.iptables_save", "firewall.ip6tables_save")
    return {n: (secs.rc(n), secs.text(n)) for n in names if n in secs}


NFT = "iptables v1.8.9 (nf_tables)"
LEGACY = "iptables v1.8.9 (legacy)"
BOTH = ("iptables-nft-save", "ip6tables-nft-save")


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("version", "rc", "nft_save", "nft_rc", "plain"),
    [
        (NFT, 0, BOTH, 0, ()),
        (NFT, 0, BOTH, 1, ()),  # a failing nft-save is read (and reported), not replaced
        (NFT, 0, BOTH, 127, ("firewall.iptables_save", "firewall.ip6tables_save")),
        (LEGACY, 0, BOTH, 0, ("firewall.iptables_save", "firewall.ip6tables_save")),
        (NFT, 0, ("iptables-nft-save",), 0, ("firewall.ip6tables_save",)),
        (NFT, 0, (), 0, ("firewall.iptables_save", "firewall.ip6tables_save")),
        (NFT, 1, BOTH, 0, ("firewall.iptables_save", "firewall.ip6tables_save")),
    ],
)
def test_plain_save_runs_only_when_the_parser_would_read_it(shell, version, rc, nft_save, nft_rc, plain, tmp_path):
    if not shutil.which(shell):
        if os.environ.get("CI"):
            pytest.fail(f"{shell} is not installed (make install installs it)")
        pytest.skip(f"{shell} is not installed")
    _tools(tmp_path / "bin", version, rc, nft_save, nft_rc)
    got = _run(shell, tmp_path)
    assert got["firewall.iptables_version"] == (rc, version + "\n")
    assert sorted(n for n in got if n != "firewall.iptables_version") == sorted(plain)
    for name in plain:
        assert got[name] == (0, "# plain\n" if "ip6" not in name else "# plain6\n")


def _legacy_block() -> str:
    """firewall.sh's lines that print firewall.legacy_names and legacy6_names."""
    piece = collector._piece("firewall")
    start = piece.index("# _fw_nonempty FILE:")
    end = piece.index("\nfi\n", start) + 4
    return piece[start:end]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("v4", "v6"),
    [
        (b"", b""),
        (b"", b"filter\n"),
        (b"nat\nfilter\n", b""),
        (b"mangle", b""),
        ("dir", b""),
        (b"", None),
        (None, None),
    ],
)
def test_legacy_lists_with_one_cat_are_what_h_text_prints(shell, v4, v6, tmp_path):
    """Both lists empty: one cat for both; otherwise (content, a directory's read error, a missing
    file) _h_text for each: the same bytes, exit code and stderr as _h_text alone."""
    paths = []
    for name, data in (("ip_tables_names", v4), ("ip6_tables_names", v6)):
        path = tmp_path / name
        if data == "dir":
            path.mkdir()
        elif data is not None:
            path.write_bytes(data)
        paths.append(str(path))
    block = _legacy_block()
    assert block.count("/proc/net/ip_tables_names") == 4 and block.count("/proc/net/ip6_tables_names") == 4
    block = block.replace("/proc/net/ip_tables_names", paths[0]).replace("/proc/net/ip6_tables_names", paths[1])
    count = f'cat() {{ echo x >>"{tmp_path}/cats"; command cat "$@"; }}\n'
    body = f"{count}{block}unset -f cat\n_h_text ref.legacy_names {paths[0]}\n_h_text ref.legacy6_names {paths[1]}\n"
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    (tmp_path / "run").mkdir()
    out = subprocess.run(
        argv,
        input=collector.assemble("n0", (body,)).encode(),
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp_path / "run")},
    )
    secs = parse_sections(out.stdout, "n0")
    assert secs.complete, out.stderr
    for name in ("legacy_names", "legacy6_names"):
        new, ref = secs[f"firewall.{name}"], secs[f"ref.{name}"]
        assert (bytes(new.body), new.rc, secs.stderr(f"firewall.{name}")) == (
            bytes(ref.body),
            ref.rc,
            secs.stderr(f"ref.{name}"),
        ), name
    cats = (tmp_path / "cats").read_text().count("x") if (tmp_path / "cats").exists() else 0
    if (v4, v6) == (b"", b""):
        assert cats == 1  # one cat for both lists
