"""Windows egress: "any" remote address is decided from the parsed networks, not the spelling (issue 17)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hardening.checks import evaluated, windows_checks

from hardening.facts.windows import gather
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parent.parent / "golden" / "windows"
CHECKS = {c.meta.id: c for c in windows_checks()}
POLICY = Policy.from_vars({"harden_egress_allow": ["10.0.0.0/8"]})

ANYWHERE = [
    "0.0.0.0/0.0.0.0",
    "0.0.0.0-255.255.255.255",
    "1.0.0.0-255.255.255.255",
    "0.0.0.0/1,128.0.0.0/1",
    "::/0",
    "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "2000::-3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "2000::/3",
]
NAMED = ["10.1.2.0/255.255.255.0", "10.0.0.1-10.0.0.9", "192.0.2.10"]


def judge(d: dict) -> dict:
    facts = gather(d)
    return {cid: evaluated(c.evaluate, facts, POLICY) for cid, c in CHECKS.items()}


def with_rule(addresses: list[str], **extra: object) -> dict:
    d = json.loads((GOLDEN / "server2022-hardened.json").read_text())
    assert judge(d)["egress.default_deny"].status is Status.PASS
    d = copy.deepcopy(d)
    rule = dict(d["firewall"]["outbound_rules"][0], name="wide", display_name="wide out", program="Any",
                service="Any", protocol="TCP", remote_port=["443"], remote_address=addresses)  # fmt: skip
    rule.update(extra)
    d["firewall"]["outbound_rules"].append(rule)
    return d


@pytest.mark.parametrize("spelling", ANYWHERE)
def test_any_address_in_any_spelling_fails_both_checks(spelling: str) -> None:
    v = judge(with_rule(spelling.split(",")))
    assert v["egress.default_deny"].status is Status.FAIL, v["egress.default_deny"].message
    assert v["egress.allowlist"].status is Status.FAIL, v["egress.allowlist"].message


@pytest.mark.parametrize("spelling", ANYWHERE[:3])
def test_any_address_for_udp_fails_default_deny(spelling: str) -> None:
    v = judge(with_rule([spelling], protocol="UDP", remote_port=["53"]))
    assert v["egress.default_deny"].status is Status.FAIL


@pytest.mark.parametrize("spelling", NAMED)
def test_named_networks_inside_the_policy_pass(spelling: str) -> None:
    v = judge(with_rule([spelling]))
    assert v["egress.default_deny"].status is Status.PASS, v["egress.default_deny"].message
    if spelling.startswith("10."):
        assert v["egress.allowlist"].status is Status.PASS, v["egress.allowlist"].message
    else:
        assert v["egress.allowlist"].status is Status.FAIL  # outside harden_egress_allow


def with_rules(rules: list[dict]) -> dict:
    d = json.loads((GOLDEN / "server2022-hardened.json").read_text())
    base = d["firewall"]["outbound_rules"][0]
    for i, extra in enumerate(rules):
        rule = dict(base, name=f"part{i}", display_name=f"part {i}", program="Any", service="Any", protocol="TCP",
                    remote_port=["443"])  # fmt: skip
        rule.update(extra)
        d["firewall"]["outbound_rules"].append(rule)
    return d


SLASH5 = [f"{i << 3}.0.0.0/5" for i in range(32)]


@pytest.mark.parametrize("policy", [POLICY, Policy()])
def test_anywhere_split_across_rules_fails_both_checks(policy: Policy) -> None:
    facts = gather(with_rules([{"remote_address": [n]} for n in SLASH5]))
    v = {cid: evaluated(c.evaluate, facts, policy) for cid, c in CHECKS.items()}
    assert v["egress.default_deny"].status is Status.FAIL, v["egress.default_deny"].message
    assert "together admit any program to any address (TCP port 443)" in v["egress.default_deny"].message
    assert v["egress.allowlist"].status is Status.FAIL, v["egress.allowlist"].message


def test_split_rules_on_different_ports_or_protocols_do_not_add_up() -> None:
    half = [{"remote_address": [n], "remote_port": ["443" if i % 2 else "8443"]} for i, n in enumerate(SLASH5)]
    v = judge(with_rules(half))
    assert v["egress.default_deny"].status is Status.FAIL  # each half is 16 /5s: half the Internet
    narrow = [{"remote_address": [f"198.51.{i}.0/24"], "protocol": "UDP" if i % 2 else "TCP"} for i in range(32)]
    assert judge(with_rules(narrow))["egress.default_deny"].status is Status.PASS


def test_a_rule_on_any_port_adds_to_a_rule_on_one_port() -> None:
    v = judge(with_rules([{"remote_address": ["0.0.0.0/1"], "remote_port": []},
                          {"remote_address": ["128.0.0.0/1"], "remote_port": ["443"]}]))  # fmt: skip
    assert v["egress.default_deny"].status is Status.FAIL, v["egress.default_deny"].message


@pytest.mark.parametrize("keyword", ["any", "internet", "*"])
def test_lowercase_any_keyword(keyword: str) -> None:
    assert judge(with_rule([keyword]))["egress.default_deny"].status is Status.FAIL


@pytest.mark.parametrize("protocol", ["256", "any", "tcp", "udp", ""])
def test_protocol_any_number_and_lowercase_names(protocol: str) -> None:
    v = judge(with_rule(["Any"], protocol=protocol))
    assert v["egress.default_deny"].status is Status.FAIL, v["egress.default_deny"].message
