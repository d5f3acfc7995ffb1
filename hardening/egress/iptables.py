"""Translate ``iptables-save`` / ``ip6tables-save`` text into :mod:`hardening.egress.model`.

Understood: tables, chain policies, ``-A`` rules with ``-s -d -o -i -p -f``, negation
``!``, matches tcp/udp (``--dport --sport --syn --tcp-flags``), multiport, state,
conntrack (``--ctstate --ctdir``), iprange, addrtype, pkttype, comment; targets
ACCEPT/DROP/REJECT/RETURN, user chains (``-j``), ``-g`` (goto), and the usual
non-terminal targets (LOG, MARK, ...). Any other match becomes an ``unknown`` Cond
(owner, set, mark, limit, recent...), never silently dropped.

Example::

    >>> text = "*filter\\n:OUTPUT DROP [0:0]\\n-A OUTPUT -o lo -j ACCEPT\\nCOMMIT\\n"
    >>> rs = parse_save(text, 4, "iptables-nft")
    >>> rs.tables[0].chain("OUTPUT").policy
    'drop'
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import replace
from functools import lru_cache

from hardening.egress.model import ROOT_ONLY, XT_OUTPUT_CHAINS, Chain, Cond, Intervals, Kind, Rule, Ruleset, Table


class SaveParseError(ValueError):
    """The text is not iptables-save output."""


_PRIO = {"raw": -300, "mangle": -150, "nat": -100, "filter": 0, "security": 50}
_NON_TERMINAL = frozenset(
    {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TCPMSS", "DSCP", "TOS", "TTL", "HL",
     "CLASSIFY", "SET", "AUDIT", "TRACE", "CHECKSUM", "SECMARK", "CONNSECMARK", "TEE", "IDLETIMER", "LED",
     "HMARK", "RATEEST", "ECN", "TCPOPTSTRIP"}
)  # fmt: skip
_NAT_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"})
_GENERIC = {"-s", "--source", "-d", "--destination", "-i", "--in-interface", "-o", "--out-interface",
            "-p", "--protocol", "-f", "--fragment", "-m", "--match", "-j", "--jump", "-g", "--goto",
            "-c", "--set-counters"}  # fmt: skip
_PORT_OPTS = frozenset({"--dport", "--destination-port", "--sport", "--source-port", "--syn", "--tcp-flags"})
_PORT_MODULES = frozenset({"tcp", "udp", "multiport", "sctp", "dccp", "udplite"})
_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "132": "sctp"}
_SERVICES = {"ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25, "ntp": 123}


_PLAIN = re.compile(r"[ -~]*")  # printable ASCII (space included): shlex then splits on spaces only
_SHELL_SPECIAL = frozenset("\"'\\")


def _split(line: str) -> list[str]:
    """``shlex.split(line)``, with a fast path for the common line without quotes or escapes.

    >>> _split('-A OUTPUT -d 10.0.0.0/8 -j ACCEPT') == shlex.split('-A OUTPUT -d 10.0.0.0/8 -j ACCEPT')
    True
    """
    if _PLAIN.fullmatch(line) and not _SHELL_SPECIAL.intersection(line):
        return line.split()
    return shlex.split(line)


_SAVE_COMMENT = re.compile(r"^#.*$", re.MULTILINE)
_CHAIN_COUNTERS = re.compile(r"^(:\S+ \S+) \[\d+:\d+\]$", re.MULTILINE)


def parse_save(text: str, version: int, backend: str) -> Ruleset:
    """Parse one save output; ``version`` 4 for iptables-save, 6 for ip6tables-save.

    Pure, and the last results are kept: hosts built from one configuration share one ruleset,
    so a fleet audit parses it once. The parts that differ on every host and every second and
    that nothing here reads (comment lines with the date, chain packet counters) are blanked
    first, keeping line numbers, so that they do not defeat that.
    """
    stable = _CHAIN_COUNTERS.sub(r"\1 [0:0]", _SAVE_COMMENT.sub("#", text))
    return _parse_save(stable, version, backend)


@lru_cache(maxsize=64)
def _parse_save(text: str, version: int, backend: str) -> Ruleset:
    family = "ip" if version == 4 else "ip6"
    tables: list[Table] = []
    name = ""
    policies: dict[str, str] = {}
    order: list[str] = []
    rules: dict[str, list[Rule]] = {}
    notes: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if "incompatible" in line or "Warning" in line:
                notes.append(line.lstrip("# "))
            continue
        if line.startswith("*"):
            name, policies, order, rules = line[1:].strip(), {}, [], {}
            continue
        if line == "COMMIT":
            if not name:
                raise SaveParseError(f"line {lineno}: COMMIT outside a table")
            tables.append(_table(backend, family, name, policies, order, rules, version))
            name = ""
            continue
        if not name:
            raise SaveParseError(f"line {lineno}: {line[:60]!r} outside a table")
        if line.startswith(":"):
            parts = line[1:].split()
            if not parts:
                raise SaveParseError(f"line {lineno}: empty chain line")
            policies[parts[0]] = parts[1] if len(parts) > 1 else "-"
            order.append(parts[0])
            rules.setdefault(parts[0], [])
            continue
        if line.startswith(("-A ", "--append ")):
            try:
                words = _split(line)
            except ValueError as exc:
                raise SaveParseError(f"line {lineno}: {exc}") from exc
            if len(words) < 2:
                raise SaveParseError(f"line {lineno}: rule without chain")
            chain = words[1]
            rules.setdefault(chain, [])
            if chain not in order:
                order.append(chain)
            rules[chain].append(parse_rule(words[2:], version, line, len(rules[chain]) + 1))
            continue
        if line.startswith(("-N ", "-P ", "-I ", "-F", "-X", "-Z")):
            notes.append(f"line {lineno}: command {line[:40]!r} not evaluated")
            continue
        raise SaveParseError(f"line {lineno}: unexpected {line[:60]!r}")
    if name:
        # iptables-save always ends a table with COMMIT and iptables-restore loads nothing without
        # it: the text was cut short, and the rules after the cut may be the ones that admit.
        raise SaveParseError(f"table {name} has no COMMIT (output cut short?)")
    return Ruleset(tuple(tables), tuple(notes))


def _table(
    backend: str,
    family: str,
    name: str,
    policies: dict[str, str],
    order: list[str],
    rules: dict[str, list[Rule]],
    version: int,
) -> Table:
    hooks = XT_OUTPUT_CHAINS.get(name, ())
    chains = []
    for cname in order:
        policy = policies.get(cname, "-")
        hook = ""
        if cname in hooks and policy != "-":
            hook = "output" if cname == "OUTPUT" else "postrouting"
        prio = _PRIO.get(name, 0) + (200 if hook == "postrouting" and name == "nat" else 0)
        chains.append(
            Chain(
                name=cname,
                rules=tuple(rules.get(cname, [])),
                hook=hook,
                policy=("drop" if policy.upper() == "DROP" else "accept") if hook else "",
                type="filter" if name != "nat" else "nat",
                prio=prio,
            )
        )
    return Table(backend, family, name, tuple(chains))


def parse_rule(words: list[str], version: int, text: str, index: int) -> Rule:
    """One ``-A CHAIN`` rule's words (after the chain name)."""
    conds: list[Cond] = []
    target, goto, notrack = "", False, False
    l4: frozenset[str] | None = None
    i = 0
    neg = False
    module = ""
    while i < len(words):
        w = words[i]
        if w == "!":
            neg = not neg
            i += 1
            continue
        arg = words[i + 1] if i + 1 < len(words) else ""
        if w in ("-s", "--source", "-d", "--destination"):
            conds.append(_addr("saddr" if w in ("-s", "--source") else "daddr", arg, neg, version, w))
            i += 2
        elif w in ("-o", "--out-interface", "-i", "--in-interface"):
            key = "oifname" if w in ("-o", "--out-interface") else "iifname"
            conds.append(Cond(key, frozenset({arg}), neg, text=f"{'! ' if neg else ''}{w} {arg}"))
            i += 2
        elif w in ("-p", "--protocol"):
            proto = _PROTO_NUMBERS.get(arg, arg.lower())
            if proto in ("all", "0"):
                if neg:
                    conds.append(Cond("false", text="! -p all"))
            else:
                conds.append(Cond("l4proto", frozenset({proto}), neg, text=f"{'! ' if neg else ''}-p {arg}"))
                if not neg:
                    l4 = frozenset({proto})
            i += 2
        elif w in ("-f", "--fragment"):
            conds.append(Cond("false" if not neg else "true_", text="-f"))
            i += 1
        elif w in ("-m", "--match"):
            module = arg
            if arg in ("tcp", "udp") and l4 is None:
                l4 = frozenset({arg})
            i += 2
        elif w in ("-j", "--jump", "-g", "--goto"):
            target, goto = arg, w in ("-g", "--goto")
            notrack = arg == "NOTRACK" or (arg == "CT" and "--notrack" in words[i + 2 :])
            i += 2
            # target options run to the end of the rule
            break
        elif w in ("-c", "--set-counters"):
            i += 3
        elif w.startswith("--"):
            args = []
            j = i + 1
            while j < len(words) and not (words[j] == "!" or (words[j].startswith("-") and not _is_num(words[j]))):
                args.append(words[j])
                j += 1
            mod = module
            if w in _PORT_OPTS and module not in _PORT_MODULES and l4 is not None and len(l4) == 1:
                mod = next(iter(l4))  # "-p tcp --dport 443": iptables loads the tcp match implicitly
            conds.extend(_module_option(mod, w, args, neg, version, l4))
            i = j
        else:
            conds.append(Cond("unknown", text=w, why=f"unrecognised word {w!r}"))
            i += 1
        neg = False
    rule = _rule(tuple(conds), target, goto, text, index)
    return replace(rule, notrack=True) if notrack else rule


def _is_num(w: str) -> bool:
    return w.lstrip("-").isdigit()


def _rule(conds: tuple[Cond, ...], target: str, goto: bool, text: str, index: int) -> Rule:
    text = text.strip()
    if not target:
        return Rule(conds, Kind.CONTINUE, text=text, index=index)
    if target == "ACCEPT":
        return Rule(conds, Kind.ACCEPT, text=text, index=index)
    if target in ("DROP", "REJECT"):
        return Rule(conds, Kind.DROP, text=text, index=index)
    if target == "RETURN":
        return Rule(conds, Kind.RETURN, text=text, index=index)
    if target in _NON_TERMINAL:
        return Rule(conds, Kind.CONTINUE, text=text, index=index)
    if target in _NAT_TARGETS:
        return Rule(conds, Kind.ACCEPT, text=text, index=index)
    if target in ("QUEUE", "NFQUEUE"):
        return Rule(conds, Kind.UNKNOWN, text=text, index=index, why="queues packets to a userspace program")
    if target.isupper() and target.isalpha() and len(target) > 2:
        # An extension target we do not know; user chains are conventionally not all-caps.
        return Rule(conds, Kind.UNKNOWN, target=target, text=text, index=index, why=f"target {target}")
    return Rule(conds, Kind.GOTO if goto else Kind.JUMP, target=target, text=text, index=index)


def _addr(key: str, arg: str, neg: bool, version: int, opt: str) -> Cond:
    text = f"{'! ' if neg else ''}{opt} {arg}"
    spans = []
    try:
        for part in arg.split(","):
            net = ipaddress.ip_network(part, strict=False)
            if net.version != version:
                raise ValueError("address family")
            spans.append((int(net.network_address), int(net.broadcast_address)))
    except ValueError:
        return Cond("unknown", text=text, why=f"address {arg!r} (not numeric?)")
    return Cond(key, Intervals.of(spans), neg, version=version, text=text)


def _ports(args: list[str]) -> Intervals | None:
    spans = []
    for a in ",".join(args).split(","):
        if not a:
            continue
        lo, _, hi = a.partition(":")
        try:
            first = int(lo) if lo else 0
            last = int(hi) if hi else (65535 if _ else first)
        except ValueError:
            if a in _SERVICES:
                first = last = _SERVICES[a]
            else:
                return None
        spans.append((first, last))
    return Intervals.of(spans) if spans else None


def _module_option(
    module: str, opt: str, args: list[str], neg: bool, version: int, l4: frozenset[str] | None
) -> list[Cond]:
    text = f"-m {module} {'! ' if neg else ''}{opt} {' '.join(args)}".strip()
    if module == "comment":
        return []
    if module in ("tcp", "udp", "multiport", "sctp", "dccp", "udplite") and opt in (
        "--dport", "--destination-port", "--sport", "--source-port", "--dports", "--sports",
        "--destination-ports", "--source-ports", "--ports",
    ):  # fmt: skip
        need = l4 or (frozenset({module}) if module not in ("multiport",) else None)
        ports = _ports(args)
        if ports is None:
            return [Cond("unknown", text=text, why="port value")]
        if opt == "--ports":
            # either port matches: the destination port decides for the probe unless the source matches
            return [Cond("unknown", text=text, why="--ports matches source or destination port")]
        key = "dport" if opt.startswith(("--dport", "--destination")) else "sport"
        if need is None:
            return [Cond("unknown", text=text, why="multiport without -p")]
        return [Cond(key, ports, neg, l4=need, text=text)]
    if module == "tcp" and opt == "--syn":
        return [Cond("tcpflags_mask", frozenset({"mask=ack|fin|rst|syn", "value=syn"}), neg,
                     l4=frozenset({"tcp"}), text=text)]  # fmt: skip
    if module == "tcp" and opt == "--tcp-flags" and len(args) == 2:
        mask = "|".join(sorted(_flags(args[0])))
        value = "|".join(sorted(_flags(args[1])))
        return [Cond("tcpflags_mask", frozenset({f"mask={mask}", f"value={value}"}), neg,
                     l4=frozenset({"tcp"}), text=text)]  # fmt: skip
    if (module == "state" and opt == "--state") or (module == "conntrack" and opt == "--ctstate"):
        states = frozenset(s.lower() for s in ",".join(args).split(",") if s)
        return [Cond("ctstate", states, neg, text=text)]
    if module == "conntrack" and opt == "--ctdir" and args:
        return [Cond("ctdirection", frozenset({args[0].lower()}), neg, text=text)]
    if module == "iprange" and opt in ("--dst-range", "--src-range") and args:
        lo, _, hi = args[0].partition("-")
        try:
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi or lo)
        except ValueError:
            return [Cond("unknown", text=text, why="address range")]
        key = "daddr" if opt == "--dst-range" else "saddr"
        return [Cond(key, Intervals.of([(int(a), int(b))]), neg, version=version, text=text)]
    if module == "addrtype" and opt == "--dst-type" and args:
        types = frozenset(t.lower() for t in args[0].split(","))
        return [Cond("fibdtype", types, neg, text=text)]
    if module == "pkttype" and opt == "--pkt-type" and args:
        return [Cond("pkttype", frozenset({args[0].lower()}), neg, text=text)]
    if module in ("tcp", "udp") and opt in ("--tcp-option",):
        return [Cond("unknown", text=text, why="tcp option")]
    if module == "rt":  # needs an IPv6 routing header; a TCP SYN from a socket carries none
        return [Cond("false", text=text)]
    if module in ("icmp", "icmp6", "icmpv6"):
        return [Cond("false", l4=frozenset({"icmp"}), text=text)]
    if module == "owner" and opt == "--uid-owner" and not neg and args and args[0] in ("0", "root"):
        # Only root's processes: a root foothold can unload the firewall anyway (see model.ROOT_ONLY).
        return [Cond("false", text=text, why=ROOT_ONLY)]
    why = {
        "owner": "owner uid/gid of the sending process (any process may be the attacker's)",
        "set": "ipset membership (the ipset contents are not collected)",
        "mark": "packet mark",
        "connmark": "connection mark",
        "limit": "rate limit: matches only some packets",
        "hashlimit": "rate limit: matches only some packets",
        "recent": "recent list: depends on earlier traffic",
        "cgroup": "cgroup of the sending process",
    }.get(module, f"match -m {module} {opt}")
    return [Cond("unknown", text=text, why=why)]


def _flags(text: str) -> set[str]:
    if text.upper() == "ALL":
        return {"fin", "syn", "rst", "psh", "ack", "urg"}
    if text.upper() == "NONE":
        return set()
    return {f.lower() for f in text.split(",") if f}
