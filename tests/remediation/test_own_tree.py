"""harden_own_tree (role harden_service_privilege): a web root given to root without following
anything its account planted. Real system calls on a scratch tree, as root (chown needs it).

The attack it stops: www-data writes its web root, plants ``x -> /etc`` (or a hard link to
/etc/shadow) and waits for the role; ``ansible.builtin.file`` with ``recurse`` followed the link
and made /etc/shadow root:root 0644.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

MODULE = Path(__file__).parents[2] / "playbooks" / "plugins" / "modules" / "harden_own_tree.py"
NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _load():
    spec = importlib.util.spec_from_file_location("harden_own_tree", MODULE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


own = _load()


def _mk(path: Path, mode: int, *, directory: bool = False, text: str = "x") -> Path:
    if directory:
        path.mkdir()
    else:
        path.write_text(text)
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, mode)
    return path


def _state(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@pytest.fixture
def planted(tmp_path):
    """A web root its account wrote, with what an attacker plants, and the victims outside it."""
    os.chmod(tmp_path, 0o755)
    outside = _mk(tmp_path / "etc", 0o700, directory=True)
    shadow = _mk(outside / "shadow", 0o600)
    other = _mk(tmp_path / "other", 0o600)
    os.chown(other, NOBODY - 1, NOBODY - 1)  # another user's file, hard-linked into the tree
    root = _mk(tmp_path / "www", 0o777, directory=True)
    _mk(root / "index.php", 0o666)
    os.link(root / "index.php", root / ".keep")  # the account's own file, linked twice to dodge the module
    _mk(root / "suid", 0o4757)
    sub = _mk(root / "sub", 0o2777, directory=True)
    _mk(sub / "deep.html", 0o664)
    (root / "x").symlink_to(outside)
    (root / "y").symlink_to(shadow)
    for link in ("x", "y"):
        os.lchown(root / link, NOBODY, NOBODY)
    os.link(other, root / "hard")
    return tmp_path, root


def test_the_tree_goes_to_root_and_nothing_outside_it_moves(planted):
    base, root = planted
    victims = {p: _state(p) for p in (base / "etc", base / "etc" / "shadow", base / "other")}
    why, walk = own.own_tree(str(root), recurse=True)
    assert why == ""
    assert _state(root) == (0, 0, 0o755)
    assert _state(root / "index.php") == (0, 0, 0o644)
    assert _state(root / "suid") == (0, 0, 0o755)  # no set-uid root file made from the account's
    assert _state(root / "sub") == (0, 0, 0o2755)
    assert _state(root / "sub" / "deep.html") == (0, 0, 0o644)
    assert {p: _state(p) for p in victims} == victims  # through x, y and the hard link: untouched
    assert os.lstat(root / "x").st_uid == NOBODY and os.lstat(root / "hard").st_uid == NOBODY - 1
    assert walk.skipped == {"symlink (never followed)": 2, "file with more than one hard link, not the account's": 1}
    assert walk.changed == 5 and not walk.incomplete
    again = own.own_tree(str(root), recurse=True)[1]
    assert again.changed == 0  # idempotent


def test_without_recurse_only_the_directory_and_check_mode_changes_nothing(planted):
    _, root = planted
    why, walk = own.own_tree(str(root), recurse=True, check=True)
    assert why == "" and walk.changed == 5 and _state(root) == (NOBODY, NOBODY, 0o777)  # .keep is index.php
    own.own_tree(str(root), recurse=False)
    assert _state(root) == (0, 0, 0o755) and _state(root / "index.php") == (NOBODY, NOBODY, 0o666)


def test_a_path_through_a_symlinked_directory_is_left_as_it_is(planted):
    base, _ = planted
    (base / "current").symlink_to(base / "etc")  # /srv/app/current -> elsewhere, as the account may swap it
    why, walk = own.own_tree(str(base / "current"), recurse=True)
    assert "symlink" in why and walk.changed == 0
    assert _state(base / "etc") == (NOBODY, NOBODY, 0o700)
    assert own.own_tree(str(base / "absent"), recurse=True)[0] == "absent"
    assert own.own_tree("relative/path", recurse=True)[0].startswith("not a plain absolute path")


def test_a_walk_that_cannot_reach_everything_says_so(planted):
    _, root = planted
    assert own.own_tree(str(root), recurse=True, max_entries=2)[1].incomplete == {"over max_entries": 1}
    deep = root / "sub"
    for _ in range(own.MAX_DEPTH + 2):
        deep = deep / "d"
        deep.mkdir()
    assert "deeper than max_depth" in own.own_tree(str(root), recurse=True)[1].incomplete


def test_many_directories_need_no_descriptor_each(tmp_path):
    """The walk holds descriptors for the directories above the one it reads, not for every
    directory waiting: 300 subdirectories under a limit of 64 open files are all changed."""
    import subprocess
    import sys

    root = _mk(tmp_path / "www", 0o777, directory=True)
    for i in range(300):
        _mk(_mk(root / f"d{i}", 0o777, directory=True) / "f", 0o666)
    code = (
        "import importlib.util, resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
        f"s = importlib.util.spec_from_file_location('m', {str(MODULE)!r}); m = importlib.util.module_from_spec(s)\n"
        "s.loader.exec_module(m)\n"
        f"why, walk = m.own_tree({str(root)!r}, recurse=True)\n"
        "print(why, walk.changed, walk.skipped)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "601 {}", out
