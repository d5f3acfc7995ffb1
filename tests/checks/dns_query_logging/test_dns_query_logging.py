"""dns.query_logging: parser goldens (real output, see golden/dns/README.md) and pure check tests."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hardening.checks import evaluated
from hardening.checks.dns_query_logging import linux as check

from hardening.facts import dns
from hardening.facts.linux import gather
from hardening.facts.sections import FactError, Sections, parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parents[2] / "golden" / "dns"
SHELLS = ("dash", "busybox")


def raw(name: str, shell: str = "dash") -> str:
    return (GOLDEN / f"{name}.{shell}.txt").read_text(encoding="utf-8", errors="surrogateescape")


def sections(name: str, shell: str = "dash") -> Sections:
    return parse_sections(raw(name, shell), "x")


def facts(name: str, shell: str = "dash") -> dns.DnsFacts:
    return dns.parse(sections(name, shell))


def verdict(name: str, policy: Policy | None = None, shell: str = "dash", text: str | None = None):
    s = parse_sections(text if text is not None else raw(name, shell), "x")
    return evaluated(check.evaluate, gather(s), policy or Policy())


# -- parser goldens ---------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_dnsmasq_logging_golden(shell):
    f = facts("dnsmasq_logging", shell)
    assert f.resolv.nameservers == ("127.0.0.1",)
    assert f.resolv.options == ("edns0", "trust-ad")
    assert f.resolv.link == "" and f.resolv.real_path == "/etc/resolv.conf"
    (p,) = f.processes
    assert p.kind == "dnsmasq" and p.uid == 999
    assert p.argv[:3] == ("dnsmasq", "-x", "/run/dnsmasq/dnsmasq.pid")
    assert "-7" in p.argv and "--local-service" in p.argv
    lis = f.listener_for("127.0.0.1")
    assert lis is not None and lis.address == "0.0.0.0" and lis.port == 53
    assert f.owner_of(lis) == p
    q = f.logging_of(p.pid)
    assert q is not None and q.enabled is True
    assert q.source == "log-queries (/etc/dnsmasq.d/logging.conf)"
    assert q.destination == "log-facility=/var/log/dnsmasq-queries.log"
    assert {(x.proto, x.address) for x in f.listeners} == {
        ("udp", "0.0.0.0"),
        ("tcp", "0.0.0.0"),
        ("udp", "::"),
        ("tcp", "::"),
    }


@pytest.mark.parametrize("shell", SHELLS)
def test_dnsmasq_include_follows_conf_file_and_conf_dir_filter(shell):
    f = facts("dnsmasq_include", shell)
    q = f.logging_of(f.processes[0].pid)
    assert q is not None and q.enabled
    assert q.source == "log-queries=extra (/etc/harden/dns.d/log.conf)"
    # ignored.conf.bak is outside conf-dir=...,*.conf: its log-facility must not apply
    assert q.destination == "syslog (facility DAEMON)"


def test_dnsmasq_cmdline_q_and_no_logging():
    q = facts("dnsmasq_cmdline_q").process_logging[0][1]
    assert q.enabled and q.source == "log-queries (command line)"
    q = facts("dnsmasq_no_logging").process_logging[0][1]
    assert q.enabled is False


@pytest.mark.parametrize(
    ("text", "enabled"),
    [
        ("log-facility=/var/log/d.log\rlog-queries\n", False),  # one option for dnsmasq: fgets lines
        ("port=53\vlog-queries\n", False),
        ("server=1.1.1.1\flog-queries\n", False),
        ("x\u2028log-queries\n", False),
        ("log-queries\r\n", True),  # CR LF: "\r" is a space, trailing
        (" \tlog-queries = extra \n", True),
    ],
)
def test_dnsmasq_lines_end_where_dnsmasq_ends_them(text, enabled):
    """dnsmasq reads its files with fgets (only "\\n" ends a line) and takes "\\r", "\\v" and
    "\\f" for spaces (option.c, read_file): a log-queries after one of them is inside another
    option's value, and query logging stays off."""
    q = dns.dnsmasq_logging(("dnsmasq",), {dns.DNSMASQ_DEFAULT_CONF: text})
    assert q.enabled is enabled, text


def test_dnsmasq_not_running_keeps_config_but_no_process():
    f = facts("dnsmasq_not_running")
    assert f.processes == ()
    assert f.listener_for("127.0.0.1") is None
    assert [q.resolver for q in f.configured_logging if q.enabled] == ["dnsmasq"]


@pytest.mark.parametrize("shell", SHELLS)
def test_resolved_stub_golden(shell):
    f = facts("resolved_stub", shell)
    assert f.resolv.link == "../run/systemd/resolve/stub-resolv.conf"
    assert f.resolv.nameservers == ("127.0.0.53",)
    assert f.resolved_upstreams == ("10.255.255.53",)
    assert f.resolved_dns_over_tls == "opportunistic"
    (p,) = f.processes
    assert p.kind == "systemd-resolved" and p.comm == "systemd-resolve"
    lis = f.listener_for("127.0.0.53")
    assert lis is not None and lis.address == "127.0.0.53" and f.owner_of(lis) == p
    assert f.listener_for("127.0.0.1") is None


@pytest.mark.parametrize("shell", SHELLS)
def test_unbound_goldens(shell):
    f = facts("unbound_logging", shell)
    (p,) = f.processes
    assert p.argv == ("unbound", "-c", "/etc/unbound/unbound.conf")
    q = f.logging_of(p.pid)
    assert q is not None and q.enabled and q.destination == "logfile /var/log/unbound-queries.log"
    six = f.listener_for("::1")
    assert six is not None and six.address == "::1" and f.owner_of(six) == p
    q = facts("unbound_nolog", shell).process_logging[0][1]
    assert q.enabled is False and "log-queries: no" in q.source


@pytest.mark.parametrize("shell", SHELLS)
def test_bind_goldens(shell):
    on = facts("bind_querylog", shell).process_logging[0][1]
    assert on.enabled and on.source == "rndc status: query logging is ON"
    cat = facts("bind_category", shell).process_logging[0][1]
    assert cat.enabled and cat.destination == "channel queries_file: file /var/log/named/queries.log"
    off = facts("bind_default", shell).process_logging[0][1]
    assert off.enabled is False and "OFF" in off.source


def test_named_logging_without_rndc_reads_effective_config():
    querylog = sections("bind_querylog").text("dns.named")
    category = sections("bind_category").text("dns.named")
    default = sections("bind_default").text("dns.named")
    assert dns.named_logging(querylog, None).enabled is True
    assert dns.named_logging(category, None).source == "logging category queries (named-checkconf -p)"
    assert dns.named_logging(default, None).enabled is False
    # an explicit querylog no beats a category queries channel (BIND ARM)
    assert dns.named_logging(category.replace("options {", "options {\n\tquerylog no;"), None).enabled is False
    nulled = category.replace('\t\t"queries_file";', '\t\t"null";')
    assert nulled != category and dns.named_logging(nulled, None).enabled is False


def test_host_external_golden():
    f = facts("host_external")
    assert f.resolv.nameservers == ("10.255.255.53", "2001:db8::53")
    assert f.resolv.options == ("rotate", "use-vc")
    assert f.local_addresses == ("127.0.0.1", "::1")
    assert not f.is_local("10.255.255.53")


def test_proc_net_big_endian_and_garbage():
    line = "  1: 7F000001:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 77 2 0 0"
    assert dns.parse_proc_net(line, "udp", big_endian=True)[0].address == "127.0.0.1"
    assert dns.parse_proc_net(line, "udp", big_endian=False)[0].address == "1.0.0.127"
    assert dns.parse_proc_net(line.replace(" 07 ", " 01 "), "udp") == ()
    with pytest.raises(FactError):
        dns.parse_proc_net(line.replace("7F000001", "7F0000ZZ"), "udp")


def test_hostile_process_list_raises_fact_error_not_crash():
    with pytest.raises(FactError):
        dns.parse_procs("@proc 12\ncomm zz\n")
    with pytest.raises(FactError):
        dns.parse_procs("@proc twelve\n")
    # argv with a newline and an empty argument survives (hex-encoded NUL-separated)
    argv = b"dnsmasq\0--conf-file=/etc/x\ny\0\0-q\0".hex()
    (p,) = dns.parse_procs(f"@proc 7\nuid 0\ncomm {b'dnsmasq'.hex()}\ncmdline {argv}\nsockets 1 2\n")
    assert p.argv == ("dnsmasq", "--conf-file=/etc/x\ny", "", "-q") and p.sockets == {1, 2}


def test_missing_or_cut_sections_are_errors():
    text = raw("dnsmasq_logging")
    cut = text[: text.index("@@x E dns.procs")]
    with pytest.raises(FactError, match="cut short"):
        dns.parse(parse_sections(cut, "x"))
    unreadable = text.replace("@@x E dns.resolv_conf 0", "@@x E dns.resolv_conf 1")
    with pytest.raises(FactError, match="unreadable"):
        dns.parse(parse_sections(unreadable, "x"))


# -- check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_dnsmasq_logging_and_resolv_to_it_passes(shell):
    v = verdict("dnsmasq_logging", shell=shell)
    assert v.status is Status.PASS
    assert "dnsmasq" in v.message and "log-facility=/var/log/dnsmasq-queries.log" in v.message
    assert v.evidence.facts["nameservers"][0]["logged"] is True
    assert "dns.resolv_conf" in v.evidence.excerpt


def test_config_says_log_queries_but_dnsmasq_not_running_fails():
    v = verdict("dnsmasq_not_running")
    assert v.status is Status.FAIL
    assert "nothing listens on 127.0.0.1 port 53" in v.message
    assert "dnsmasq" in v.message and "not answering" in v.message


@pytest.mark.parametrize("name", ["dnsmasq_no_logging", "unbound_nolog", "bind_default"])
def test_running_resolver_without_query_log_fails(name):
    v = verdict(name)
    assert v.status is Status.FAIL and "does not log queries" in v.message


@pytest.mark.parametrize("name", ["unbound_logging", "bind_querylog", "bind_category", "dnsmasq_include"])
def test_logging_resolver_variants_pass(name):
    assert verdict(name).status is Status.PASS


def test_systemd_resolved_stub_fails():
    v = verdict("resolved_stub")
    assert v.status is Status.FAIL
    assert "systemd-resolved" in v.message and "keeps no query log" in v.message
    assert "DNSOverTLS=opportunistic" in v.message


def test_resolved_forwarding_only_to_logging_dnsmasq_passes():
    v = verdict("resolved_to_dnsmasq")
    assert v.status is Status.PASS
    assert "systemd-resolved" in v.message and "dnsmasq" in v.message


def test_resolved_forwarding_to_approved_resolver_passes_with_egress_note():
    policy = Policy.from_vars({"harden_dns_resolvers": ["10.255.255.53"]})
    v = verdict("resolved_stub", policy)
    assert v.status is Status.PASS and "port 53" in v.message


def test_external_resolver_fails_and_approved_resolvers_pass_with_note():
    v = verdict("host_external")
    assert v.status is Status.FAIL and "10.255.255.53" in v.message
    assert "rotate" in v.message and "use-vc" in v.message
    half = Policy.from_vars({"harden_dns_resolvers": ["10.255.255.53"]})
    assert verdict("host_external", half).status is Status.FAIL  # 2001:db8::53 still unapproved
    both = Policy(dns_resolvers=(ipaddress.ip_address("10.255.255.53"), ipaddress.ip_address("2001:db8::53")))
    v = verdict("host_external", both)
    assert v.status is Status.PASS
    assert "approved logging resolver" in v.message and "egress checks" in v.message


def test_unreadable_fds_give_error_not_pass():
    # as a non-root audit sees it: the socket exists but /proc/<pid>/fd cannot be read
    text = raw("unbound_logging")
    head, _, rest = text.partition("sockets ")
    text = head + "sockets \nfd_readable no" + rest.split("fd_readable yes", 1)[1]
    v = verdict("unbound_logging", text=text)
    assert v.status is Status.ERROR and "run the audit as root" in v.message


def test_fact_error_becomes_error_verdict():
    text = raw("dnsmasq_logging")
    v = verdict("dnsmasq_logging", text=text[: text.index("@@x E dns.udp ")])
    assert v.status is Status.ERROR
