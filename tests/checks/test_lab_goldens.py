"""Every check over real collector output from the lab states (no host needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hardening.checks import linux_checks

from hardening.audit import judge
from hardening.facts.linux import gather
from hardening.facts.sections import parse_sections
from hardening.inventory import Connection, Target
from hardening.model import Status
from hardening.policy import Policy

G = Path(__file__).parents[1] / "golden" / "lab"
EXPECTED = json.loads((G / "expected.json").read_text())
LAB_POLICY = Policy.from_vars({"harden_egress_allow": "198.18.0.0/24", "harden_log_collectors": "198.18.0.1:6514"})


def load(host: str):
    text = (G / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return parse_sections(text, nonce)


@pytest.mark.parametrize("host", [h for h in EXPECTED if not h.startswith("_")])
def test_lab_state_verdicts(host):
    sections = load(host)
    assert sections.complete
    facts = gather(sections)
    assert facts.is_root
    target = Target(name=host, connection=Connection.SSH, host="x", policy=LAB_POLICY)
    got = {r.id: r for r in judge(facts, target, linux_checks())}
    assert {k: v.status.value for k, v in got.items()} == EXPECTED[host]
    for r in got.values():
        assert r.message and r.references
        if r.status is not Status.PASS:
            assert r.evidence.facts or r.evidence.excerpt


def test_without_the_policy_allowlist_only_destinations_are_required():
    facts = gather(load("hardened"))
    target = Target(name="h", connection=Connection.SSH, host="x", policy=Policy())
    got = {r.id: r.status.value for r in judge(facts, target, linux_checks())}
    assert got["egress.allowlist"] == "pass"
    narrow = Policy.from_vars({"harden_egress_allow": ["198.18.0.10/32"]})
    target = Target(name="h", connection=Connection.SSH, host="x", policy=narrow)
    got = {r.id: r for r in judge(facts, target, linux_checks())}
    assert got["egress.allowlist"].status.value == "fail"
    assert "198.18.0.0/24" in got["egress.allowlist"].message
