"""Translate ``nft -j list ruleset`` (libnftables-json(5)) into :mod:`hardening.firewall.model`.

Every match harden understands becomes a :class:`Cond`; anything else becomes an
``unknown`` Cond carrying its JSON, so the evaluator treats it pessimistically
instead of ignoring it. Named sets and maps (``"@name"``) are resolved from the same
table; verdict maps (``vmap``) become one rule per element.

Example::

    >>> rs = parse_ruleset('{"nftables": [{"table": {"family": "inet", "name": "f"}}]}')
    >>> [t.label for t in rs.tables]
    ['inet f']
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from hardening import hostjson
from hardening.firewall.model import (
    MEMO_LIMIT,
    NFT_OUTPUT_HOOKS,
    ROOT_ONLY,
    Chain,
    Cond,
    Intervals,
    Kind,
    Rule,
    Ruleset,
    Table,
)


class NftParseError(ValueError):
    """The text is not an nft JSON ruleset."""


L4_PROTOCOLS = frozenset({"tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", "esp", "ah", "comp"})
_PROTO_NUMBERS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp", 33: "dccp", 136: "udplite"}
_SERVICES = {"ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25, "ntp": 123, "dns": 53}
_ADDR_FIELDS = {"daddr": "daddr", "saddr": "saddr"}
_NON_TERMINAL = frozenset(
    {"counter", "log", "mangle", "notrack", "set", "ct helper", "meter", "quota_ref", "ct timeout",
     "ct expectation", "dup", "xt_target_nonterminal", "secmark", "synproxy_ref", "tproxy_ref", "flow",
     "counter_ref", "last"}
)  # fmt: skip
_NAT = frozenset({"snat", "dnat", "masquerade", "redirect"})
_EQ_OPS = frozenset({"==", "!=", "in"})
_ORDER_OPS = frozenset({"<", ">", "<=", ">="})
# Table flags that leave the table's chains running; "dormant" switches them off.
_ACTIVE_FLAGS = frozenset({"owner", "persist"})


_COUNTER = re.compile(r'"counter": \{"packets": \d+, "bytes": \d+\}')


def parse_ruleset(text: str) -> Ruleset:
    """Parse the whole JSON document; raises :class:`NftParseError` on garbage.

    Pure, and the last results are kept: hosts built from one configuration share one ruleset,
    so a fleet audit parses it once. Rule counters (which nothing here reads, and which differ on
    every host and every second) are zeroed first so that they do not defeat that. In JSON text
    ``"counter": {`` cannot occur inside a string (its quotes would be escaped).
    """
    stable = stable_text(text)
    return _parse_ruleset(stable) if len(stable) <= MEMO_LIMIT else _parse_ruleset.__wrapped__(stable)


def stable_text(text: str) -> str:
    """``nft -j list ruleset`` with its rule counters zeroed: the same for every host built from one
    configuration (a memo key; see :func:`parse_ruleset`)."""
    return _COUNTER.sub('"counter": {"packets": 0, "bytes": 0}', text)


@lru_cache(maxsize=64)
def _parse_ruleset(text: str) -> Ruleset:
    try:
        doc = hostjson.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NftParseError(f"not JSON: {exc}") from exc
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise NftParseError('no "nftables" array')
    try:
        return _build([i for i in items if isinstance(i, dict)])
    except RecursionError as exc:
        raise NftParseError("expressions nested too deeply") from exc


@dataclass
class _TableData:
    family: str
    name: str
    chains: dict[str, dict[str, Any]]
    rules: dict[str, list[dict[str, Any]]]
    sets: dict[str, dict[str, Any]]
    flags: Any = None
    written: frozenset[str] = frozenset()  # sets/maps a rule adds to from the packet path


def _build(items: list[dict[str, Any]]) -> Ruleset:
    tables: dict[tuple[str, str], _TableData] = {}

    def table(fam: str, name: str) -> _TableData:
        key = (str(fam), str(name))
        if key not in tables:
            tables[key] = _TableData(key[0], key[1], {}, {}, {})
        return tables[key]

    for item in items:
        for kind in ("table", "chain", "rule", "set", "map"):
            obj = item.get(kind)
            if not isinstance(obj, dict):
                continue
            fam = obj.get("family", "")
            if kind == "table":
                table(fam, obj.get("name", "")).flags = obj.get("flags")
            elif kind == "chain":
                t = table(fam, obj.get("table", ""))
                t.chains[str(obj.get("name", ""))] = obj
                t.rules.setdefault(str(obj.get("name", "")), [])
            elif kind == "rule":
                t = table(fam, obj.get("table", ""))
                t.rules.setdefault(str(obj.get("chain", "")), []).append(obj)
            else:
                t = table(fam, obj.get("table", ""))
                t.sets[str(obj.get("name", ""))] = obj
    out = []
    for t in tables.values():
        if t.family not in ("ip", "ip6", "inet"):
            continue  # arp, bridge, netdev: not on the IP output path
        t.written = _written_sets(t.rules)
        flags = _flag_names(t.flags)
        if "dormant" in flags:
            continue  # a dormant table's chains are not attached to their hooks
        out.append(_table(t, flags - _ACTIVE_FLAGS))
    return Ruleset(tuple(out))


def _flag_names(flags: Any) -> frozenset[str]:
    """Table flags as names; nft 1.0.6 prints garbage there (e.g. its release name)."""
    if flags is None or flags == [] or flags == "" or flags == 0:
        return frozenset()
    if isinstance(flags, str):
        return frozenset({flags})
    if isinstance(flags, list):
        return frozenset(str(f) for f in flags)
    return frozenset({repr(flags)})


def _written_sets(rules: dict[str, list[dict[str, Any]]]) -> frozenset[str]:
    """Names of sets/maps that rules fill from the packet path (``add @s { ip daddr }``, meters)."""
    out = set()
    for chain_rules in rules.values():
        for robj in chain_rules:
            exprs = robj.get("expr")
            for e in exprs if isinstance(exprs, list) else []:
                if not isinstance(e, dict) or len(e) != 1:
                    continue
                ((op, arg),) = e.items()
                if op in ("set", "map") and isinstance(arg, dict):
                    name = arg.get(op) or arg.get("set")
                    if isinstance(name, str):
                        out.add(name.lstrip("@"))
                elif op == "meter" and isinstance(arg, dict) and isinstance(arg.get("name"), str):
                    out.add(arg["name"])
    return frozenset(out)


def _table(t: _TableData, odd_flags: frozenset[str] = frozenset()) -> Table:
    chains = []
    for name, obj in t.chains.items():
        hook = str(obj.get("hook", "")) if obj.get("type") else ""
        rules = []
        if odd_flags and hook:
            why = f"table flags {', '.join(sorted(odd_flags))[:60]!r} unreadable: the table may be dormant"
            rules.append(Rule((), Kind.UNKNOWN, text="table flags", why=why))
        for i, robj in enumerate(t.rules.get(name, []), start=1):
            rules.extend(_rules(robj.get("expr"), t, i))
        prio = obj.get("prio", 0)
        chains.append(
            Chain(
                name=name,
                rules=tuple(rules),
                hook=hook if hook in NFT_OUTPUT_HOOKS else ("" if not hook else "other:" + hook),
                policy=str(obj.get("policy", "accept")) if hook else "",
                type=str(obj.get("type", "")),
                prio=prio if isinstance(prio, int) else 0,
            )
        )
    return Table("nftables", t.family, t.name, tuple(chains))


# ---------------------------------------------------------------- rules


def _rules(exprs: Any, t: _TableData, index: int) -> list[Rule]:
    """One nft rule -> one Rule, or one per element of a verdict map."""
    text = render(exprs)
    if not isinstance(exprs, list):
        return [Rule((_unknown("rule without expressions", exprs),), Kind.UNKNOWN, text=text, index=index)]
    rules = _rules_of(exprs, t, index, text)
    if any(isinstance(e, dict) and "notrack" in e for e in exprs):
        rules = [replace(r, notrack=True) for r in rules]
    if _uses_conntrack(exprs):
        rules = [replace(r, conntrack=True) for r in rules]
    return rules


# Expressions and statements whose kernel side turns connection tracking on in the namespace
# (nf_ct_netns_get): ct matches and statements, nat, synproxy, flow offload; and iptables
# compat matches/targets that do the same.
# Not tproxy: nft_tproxy only turns defragmentation on (nf_defrag_ipv4/6), never nf_ct_netns_get.
_CT_KEYS = frozenset({"ct", "ct helper", "ct timeout", "ct expectation", "ct count", "snat", "dnat", "masquerade",
                      "redirect", "synproxy", "flow"})  # fmt: skip
_CT_XT = frozenset({"conntrack", "state", "connmark", "connlimit", "helper", "connbytes", "connlabel", "CT",
                    "CONNMARK", "SNAT", "DNAT", "MASQUERADE", "REDIRECT", "NETMAP", "CONNSECMARK"})  # fmt: skip


def _uses_conntrack(x: Any, depth: int = 0) -> bool:
    """Whether a rule's JSON holds an expression that turns conntrack on (bounded walk)."""
    if depth > 24:
        return False
    if isinstance(x, dict):
        for k, v in x.items():
            if k in _CT_KEYS:
                return True
            if k == "xt" and isinstance(v, dict) and v.get("name") in _CT_XT:
                return True
            if _uses_conntrack(v, depth + 1):
                return True
    elif isinstance(x, list):
        return any(_uses_conntrack(v, depth + 1) for v in x[:256])
    return False


def _rules_of(exprs: list[Any], t: _TableData, index: int, text: str) -> list[Rule]:
    conds: list[Cond] = []
    for e in exprs:
        if not isinstance(e, dict) or len(e) != 1:
            conds.append(_unknown("unrecognised expression", e))
            continue
        ((op, arg),) = e.items()
        if op == "match":
            conds.extend(_match(arg, t))
        elif op in ("accept", "drop", "return", "continue"):
            kind = {"accept": Kind.ACCEPT, "drop": Kind.DROP, "return": Kind.RETURN,
                    "continue": Kind.CONTINUE}[op]  # fmt: skip
            return [Rule(tuple(conds), kind, text=text, index=index)]
        elif op == "reject":
            return [Rule(tuple(conds), Kind.DROP, text=text, index=index)]
        elif op in ("jump", "goto"):
            target = arg.get("target", "") if isinstance(arg, dict) else ""
            return [Rule(tuple(conds), Kind.JUMP if op == "jump" else Kind.GOTO, str(target), text, index)]
        elif op in _NAT:
            return [Rule(tuple(conds), Kind.ACCEPT, text=text, index=index, nat=True)]
        elif op == "queue":
            why = "queues packets to a userspace program that decides"
            return [Rule(tuple(conds), Kind.UNKNOWN, text=text, index=index, why=why)]
        elif op == "vmap":
            return _vmap(arg, conds, t, text, index)
        elif op in ("limit", "quota", "ct count", "connlimit", "numgen"):
            conds.append(_unknown(f"{op}: matches only some packets", arg, op))
        elif op == "xt":
            xt = arg if isinstance(arg, dict) else {}
            if xt.get("type") == "target":
                return [_xt_target(tuple(conds), str(xt.get("name", "")), text, index)]
            conds.append(_unknown(f"iptables compat match '{xt.get('name', '?')}'", arg, "xt"))
        elif op in _NON_TERMINAL or op in ("mangle", "log", "counter", "set", "notrack", "meter"):
            continue
        else:
            conds.append(_unknown(f"unsupported statement '{op}'", arg, op))
    return [Rule(tuple(conds), Kind.CONTINUE, text=text, index=index)]


def _xt_target(conds: tuple[Cond, ...], name: str, text: str, index: int) -> Rule:
    upper = name.upper()
    if upper == "ACCEPT":
        return Rule(conds, Kind.ACCEPT, text=text, index=index)
    if upper in ("DROP", "REJECT"):
        return Rule(conds, Kind.DROP, text=text, index=index)
    if upper in ("LOG", "NFLOG", "MARK", "CONNMARK", "CT", "TCPMSS", "DSCP", "TOS", "CLASSIFY", "AUDIT"):
        return Rule(conds, Kind.CONTINUE, text=text, index=index)
    return Rule(conds, Kind.UNKNOWN, text=text, index=index, why=f"iptables compat target '{name}'")


def _vmap(arg: Any, prefix: list[Cond], t: _TableData, text: str, index: int) -> list[Rule]:
    if not isinstance(arg, dict):
        return [Rule((*prefix, _unknown("malformed vmap", arg)), Kind.UNKNOWN, text=text, index=index)]
    data = arg.get("data")
    key = arg.get("key")
    elems: Any = None
    if isinstance(data, str) and data.startswith("@"):
        named = t.sets.get(data[1:])
        elems = named.get("elem", []) if named else None
    elif isinstance(data, dict) and "set" in data:
        elems = data["set"]
    if not isinstance(elems, list):
        why = f"verdict map {data!r} not found in the ruleset"
        return [Rule((*prefix, _unknown(why, arg)), Kind.UNKNOWN, text=text, index=index, why=why)]
    rules = []
    for pair in elems:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], dict)):
            continue
        sub = _rules([{"match": {"op": "==", "left": key, "right": pair[0]}}, pair[1]], t, index)
        for r in sub:
            rules.append(Rule((*prefix, *r.conds), r.kind, r.target, text, index, r.why))
    return rules or [Rule((Cond("false", text="empty verdict map"),), Kind.CONTINUE, text=text, index=index)]


# ---------------------------------------------------------------- matches


def _unknown(why: str, obj: Any, short: str = "") -> Cond:
    return Cond("unknown", text=short or render_expr(obj), why=why)


def _match(m: Any, t: _TableData) -> list[Cond]:
    if not isinstance(m, dict):
        return [_unknown("malformed match", m)]
    op = str(m.get("op", "=="))
    left, right = m.get("left"), m.get("right")
    text = f"{render_expr(left)} {'' if op in ('==', 'in') else op + ' '}{render_expr(right)}"
    negate = op == "!="
    if isinstance(right, str) and right.startswith("@"):
        named = t.sets.get(right[1:])
        if named is None:
            return [_unknown(f"set {right} not found in the ruleset", m, text)]
        if right[1:] in t.written:
            why = f"set {right} is filled by the packet path (a rule adds to it): any value may be in it"
            _key, version, l4, _name = _field(left)
            return [Cond("unknown", version=version, l4=l4, text=text, why=why)]
        right = {"set": named.get("elem", [])}
        if "dynamic" in (named.get("flags") or []) or named.get("timeout"):
            text += " (dynamic set: current elements)"
    if isinstance(left, dict) and "concat" in left:
        return [_concat(left["concat"], right, negate, text, m)]
    try:
        cond = _simple(left, op, right, negate, text)
    except (ValueError, TypeError, KeyError) as exc:
        return [_unknown(f"cannot read value: {exc}", m, text)]
    return [cond]


def _concat(lefts: Any, right: Any, negate: bool, text: str, m: Any) -> Cond:
    """``ip daddr . tcp dport { a . p }``: an OR of ANDs; negated ones are unknown."""
    if negate or not isinstance(lefts, list):
        return _unknown("negated or malformed concatenation", m, text)
    elems = right.get("set") if isinstance(right, dict) and "set" in right else [right]
    alts: list[tuple[Cond, ...]] = []
    for el in elems if isinstance(elems, list) else []:
        parts = el.get("concat") if isinstance(el, dict) else None
        if not isinstance(parts, list) or len(parts) != len(lefts):
            return _unknown("concatenation element of unexpected shape", m, text)
        try:
            alts.append(tuple(_simple(lf, "==", v, False, "") for lf, v in zip(lefts, parts, strict=True)))
        except (ValueError, TypeError, KeyError):
            return _unknown("cannot read concatenation element", m, text)
    return Cond("any_of", text=text, alternatives=tuple(alts))


def _field(left: Any) -> tuple[str, int | None, frozenset[str] | None, str]:
    """(key, version, l4, protocol-field) for a left-hand expression; key "" if unknown."""
    if not isinstance(left, dict) or len(left) != 1:
        return "", None, None, ""
    ((kind, arg),) = left.items()
    if not isinstance(arg, dict):
        return "", None, None, ""
    if kind == "payload":
        proto, fld = arg.get("protocol"), arg.get("field")
        if proto in ("ip", "ip6"):
            version = 4 if proto == "ip" else 6
            if fld in _ADDR_FIELDS:
                return _ADDR_FIELDS[fld], version, None, f"{proto} {fld}"
            if fld in ("protocol", "nexthdr"):
                return "l4proto", version, None, f"{proto} {fld}"
            if fld == "version":
                return "ipversion", version, None, f"{proto} {fld}"
            return "", version, None, f"{proto} {fld}"
        if proto in ("tcp", "udp", "udplite", "sctp", "dccp", "th"):
            l4 = frozenset({"tcp", "udp", "udplite", "sctp", "dccp"}) if proto == "th" else frozenset({proto})
            if fld in ("dport", "sport"):
                return str(fld), None, l4, f"{proto} {fld}"
            if fld == "flags" and proto == "tcp":
                return "tcpflags", None, l4, "tcp flags"
            return "", None, l4, f"{proto} {fld}"
        if proto in L4_PROTOCOLS or proto in ("icmp", "icmpv6", "igmp", "gre", "vlan", "arp", "ether"):
            return "false_l4", None, frozenset({str(proto)}), f"{proto} {fld}"
        return "", None, None, ""
    if kind == "meta":
        key = arg.get("key")
        return {
            "oifname": ("oifname", None, None, "oifname"),
            "oif": ("oifname", None, None, "oif"),
            "iifname": ("iifname", None, None, "iifname"),
            "iif": ("iifname", None, None, "iif"),
            "l4proto": ("l4proto", None, None, "meta l4proto"),
            "nfproto": ("nfproto", None, None, "meta nfproto"),
            "protocol": ("ethproto", None, None, "meta protocol"),
            "pkttype": ("pkttype", None, None, "meta pkttype"),
            "oiftype": ("oiftype", None, None, "meta oiftype"),
        }.get(str(key), ("", None, None, f"meta {key}"))
    if kind == "ct":
        key = arg.get("key")
        if key == "state":
            return "ctstate", None, None, "ct state"
        if key == "direction":
            return "ctdirection", None, None, "ct direction"
        return "", None, None, f"ct {key}"
    if kind == "fib" and arg.get("result") == "type" and arg.get("flags") == ["daddr"]:
        return "fibdtype", None, None, "fib daddr type"
    return "", None, None, ""


def _simple(left: Any, op: str, right: Any, negate: bool, text: str) -> Cond:
    if isinstance(left, dict) and "&" in left:
        if op not in ("==", "!="):
            return Cond("unknown", text=text, why=f"operator {op!r} on a bit operation")
        return _masked(left["&"], op, right, negate, text)
    key, version, l4, _name = _field(left)
    if key == "false_l4":
        return Cond("false", l4=l4, text=text)
    if op == "!":  # flag match: none of the listed bits set
        if key == "ctstate":
            return Cond("ctstate", _names(right, str), True, "in", version, l4, text)
        if key == "tcpflags":
            return Cond("tcpflags_any", frozenset(_flag_set(right)), True, "in", version, l4, text)
        return Cond("unknown", version=version, l4=l4, text=text, why="operator '!' on this field")
    if op in _ORDER_OPS and key in ("daddr", "saddr"):
        return Cond(key, _addr_order(op, right, version or 4), False, "in", version, l4, text)
    if op not in _EQ_OPS and not (op in _ORDER_OPS and key in ("dport", "sport")):
        return Cond("unknown", version=version, l4=l4, text=text, why=f"operator {op!r} on this field")
    if key in ("daddr", "saddr"):
        return Cond(key, _addr_values(right, version or 4), negate, "in", version, l4, text)
    if key in ("dport", "sport"):
        if op in ("<", ">", "<=", ">="):
            return Cond(key, Intervals.of([(_port(right), _port(right))]), False, op, version, l4, text)
        return Cond(key, _port_values(right), negate, "in", version, l4, text)
    if key == "l4proto":
        return Cond("l4proto", _names(right, _proto_name), negate, "in", version, l4, text)
    if key == "ethproto":
        vals = _names(right, str)
        fams = {"ip": "ipv4", "ip6": "ipv6", "ipv4": "ipv4", "ipv6": "ipv6"}
        return Cond("nfproto", frozenset(fams.get(v, v) for v in vals), negate, "in", version, l4, text)
    if key == "oiftype":
        vals = _names(right, str)
        if vals == frozenset({"loopback"}):
            return Cond("oifname", frozenset({"lo"}), negate, "in", version, l4, text)
        return Cond("unknown", text=text, why="interface type of the outgoing interface")
    if key in ("oifname", "iifname", "ctstate", "ctdirection", "nfproto", "pkttype", "fibdtype"):
        return Cond(key, _names(right, str), negate, "in", version, l4, text)
    if key == "tcpflags":
        if isinstance(right, list):  # bitmask: any of these flags set
            return Cond("tcpflags_any", frozenset(str(x) for x in right), negate, "in", version, l4, text)
        if op == "in" and isinstance(right, str):
            return Cond("tcpflags_any", frozenset({right}), negate, "in", version, l4, text)
        return Cond("tcpflags", _flag_combos(right), negate, "in", version, l4, text)
    if key == "ipversion":
        return Cond("false" if _names(right, str) != frozenset({str(version)}) else "true_", text=text)
    if _name == "meta skuid" and op == "==" and not negate and _names(right, str) <= {"0", "root"}:
        return Cond("false", text=text, why=ROOT_ONLY)
    why = {
        "meta skuid": "owner uid of the sending process (any process may be the attacker's)",
        "meta skgid": "owner gid of the sending process",
        "meta mark": "packet mark",
        "meta cgroup": "cgroup of the sending process",
        "ct mark": "connection mark",
    }.get(_name, "expression harden does not evaluate")
    return Cond("unknown", version=version, l4=l4, text=text, why=why)


def _masked(parts: Any, op: str, right: Any, negate: bool, text: str) -> Cond:
    if not (isinstance(parts, list) and len(parts) == 2):
        return Cond("unknown", text=text, why="bit operation")
    key, version, l4, _name = _field(parts[0])
    if key == "tcpflags":
        mask = "|".join(sorted(_flag_set(parts[1])))
        value = "|".join(sorted(_flag_set(right)))
        return Cond("tcpflags_mask", frozenset({f"mask={mask}", f"value={value}"}), negate, "in", None, l4, text)
    if key == "ctstate":
        states = _flag_set(parts[1])
        if _flag_set(right) == set() or right == 0:  # ct state & (x|y) == 0
            return Cond("ctstate", frozenset(states), not negate, "in", version, l4, text)
    return Cond("unknown", version=version, l4=l4, text=text, why="bit operation on a field")


def _flag_set(v: Any) -> set[str]:
    if isinstance(v, str):
        return {v}
    if isinstance(v, list):
        return {str(x) for x in v}
    if isinstance(v, dict) and "|" in v:
        out: set[str] = set()
        for x in v["|"]:
            out |= _flag_set(x)
        return out
    if v == 0:
        return set()
    raise ValueError(f"flag value {v!r}")


def _flag_combos(right: Any) -> frozenset[str]:
    elems = right["set"] if isinstance(right, dict) and "set" in right else [right]
    return frozenset("|".join(sorted(_flag_set(e))) for e in elems)


def _elements(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        s = right["set"]
        return s if isinstance(s, list) else [s]
    return [right]


def _names(right: Any, conv: Any) -> frozenset[str]:
    out = set()
    for e in _elements(right):
        if isinstance(e, list):  # bitmask list
            out |= {str(conv(x)) for x in e}
        elif isinstance(e, dict) and "elem" in e:
            out.add(str(conv(e["elem"].get("val"))))
        elif isinstance(e, dict):
            raise ValueError(f"unexpected value {e!r}")
        else:
            out.add(str(conv(e)))
    return frozenset(out)


def _proto_name(v: Any) -> str:
    if isinstance(v, int):
        return _PROTO_NUMBERS.get(v, str(v))
    return str(v)


def _port(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("bool port")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if v.isdigit():
            return int(v)
        if v in _SERVICES:
            return _SERVICES[v]
    raise ValueError(f"port {v!r}")


def _port_values(right: Any) -> Intervals:
    spans = []
    for e in _elements(right):
        if isinstance(e, dict) and "elem" in e:
            e = e["elem"].get("val")
        if isinstance(e, dict) and "range" in e:
            lo, hi = e["range"]
            spans.append((_port(lo), _port(hi)))
        else:
            p = _port(e)
            spans.append((p, p))
    return Intervals.of(spans)


def _addr_values(right: Any, version: int) -> Intervals:
    spans = []
    for e in _elements(right):
        if isinstance(e, dict) and "elem" in e:
            e = e["elem"].get("val")
        spans.append(addr_span(e, version))
    return Intervals.of(spans)


def _addr_order(op: str, right: Any, version: int) -> Intervals:
    """``ip daddr > 1.0.0.0`` as the interval of addresses it matches."""
    addr = ipaddress.ip_address(str(right))
    _check_version(addr.version, version)
    b, top = int(addr), (1 << (32 if version == 4 else 128)) - 1
    lo, hi = {"<": (0, b - 1), "<=": (0, b), ">": (b + 1, top), ">=": (b, top)}[op]
    return Intervals.of([(lo, hi)]) if lo <= hi else Intervals()


def addr_span(e: Any, version: int) -> tuple[int, int]:
    """An nft address value (string, prefix, range) as an integer interval."""
    if isinstance(e, dict) and "prefix" in e:
        p = e["prefix"]
        net = ipaddress.ip_network(f"{p['addr']}/{p['len']}", strict=False)
        _check_version(net.version, version)
        return int(net.network_address), int(net.broadcast_address)
    if isinstance(e, dict) and "range" in e:
        lo, hi = (ipaddress.ip_address(str(x)) for x in e["range"])
        _check_version(lo.version, version)
        return int(lo), int(hi)
    if isinstance(e, str):
        net = ipaddress.ip_network(e, strict=False)
        _check_version(net.version, version)
        return int(net.network_address), int(net.broadcast_address)
    raise ValueError(f"address {e!r}")


def _check_version(got: int, want: int) -> None:
    if got != want:
        raise ValueError(f"IPv{got} value where IPv{want} expected")


# ---------------------------------------------------------------- rendering


def render(exprs: Any) -> str:
    """A compact nft-like rendering of a rule's expressions, for messages."""
    if not isinstance(exprs, list):
        return render_expr(exprs)
    return " ".join(_render_stmt(e) for e in exprs)[:300]


def _render_stmt(e: Any) -> str:
    if not isinstance(e, dict) or len(e) != 1:
        return render_expr(e)
    ((op, arg),) = e.items()
    if op == "match" and isinstance(arg, dict):
        o = arg.get("op", "==")
        sep = "" if o in ("==", "in") else o + " "
        left, right = arg.get("left"), arg.get("right")
        r = render_expr(right)
        if isinstance(right, str) and render_expr(left) in ("oifname", "iifname", "oif", "iif"):
            r = json.dumps(right)  # nft quotes interface names
        return f"{render_expr(left)} {sep}{r}"
    if arg is None:
        return op
    if op in ("jump", "goto") and isinstance(arg, dict):
        return f"{op} {arg.get('target')}"
    if op == "vmap" and isinstance(arg, dict):
        return f"{render_expr(arg.get('key'))} vmap {render_expr(arg.get('data'))}"
    if op == "log" and isinstance(arg, dict) and "prefix" in arg:
        return f"log prefix {json.dumps(arg['prefix'])}"
    if op in ("counter", "log"):
        return op
    if op == "reject":
        return "reject"
    return f"{op} {render_expr(arg)}"


def render_expr(x: Any) -> str:
    if isinstance(x, dict) and len(x) == 1:
        ((k, v),) = x.items()
        if k == "payload" and isinstance(v, dict):
            return f"{v.get('protocol', 'payload')} {v.get('field', '')}".strip()
        if k == "meta" and isinstance(v, dict):
            key = v.get("key")
            return str(key) if key in ("oifname", "iifname", "oif", "iif", "mark") else f"meta {key}"
        if k == "ct" and isinstance(v, dict):
            return f"ct {v.get('key')}"
        if k == "prefix" and isinstance(v, dict):
            return f"{v.get('addr')}/{v.get('len')}"
        if k == "range" and isinstance(v, list):
            return "-".join(render_expr(i) for i in v)
        if k == "set" and isinstance(v, list):
            return "{ " + ", ".join(render_expr(i) for i in v) + " }"
        if k == "concat" and isinstance(v, list):
            return " . ".join(render_expr(i) for i in v)
        if k == "&" and isinstance(v, list) and len(v) == 2:
            mask = v[1]
            m = "(" + "|".join(str(i) for i in mask) + ")" if isinstance(mask, list) else render_expr(mask)
            return f"{render_expr(v[0])} & {m} =="
        if k == "|" and isinstance(v, list):
            return "|".join(render_expr(i) for i in v)
        if k == "fib" and isinstance(v, dict):
            return f"fib {' . '.join(v.get('flags') or [])} {v.get('result')}"
        if v is None:
            return str(k)
        return f"{k} {render_expr(v)}"
    if isinstance(x, list):
        if len(x) == 2 and isinstance(x[1], dict):
            return f"{render_expr(x[0])} : {render_expr(x[1])}"
        return ",".join(render_expr(i) for i in x)
    if isinstance(x, str):
        plain = x.lstrip("@").replace(".", "").replace(":", "").replace("-", "").replace("_", "")
        return x if plain.isalnum() else json.dumps(x)
    return json.dumps(x) if not isinstance(x, int) else str(x)
