"""The privilege parser: sudo -l -U output, sudoers files, file modes; real lab captures (tests/golden/lab)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from hardening.facts import privilege as pv
from hardening.facts.sections import parse_sections

GOLDEN = Path(__file__).parents[2] / "golden" / "lab"


def lab(host: str) -> pv.PrivilegeFacts:
    text = (GOLDEN / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return pv.parse(parse_sections(text, nonce))


def test_sudo_list_output():
    text = (
        "Matching Defaults entries for appsvc on half:\n    env_reset, mail_badpass\n\n"
        "User appsvc may run the following commands on half:\n"
        "    (ALL) NOPASSWD: ALL\n    (root) /usr/bin/systemctl restart app\n"
    )
    rules = pv.sudo_rules(text)
    assert [(r.nopasswd, r.everything) for r in rules] == [(True, True), (False, False)]
    assert pv.sudo_rules("User www-data is not allowed to run sudo on half.\n") == ()


def test_sudoers_specs_aliases_and_continuations():
    text = (
        "Defaults env_reset\n# appsvc ALL=(ALL) ALL\nUser_Alias WEB = www-data, nginx\n"
        "WEB ALL=(root) NOPASSWD: /usr/sbin/nginx -s reload\n"
        "%admins ALL=(ALL:ALL) \\\n  ALL\n@includedir /etc/sudoers.d\n"
    )
    specs, aliases = pv.sudoers_specs([("/etc/sudoers", text)])
    assert aliases == {"WEB": ("www-data", "nginx")}
    assert [(s.who, s.nopasswd, s.everything) for s in specs] == [(("WEB",), True, False), (("%admins",), False, True)]


def test_file_modes():
    fm = pv.FileMode(33, 33, stat.S_IFDIR | 0o755)
    assert fm.is_dir and fm.writable_by(33, frozenset()) and not fm.writable_by(34, frozenset({33}))
    assert pv.FileMode(0, 33, stat.S_IFDIR | 0o775).writable_by(34, frozenset({33}))
    assert pv.FileMode(0, 0, stat.S_IFREG | 0o757).writable_by(1000, frozenset())


def test_lab_half_lists_appsvc_sudo_and_the_web_root():
    half = lab("half")
    assert half.sudo_listed is not None and any(r.nopasswd and r.everything for r in half.sudo_listed["appsvc"])
    assert half.sudo_listed.get("www-data", ()) == ()
    assert "/var/www/html" in half.webroots and half.files["/var/www/html"].uid != 0
    hardened = lab("hardened")
    assert hardened.files["/var/www/html"].uid == 0 and hardened.files["/usr/sbin/nginx"].uid == 0
