"""egress.default_deny and egress.allowlist over facts from REAL collector output.

Two kinds of input: (1) the firewall piece run for real under dash in a network+mount
namespace (tests/golden/firewall/collector/*.out, see the README there), and (2) a
synthetic collector output assembled from real captured texts (running from one
capture, persisted from another), parsed with parse_sections like a host's output.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hardening.checks import evaluated
from hardening.checks.egress_allowlist import linux as egress_allowlist
from hardening.checks.egress_default_deny import linux as egress_default_deny

from hardening.facts.firewall import FirewallFacts
from hardening.facts.linux import gather
from hardening.facts.sections import FactError, parse_sections
from hardening.model import Status
from hardening.policy import Policy

G = Path(__file__).parents[1] / "golden" / "firewall"
NONCE = "syn0"


def collected(name: str):
    return gather(parse_sections((G / "collector" / f"{name}.out").read_text(), "golden0"))


def synthetic(sections: dict[str, tuple[str, int]]):
    """A collector output made of the given (text, rc) sections, then parsed like a host's."""
    out = []
    for name, (text, rc) in sections.items():
        out.append(f"\n@@{NONCE} B {name}\n{text}\n@@{NONCE} E {name} {rc}\n")
    out.append(f"\n@@{NONCE} B __done__\n\n@@{NONCE} E __done__ 0\n")
    return gather(parse_sections("".join(out), NONCE))


def real(path: str) -> str:
    return (G / path).read_text()


HOST = {
    "meta.id": ("0", 0),
    "firewall.nft_version": ("nftables v1.0.6 (Lester Gooch #5)", 0),
    "firewall.iptables_version": ("iptables v1.8.9 (nf_tables)", 0),
    "firewall.iptables_nft_save": ("", 0),
    "firewall.ip6tables_nft_save": ("", 0),
    "firewall.legacy_names": ("", 0),
    "firewall.legacy6_names": ("", 0),
    "firewall.ipv6_disable": ("all 0\ndefault 0\neth0 0\nlo 0", 0),
    "firewall.links": ("1: lo: <LOOPBACK,UP>\n2: eth0@if7: <BROADCAST,UP>", 0),
    "firewall.routes4": ("default via 198.18.0.1 dev eth0", 0),
    "firewall.routes6": ("", 0),
}
WANTS_NFT = ("wants nftables /etc/systemd/system/multi-user.target.wants/nftables.service", 0)


def host(running_nft: str, persisted_nft: str | None = None, boot=WANTS_NFT, **extra):
    s = dict(HOST)
    s["firewall.nft_ruleset"] = (real(f"nft/{running_nft}.json"), 0)
    if persisted_nft is not None:
        s["firewall.nft_conf"] = (real(f"rules/{persisted_nft}.nft"), 0)
        s["firewall.nft_persisted"] = (real(f"nft/{persisted_nft}.json"), 0)
    s["firewall.boot"] = boot
    s.update(extra)
    return synthetic(s)


def both(facts, policy=None):
    policy = policy or Policy()
    return evaluated(egress_default_deny.evaluate, facts, policy), evaluated(egress_allowlist.evaluate, facts, policy)


# ------------------------------------------------------------ real collector runs


def test_collector_allowlist_persisted_passes_both():
    dd, al = both(collected("allowlist_persisted"))
    assert dd.status is Status.PASS, dd.message
    assert al.status is Status.PASS, al.message
    assert "198.18.0.0/24 on port 443" in al.message and "2001:db8:1::/48 on port 443" in al.message
    assert dd.evidence.facts["persisted"]["evaluated"] is True
    assert "firewall.nft_ruleset" in dd.evidence.excerpt


def test_collector_running_only_is_not_persisted():
    dd, al = both(collected("allowlist_not_persisted"))
    assert dd.status is Status.FAIL
    assert dd.message.startswith("Default deny is not persisted")
    assert al.status is Status.PASS


def test_collector_ct_new_trap_running_but_persisted_fine():
    dd, al = both(collected("ct_new_running"))
    assert dd.status is Status.FAIL and al.status is Status.FAIL
    assert "inet filter output: rule 4 `ct state new accept`" in dd.message
    assert "would deny, but it is not loaded" in dd.message
    assert al.message.startswith("No allowlist in effect")


def test_collector_empty_host_fails():
    dd, al = both(collected("empty"))
    assert dd.status is Status.FAIL and "IPv6" in dd.message and "IPv4" in dd.message
    assert al.status is Status.FAIL


def test_collector_mixed_legacy_and_nft():
    facts = collected("mixed_legacy")
    fw = facts.firewall
    assert isinstance(fw, FirewallFacts)
    assert {"nftables", "iptables-legacy"} <= set(fw.running.backends())
    dd, al = both(facts)
    assert dd.status is Status.PASS, dd.message
    assert "198.18.0.0/24 on any port" in al.message


def test_collector_iptables_nft_is_read_from_save_not_nft_view():
    facts = collected("xt_nft")
    fw = facts.firewall
    assert isinstance(fw, FirewallFacts)
    assert fw.running.backends() == ["iptables-nft"]  # the nft JSON copies were skipped
    dd, al = both(facts)
    # running denies; nothing enabled at boot loads these rules (firewalld has no egress policy)
    assert dd.status is Status.FAIL and "not persisted" in dd.message
    assert al.status is Status.PASS


def test_collector_ufw():
    dd, al = both(collected("ufw_deny"))
    assert dd.status is Status.PASS, dd.message
    # `ufw allow out 53/udp` admits UDP 53 to any address (a DNS tunnel): no allowlist (issue 17)
    assert al.status is Status.FAIL and "any address on UDP port 53" in al.message
    dd, al = both(collected("ufw_allow"))
    assert dd.status is Status.FAIL and "ufw-track-output" in dd.message


def test_collector_non_root_is_error_telling_to_become():
    dd, al = both(collected("nonroot"))
    assert dd.status is Status.ERROR and al.status is Status.ERROR
    assert "ansible_become=true" in dd.message


# ------------------------------------------------------------ synthetic from real texts


@pytest.mark.parametrize(
    ("running", "status", "needle"),
    [
        ("inet_allowlist", Status.PASS, "denied, running and persisted"),
        ("ct_new_trap", Status.FAIL, "`ct state new accept`"),
        ("oifname_trap", Status.FAIL, '`oifname != "lo" accept`'),
        ("ip_only", Status.FAIL, "IPv6: new connections to any address on port 4444 are admitted"),
        ("two_tables", Status.PASS, "inet strict output: policy drop"),
        ("trailing_reject", Status.PASS, "`counter reject`"),
        ("route_chain", Status.PASS, "inet mangle output: policy drop"),
        ("skuid_trap", Status.FAIL, "may be admitted"),
    ],
)
def test_default_deny_running_equals_persisted(running, status, needle):
    dd = evaluated(egress_default_deny.evaluate, host(running, running), Policy())
    assert dd.status is status, dd.message
    assert needle in dd.message


def test_ipv6_disabled_is_not_judged():
    facts = host("ip_only", "ip_only", **{"firewall.ipv6_disable": ("all 1\ndefault 1\neth0 1\nlo 0", 0)})
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.PASS and "IPv6 not judged" in dd.message


def test_persisted_not_enabled_or_absent_fails():
    dd = evaluated(egress_default_deny.evaluate, host("inet_allowlist", "inet_allowlist", boot=("", 0)), Policy())
    assert dd.status is Status.FAIL and "not persisted" in dd.message and "present but not enabled" in dd.message
    dd = evaluated(egress_default_deny.evaluate, host("inet_allowlist", None), Policy())
    assert dd.status is Status.FAIL and "no firewall configuration loads at boot" in dd.message


def test_persisted_file_that_could_not_be_evaluated_is_error_not_pass():
    facts = host(
        "inet_allowlist",
        "inet_allowlist",
        **{
            "firewall.nft_persisted": ("", 124),
            "firewall.nft_persisted!err": (
                "harden: unshare -rn: unshare: unshare failed: Operation not permitted",
                0,
            ),
        },
    )
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.ERROR and "could not be evaluated" in dd.message


def test_persisted_iptables_rules_v4_v6():
    facts = host(
        "empty",
        None,
        boot=("wants netfilter-persistent /etc/systemd/system/x.wants/netfilter-persistent.service", 0),
        **{
            "firewall.iptables_nft_save": (real("xt/nft-backend.iptables-nft-save"), 0),
            "firewall.ip6tables_nft_save": (real("xt/nft-backend.ip6tables-nft-save"), 0),
            "firewall.rules_v4": (real("xt/nft-backend.iptables-nft-save"), 0),
            "firewall.rules_v6": (real("xt/nft-backend.ip6tables-nft-save"), 0),
        },
    )
    dd, al = both(facts)
    assert dd.status is Status.PASS, dd.message
    assert "netfilter-persistent" in dd.message
    assert al.status is Status.PASS


def test_port_only_fails_allowlist_but_not_default_deny():
    dd, al = both(host("port_only", "port_only"))
    assert dd.status is Status.PASS
    assert al.status is Status.FAIL
    assert "any address on port 443 is admitted" in al.message and "`tcp dport 443 accept`" in al.message


def test_policy_allowlist():
    pol = Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24"]})
    _, al = both(host("named_set", "named_set"), pol)
    assert al.status is Status.FAIL and "192.0.2.10/32" in al.message and "outside harden_egress_allow" in al.message
    pol = Policy.from_vars({"harden_egress_allow": ["198.18.0.0/24", "192.0.2.10", "2001:db8:1::/48"]})
    _, al = both(host("named_set", "named_set"), pol)
    assert al.status is Status.PASS, al.message
    assert "inside harden_egress_allow" in al.message


def test_firewalld_running_table_and_persisted_policy():
    facts = host(
        "empty",
        None,
        boot=("wants firewalld /etc/systemd/system/multi-user.target.wants/firewalld.service", 0),
        **{
            "firewall.nft_ruleset": (real("firewalld/firewalld.nft.json"), 0),
            "firewall.firewalld_state": ("running", 0),
            "firewall.firewalld_policies": (
                "==> /etc/firewalld/policies/egress-deny.xml <==\n" + real("firewalld/egress-deny.xml"),
                0,
            ),
        },
    )
    dd, al = both(facts)
    assert dd.status is Status.PASS, dd.message
    assert "filter_OUT_policy_egress-deny" in dd.message
    assert al.status is Status.PASS
    assert facts.firewall.firewalld_running is True


def test_nft_permission_denied_is_actionable_error():
    facts = host("empty", None, **{"firewall.nft_ruleset": ("", 1)})
    assert isinstance(facts.areas["firewall"], FactError)
    facts = synthetic(
        {
            **HOST,
            "firewall.nft_ruleset": ("", 1),
            "firewall.nft_ruleset!err": ("Operation not permitted (you must be root)", 0),
        }
    )
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.ERROR and "ansible_become=true" in dd.message


def test_missing_firewall_sections_is_error():
    facts = synthetic({"meta.id": ("0", 0)})
    assert evaluated(egress_default_deny.evaluate, facts, Policy()).status is Status.ERROR


# ------------------------------------------------------------ the lab image (podman, dash)


def lab(name: str):
    return gather(parse_sections((G / "collector" / f"{name}.out").read_text(), "lab0"))


def test_lab_container_persisted_via_unshare_rn():
    facts = lab("lab_container")
    assert facts.sections.complete
    assert "unshare -rn" in facts.sections.stderr("firewall.nft_persisted")
    dd, al = both(facts)
    assert dd.status is Status.PASS, dd.message
    assert al.status is Status.PASS and "198.18.0.0/24 on port 443" in al.message


def test_lab_container_without_unshare_is_error_not_pass():
    facts = lab("lab_no_unshare")
    assert facts.sections.rc("firewall.nft_persisted") == 124
    dd = evaluated(egress_default_deny.evaluate, facts, Policy())
    assert dd.status is Status.ERROR
    assert "could not be evaluated" in dd.message and "Operation not permitted" in dd.message


def test_dns_to_policy_resolvers_is_inside_policy():
    """One rule for both sides: port 53 to harden_dns_resolvers is inside the policy, as the
    egress role writes it; the same resolver on another port, or without the policy, is not."""
    facts = host("dns_resolver", "dns_resolver")
    allow = {"harden_egress_allow": ["198.18.0.0/25"]}
    _, al = both(facts, Policy.from_vars(allow))
    assert al.status is Status.FAIL and "192.0.2.53/32 on port 53" in al.message, al.message
    assert "harden_dns_resolvers" in al.message
    _, al = both(facts, Policy.from_vars({**allow, "harden_dns_resolvers": ["192.0.2.53"]}))
    assert al.status is Status.PASS, al.message
    _, al = both(facts, Policy.from_vars({**allow, "harden_dns_resolvers": ["192.0.2.54"]}))
    assert al.status is Status.FAIL


def test_policy_resolver_never_widens_other_ports():
    pol = Policy.from_vars({"harden_egress_allow": ["198.18.0.0/25"], "harden_dns_resolvers": ["192.0.2.53"]})
    assert pol.permits(ipaddress.ip_address("192.0.2.53"), 53)
    assert not pol.permits(ipaddress.ip_address("192.0.2.53"), 443)
    assert not pol.permits(ipaddress.ip_address("198.18.0.200"), 53)
    assert pol.permits(ipaddress.ip_address("198.18.0.100"), 443)
