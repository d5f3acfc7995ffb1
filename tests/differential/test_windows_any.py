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
