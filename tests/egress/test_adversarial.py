"""Adversarial rulesets (tests/golden/firewall/rules/adv_*): the verdict a careful auditor gives.

Each ruleset was loaded for real in a throwaway network namespace and its nft JSON /
iptables-nft-save output stored (see the README there). A false pass is the worst outcome,
a false fail on a hardened host the second worst: every case names the deciding reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening.checks import evaluated
from hardening.checks.egress_default_deny import linux as egress_default_deny

from hardening.egress.judge import judge
from hardening.facts.linux import gather
from hardening.facts.sections import FactError, parse_sections
from hardening.firewall.iptables import SaveParseError, parse_save
from hardening.firewall.nft import NftParseError, parse_ruleset
from hardening.model import Status
from hardening.policy import Policy

G = Path(__file__).parents[1] / "golden" / "firewall"
IF = ("eth0",)


def nft(name: str):
    return parse_ruleset((G / "nft" / f"adv_{name}.json").read_text())


def xt(name: str):
    return parse_save((G / "xt" / f"adv_xt_{name}.iptables-nft-save").read_text(), 4, "iptables-nft")


# (ruleset, IPv4 default deny, IPv6 default deny, text in the IPv4 headline)
NFT_CASES = [
    # verdict maps, jumps, gotos
    ("vmap_ct", False, False, "new : accept"),
    ("vmap_l4", False, False, "udp : accept"),  # UDP to any address (issue 17: UDP is judged too)
    ("meta_l4_vmap_goto", False, False, "policy accept accepts it"),  # goto t; t falls off: base policy
    ("goto_return", False, False, "policy accept accepts it"),  # return from a goto skips the `drop`
    ("nested3", True, True, "c3: rule 2 `drop`"),
    ("jump_only_drop", True, True, "deny: rule 2 `counter drop`"),
    ("vmap_daddr", True, True, "rule 4 `drop`"),
    ("vmap_daddr_hole", False, True, "policy accept"),
    # several base chains: a drop anywhere is final
    ("prio_early_accept", True, True, "inet late o: policy drop"),
    ("postrouting_drop", True, True, "inet f p: policy drop"),
    ("reject_reset", True, True, "reject"),
    ("inet_v4only", True, False, "ip daddr 0.0.0.0/0 drop"),
    ("netdev_egress", False, False, "no base chain on the output path"),  # egress hook on lo only
    # interfaces
    ("oif_neq_lo", False, False, 'oif != "lo" accept'),
    ("oifname_wild", False, False, 'oifname "eth*" accept'),
    ("oifname_set", True, True, "policy drop"),  # eth0 is in the negated set: no match
    # destinations
    ("neg_prefix", False, False, "ip daddr != 10.0.0.0/8 accept"),
    ("zero_prefix", False, False, "ip daddr 0.0.0.0/0 accept"),
    ("two_halves", False, False, "ip daddr { 0.0.0.0/0 } accept"),  # nft merges the halves
    ("two_halves_rules", False, False, "accept"),
    ("half", False, False, "0.0.0.0/1 (57% of all public addresses)"),  # was a false pass
    ("range_set", False, False, "1.0.0.0-223.255.255.255 accept"),  # was a false pass
    ("addr_gt", False, False, "100% of all public addresses"),  # `ip daddr > 1.0.0.0`: was a false pass
    ("concat", True, True, "policy drop"),
    ("dns_set", True, True, "policy drop"),  # a timeout set filled by a resolver: current elements
    ("set_fill", False, False, "filled by the packet path"),  # `add @seen { ip daddr }`: was a false pass
    # ports
    ("dport_all", False, False, "tcp dport 1-65535 accept"),
    ("dport_not22", False, False, "tcp dport != 22 accept"),
    ("dport_lt", False, False, "tcp dport < 1024 accept"),
    ("dport_skip4444", False, False, "4445-65535"),  # every port but 4444: was a false pass
    ("th_dport", False, False, "tcp dport 4444 accept"),  # nft prints `l4proto tcp th dport` so
    # protocol / family matches
    ("nfproto4", False, True, "meta nfproto ipv4 accept"),
    ("ipversion", False, False, "ip version 4 accept"),
    ("l4tcp", False, False, "meta l4proto tcp accept"),
    ("ipproto", False, True, "ip protocol tcp accept"),
    ("fib_local", False, False, "fib daddr type != local accept"),
    # conntrack and flags
    ("limit", False, False, "limit"),
    ("counters", False, False, "counter accept"),
    ("invalid_first", False, False, "ct state new accept"),
    ("ct_new_notnew", True, True, "policy drop"),
    ("ct_flags_neg", False, False, "ct state ! established,related accept"),  # op "!": was a false pass
    ("ctstate_mask", False, False, "ct state ! established,related accept"),
    ("ctstatus", False, False, "ct status dnat"),
    ("notrack_raw", False, False, "exempts it from conntrack"),  # raw notrack + untracked accept: was a false pass
    ("syn_tricks", False, False, "tcp flags"),
    ("syn_not", True, True, "policy drop"),  # a SYN's flags are exactly syn
    ("tcpflags_neg", False, False, "tcp flags ! fin,rst accept"),  # op "!": was a false pass
    # owner / table state
    ("skuid_drop", False, False, "policy accept"),  # only www-data blocked: others get out
    ("dormant", False, False, "may be dormant"),  # nft 1.0.6 prints garbage table flags: was a false pass
]


@pytest.mark.parametrize(("name", "v4", "v6", "why"), NFT_CASES)
def test_nft_adversarial(name, v4, v6, why):
    rs = nft(name)
    r4, r6 = judge(rs, 4, IF), judge(rs, 6, IF)
    assert (r4.default_deny, r6.default_deny) == (v4, v6), r4.headline() + " | " + r6.headline()
    assert why in r4.headline()


# (ruleset, IPv4 default deny, text in the headline)
XT_CASES = [
    ("owner_root", True, "policy drop"),  # root-only: a root foothold could unload the firewall anyway
    ("neg_dest", False, "! -d 10.0.0.0/8 -j ACCEPT"),
    ("oif_plus", False, "-o eth+ -j ACCEPT"),
    ("return", False, "policy accept"),  # -j RETURN from OUTPUT = the policy
    ("falloff", True, "policy drop"),  # a user chain that falls off its end returns
    ("notrack", False, "exempts it from conntrack"),  # -j CT --notrack + UNTRACKED accept: was a false pass
    ("multiport_neg", False, "! --dports 22,25"),
    ("ctstate_neg", False, "! --ctstate"),
    ("tcpflags", True, "policy drop"),  # ! --syn does not match a SYN
    ("iprange", False, "--dst-range 1.0.0.0-223.255.255.255"),  # was a false pass
    ("dport_range", False, "--dport 1:4443"),  # every port but 4444: was a false pass
    ("addrtype", False, "! --dst-type LOCAL"),
    ("prot_all_neg", False, "! -p udp"),
]


@pytest.mark.parametrize(("name", "v4", "why"), XT_CASES)
def test_iptables_adversarial(name, v4, why):
    r = judge(xt(name), 4, IF)
    assert r.default_deny == v4, r.headline()
    assert why in r.headline()


def test_broad_destination_is_any_address_but_a_small_allowlist_is_not():
    r = judge(nft("half"), 4, IF)
    assert r.arbitrary == "203.0.113.77" and r.blocked is not None  # the probe address itself is blocked...
    assert not r.default_deny and r.open_any[0].share > 0.5  # ...yet half the internet is open
    ok = judge(nft("dns_set"), 4, IF)
    assert ok.default_deny and [a.dest_text() for a in ok.admitted] == ["198.18.0.10/32 on port 443"]


def test_every_port_but_the_probe_port_is_any_port_but_one_port_is_not():
    r = judge(nft("dport_skip4444"), 4, IF)
    assert not r.default_deny and not r.open_ports and len(r.open_any) > 1
    th = judge(nft("th_dport"), 4, IF)  # `th dport 443 accept` alone: allowlist matter, not default deny
    assert [a.dest_text() for a in th.open_ports] == ["any address on port 443"]


def test_certainty_of_the_new_findings():
    assert judge(nft("notrack_raw"), 4, IF).open_any[0].result.certain  # notrack without conditions
    assert judge(xt("notrack"), 4, IF).open_any[0].result.certain
    assert not judge(nft("dormant"), 4, IF).open_any[0].result.certain
    assert not judge(nft("set_fill"), 6, IF).open_any[0].result.certain
    assert "ip6 daddr @seen6" in judge(nft("set_fill"), 6, IF).headline()


def test_notrack_that_cannot_match_the_probe_changes_nothing():
    text = (G / "nft" / "adv_notrack_raw.json").read_text()
    udp_only = text.replace('"notrack": null', '"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, '
                            '"right": "udp"}}, {"notrack": null')  # fmt: skip
    assert udp_only != text
    r = judge(parse_ruleset(udp_only), 4, IF)
    assert not any(a.proto == "tcp" for a in r.open_any)  # the TCP probe is still tracked and dropped
    assert {a.proto for a in r.open_any} == {"udp"}  # the UDP one is untracked: `ct state untracked accept`


# ------------------------------------------------------------ never a pass from a cut output


def test_truncated_iptables_save_is_an_error_not_a_shorter_ruleset():
    text = (G / "xt" / "adv_xt_owner_root.iptables-nft-save").read_text()
    assert "-m owner --uid-owner 0 -j ACCEPT" in text
    cut = text[: text.index("-A OUTPUT -m owner")]  # before the rule that admits
    assert judge(parse_save(cut + "COMMIT\n", 4, "iptables-nft"), 4, IF).default_deny  # what a cut would show
    with pytest.raises(SaveParseError, match="no COMMIT"):
        parse_save(cut, 4, "iptables-nft")


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.998])
def test_truncated_nft_json_is_an_error(keep):
    text = (G / "nft" / "adv_vmap_ct.json").read_text()
    with pytest.raises(NftParseError):
        parse_ruleset(text[: int(len(text) * keep)])


def _collector(sections: dict[str, tuple[str, int | None]]):
    out = []
    for name, (text, rc) in {**BASE, **sections}.items():
        out.append(f"\n@@adv0 B {name}\n{text}")
        if rc is not None:
            out.append(f"\n@@adv0 E {name} {rc}\n")
    return gather(parse_sections("".join(out), "adv0"))


BASE: dict[str, tuple[str, int | None]] = {
    "meta.id": ("0", 0),
    "firewall.nft_version": ("nftables v1.0.6 (Lester Gooch #5)", 0),
    "firewall.iptables_version": ("iptables v1.8.9 (nf_tables)", 0),
    "firewall.ip6tables_nft_save": ("", 0),
    "firewall.ipv6_disable": ("all 0\ndefault 0\neth0 0\nlo 0", 0),
    "firewall.routes4": ("default via 198.18.0.1 dev eth0", 0),
}


def test_unterminated_firewall_section_is_an_error():
    save = (G / "xt" / "adv_xt_owner_root.iptables-nft-save").read_text()
    cut = save[: save.index("-A OUTPUT -m owner")]
    facts = _collector({"firewall.nft_ruleset": ('{"nftables": []}', 0), "firewall.iptables_nft_save": (cut, None)})
    assert isinstance(facts.areas["firewall"], FactError) and "cut short" in str(facts.areas["firewall"])
    assert evaluated(egress_default_deny.evaluate, facts, Policy()).status is Status.ERROR


@pytest.mark.parametrize(("native", "certain"), [("new", True), ("invalid", False)])
def test_iptables_nft_table_with_native_rules_is_judged_from_nft_json(native, certain):
    """iptables-nft-save prints only "Table `filter' is incompatible" once a native nft rule is
    in its table: the table is then judged from nft's JSON (xt matches unknown), never skipped."""
    save = (G / "xt" / f"adv_incompatible_{native}.iptables-nft-save").read_text()
    assert "incompatible" in save
    facts = _collector(
        {
            "firewall.nft_ruleset": ((G / "xt" / f"adv_incompatible_{native}.nft.json").read_text(), 0),
            "firewall.iptables_nft_save": (save, 0),
            "firewall.ipv6_disable": ("all 1\ndefault 1\neth0 1\nlo 0", 0),
        }
    )
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.FAIL, dd.message
    assert ("are admitted" in dd.message) is certain  # `ct state new accept` for sure; else the xt doubt


def test_ipv6_judged_when_only_all_is_disabled_but_an_interface_is_not():
    facts = _collector(
        {
            "firewall.nft_ruleset": ((G / "nft" / "adv_inet_v4only.json").read_text(), 0),
            "firewall.iptables_nft_save": ("", 0),
            "firewall.ipv6_disable": ("all 1\ndefault 1\neth0 0\nlo 0", 0),
        }
    )
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.FAIL and "IPv6: new connections to any address" in dd.message
