"""Golden parser tests: REAL nft / iptables-save / ufw / firewalld output (tests/golden/firewall)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardening.firewall import firewalld, ufw
from hardening.firewall.iptables import SaveParseError, parse_save
from hardening.firewall.model import Kind
from hardening.firewall.nft import NftParseError, parse_ruleset

G = Path(__file__).parents[1] / "golden" / "firewall"


def nft(name: str):
    return parse_ruleset((G / "nft" / f"{name}.json").read_text())


def test_empty_ruleset_has_no_tables():
    rs = nft("empty")
    assert rs.tables == ()
    assert rs.base_chains(4) == [] and rs.base_chains(6) == []


def test_inet_allowlist_chain_shape():
    rs = nft("inet_allowlist")
    (table,) = rs.tables
    assert (table.family, table.name) == ("inet", "filter")
    out = table.chain("output")
    assert (out.hook, out.policy, out.type) == ("output", "drop", "filter")
    assert [r.kind for r in out.rules] == [Kind.ACCEPT] * 5
    lo, est, web4, web6, dns = out.rules
    assert [c.key for c in lo.conds] == ["oifname"]
    assert est.conds[0].key == "ctstate" and est.conds[0].values == frozenset({"established", "related"})
    daddr, dport = web4.conds
    assert (daddr.key, daddr.version, daddr.values.spans) == ("daddr", 4, ((0xC6120000, 0xC61200FF),))
    assert (dport.key, dport.values.spans, dport.l4) == ("dport", ((443, 443),), frozenset({"tcp"}))
    assert web6.conds[0].version == 6
    assert dns.conds[1].l4 == frozenset({"udp"})


def test_named_sets_and_vmap_are_resolved():
    rs = nft("named_set")
    out = rs.tables[0].chain("output")
    # ct state vmap {established: accept, related: accept, invalid: drop} -> one rule per element
    vm = [r for r in out.rules if r.index == 2]
    assert {(*r.conds[0].values, r.kind.value) for r in vm} == {
        ("established", "accept"),
        ("related", "accept"),
        ("invalid", "drop"),
    }
    web = next(r for r in out.rules if r.index == 3)
    assert web.conds[0].values.spans == ((0xC000020A, 0xC000020A), (0xC6120000, 0xC61200FF))
    assert web.conds[1].values.spans == ((80, 80), (443, 443))


def test_jump_and_route_chains():
    jr = nft("jump_return").tables[0]
    assert [r.kind for r in jr.chain("output").rules][:3] == [Kind.ACCEPT, Kind.ACCEPT, Kind.JUMP]
    assert jr.chain("output").rules[2].target == "egress"
    assert jr.chain("egress").hook == ""
    assert [r.kind for r in jr.chain("egress").rules] == [Kind.RETURN, Kind.RETURN, Kind.DROP]
    route = {t.name: t for t in nft("route_chain").tables}["mangle"].chain("output")
    assert (route.type, route.hook, route.policy, route.prio) == ("route", "output", "drop", -150)


def test_unknown_expressions_are_kept_not_dropped():
    rs = nft("skuid_trap")
    rule = rs.tables[0].chain("output").rules[2]
    assert rule.kind is Kind.ACCEPT
    assert [c.key for c in rule.conds] == ["unknown"]
    assert "uid" in rule.conds[0].why


def test_iptables_nft_tables_in_nft_json_have_xt_matches_as_unknown():
    rs = parse_ruleset((G / "xt" / "nft-backend.nft.json").read_text())
    ip = next(t for t in rs.tables if t.family == "ip")
    out = ip.chain("OUTPUT")
    assert out.policy == "drop"
    assert out.rules[1].conds[0].key == "unknown"  # -m conntrack as an xt match
    assert out.rules[-1].kind is Kind.DROP  # xt REJECT target


def test_firewalld_real_table():
    rs = parse_ruleset((G / "firewalld" / "firewalld.nft.json").read_text())
    hooks = {(c.name, c.hook) for t in rs.tables for c in t.chains if c.hook}
    assert ("filter_OUTPUT", "output") in hooks and ("nat_OUTPUT", "output") in hooks
    assert ("filter_INPUT", "other:input") in hooks


def test_iptables_nft_save_golden():
    rs = parse_save((G / "xt" / "nft-backend.iptables-nft-save").read_text(), 4, "iptables-nft")
    (t,) = rs.tables
    out = t.chain("OUTPUT")
    assert (out.hook, out.policy) == ("output", "drop")
    assert t.chain("INPUT").hook == ""  # not on the output path
    allow = t.chain("egress-allow").rules
    web = allow[0]
    assert [c.key for c in web.conds] == ["daddr", "l4proto", "dport"]
    assert web.conds[2].values.spans == ((80, 80), (443, 443))
    assert allow[2].conds[1].key == "false" and "root" in allow[2].conds[1].why  # --uid-owner 0
    assert out.rules[2].kind is Kind.JUMP and out.rules[3].kind is Kind.DROP


def test_ip6tables_and_legacy_goldens():
    v6 = parse_save((G / "xt" / "nft-backend.ip6tables-nft-save").read_text(), 6, "iptables-nft")
    rule = v6.tables[0].chain("OUTPUT").rules[2]
    assert [c.key for c in rule.conds] == ["daddr", "l4proto", "dport"]  # -p tcp --dport without -m tcp
    assert rule.conds[0].version == 6
    legacy = parse_save((G / "xt" / "legacy.iptables-legacy-save").read_text(), 4, "iptables-legacy")
    names = {t.name: t for t in legacy.tables}
    assert set(names) == {"filter", "mangle"}
    assert names["mangle"].chain("POSTROUTING").hook == "postrouting"
    assert names["mangle"].chain("OUTPUT").rules[0].kind is Kind.CONTINUE  # -j MARK
    assert parse_save((G / "xt" / "legacy.ip6tables-legacy-save").read_text(), 6, "iptables-legacy").tables == ()


def test_ufw_running_rules_golden():
    text = _section(G / "collector" / "ufw_deny.out", "firewall.iptables_nft_save")
    rs = parse_save(text, 4, "iptables-nft")
    t = rs.tables[0]
    assert t.chain("OUTPUT").policy == "drop"
    assert [r.target for r in t.chain("OUTPUT").rules][:2] == [
        "ufw-before-logging-output",
        "ufw-before-output",
    ]


def test_ufw_files_and_config():
    files = ufw.split_files(_section(G / "collector" / "ufw_deny.out", "firewall.ufw_rules"))
    assert "/etc/ufw/user.rules" in files and "/etc/ufw/user6.rules" in files
    cfg = ufw.parse_config(
        _section(G / "collector" / "ufw_deny.out", "firewall.ufw_conf"),
        _section(G / "collector" / "ufw_deny.out", "firewall.ufw_default"),
    )
    assert cfg == ufw.UfwConfig(enabled=True, output_policy="DROP", ipv6=True)
    rs = ufw.persisted_ruleset(cfg, files, 6)
    first = rs.tables[0].chain("ufw6-user-output").rules[0]
    assert [(c.key, c.version) for c in first.conds if c.key == "daddr"] == [("daddr", 6)]


def test_firewalld_policy_xml_from_firewall_offline_cmd():
    pols = firewalld.parse_policies(
        {"/etc/firewalld/policies/egress-deny.xml": (G / "firewalld" / "egress-deny.xml").read_text()}
    )
    (p,) = pols
    assert (p.target, p.ingress, p.egress, p.host_egress) == ("REJECT", ("HOST",), ("ANY",), True)
    assert [c.key for c in p.rules[0].conds] == ["nfproto", "daddr", "dport"]


def test_garbage_is_rejected_not_crashing():
    with pytest.raises(NftParseError):
        parse_ruleset("Error: syntax error")
    with pytest.raises(NftParseError):
        parse_ruleset(json.dumps({"nftables": "x"}))
    with pytest.raises(SaveParseError):
        parse_save("-A OUTPUT -j ACCEPT\n", 4, "iptables")
    hostile = {"nftables": [{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"match": 5}, 7]}}]}
    rs = parse_ruleset(json.dumps(hostile))
    assert rs.tables[0].chains == ()  # a rule of an undeclared chain is not a base chain
    bad = firewalld.parse_policies({"/etc/firewalld/policies/x.xml": "<policy><!ENTITY"})
    assert bad[0].error


def _section(path: Path, name: str) -> str:
    from hardening.facts.sections import parse_sections

    return parse_sections(path.read_text(), "golden0").text(name)


def test_volatile_parts_do_not_change_a_parse_and_share_the_cached_result():
    """Counters and save dates differ on every host and every second: the parsers ignore them, so
    two outputs that differ only there parse to one (cached) ruleset; anything else still counts."""
    from hardening.firewall import iptables, nft

    rule = (
        '{"rule": {"family": "ip", "table": "t", "chain": "out", "handle": 3, "expr": '
        '[{"counter": {"packets": %d, "bytes": %d}}, {"accept": null}]}}'
    )
    head = (
        '{"nftables": [{"table": {"family": "ip", "name": "t", "handle": 1}}, {"chain": {"family": "ip", '
        '"table": "t", "name": "out", "handle": 2, "type": "filter", "hook": "output", "prio": 0, "policy": "%s"}}, '
    )
    a = head % "drop" + rule % (0, 0) + "]}"
    b = head % "drop" + rule % (23500, 10097556) + "]}"
    assert nft.parse_ruleset(a) is nft.parse_ruleset(b)
    assert nft.parse_ruleset(b) == nft._parse_ruleset(b)  # zeroing the counters changes nothing parsed
    assert nft.parse_ruleset(head % "accept" + rule % (5, 6) + "]}") != nft.parse_ruleset(a)
    save = "# Generated by iptables-save v1.8.9 on %s\n*filter\n:OUTPUT DROP [%s]\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n"
    x = save % ("Mon Nov 23 16:21:25 2026", "0:0")
    y = save % ("Tue Nov 24 01:02:03 2026", "31993:40697980")
    assert iptables.parse_save(x, 4, "nft") is iptables.parse_save(y, 4, "nft")
    assert iptables.parse_save(y, 4, "nft") == iptables._parse_save(y, 4, "nft")
    assert iptables.parse_save(x.replace("OUTPUT DROP", "OUTPUT ACCEPT"), 4, "nft") != iptables.parse_save(x, 4, "nft")
    # other comments are read (warnings about legacy or incompatible tables), and a \r ends a line
    warned = "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n" + x
    assert iptables.parse_save(warned, 4, "nft") == iptables._parse_save(warned, 4, "nft")
    assert iptables.parse_save(warned, 4, "nft").notes
    sneaky = x.replace("-j ACCEPT\n", "-j ACCEPT\n# Completed on x\r-A OUTPUT -j ACCEPT\n")
    assert iptables.parse_save(sneaky, 4, "nft") == iptables._parse_save(sneaky, 4, "nft")
    assert len(iptables.parse_save(sneaky, 4, "nft").tables[0].chain("OUTPUT").rules) == 2
