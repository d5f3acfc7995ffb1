"""harden allowlist: parsers over real configuration files, the proposal, and the YAML it writes."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from hardening.allowlist import evidence as ev
from hardening.allowlist.collect import Seen
from hardening.allowlist.propose import merge, propose_host, render_vars

FILES = Path(__file__).parents[1] / "golden" / "allowlist" / "files"


def real(name: str) -> str:
    return (FILES / name).read_text()


def block(path: str, text: str) -> str:
    """One file as the collector's _h_files prints it."""
    return f"==> {path} <==\n{text}\n"


def hosts(needs):
    return {(n.kind, n.host, n.port, n.proto) for n in needs}


# -- stock configuration names nothing but chrony's pool and the mirrors


def test_stock_files_name_no_destination():
    assert ev.rsyslog_forwards(real("rsyslog.conf")) == ()
    assert ev.syslog_ng_forwards(real("syslog-ng.conf")) == ()
    assert ev.audisp_remote(real("audisp-remote.conf")) == ()  # remote_server is empty
    assert ev.directory_servers(real("ldap.conf"), "/etc/ldap/ldap.conf") == ()  # URI is commented out
    assert ev.ntp_servers(real("timesyncd.conf"), "/etc/systemd/timesyncd.conf") == ()  # #NTP=


def test_chrony_pool():
    (n,) = ev.ntp_servers(real("chrony.conf"))
    assert (n.kind, n.host, n.port, n.proto) == ("ntp", "2.debian.pool.ntp.org", 123, "udp")
    assert n.source == "/etc/chrony/chrony.conf: pool 2.debian.pool.ntp.org iburst"


def test_deb822_sources():
    needs = ev.apt_sources(block("/etc/apt/sources.list.d/debian.sources", real("debian.sources")))
    assert hosts(needs) == {("repository", "deb.debian.org", 80, "tcp")}
    assert needs[0].source.startswith("/etc/apt/sources.list.d/debian.sources: URIs:")


def test_one_line_sources_with_options_and_https():
    text = (
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://repo.example.com:8443/apt stable main\n"
        "deb http://[2001:db8::5]/debian bookworm main\n# deb http://commented.example.org/ x y\n"
    )
    assert hosts(ev.apt_sources(text)) == {
        ("repository", "repo.example.com", 8443, "tcp"),
        ("repository", "2001:db8::5", 80, "tcp"),
    }


def test_yum_repos_only_enabled():
    text = block(
        "/etc/yum.repos.d/x.repo",
        "[base]\nbaseurl=https://mirror.example.org/el9/\nenabled=1\n"
        "[off]\nbaseurl=https://off.example.org/\nenabled=0\n"
        "[epel]\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel-9\n",
    )
    assert hosts(ev.yum_repos(text)) == {
        ("repository", "mirror.example.org", 443, "tcp"),
        ("repository", "mirrors.fedoraproject.org", 443, "tcp"),
    }


def test_admin_edits_to_real_files():
    rsyslog = (
        real("rsyslog.conf")
        + "\n*.* @@logs.example.com:6514\nauth.* @10.0.0.9\n"
        + 'action(type="omfwd" target="192.0.2.14" port="10514" protocol="tcp")\n'
    )
    assert hosts(ev.rsyslog_forwards(rsyslog)) == {
        ("log", "logs.example.com", 6514, "tcp"),
        ("log", "10.0.0.9", 514, "udp"),
        ("log", "192.0.2.14", 10514, "tcp"),
    }
    ng = real("syslog-ng.conf") + '\ndestination d_net { network("192.0.2.15" port(6514) transport("tls")); };\n'
    assert hosts(ev.syslog_ng_forwards(ng)) == {("log", "192.0.2.15", 6514, "tcp")}
    audisp = real("audisp-remote.conf").replace("remote_server = ", "remote_server = 192.0.2.16")
    assert hosts(ev.audisp_remote(audisp)) == {("log", "192.0.2.16", 60, "tcp")}
    ldap = real("ldap.conf") + "\nURI ldaps://ldap.example.com ldap://192.0.2.17\n"
    assert hosts(ev.directory_servers(ldap, "/etc/ldap/ldap.conf")) == {
        ("directory", "ldap.example.com", 636, "tcp"),
        ("directory", "192.0.2.17", 389, "tcp"),
    }
    ts = real("timesyncd.conf").replace("#NTP=", "NTP=192.0.2.18 ntp.example.com")
    assert hosts(ev.ntp_servers(ts, "/etc/systemd/timesyncd.conf")) == {
        ("ntp", "192.0.2.18", 123, "udp"),
        ("ntp", "ntp.example.com", 123, "udp"),
    }


def test_resolvers_proxies_and_krb5():
    assert hosts(ev.resolv_conf("nameserver 192.0.2.53\nnameserver 127.0.0.1\nnameserver fe80::1%eth0\n")) == {
        ("resolver", "192.0.2.53", 53, "udp"),
        ("resolver", "fe80::1", 53, "udp"),
    }
    assert hosts(ev.resolved_conf("[Resolve]\nDNS=192.0.2.1:5353 [2001:db8::53]#dns.example\n")) == {
        ("resolver", "192.0.2.1", 5353, "udp"),
        ("resolver", "2001:db8::53", 53, "udp"),
    }
    assert hosts(ev.dnsmasq_servers("server=192.0.2.2\nserver=/corp/10.1.1.1#5353\n")) == {
        ("resolver", "192.0.2.2", 53, "udp"),
        ("resolver", "10.1.1.1", 5353, "udp"),
    }
    assert hosts(
        ev.proxies('https_proxy=http://proxy.example.com:3128\nAcquire::http::Proxy "http://192.0.2.3:3142";\n')
    ) == {("proxy", "proxy.example.com", 3128, "tcp"), ("proxy", "192.0.2.3", 3142, "tcp")}
    krb = "[realms]\n EXAMPLE.COM = {\n  kdc = kdc1.example.com\n  kdc = 192.0.2.19:750\n"
    krb += "  admin_server = kdc1.example.com\n }\n"
    assert hosts(ev.directory_servers(krb, "/etc/krb5.conf")) == {
        ("directory", "kdc1.example.com", 88, "tcp"),
        ("directory", "192.0.2.19", 750, "tcp"),
        ("directory", "kdc1.example.com", 749, "tcp"),
    }


@pytest.mark.parametrize(
    "text",
    [
        "nameserver $(id)\n",
        "nameserver {{ lookup('pipe','id') }}\n",
        "nameserver 999.1.1.1\n",
        "nameserver 1.2.3.4\x1b[31m\n",
        "nameserver " + "a" * 300 + "\n",
    ],
)
def test_hostile_values_are_not_destinations(text):
    assert ev.resolv_conf(text) == ()


# -- the proposal


def _proposal():
    needs = ev.resolv_conf("nameserver 192.0.2.53\n") + ev.apt_sources(
        block("/etc/apt/sources.list.d/debian.sources", real("debian.sources"))
    )
    needs += (ev.Need("connection", "198.18.0.5", 5432, "tcp", "seen: /usr/lib/postgresql/15/bin/postgres (postgres)"),)
    sus = (Seen("203.0.113.9", 4444, "/usr/bin/bash", "bash", "www-data", "shell"),)
    fake_dns = {"deb.debian.org": (ipaddress.ip_address("192.0.2.80"), ipaddress.ip_address("2001:db8::80"))}
    return propose_host("web1", needs, sus, resolve=lambda n: fake_dns.get(n, ()))


def test_proposal_entries_carry_their_evidence():
    p = _proposal()
    assert [str(a) for a in p.resolvers] == ["192.0.2.53"]
    nets = {e.net: e for e in p.entries}
    assert set(nets) == {"192.0.2.80/32", "198.18.0.5/32", "2001:db8::80/128"}
    assert nets["192.0.2.80/32"].ports == (80,) and "deb.debian.org -> 192.0.2.80" in nets["192.0.2.80/32"].why[0]
    assert "203.0.113.9" not in {str(e.address) for e in p.entries}  # a shell's destination is never proposed
    assert p.suspicious == ("web1: 203.0.113.9:4444 by /usr/bin/bash (www-data, shell)",)


def test_rendered_vars_load_as_the_policy_harden_reads():
    from hardening.policy import Policy

    text = render_vars(merge([_proposal()]), "group web", "0.1.0")
    data = yaml.safe_load(text)
    pol = Policy.from_vars(data)
    assert pol.permits(ipaddress.ip_address("192.0.2.53"), 53)
    assert pol.permits(ipaddress.ip_address("192.0.2.80"), 80)
    assert not pol.permits(ipaddress.ip_address("203.0.113.9"), 4444)
    assert "NOT PROPOSED" in text and "203.0.113.9:4444" in text


def test_unresolved_names_are_listed_not_guessed():
    p = propose_host("h", ev.ntp_servers(real("chrony.conf")), (), resolve=lambda n: ())
    assert p.entries == () and "2.debian.pool.ntp.org:123" in p.unresolved[0]


def test_host_text_in_comments_cannot_break_the_yaml():
    need = ev.Need("connection", "192.0.2.7", 443, "tcp", "seen: /tmp/x\nharden_egress_allow: ['0.0.0.0/0'] (u)")
    text = render_vars(propose_host("h\nx", (need,), (), resolve=lambda n: ()), "group g", "0")
    data = yaml.safe_load(text)
    assert data["harden_egress_allow"] == [{"net": "192.0.2.7/32", "ports": [443]}]


# -- hostile text: every parser returns bounded, validated needs and never raises

PARSERS = (
    ev.resolv_conf, ev.resolved_conf, ev.dnsmasq_servers, ev.apt_sources, ev.yum_repos, ev.ntp_servers,
    ev.proxies, ev.rsyslog_forwards, ev.syslog_ng_forwards, ev.audisp_remote, ev.journal_upload,
    ev.directory_servers,
)  # fmt: skip


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
def test_parsers_survive_hostile_text(parser):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(
        ["nameserver", "server", "pool", "deb", "URIs:", "baseurl=", "proxy=", "@@", "@", "URI", "kdc =", "[x]",
         "ldap_uri =", "DNS=", "NTP=", "URL=", 'network("', "remote_server =", "==> /x <==", "\n", " ", "#",
         "http://", "[::1]", "1.2.3.4", ":99999", "\x00", "\x1b[31m", "é", "a" * 600]
    )  # fmt: skip

    @settings(max_examples=150, deadline=None)
    @given(st.lists(words, max_size=40).map("".join))
    def check(text):
        for n in parser(text, "/x"):
            assert ev.destination(n.host) == n.host and 0 < n.port < 65536 and n.proto in ("tcp", "udp")
            assert "\n" not in n.source and len(n.source) <= 200

    check()


def test_needs_are_bounded():
    text = "".join(f"nameserver 10.0.{i // 250}.{i % 250 + 1}\n" for i in range(5000))
    assert len(ev.resolv_conf(text)) == ev.MAX_NEEDS


@pytest.mark.parametrize(
    ("seen", "held"),
    [
        (Seen("192.0.2.1", 5432, "/usr/lib/postgresql/15/bin/postgres", "postgres", "postgres", "other", 105), ""),
        (Seen("192.0.2.1", 443, "/usr/local/bin/syncd", "syncd", "root", "other", 0), ""),
        (Seen("192.0.2.1", 443, "/home/u/.cache/kworker", "kworker", "u", "other", 1000), "a user's process"),
        (Seen("192.0.2.1", 443, "/tmp/kworker", "kworker", "root", "other", 0), "not a program installed"),
        (Seen("192.0.2.1", 443, "/usr/bin/agent (deleted)", "agent", "root", "other", 0), "not a program installed"),
        (Seen("192.0.2.1", 443, "/memfd:x (deleted)", "x", "root", "other", 0), "not a program installed"),
        (Seen("192.0.2.1", 443, "/usr/bin/curl", "curl", "www-data", "other", None), "a user's process"),
        (Seen("192.0.2.1", 4444, "/usr/bin/python3.11", "python3", "root", "interpreter", 0), "interpreter"),
    ],
)
def test_only_system_programs_of_system_accounts_are_proposed(seen, held):
    assert seen.held_back.startswith(held) and bool(seen.held_back) == bool(held)


def test_resolvers_are_quoted_so_yaml_never_reads_a_number():
    p = propose_host("h", ev.resolv_conf("nameserver 2001:10:20:30:40:50:1:2\n"), (), resolve=lambda n: ())
    data = yaml.safe_load(render_vars(p, "g", "0"))
    assert data["harden_dns_resolvers"] == ["2001:10:20:30:40:50:1:2"]


def _watch(holders: list[tuple[int, str, str, int]]) -> str:
    """One watch sample in the collector's format: a connection 198.18.0.5:41000 -> 203.0.113.9:4444
    (socket inode 777) held by every process of ``holders`` (pid, exe, comm, uid)."""
    from hardening.facts.sections import DONE_SECTION

    n = "N1"
    tcp = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 050012C6:A028 097100CB:115C 01 00000000:00000000 00:00000000 00000000    33        0 777 1 0 20 4\n"
    )
    links = "".join(f"/proc/{pid}/exe\t{exe}\0/proc/{pid}/fd/5\tsocket:[777]\0" for pid, exe, _, _ in holders)
    uids = "".join(f"/proc/{pid}/status:Uid:\t{uid}\t{uid}\t{uid}\t{uid}\n" for pid, _, _, uid in holders)
    comms = "".join(f"/proc/{pid}/comm:{comm}\n" for pid, _, comm, _ in holders)
    sections = {
        "meta.id": "0\n",
        "meta.uname": "Linux 6.1.0 x86_64\n",
        "allow.passwd": "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n",
        "allow.w1.tcp": tcp,
        "allow.w1.links": links,
        "allow.w1.uid": uids,
        "allow.w1.comm": comms,
    }
    sections[DONE_SECTION] = ""
    return "".join(f"@@{n} B {name}\n{body}@@{n} E {name} 0\n" for name, body in sections.items())


@pytest.mark.parametrize("shell_pid", [12346, 1234])  # listed after the worker, and before it
def test_a_connection_a_service_shares_with_a_shell_is_held_back(shell_pid):
    """A web shell's reverse connection (PHP handing its socket to sh) is never proposed, whichever
    holder /proc lists first; the worker alone is a service's connection and is proposed."""
    from hardening.allowlist.collect import parse_evidence
    from hardening.facts.sections import parse_sections

    worker = (2345, "/usr/sbin/php-fpm8.2", "php-fpm8.2", 33)
    both = parse_evidence(parse_sections(_watch([worker, (shell_pid, "/usr/bin/dash", "sh", 33)]), "N1"), 1)
    assert not [n for n in both.needs if n.host == "203.0.113.9"]
    assert [(s.address, s.port, s.held_back) for s in both.suspicious] == [("203.0.113.9", 4444, "shell")]
    alone = parse_evidence(parse_sections(_watch([worker]), "N1"), 1)
    assert [(n.host, n.port) for n in alone.needs if n.host == "203.0.113.9"] == [("203.0.113.9", 4444)]
