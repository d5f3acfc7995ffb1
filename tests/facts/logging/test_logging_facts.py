"""The log-forwarding parser: real Debian configuration files (tests/golden/allowlist/files) with the lines an
administrator adds, real collector output of the lab states (tests/golden/lab), and hostile text."""

from __future__ import annotations

import re
from pathlib import Path

from hardening.facts import logging as lg
from hardening.facts.sections import parse_sections

GOLDEN = Path(__file__).parents[2] / "golden"
FILES = GOLDEN / "allowlist" / "files"
ALL = frozenset(lg.FACILITIES)


def rsyslog(*extra: tuple[str, str]) -> lg.RsyslogConfig:
    return lg.rsyslog_forwards([("/etc/rsyslog.conf", (FILES / "rsyslog.conf").read_text()), *extra])


def test_stock_debian_rsyslog_forwards_nothing():
    r = rsyslog()
    assert r.actions == () and r.unread == () and r.files == ("/etc/rsyslog.conf",)


def test_legacy_and_rainerscript_forwards_through_the_include_directory():
    d = (
        "# a comment: *.* @@commented.example:514\n"
        "auth,authpriv.* @@198.51.100.1:6514\n"
        "& @198.51.100.2\n"
        '*.* action(type="omfwd"\n           target="siem.example.org" port="6514"\n           protocol="tcp")\n'
        "/* *.* @@block-comment.example */\n"
    )
    r = rsyslog(("/etc/rsyslog.d/50-remote.conf", d))
    got = [(a.host, a.port, a.proto, a.everything, a.facilities == {"auth", "authpriv"}) for a in r.actions]
    assert got == [
        ("198.51.100.1", 6514, "tcp", False, True),
        ("198.51.100.2", 514, "udp", False, True),
        ("siem.example.org", 6514, "tcp", True, False),
    ]


def test_filters_rulesets_and_unread_includes():
    d = (
        'if $programname == \'sshd\' then {\n  action(type="omfwd" target="198.51.100.3")\n}\n'
        ':msg, contains, "x" @@198.51.100.4\n'
        'ruleset(name="unused") {\n  action(type="omfwd" target="198.51.100.9")\n}\n'
        'ruleset(name="fromnet") {\n  action(type="omfwd" target="198.51.100.10")\n}\n'
        'input(type="imtcp" port="514" ruleset="fromnet")\n'
        'ruleset(name="local") {\n  action(type="omfwd" target="198.51.100.11")\n}\n'
        'input(type="imuxsock" ruleset="local")\n'
        "$IncludeConfig /srv/other/*.conf\n"
        "*.* @@198.51.100.12\n"
    )
    r = rsyslog(("/etc/rsyslog.d/60-mixed.conf", d))
    by_host = {a.host: a for a in r.actions}
    assert by_host["198.51.100.3"].filtered and by_host["198.51.100.4"].filtered
    assert "198.51.100.9" not in by_host and "198.51.100.10" not in by_host  # local logs never reach them
    assert len(r.inactive) == 2 and by_host["198.51.100.11"].everything and by_host["198.51.100.12"].everything
    assert r.unread == ("/srv/other/*.conf",)


def test_selectors():
    assert lg.selector_facilities("*.*") == ALL
    assert lg.selector_facilities("*.info;mail.none;authpriv.none") == ALL - {"mail", "authpriv"}
    assert lg.selector_facilities("*.crit") == frozenset()  # info messages are not sent
    assert lg.selector_facilities("kern.!info") == frozenset()


def test_syslog_ng_destinations_used_by_a_log_path():
    ng = (FILES / "syslog-ng.conf").read_text()
    assert lg.syslog_ng_forwards([("/etc/syslog-ng/syslog-ng.conf", ng)]) == ()
    extra = (
        'destination d_siem { network("198.51.100.20" port(6514) transport("tls")); };\n'
        "log { source(s_src); destination(d_siem); };\n"
        'destination d_unused { tcp("198.51.100.21"); };\n'
    )
    fw = lg.syslog_ng_forwards([("/etc/syslog-ng/syslog-ng.conf", ng + extra)])
    assert [(f.host, f.port, f.proto, f.everything) for f in fw] == [("198.51.100.20", 6514, "tcp", True)]


def test_audisp_plugins_and_remote_server():
    remote = (FILES / "audisp-remote.conf").read_text().replace("remote_server =", "remote_server = 198.51.100.30")
    plugins, fwd = lg.audit_plugins(
        [
            ("/etc/audit/plugins.d/au-remote.conf", "active = yes\ndirection = out\npath = /sbin/audisp-remote\n"),
            ("/etc/audit/plugins.d/syslog.conf", "active = no\npath = /sbin/audisp-syslog\nargs = LOG_INFO\n"),
            ("/etc/audit/audisp-remote.conf", remote),
        ]
    )
    assert [(p.kind, p.active) for p in plugins] == [("remote", True), ("syslog", False)]
    assert fwd is not None and (fwd.host, fwd.port, fwd.proto) == ("198.51.100.30", 60, "tcp")


def test_journal_upload_url():
    f = lg.journal_upload_url(
        [("/etc/systemd/journal-upload.conf", "[Upload]\n# URL=http://old\nURL=https://198.51.100.40\n")]
    )
    assert f is not None and (f.host, f.port, f.everything) == ("198.51.100.40", 19532, True)


def test_hostile_text_is_data():
    evil = '*.* @@$(touch /tmp/x)\n*.* action(type="omfwd" target="a\\"b")\n' + "(" * 5000 + "\n"
    r = rsyslog(("/etc/rsyslog.d/99-evil.conf", evil))
    assert all(not a.host or re.fullmatch(r"[0-9a-z.:-]+", a.host) for a in r.actions)


def lab(host: str):
    text = (GOLDEN / "lab" / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return lg.parse(parse_sections(text, nonce))


def test_lab_states():
    assert lab("default").rsyslog is None  # rsyslog purged
    hardened = lab("hardened").rsyslog
    assert hardened is not None and [(a.host, a.port, a.everything) for a in hardened.actions] == [
        ("198.18.0.1", 6514, True)
    ]
    assert [m.path for m in hardened.imfiles] == ["/var/log/dnsmasq.log"]
    half = lab("half").rsyslog
    assert half is not None and [a.facilities for a in half.actions] == [frozenset({"auth", "authpriv"})]


def test_relp_forwarding_is_tcp():
    r = rsyslog(
        (
            "/etc/rsyslog.d/50-relp.conf",
            'module(load="omrelp")\n*.* action(type="omrelp" target="198.51.100.5" port="2514")\n',
        )
    )
    assert [(a.host, a.port, a.proto, a.everything) for a in r.actions] == [("198.51.100.5", 2514, "tcp", True)]
