"""Probe evaluation over REAL rulesets (tests/golden/firewall): each trap, per family."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.egress.evaluate import run_probe
from hardening.egress.judge import judge, outside_policy
from hardening.facts.sections import parse_sections
from hardening.firewall import ufw
from hardening.firewall.iptables import parse_save
from hardening.firewall.model import Probe, Ruleset, ip_to_int
from hardening.firewall.nft import parse_ruleset
from hardening.policy import Policy

G = Path(__file__).parents[1] / "golden" / "firewall"
IF = ("eth0",)


def nft(name: str) -> Ruleset:
    return parse_ruleset((G / "nft" / f"{name}.json").read_text())


def dests(report) -> set[str]:
    return {a.dest_text() for a in report.admitted}


# (ruleset, IPv4 default deny, IPv6 default deny, the rule text that decides IPv4)
TRAPS = [
    ("empty", False, False, "no base chain"),
    ("inet_allowlist", True, True, "policy drop"),
    ("ct_new_trap", False, False, "`ct state new accept`"),
    ("oifname_trap", False, False, '`oifname != "lo" accept`'),
    ("port_only", True, True, "policy drop"),
    ("ip_only", True, False, "policy drop"),
    ("two_tables", True, True, "inet strict output: policy drop"),
    ("jump_return", True, True, '`log prefix "egress-drop " drop`'),
    ("trailing_reject", True, True, "`counter reject`"),
    ("route_chain", True, True, "inet mangle output: policy drop"),
    ("named_set", True, True, "policy drop"),
    ("skuid_trap", False, False, "`meta skuid 33 accept`"),  # www-data's processes get out
    ("skuid_root", True, True, "policy drop"),  # root-only: not an unprivileged foothold's way out
    ("mixed", True, True, "policy drop"),
    # a privileged source port (the SSH replies) cannot be bound by an unprivileged foothold
    ("ssh_sport", True, True, "policy drop"),
    # an unprivileged one can: the attacker binds 8080 and connects anywhere
    ("sport_unprivileged", False, False, "`tcp sport 8080 accept`"),
]


@pytest.mark.parametrize(("name", "v4", "v6", "why"), TRAPS)
def test_default_deny_per_family(name, v4, v6, why):
    rs = nft(name)
    r4, r6 = judge(rs, 4, IF), judge(rs, 6, IF)
    assert (r4.default_deny, r6.default_deny) == (v4, v6)
    assert why in r4.headline()


def test_ct_state_new_accept_admits_any_address_on_any_port():
    r = judge(nft("ct_new_trap"), 4, IF)
    a = r.open_any[0]
    assert a.arbitrary and a.result.certain and a.ports.first == 4444
    assert "inet filter output: rule 4 `ct state new accept`" in r.headline()
    assert not a.result.outcomes[0].daddr_constrained


def test_established_related_does_not_admit_new_probes():
    rs = nft("inet_allowlist")
    p = Probe(4, ip_to_int("203.0.113.77"), 4444, "eth0")
    assert not run_probe(rs, p).admitted
    lo = Probe(4, ip_to_int("203.0.113.77"), 4444, "lo")
    assert run_probe(rs, lo).admitted  # loopback is accepted by rule 1, and ignored by the judge


def test_port_only_rule_keeps_default_deny_but_opens_any_address_on_that_port():
    r = judge(nft("port_only"), 4, IF)
    assert r.default_deny
    assert [a.dest_text() for a in r.open_ports] == ["any address on port 443"]
    assert "rule 3 `tcp dport 443 accept`" in r.open_ports[0].result.describe()


def test_allowlist_destinations():
    r4, r6 = judge(nft("inet_allowlist"), 4, IF), judge(nft("inet_allowlist"), 6, IF)
    assert dests(r4) == {"198.18.0.0/24 on port 443"}  # udp 53 is not a TCP path
    assert dests(r6) == {"2001:db8:1::/48 on port 443"}
    assert not r4.open_ports and not r6.open_ports


def test_named_set_destinations_and_ports():
    r = judge(nft("named_set"), 4, IF)
    assert dests(r) == {
        "192.0.2.10/32 on port 80",
        "192.0.2.10/32 on port 443",
        "198.18.0.0/24 on port 80",
        "198.18.0.0/24 on port 443",
    }


def test_jump_return_semantics():
    r4, r6 = judge(nft("jump_return"), 4, IF), judge(nft("jump_return"), 6, IF)
    assert dests(r4) == {"198.18.0.0/24 on port 22", "198.18.0.0/24 on port 443"}
    assert dests(r6) == {"2001:db8:1::/48 on any port"}
    # the named destination is admitted by the output policy after `return`
    assert any("policy accept" in a.result.describe() for a in r4.admitted)


def test_drop_in_one_table_is_final_accept_in_another_is_not():
    r = judge(nft("two_tables"), 4, IF)
    assert r.default_deny and "inet strict output: policy drop" in r.blocked.describe()
    assert dests(r) == {"198.18.0.0/24 on any port"}


def test_unknown_match_on_accept_counts_as_admitting_with_a_note():
    r = judge(nft("skuid_trap"), 4, IF)
    a = r.open_any[0]
    assert not a.result.certain
    assert "may be admitted" in r.headline() and "uid" in r.headline()


def test_arbitrary_probe_avoids_named_prefixes():
    text = (G / "rules" / "inet_allowlist.nft").read_text().replace("198.18.0.0/24", "203.0.113.0/24")
    assert "203.0.113.0/24" in text  # the same ruleset with the probe address allowlisted
    rs = parse_save("*filter\n:OUTPUT DROP [0:0]\n-A OUTPUT -d 203.0.113.0/24 -j ACCEPT\nCOMMIT\n", 4, "iptables-nft")
    r = judge(rs, 4, IF)
    assert r.arbitrary == "198.51.100.77" and r.default_deny
    assert dests(r) == {"203.0.113.0/24 on any port"}


def test_policy_allowlist_coverage():
    r = judge(nft("named_set"), 4, IF, Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24"]}))
    bad = outside_policy(r, Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24"]}).egress_allow)
    assert {a.dest_text() for a in bad} == {"192.0.2.10/32 on port 80", "192.0.2.10/32 on port 443"}
    pol = Policy.from_vars({"harden_egress_allow": [{"net": "198.18.0.0/16", "ports": [443]}, "192.0.2.0/24"]})
    bad = outside_policy(judge(nft("named_set"), 4, IF, pol), pol.egress_allow)
    assert {a.dest_text() for a in bad} == {"198.18.0.0/24 on port 80"}


def test_iptables_nft_and_legacy():
    v4 = parse_save((G / "xt" / "nft-backend.iptables-nft-save").read_text(), 4, "iptables-nft")
    r = judge(v4, 4, IF)
    assert r.default_deny and "`-A OUTPUT -j REJECT" in r.blocked.describe()
    # -m owner --uid-owner 0 -d 192.0.2.10: root-only, not a way out for an unprivileged foothold
    assert dests(r) == {"198.18.0.0/24 on port 80", "198.18.0.0/24 on port 443"}
    # nft's JSON view of the same tables cannot read the xt conntrack match: pessimistically open,
    # which is why iptables-nft tables are read from iptables-nft-save (hardening.facts.firewall)
    view = judge(parse_ruleset((G / "xt" / "nft-backend.nft.json").read_text()), 4, IF)
    assert not view.default_deny and not view.open_any[0].result.certain
    assert "iptables compat match 'conntrack'" in view.headline()
    legacy = parse_save((G / "xt" / "legacy.iptables-legacy-save").read_text(), 4, "iptables-legacy")
    lr = judge(legacy, 4, IF)
    assert not lr.default_deny and "--state NEW -j ACCEPT" in lr.headline()


def test_legacy_accept_does_not_override_nft_drop():
    rs = nft("mixed").merged(parse_save((G / "xt" / "legacy.iptables-legacy-save").read_text(), 4, "iptables-legacy"))
    r = judge(rs, 4, IF)
    # inet output + legacy filter OUTPUT, mangle OUTPUT and mangle POSTROUTING
    assert r.default_deny and len(r.base_chains) == 4


def test_firewalld_running_and_persisted_agree():
    from hardening.firewall import firewalld

    running = parse_ruleset((G / "firewalld" / "firewalld.nft.json").read_text())
    pols = firewalld.parse_policies(
        {"/etc/firewalld/policies/egress-deny.xml": (G / "firewalld" / "egress-deny.xml").read_text()}
    )
    persisted = firewalld.persisted_ruleset(pols)
    for fam, want in ((4, {"198.18.0.0/24 on port 443"}), (6, {"2001:db8:1::/48 on port 443"})):
        r, p = judge(running, fam, IF), judge(persisted, fam, IF)
        assert r.default_deny and p.default_deny
        assert dests(r) == dests(p) == want
        assert "filter_OUT_policy_egress-deny" in r.blocked.describe()


@pytest.mark.parametrize("capture", ["ufw_deny", "ufw_allow"])
def test_ufw_model_of_its_files_matches_what_ufw_really_loaded(capture):
    secs = parse_sections((G / "collector" / f"{capture}.out").read_text(), "golden0")
    cfg = ufw.parse_config(secs.text("firewall.ufw_conf"), secs.text("firewall.ufw_default"))
    files = ufw.split_files(secs.text("firewall.ufw_rules"))
    for fam, sec in ((4, "firewall.iptables_nft_save"), (6, "firewall.ip6tables_nft_save")):
        real = judge(parse_save(secs.text(sec), fam, "iptables-nft"), fam, IF)
        model = judge(ufw.persisted_ruleset(cfg, files, fam), fam, IF)
        assert real.default_deny == model.default_deny == (capture == "ufw_deny")
        assert dests(real) == dests(model)
