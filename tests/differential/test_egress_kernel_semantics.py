"""Unit tests for the kernel semantics the differential suite found (issue 17), no root needed."""

from __future__ import annotations

import subprocess

import pytest

from hardening.egress.evaluate import NAT_BOUND, NAT_NO_CONNTRACK, NAT_UNTRACKED, run_probe
from hardening.egress.judge import judge
from hardening.firewall.iptables import parse_save
from hardening.firewall.model import Kind, Probe, ip_to_int
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


# ---------------------------------------------------------------- ct state before conntrack (F1)

RAW_XT = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT {policy} [0:0]\n{rules}COMMIT\n"


def raw_xt(rules: str, policy: str = "ACCEPT") -> object:
    return parse_save(RAW_XT.format(policy=policy, rules=rules), 4, "iptables-legacy")


def test_ct_state_new_drop_before_conntrack_never_matches():
    rs = raw_xt("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m conntrack --ctstate NEW -j DROP\n")
    assert not judge(rs, 4, IF).default_deny  # the kernel sees ct state invalid there, not new


def test_state_not_new_accept_before_conntrack_admits():
    rs = raw_xt("-A OUTPUT -m state ! --state NEW -j ACCEPT\n", "DROP")
    assert not judge(rs, 4, IF).default_deny


def test_ct_state_invalid_drop_before_conntrack_drops_everything():
    rs = raw_xt("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n")
    assert judge(rs, 4, IF).default_deny


@pytest.mark.parametrize(("prio", "deny"), [("-300", False), ("-201", False), ("-200", True), ("-150", True)])
def test_nft_ct_state_new_drop_depends_on_the_priority(prio: str, deny: bool):
    text = f"table inet r {{\n chain o {{\n  type filter hook output priority {prio}; policy accept;\n"
    text += '  oifname "lo" accept\n  ct state new drop\n }\n}\n'
    assert judge(nft(text), 4, IF).default_deny is deny


def test_ct_state_untracked_after_notrack_earlier_on_the_raw_path():
    text = RAW_NOTRACK + (
        "table inet s {\n chain o {\n  type filter hook output priority -250; policy drop;\n"
        '  oifname "lo" accept\n  ct state untracked accept\n }\n}\n'
    )
    assert not judge(nft(text), 4, IF).default_deny
    # before the notrack (-350 < -300) the packet is still invalid, not untracked
    assert judge(nft(text.replace("-250", "-350")), 4, IF).default_deny


# ---------------------------------------------------------------- nat binding short-circuit (F2)

MASQ = "table ip a {\n chain post {\n  type nat hook postrouting priority 100; policy accept;\n  masquerade\n }\n}\n"
NAT_DROP_110 = "table ip b {\n chain post {\n  type nat hook postrouting priority 110; policy drop;\n }\n}\n"


def test_nat_chains_after_a_masquerade_never_run():
    rs = nft(MASQ + NAT_DROP_110)
    assert not judge(rs, 4, IF).default_deny
    res = run_probe(rs, Probe(4, ip_to_int("203.0.113.77"), 4444, "eth0"))
    assert res.admitted and res.certain
    assert [o.skipped for o in res.outcomes] == ["", NAT_BOUND]


def test_nat_chain_before_the_binding_one_still_runs():
    assert judge(nft(MASQ + NAT_DROP_110.replace("110", "90")), 4, IF).default_deny


def test_nat_rule_that_does_not_match_binds_nothing():
    text = MASQ.replace("  masquerade", '  oifname "eth9" masquerade') + NAT_DROP_110
    assert judge(nft(text), 4, IF).default_deny


def test_nat_chain_accepting_without_nat_binds_nothing():
    text = MASQ.replace("  masquerade", "  accept") + NAT_DROP_110
    assert judge(nft(text + CT_RULE), 4, IF).default_deny


def test_binding_is_per_hook():
    dnat_out = "table ip c {\n chain out {\n  type nat hook output priority -100; policy accept;\n"
    dnat_out += "  dnat to 198.19.1.1\n }\n}\n"
    assert judge(nft(dnat_out + NAT_DROP_110), 4, IF).default_deny  # a dst binding does not skip postrouting
    drop_out = "table ip d {\n chain out {\n  type nat hook output priority -90; policy drop;\n }\n}\n"
    assert not judge(nft(dnat_out + drop_out), 4, IF).default_deny


def test_iptables_masquerade_skips_a_later_nft_nat_chain():
    xt = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
    xt += "-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n"
    rs = parse_save(xt, 4, "iptables-nft").merged(nft(NAT_DROP_110))
    assert not judge(rs, 4, IF).default_deny
    assert judge(
        parse_save(xt.replace("eth0", "eth9"), 4, "iptables-nft").merged(nft(NAT_DROP_110)), 4, IF
    ).default_deny


# ---------------------------------------------------------------- tproxy, notrack placement (F3)


def test_tproxy_does_not_turn_conntrack_on():
    text = (
        "table ip t {\n chain pre {\n  type filter hook prerouting priority -150; policy accept;\n"
        "  meta l4proto tcp tproxy to :8080\n }\n}\n"
    )
    rs = nft(NAT_DROP.replace("inet n", "ip n") + text)
    assert not rs.tracks(4)
    assert not judge(rs, 4, IF).default_deny


@pytest.mark.parametrize(
    "where",
    [
        "type filter hook prerouting priority -300; policy accept;",  # not the output path
        "type filter hook output priority 0; policy accept;",  # after conntrack: already tracked
    ],
)
def test_notrack_off_the_raw_output_path_exempts_nothing(where: str):
    raw = f"table inet r {{\n chain o {{\n  {where}\n  notrack\n }}\n}}\n"
    assert judge(nft(NAT_DROP + CT_RULE + raw), 4, IF).default_deny


def test_notrack_in_an_unreferenced_chain_exempts_nothing():
    raw = "table inet r {\n chain lone {\n  notrack\n }\n}\n"
    assert judge(nft(NAT_DROP + CT_RULE + raw), 4, IF).default_deny


def test_notrack_in_a_chain_jumped_to_from_raw_output_exempts():
    xt = RAW_XT.format(policy="ACCEPT", rules="-A OUTPUT -j NT\n-A NT -j CT --notrack\n").replace(
        ":OUTPUT ACCEPT [0:0]\n", ":OUTPUT ACCEPT [0:0]\n:NT - [0:0]\n"
    )
    rs = parse_save(xt + XT_NAT + "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m state --state INVALID -j DROP\nCOMMIT\n",
                    4, "iptables-legacy")  # fmt: skip
    r = judge(rs, 4, IF)
    assert not r.default_deny and NAT_UNTRACKED in r.headline()


# ---------------------------------------------------------------- nf_conntrack.enable_hooks


def _fw_sections(extra: dict[str, tuple[str, int]]) -> object:
    from hardening.facts import firewall
    from hardening.facts.sections import parse_sections

    nonce = "kn0"
    parts = {"firewall.iptables_version": ("iptables v1.8.9 (legacy)\n", 0),
             "firewall.iptables_save": (XT_NAT, 0), **extra}  # fmt: skip
    out = "".join(f"\n@@{nonce} B {n}\n{t}\n@@{nonce} E {n} {rc}\n" for n, (t, rc) in parts.items())
    return firewall.parse(parse_sections(out, nonce))


@pytest.mark.parametrize(
    ("cmdline", "modprobe", "on"),
    [
        ("ro quiet", "", False),
        ("ro nf_conntrack.enable_hooks=1 quiet", "", True),
        ("ro nf_conntrack.enable_hooks", "", True),
        ("ro", "==> /etc/modprobe.d/ct.conf <==\noptions nf_conntrack enable_hooks=1\n", True),
        ("ro", "==> /etc/modprobe.d/ct.conf <==\n# options nf_conntrack enable_hooks=1\n", False),
        ("ro", "==> /etc/modprobe.d/ct.conf <==\noptions nf_conntrack hashsize=4096 enable_hooks=Y\n", True),
        ("ro nf_conntrack.enable_hooks=0", "==> /etc/modprobe.d/ct.conf <==\noptions nf_conntrack enable_hooks=1\n",
         False),
        ("ro -- nf_conntrack.enable_hooks=1", "", False),
    ],
)  # fmt: skip
def test_enable_hooks_from_cmdline_and_modprobe(cmdline: str, modprobe: str, on: bool):
    facts = _fw_sections({"firewall.ct_cmdline": (cmdline, 0), "firewall.ct_modprobe": (modprobe, 0)})
    assert facts.running.always_tracked is on
    assert judge(facts.running, 4, IF).default_deny is on  # the nat chain's policy drop fires only then


def test_enable_hooks_has_no_sys_file_and_the_collector_reads_cmdline_and_modprobe():
    from pathlib import Path

    import hardening.facts

    sh = (Path(hardening.facts.__file__).parent / "firewall.sh").read_text()
    assert "/sys/module/nf_conntrack/parameters/enable_hooks" not in sh
    assert "_h_text firewall.ct_cmdline /proc/cmdline" in sh and "/etc/modprobe.d/*.conf" in sh
