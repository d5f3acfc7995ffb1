"""firewalld policies (``/etc/firewalld/policies/*.xml``) as an egress ruleset.

Zones only filter traffic INTO the host. Outbound traffic from the host is filtered
only by a policy whose ingress zone is ``HOST`` and egress zone ``ANY`` (or a zone).
This module turns the policies that apply to host-originated traffic into one output
chain: their rich rules, ports and services in priority order, then the policy's
target (DROP/REJECT/ACCEPT; CONTINUE falls through). Services are not expanded (their
ports live in other XML files): a service accept is an ``unknown`` match.

Example::

    >>> xml = '<policy target="DROP"><ingress-zone name="HOST"/><egress-zone name="ANY"/></policy>'
    >>> [p.target for p in parse_policies({"/etc/firewalld/policies/egress.xml": xml})]
    ['DROP']
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from hardening.firewall.model import Chain, Cond, Intervals, Kind, Rule, Ruleset, Table


@dataclass(frozen=True)
class FirewalldPolicy:
    name: str
    path: str
    target: str
    priority: int
    ingress: tuple[str, ...]
    egress: tuple[str, ...]
    rules: tuple[Rule, ...]
    error: str = ""

    @property
    def host_egress(self) -> bool:
        """Applies to connections the host itself opens to anywhere."""
        return "HOST" in self.ingress and "ANY" in self.egress


def parse_policies(files: dict[str, str]) -> list[FirewalldPolicy]:
    """Policies by file; /etc overrides /usr/lib for the same file name."""
    by_name: dict[str, tuple[str, str]] = {}
    for path in sorted(files, key=lambda p: p.startswith("/etc/")):
        by_name[path.rsplit("/", 1)[-1].removesuffix(".xml")] = (path, files[path])
    out = []
    for name, (path, text) in sorted(by_name.items()):
        try:
            root = ElementTree.fromstring(text)
        except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
            out.append(FirewalldPolicy(name, path, "", 0, (), (), (), f"unparseable XML: {exc}"))
            continue
        out.append(_policy(name, path, root))
    return out


def _policy(name: str, path: str, root: Element) -> FirewalldPolicy:
    try:
        prio = int(root.get("priority", "-1"))
    except ValueError:
        prio = -1
    rules: list[Rule] = []
    for el in root:
        if el.tag == "rule":
            rules.append(_rich(el, len(rules) + 1))
        elif el.tag == "port":
            rules.append(_port_rule(el, len(rules) + 1))
        elif el.tag == "service":
            text = f'service name="{el.get("name", "")}" accept'
            cond = Cond("unknown", text=f"service {el.get('name', '')}", why="service ports are not expanded")
            rules.append(Rule((cond,), Kind.ACCEPT, text=text, index=len(rules) + 1))
    return FirewalldPolicy(
        name,
        path,
        root.get("target", "CONTINUE").upper(),
        prio,
        tuple(z.get("name", "") for z in root.findall("ingress-zone")),
        tuple(z.get("name", "") for z in root.findall("egress-zone")),
        tuple(rules),
    )


def _port_rule(el: Element, index: int) -> Rule:
    proto = el.get("protocol", "tcp")
    port = el.get("port", "")
    text = f'port port="{port}" protocol="{proto}" accept'
    lo, _, hi = port.partition("-")
    try:
        span = (int(lo), int(hi or lo))
    except ValueError:
        return Rule((Cond("unknown", text=text, why="port value"),), Kind.ACCEPT, text=text, index=index)
    cond = Cond("dport", Intervals.of([span]), l4=frozenset({proto}), text=f"{proto} dport {port}")
    return Rule((cond,), Kind.ACCEPT, text=text, index=index)


def _rich(el: Element, index: int) -> Rule:
    family = el.get("family", "")
    version = {"ipv4": 4, "ipv6": 6}.get(family)
    conds: list[Cond] = []
    kind = Kind.CONTINUE
    parts = [f'rule family="{family}"'] if family else ["rule"]
    for child in el:
        tag = child.tag
        if tag == "destination":
            addr = child.get("address")
            neg = child.get("invert", "").lower() in ("yes", "true")
            parts.append(f'destination {"NOT " if neg else ""}address="{addr}"')
            try:
                net = ipaddress.ip_network(addr or "", strict=False)
            except ValueError:
                conds.append(Cond("unknown", text=f"destination {addr}", why="ipset or unparseable address"))
                continue
            conds.append(
                Cond(
                    "daddr",
                    Intervals.of([(int(net.network_address), int(net.broadcast_address))]),
                    neg,
                    version=net.version,
                    text=f"destination {addr}",
                )
            )
        elif tag == "port":
            r = _port_rule(child, index)
            conds.extend(r.conds)
            parts.append(f'port port="{child.get("port")}" protocol="{child.get("protocol")}"')
        elif tag in ("accept", "drop", "reject"):
            kind = Kind.ACCEPT if tag == "accept" else Kind.DROP
            parts.append(tag)
        elif tag in ("log", "audit"):
            parts.append(tag)
        elif tag == "source":
            conds.append(Cond("unknown", text="source", why="source address of the host's own traffic"))
        else:
            conds.append(Cond("unknown", text=tag, why=f"rich rule element {tag}"))
            parts.append(tag)
    if version is not None:
        conds.insert(0, Cond("nfproto", frozenset({family}), text=f"family {family}"))
    return Rule(tuple(conds), kind, text=" ".join(parts), index=index)


def persisted_ruleset(policies: list[FirewalldPolicy]) -> Ruleset:
    """One inet output chain from the host-egress policies, by priority."""
    rules: list[Rule] = []
    notes = []
    for p in sorted((p for p in policies if p.host_egress), key=lambda p: p.priority):
        for r in p.rules:
            rules.append(Rule(r.conds, r.kind, r.target, f"policy {p.name}: {r.text}", len(rules) + 1, r.why))
        if p.target in ("DROP", "REJECT"):
            rules.append(Rule((), Kind.DROP, text=f"policy {p.name}: target {p.target}", index=len(rules) + 1))
        elif p.target == "ACCEPT":
            rules.append(Rule((), Kind.ACCEPT, text=f"policy {p.name}: target ACCEPT", index=len(rules) + 1))
    for p in policies:
        if p.error:
            notes.append(f"{p.path}: {p.error}")
        elif "HOST" in p.ingress and not p.host_egress and p.target in ("DROP", "REJECT"):
            notes.append(f"{p.path}: egress zones {', '.join(p.egress)} only (not ANY): not judged as default deny")
    if not rules:
        why = "no policy with ingress-zone HOST and egress-zone ANY (zones filter inbound only): accept"
        rules.append(Rule((), Kind.ACCEPT, text=why, index=1))
    chain = Chain("output", tuple(rules), hook="output", policy="accept", type="filter")
    return Ruleset((Table("firewalld", "inet", "policies", (chain,), source="firewalld"),), tuple(notes))
