"""The Lynis trap: a strict INPUT chain says nothing about egress."""

from pathlib import Path

from hardening.egress.judge import judge
from hardening.firewall.nft import parse_ruleset

G = Path(__file__).parents[1] / "golden" / "firewall"


def test_inbound_default_deny_with_open_output_fails_both_families():
    rs = parse_ruleset((G / "nft" / "input_only.json").read_text())
    for family in (4, 6):
        report = judge(rs, family, ("eth0",))
        assert not report.default_deny
        assert "policy accept" in report.headline()
