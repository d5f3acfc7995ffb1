"""The packet-filter model the egress judge evaluates: rules as data, no I/O.

Both front ends (nftables JSON in :mod:`hardening.firewall.nft`, iptables-save text in
:mod:`hardening.firewall.iptables`) translate into these types; the evaluator
(:mod:`hardening.egress.evaluate`) only knows these.

A :class:`Cond` tests one field of a :class:`Probe` and answers with a three-valued
:class:`Tri`: ``UNKNOWN`` when harden cannot decide (an unknown expression, a uid,
a mark, an unresolved set...). Addresses and ports are kept as sorted integer
intervals so membership is a bisect, whatever the size of a set.

Example::

    >>> c = Cond("dport", values=Intervals.of([(443, 443)]))
    >>> c.test(Probe(4, ip_to_int("203.0.113.77"), 4444, "eth0")).name
    'FALSE'
"""

from __future__ import annotations

import bisect
import fnmatch
import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

MAX_V4 = (1 << 32) - 1
MAX_V6 = (1 << 128) - 1

# Parsed rulesets and judgements are memoised (hosts built from one configuration share them), but
# only small ones: the cache keeps its keys, and a host's 30 MiB ruleset must not outlive its audit.
MEMO_LIMIT = 1024 * 1024  # characters of ruleset text
MEMO_RULES = 5000  # rules of a parsed ruleset


class Tri(Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"

    def negate(self) -> Tri:
        if self is Tri.UNKNOWN:
            return self
        return Tri.FALSE if self is Tri.TRUE else Tri.TRUE


def ip_to_int(text: str) -> int:
    return int(ipaddress.ip_address(text))


@dataclass(frozen=True)
class Intervals:
    """A sorted, merged union of closed integer intervals ``[(lo, hi), ...]``."""

    spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, spans: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> Intervals:
        merged: list[list[int]] = []
        for lo, hi in sorted((min(a, b), max(a, b)) for a, b in spans):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return cls(tuple((a, b) for a, b in merged))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or not self.spans:
            return False
        i = bisect.bisect_right(self.spans, (value, MAX_V6 + 1)) - 1
        return i >= 0 and self.spans[i][0] <= value <= self.spans[i][1]

    def union(self, other: Intervals) -> Intervals:
        return Intervals.of(self.spans + other.spans)


# Probe fields a Cond may test. ``version`` is the L3 family (4 or 6) a match requires.
ADDR_KEYS = frozenset({"daddr", "saddr"})
PORT_KEYS = frozenset({"dport", "sport"})
# Source ports an unprivileged process can bind (net.ipv4.ip_unprivileged_port_start default).
UNPRIVILEGED_PORTS = (1024, 65535)
# The attacker model: an unprivileged foothold (a compromised service). A root one can unload the
# firewall, so matches only root can satisfy (privileged source ports, skuid 0) do not admit it.
ROOT_ONLY = "only root's processes match: a root foothold could unload the firewall anyway"


@dataclass(frozen=True)
class Probe:
    """One locally generated packet: the first SYN of a new outbound TCP connection, or the
    first datagram of a new UDP flow (``l4proto="udp"``, no TCP flags)."""

    family: int  # 4 or 6
    daddr: int
    dport: int
    oif: str
    l4proto: str = "tcp"
    ctstate: str = "new"
    tcpflags: frozenset[str] = frozenset({"syn"})

    @property
    def daddr_text(self) -> str:
        return str(ipaddress.ip_address(self.daddr) if self.family == 4 else ipaddress.IPv6Address(self.daddr))


@dataclass(frozen=True)
class Cond:
    """One match of a rule.

    ``key``: daddr, saddr, dport, sport, l4proto, oifname, iifname, ctstate, ctdirection,
    tcpflags, tcpflags_mask, fibdtype, pkttype, false (never matches), unknown.
    ``values``: :class:`Intervals` for addresses/ports, or a frozenset of strings.
    ``op``: "in" (membership) or a comparison on ports ("<", ">", "<=", ">=").
    ``version``: 4/6 when the match only exists for that L3 family (``ip daddr``);
    ``l4``: the transport protocols the match needs (``tcp dport`` needs tcp).
    A packet without the needed header never matches, negated or not.
    """

    key: str
    values: Intervals | frozenset[str] = frozenset()
    negate: bool = False
    op: str = "in"
    version: int | None = None
    l4: frozenset[str] | None = None
    text: str = ""
    why: str = ""  # for unknown: why harden cannot decide
    alternatives: tuple[tuple[Cond, ...], ...] = ()  # key "any_of": OR of ANDs (concatenations)

    def test(self, p: Probe) -> Tri:
        # A header the packet lacks never matches, even in a match harden cannot evaluate.
        if self.version is not None and self.version != p.family:
            return Tri.FALSE
        if self.l4 is not None and p.l4proto not in self.l4:
            return Tri.FALSE
        if self.key == "unknown":
            return Tri.UNKNOWN
        if self.key == "false":
            return Tri.FALSE
        if self.key == "true_":
            return Tri.TRUE
        if self.key == "any_of":
            return _any_of(self.alternatives, p)
        res = self._raw(p)
        return res.negate() if self.negate else res

    def _raw(self, p: Probe) -> Tri:
        v = self.values
        k = self.key
        if k in ADDR_KEYS or k in PORT_KEYS:
            if k == "saddr":
                return Tri.UNKNOWN
            if not isinstance(v, Intervals):
                return Tri.UNKNOWN
            if k == "sport":
                return self._sport(v)
            value = p.daddr if k == "daddr" else p.dport
            if self.op == "in":
                return _tri(value in v)
            bound = v.spans[0][0] if v.spans else 0
            return _tri(_compare(value, self.op, bound))
        if not isinstance(v, frozenset):
            return Tri.UNKNOWN
        if k == "l4proto":
            return _tri(p.l4proto in v)
        if k == "oifname":
            return _tri(any(_ifmatch(p.oif, pat) for pat in v))
        if k == "iifname":
            return Tri.FALSE  # no input interface on a locally generated packet
        if k == "ctstate":
            return _tri(p.ctstate in v)
        if k == "ctdirection":
            return _tri("original" in v)
        if k == "tcpflags":  # exact equality with one of the listed flag combinations
            return _tri(any(frozenset(x.split("|")) == p.tcpflags for x in v))
        if k == "tcpflags_any":  # (flags & mask) != 0
            return _tri(bool(p.tcpflags & v))
        if k == "tcpflags_mask":  # values: {"mask=a|b", "value=a"} -> (flags & mask) == value
            mask = frozenset(_field(v, "mask").split("|")) - {""}
            want = frozenset(_field(v, "value").split("|")) - {""}
            return _tri((p.tcpflags & mask) == want)
        if k == "fibdtype":
            return _tri("unicast" in v)
        if k == "pkttype":
            return _tri("unicast" in v or "host" in v)
        if k == "nfproto":
            return _tri(("ipv4" if p.family == 4 else "ipv6") in v)
        return Tri.UNKNOWN

    def _sport(self, v: Intervals) -> Tri:
        """Source port: the attacker's process picks any unprivileged port (bind before connect).

        Ports below 1024 need CAP_NET_BIND_SERVICE (root), and a root attacker can unload the
        firewall anyway, so a match on privileged source ports only (``tcp sport 22 accept``
        for the SSH replies) does not match a reverse shell's SYN. A match that some
        unprivileged ports satisfy and others do not is the attacker's choice: UNKNOWN.
        """
        if self.op == "in":
            hits = [v.spans[i] for i in range(len(v.spans)) if v.spans[i][1] >= UNPRIVILEGED_PORTS[0]]
            if not hits:
                return Tri.FALSE
            covered = Intervals.of(tuple((max(a, UNPRIVILEGED_PORTS[0]), b) for a, b in hits))
            if covered.spans == (UNPRIVILEGED_PORTS,):
                return Tri.TRUE
            return Tri.UNKNOWN
        bound = v.spans[0][0] if v.spans else 0
        lo = _compare(UNPRIVILEGED_PORTS[0], self.op, bound)
        hi = _compare(UNPRIVILEGED_PORTS[1], self.op, bound)
        return _tri(lo) if lo == hi else Tri.UNKNOWN

    def mentions(self) -> str:
        return self.text or self.key


def _any_of(alts: tuple[tuple[Cond, ...], ...], p: Probe) -> Tri:
    best = Tri.FALSE
    for alt in alts:
        results = [c.test(p) for c in alt]
        if Tri.FALSE in results:
            continue
        if Tri.UNKNOWN in results:
            best = Tri.UNKNOWN
        else:
            return Tri.TRUE
    return best


def _field(values: frozenset[str], name: str) -> str:
    for v in values:
        if v.startswith(name + "="):
            return v[len(name) + 1 :]
    return ""


def _tri(b: bool) -> Tri:
    return Tri.TRUE if b else Tri.FALSE


def _compare(value: int, op: str, bound: int) -> bool:
    return {
        "<": value < bound,
        ">": value > bound,
        "<=": value <= bound,
        ">=": value >= bound,
    }.get(op, False)


def _ifmatch(name: str, pattern: str) -> bool:
    """nft ``"eth*"`` / iptables ``eth+`` wildcards; ``\\*`` is a literal star."""
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    if pattern.endswith("*") and not pattern.endswith("\\*"):
        return name.startswith(pattern[:-1])
    return name == pattern.replace("\\*", "*") or (
        "*" in pattern and "\\" not in pattern and fnmatch.fnmatchcase(name, pattern)
    )


class Kind(Enum):
    """What a rule does when all its matches hold."""

    ACCEPT = "accept"
    DROP = "drop"  # drop and reject
    JUMP = "jump"
    GOTO = "goto"
    RETURN = "return"
    CONTINUE = "continue"  # no verdict (counter, log, mark...)
    UNKNOWN = "unknown"  # queue to userspace, unknown target: may accept, may continue


@dataclass(frozen=True)
class Rule:
    """``conds`` all hold -> ``kind`` (``target`` names the chain of a jump/goto)."""

    conds: tuple[Cond, ...]
    kind: Kind
    target: str = ""
    text: str = ""
    index: int = 0  # 1-based position in its chain, as printed to the user
    why: str = ""  # for Kind.UNKNOWN
    notrack: bool = False  # also exempts the packet from conntrack (ct state untracked afterwards)
    conntrack: bool = False  # its expressions turn connection tracking on (ct matches, nat, CT, helpers)
    nat: bool = False  # a nat statement (snat, masquerade, dnat, redirect): sets up the connection's binding

    @property
    def is_verdict(self) -> bool:
        return self.kind is not Kind.CONTINUE


@dataclass(frozen=True)
class Chain:
    """A chain. ``hook``/``policy`` only for base chains (policy "accept" or "drop")."""

    name: str
    rules: tuple[Rule, ...] = ()
    hook: str = ""
    policy: str = ""
    type: str = ""
    prio: int = 0


_TABLE_FAMILIES = {"ip": frozenset({4}), "ip6": frozenset({6}), "inet": frozenset({4, 6})}


@dataclass(frozen=True)
class Table:
    """One table of one backend; ``family`` is "ip", "ip6" or "inet" (nft) as the probe sees it."""

    backend: str  # "nftables", "iptables-nft", "iptables-legacy", "iptables" (unknown backend)
    family: str
    name: str
    chains: tuple[Chain, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = ""  # where a persisted table comes from ("/etc/iptables/rules.v4")

    def chain(self, name: str) -> Chain | None:
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Chain]:
        """Chains by name (the first of a name wins, as a linear search would find it)."""
        out: dict[str, Chain] = {}
        for c in self.chains:
            out.setdefault(c.name, c)
        return out

    def families(self) -> frozenset[int]:
        return _TABLE_FAMILIES.get(self.family, frozenset())

    @property
    def label(self) -> str:
        if self.backend == "nftables" or self.family == "inet":
            text = f"{self.family} {self.name}"
        else:
            tool = "iptables" if self.family == "ip" else "ip6tables"
            suffix = {"iptables-nft": " (nft backend)", "iptables-legacy": " (legacy)"}.get(self.backend, "")
            text = f"{tool}{suffix} -t {self.name}"
        return f"{self.source}: {text}" if self.source else text


# Hooks and chain types that a locally generated packet traverses on its way out.
NFT_OUTPUT_HOOKS = frozenset({"output", "postrouting"})
XT_OUTPUT_CHAINS = {
    "filter": ("OUTPUT",),
    "mangle": ("OUTPUT", "POSTROUTING"),
    "raw": ("OUTPUT",),
    "security": ("OUTPUT",),
    "nat": ("OUTPUT", "POSTROUTING"),
}


@dataclass(frozen=True)
class Ruleset:
    """Every table of one source (the running kernel, or what loads at boot)."""

    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = field(default=())
    always_tracked: bool = False  # nf_conntrack.enable_hooks=1: conntrack runs whatever the rules say

    @cached_property
    def rule_count(self) -> int:
        return sum(len(c.rules) for t in self.tables for c in t.chains)

    def base_chains(self, family: int) -> list[tuple[Table, Chain]]:
        """Base chains on the output path for ``family``, in hook/priority order."""
        return list(self._base_chains[family]) if family in (4, 6) else self._find_base_chains(family)

    @cached_property
    def _base_chains(self) -> dict[int, tuple[tuple[Table, Chain], ...]]:
        """Computed once per ruleset: every probe of a judgement walks the same chains."""
        return {f: tuple(self._find_base_chains(f)) for f in (4, 6)}

    def _find_base_chains(self, family: int) -> list[tuple[Table, Chain]]:
        out = []
        for t in self.tables:
            if family not in t.families():
                continue
            for c in t.chains:
                if c.hook in NFT_OUTPUT_HOOKS:
                    out.append((t, c))
        return sorted(out, key=lambda tc: (tc[1].hook != "output", tc[1].prio))

    def backends(self) -> list[str]:
        return sorted({t.backend for t in self.tables})

    def tracks(self, family: int) -> bool:
        """Connection tracking runs for ``family``: the kernel registers its hooks in a network
        namespace only once something needs it (a ``ct`` match, a nat statement, a CT target,
        a helper) or when ``nf_conntrack.enable_hooks`` is set. Without it nat chains never run."""
        return self.always_tracked or family in self._tracked

    @cached_property
    def _tracked(self) -> frozenset[int]:
        out: set[int] = set()
        for t in self.tables:
            if any(r.conntrack for c in t.chains for r in c.rules):
                out |= t.families()
        return frozenset(out)

    def merged(self, other: Ruleset) -> Ruleset:
        return Ruleset(
            self.tables + other.tables, self.notes + other.notes, self.always_tracked or other.always_tracked
        )
