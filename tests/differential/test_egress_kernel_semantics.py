"""Unit tests for the kernel semantics the differential suite found (issue 17), no root needed."""

from __future__ import annotations

import subprocess

import pytest

from hardening.egress.evaluate import NAT_NO_CONNTRACK, NAT_UNTRACKED
from hardening.egress.judge import judge
from hardening.firewall.iptables import parse_save
from hardening.firewall.model import Kind
from hardening.firewall.nft import parse_ruleset

IF = ("eth0",)


def nft(text: str) -> object:
    """nft's own JSON for ``text`` (parsed in a throwaway user+network namespace), or skip."""
    res = subprocess.run(
        ["unshare", "-rn", "sh", "-c", "nft -f - && nft -j list ruleset"], input=text, capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"nft in unshare -rn unavailable: {res.stderr.strip()[:200]}")
    return parse_ruleset(res.stdout)


NAT_DROP = "table inet n {\n chain p {\n  type nat hook postrouting priority 100; policy drop;\n }\n}\n"
CT_RULE = (
    "table inet f {\n chain o {\n  type filter hook output priority 0; policy accept;\n  ct state invalid drop\n }\n}\n"
)
RAW_NOTRACK = "table inet r {\n chain o {\n  type filter hook output priority -300; policy accept;\n  notrack\n }\n}\n"


def test_nat_drop_without_conntrack_never_fires():
    r = judge(nft(NAT_DROP), 4, IF)
    assert not r.default_deny
    assert NAT_NO_CONNTRACK in r.headline()


def test_nat_drop_with_conntrack_turned_on_by_a_ct_rule_drops():
    r = judge(nft(NAT_DROP + CT_RULE), 4, IF)
    assert r.default_deny, r.headline()


def test_notrack_exempts_from_nat_chains():
    r = judge(nft(NAT_DROP + CT_RULE + RAW_NOTRACK), 4, IF)
    assert not r.default_deny
    assert NAT_UNTRACKED in r.headline() and "notrack" in r.headline()


def test_masquerade_turns_conntrack_on():
    text = NAT_DROP.replace("policy drop;\n", 'policy drop;\n  oifname "eth9" masquerade\n')
    assert judge(nft(text), 4, IF).default_deny


XT_NAT = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING DROP [0:0]\nCOMMIT\n"


def test_iptables_nat_drop_policy_needs_conntrack():
    assert not judge(parse_save(XT_NAT, 4, "iptables-legacy"), 4, IF).default_deny
    tracked = XT_NAT + "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m state --state INVALID -j DROP\nCOMMIT\n"
    assert judge(parse_save(tracked, 4, "iptables-legacy"), 4, IF).default_deny


def test_conntrack_always_on_makes_nat_drop_fire():
    from dataclasses import replace

    rs = replace(parse_save(XT_NAT, 4, "iptables-legacy"), always_tracked=True)
    assert judge(rs, 4, IF).default_deny


@pytest.mark.parametrize("jump", ["-j", "-g"])
@pytest.mark.parametrize("name", ["ALLOW", "EGRESS_OUT", "Allow"])
def test_declared_chain_in_capitals_is_a_chain(jump: str, name: str):
    text = (
        f"*filter\n:OUTPUT DROP [0:0]\n:{name} - [0:0]\n-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT {jump} {name}\n"
        f"-A {name} -d 198.18.0.0/24 -j ACCEPT\nCOMMIT\n"
    )
    rs = parse_save(text, 4, "iptables-nft")
    rule = rs.tables[0].chain("OUTPUT").rules[1]
    assert rule.kind is (Kind.JUMP if jump == "-j" else Kind.GOTO) and rule.target == name
    r = judge(rs, 4, IF)
    assert r.default_deny and not r.open_ports
    assert [a.dest_text() for a in r.admitted] == ["198.18.0.0/24 on any port"]


def test_undeclared_capital_target_stays_unknown():
    text = "*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -j SOMETARGET\nCOMMIT\n"
    assert parse_save(text, 4, "iptables-nft").tables[0].chain("OUTPUT").rules[0].kind is Kind.UNKNOWN


UDP53 = "*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -p udp --dport 53 -j ACCEPT\nCOMMIT\n"


def test_udp_53_to_anywhere_keeps_default_deny_but_is_no_allowlist():
    r = judge(parse_save(UDP53, 4, "iptables-nft"), 4, IF)
    assert r.default_deny
    assert [a.dest_text() for a in r.all_open_ports()] == ["any address on UDP port 53"]
    assert r.per_protocol() == {"tcp": "nothing", "udp": "any address on port 53"}


@pytest.mark.parametrize(
    "rule",
    ["-p udp -j ACCEPT", "-p udp --dport 1024:65535 -j ACCEPT", "! -p tcp -j ACCEPT"],
)
def test_udp_to_any_port_defeats_default_deny(rule: str):
    text = f"*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT {rule}\nCOMMIT\n"
    r = judge(parse_save(text, 4, "iptables-nft"), 4, IF)
    assert not r.default_deny
    assert r.open_any[0].proto == "udp" and "new flows to any address on" in r.headline()
    assert r.per_protocol()["tcp"] == "nothing"


def test_dropping_only_tcp_syns_leaves_udp_open():
    text = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp --syn -j DROP\nCOMMIT\n"
    r = judge(parse_save(text, 4, "iptables-nft"), 4, IF)
    assert not r.default_deny and {a.proto for a in r.open_any} == {"udp"}
