"""Send probe packets through a :class:`~hardening.firewall.model.Ruleset`, with real semantics.

A probe is the first SYN of a new outbound TCP connection from a local process, or the
first datagram of a new UDP flow.
It must pass EVERY base chain on the output path (all tables, all backends): an
accept ends only its own chain, a drop anywhere is final. Within a chain: rules in
order, jump/goto/return, the policy at the end. nat chains run only for tracked
connections (see :func:`nat_skip`).

Matches are three-valued. When a rule's matches are UNKNOWN (none false), both
branches are explored, each carrying a note of what was assumed; a chain "may
accept" when any branch accepts. That is the pessimistic reading the audit needs:
an accept behind an unknown match counts as admitting, a drop behind one counts as
not dropping.

Example::

    >>> from hardening.firewall.iptables import parse_save
    >>> rs = parse_save("*filter\\n:OUTPUT DROP [0:0]\\nCOMMIT\\n", 4, "iptables-nft")
    >>> p = Probe(4, ip_to_int("203.0.113.77"), 4444, "eth0")
    >>> run_probe(rs, p).admitted
    False
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass, replace

from hardening.firewall.model import (
    MAX_V4,
    MAX_V6,
    Chain,
    Cond,
    Intervals,
    Kind,
    Probe,
    Rule,
    Ruleset,
    Table,
    Tri,
    ip_to_int,
)

MAX_STATES = 20000  # explored branch states per chain before giving up (pessimistically)
MAX_DEPTH = 32
FIXED_PORTS = (4444, 443, 53, 80)
PROBE_PORT = 4444
MAX_ADDR_CLASSES = 256
MAX_PORT_CLASSES = 64
PROBE_BUDGET = 3000  # named-destination probes per family (each ~0.1 ms per rule set of 30 rules)
LOOPBACK = {
    4: Intervals.of([(ip_to_int("127.0.0.0"), ip_to_int("127.255.255.255"))]),
    6: Intervals.of([(1, 1)]),
}


def _public(family: int) -> Intervals:
    """Publicly routable unicast space: where a reverse shell's server can be."""
    if family == 6:
        return Intervals.of([(ip_to_int("2000::"), ip_to_int("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))])
    first, last = ipaddress.IPv4Address("1.0.0.0"), ipaddress.IPv4Address("223.255.255.255")
    nets = list(ipaddress.summarize_address_range(first, last))
    private = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
               "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")]  # fmt: skip
    for p in private:
        nets = [x for n in nets for x in (n.address_exclude(p) if p.subnet_of(n) else (n,))]
    return Intervals.of([(int(n.network_address), int(n.broadcast_address)) for n in nets])


PUBLIC = {4: _public(4), 6: _public(6)}  # v4: 1.0.0.0-223.255.255.255 minus private; v6: 2000::/3


def public_count(family: int, lo: int, hi: int) -> int:
    """How many public unicast addresses lie in [lo, hi]."""
    return sum(max(0, min(hi, b) - max(lo, a) + 1) for a, b in PUBLIC[family].spans)


_CANDIDATES = {
    4: ("203.0.113.77", "198.51.100.77", "192.0.2.77", "45.77.0.77", "91.198.174.77", "1.2.3.77"),
    6: ("2001:db8:4::77", "2001:db8:ffff::77", "2a00:1450:4001::77", "2600:1f00::77", "2c0f:f000::77"),
}


@dataclass(frozen=True)
class ChainOutcome:
    """How one base chain ends for one probe on one branch."""

    accepted: bool
    table: str
    chain: str
    rule_index: int  # 0: the chain policy decided
    rule_text: str
    assumptions: tuple[str, ...] = ()
    daddr_constrained: bool = False  # a positive destination match held on the way
    dport_constrained: bool = False
    skipped: str = ""  # the chain never sees the packet (a nat chain without conntrack), and why
    nat_bound: bool = False  # a nat statement accepted it: the connection's nat binding is set up

    def describe(self) -> str:
        if self.skipped:
            return f"{self.table} {self.chain}: never sees it ({self.skipped})"
        what = "accepts" if self.accepted else "drops"
        if self.rule_index == 0:
            s = f"{self.table} {self.chain}: {self.rule_text} {what} it"
        else:
            s = f"{self.table} {self.chain}: rule {self.rule_index} `{self.rule_text}` {what} it"
        if self.assumptions:
            s += " (assuming " + "; ".join(self.assumptions[:3]) + ")"
        return s


@dataclass(frozen=True)
class ProbeResult:
    """The fate of one probe: admitted when every base chain may accept it."""

    probe: Probe
    admitted: bool
    certain: bool  # no unknown match was assumed on the deciding branches
    outcomes: tuple[ChainOutcome, ...]  # admitted: the accepting branch per chain; else the blockers

    def admitting_rules(self) -> list[ChainOutcome]:
        """Accepting outcomes that came from a rule (policy accepts say less)."""
        return [o for o in self.outcomes if o.accepted and o.rule_index]

    def describe(self) -> str:
        if not self.outcomes:
            return "no base chain on the output path filters it"
        if self.admitted:
            rules = self.admitting_rules() or list(self.outcomes)
            return "; ".join(o.describe() for o in rules[:4])
        return "; ".join(o.describe() for o in self.outcomes[:2])


# ---------------------------------------------------------------- one chain


@dataclass(frozen=True)
class _State:
    chain: str
    idx: int
    stack: tuple[tuple[str, int, bool, bool], ...]
    assumptions: tuple[str, ...]
    dcons: bool
    pcons: bool


def _constrains(conds: tuple[Cond, ...], probe: Probe) -> tuple[bool, bool]:
    d = p = False
    for c in conds:
        parts = [c, *(x for alt in c.alternatives for x in alt)]
        for x in parts:
            if x.negate or x.op != "in":
                continue
            if x.key == "daddr" and isinstance(x.values, Intervals) and not _is_everything(x.values, probe):
                d = True
            if x.key == "dport" and isinstance(x.values, Intervals) and x.values.spans != ((0, 65535),):
                p = True
    return d, p


def _is_everything(v: Intervals, probe: Probe) -> bool:
    return v.spans == ((0, MAX_V4 if probe.family == 4 else MAX_V6),)


def eval_chain(table: Table, base: Chain, probe: Probe) -> list[ChainOutcome]:
    """Every distinct way ``base`` can end for ``probe`` (bounded; pessimistic when cut)."""
    outcomes: dict[tuple[bool, int, str, str, tuple[str, ...], bool], ChainOutcome] = {}
    work = [_State(base.name, 0, (), (), False, False)]
    seen = 0

    def finish(accepted: bool, st: _State, chain: str, rule: Rule | None, extra: tuple[str, ...] = ()) -> None:
        o = ChainOutcome(
            accepted,
            table.label,
            chain if rule else base.name,
            rule.index if rule else 0,
            rule.text if rule else f"policy {base.policy or 'accept'}",
            st.assumptions + extra,
            st.dcons,
            st.pcons,
            nat_bound=bool(accepted and rule is not None and rule.nat),
        )
        outcomes.setdefault((o.accepted, o.rule_index, o.chain, o.rule_text, o.assumptions, o.nat_bound), o)

    while work:
        st = work.pop()
        seen += 1
        if seen > MAX_STATES:
            finish(True, st, st.chain, None, ("too many branches to explore: assumed it may accept",))
            break
        chain = table.chain(st.chain)
        if chain is None:
            finish(True, st, st.chain, None, (f"chain {st.chain} not found: assumed it may accept",))
            continue
        if st.idx >= len(chain.rules):
            if st.stack:
                top = st.stack[-1]
                work.append(_State(top[0], top[1], st.stack[:-1], st.assumptions, top[2], top[3]))
            else:
                finish(base.policy != "drop", st, base.name, None)
            continue
        rule = chain.rules[st.idx]
        nxt = _State(st.chain, st.idx + 1, st.stack, st.assumptions, st.dcons, st.pcons)
        if rule.kind is Kind.CONTINUE:  # counter, log, mark...: no effect on the verdict
            work.append(nxt)
            continue
        results = _tests(rule.conds, probe)
        if results is None:
            work.append(nxt)
            continue
        unknown = [c for c, r in zip(rule.conds, results, strict=True) if r is Tri.UNKNOWN]
        if unknown:
            label = f"{st.chain} rule {rule.index}"
            doubts = ", ".join(f"`{c.mentions()}` ({c.why})" if c.why else f"`{c.mentions()}`" for c in unknown)
            work.append(_with(nxt, f"{label}: {doubts} does not match"))
            fired = _with(st, f"{label}: {doubts} matches")
        else:
            fired = st
        d, p = _constrains(rule.conds, probe)
        fired = _State(fired.chain, fired.idx, fired.stack, fired.assumptions, fired.dcons or d, fired.pcons or p)
        _fire(table, base, rule, fired, nxt, work, finish, probe)
    return list(outcomes.values())


def _tests(conds: tuple[Cond, ...], probe: Probe) -> list[Tri] | None:
    """Each match's result for ``probe``, or None as soon as one is FALSE (the rule cannot fire)."""
    results = []
    for c in conds:
        r = c.test(probe)
        if r is Tri.FALSE:
            return None
        results.append(r)
    return results


def _with(st: _State, note: str) -> _State:
    return _State(st.chain, st.idx, st.stack, (*st.assumptions, note), st.dcons, st.pcons)


def _fire(table, base, rule, st, nxt, work, finish, probe) -> None:  # noqa: ANN001
    after = _State(st.chain, st.idx + 1, st.stack, st.assumptions, nxt.dcons, nxt.pcons)
    kind = rule.kind
    if kind is Kind.ACCEPT:
        finish(True, st, st.chain, rule)
    elif kind is Kind.DROP:
        finish(False, st, st.chain, rule)
    elif kind is Kind.CONTINUE:
        work.append(after)
    elif kind is Kind.RETURN:
        if st.stack:
            top = st.stack[-1]
            work.append(_State(top[0], top[1], st.stack[:-1], st.assumptions, top[2], top[3]))
        else:
            finish(base.policy != "drop", st, base.name, None)
    elif kind in (Kind.JUMP, Kind.GOTO):
        if table.chain(rule.target) is None or len(st.stack) >= MAX_DEPTH:
            finish(True, st, st.chain, rule, (f"jump target {rule.target!r} unusable: assumed it may accept",))
            work.append(_with(after, f"jump target {rule.target!r} unusable: assumed it may return"))
            return
        stack = st.stack
        if kind is Kind.JUMP:
            stack = (*stack, (st.chain, st.idx + 1, nxt.dcons, nxt.pcons))
        work.append(_State(rule.target, 0, stack, st.assumptions, st.dcons, st.pcons))
    else:  # UNKNOWN: may accept, may continue
        why = rule.why or "unknown verdict"
        finish(True, st, st.chain, rule, (f"{why}: assumed it may accept",))
        work.append(_with(after, f"{why}: assumed it may continue"))


# ---------------------------------------------------------------- one probe


def run_probe(ruleset: Ruleset, probe: Probe) -> ProbeResult:
    """Admitted only if every base chain for the probe's family may accept it.

    A ``notrack`` rule on the output path before conntrack (raw priority) that may match the
    probe exempts it from conntrack: later chains then see ``ct state untracked``, not ``new``;
    both are tried.
    """
    res = _run(ruleset, probe)
    if res.admitted or probe.ctstate != "new":
        return res
    notrack = _notrack(ruleset, probe)
    if notrack is None:
        return res
    what, sure, prio = notrack
    alt = _run(ruleset, replace(probe, ctstate="untracked"), prio)
    if not alt.admitted:
        return res
    note = f"{what} exempts it from conntrack (ct state untracked)"
    outs = tuple(replace(o, assumptions=(note, *o.assumptions)) for o in alt.outcomes)
    return ProbeResult(probe, True, alt.certain and sure, outs)


#: Conntrack's hook on the output path (NF_IP_PRI_CONNTRACK): chains before it see no conntrack entry.
CONNTRACK_PRIO = -200


def before_conntrack(chain: Chain) -> bool:
    """A base chain that a locally generated packet meets before conntrack looks it up.

    nat chains are not: whatever their priority, the nat core calls them from its own hook,
    after conntrack (-100 on output, 100 on postrouting). On postrouting everything is after it.
    """
    return chain.hook == "output" and chain.type != "nat" and chain.prio < CONNTRACK_PRIO


def _chain_probe(chain: Chain, probe: Probe, notrack_prio: int | None) -> Probe:
    """The probe as ``chain`` sees it: before conntrack a packet has no entry, so ``ct state`` is
    ``invalid`` (``untracked`` after a notrack earlier on the path), never ``new``."""
    if not before_conntrack(chain):
        return probe
    if probe.ctstate == "untracked" and notrack_prio is not None and chain.prio >= notrack_prio:
        return probe
    return replace(probe, ctstate="invalid")


def _notrack(ruleset: Ruleset, probe: Probe) -> tuple[str, bool, int] | None:
    """The first notrack rule that may match ``probe``: (described, surely?, its base chain's priority).

    Only notrack on the output path before conntrack exempts a locally generated packet: in an
    output base chain of priority < -200 (iptables raw OUTPUT) or a chain it jumps to. Elsewhere
    (prerouting, after conntrack, an unreferenced chain) the packet is already tracked or never
    passes. Surely only when the rule is in the base chain, its matches all hold and no rule
    before it may end the chain.
    """
    for t in ruleset.tables:
        if probe.family not in t.families():
            continue
        for base in t.chains:
            if not before_conntrack(base):
                continue
            p = replace(probe, ctstate="invalid")
            for name in _reachable(t, base.name):
                c = t.chain(name)
                if c is None:
                    continue
                for r in c.rules:
                    if not r.notrack:
                        continue
                    results = [x.test(p) for x in r.conds]
                    if Tri.FALSE in results:
                        continue
                    sure = Tri.UNKNOWN not in results and c is base and _reached(base, r, p)
                    return f"{t.label} {c.name} rule {r.index} `{r.text}`", sure, base.prio
    return None


def _reachable(table: Table, start: str) -> list[str]:
    """``start`` and the chains its rules jump or go to, transitively (bounded)."""
    out, work = [start], [start]
    while work and len(out) < 256:
        c = table.chain(work.pop())
        for r in c.rules if c else ():
            if r.kind in (Kind.JUMP, Kind.GOTO) and r.target not in out:
                out.append(r.target)
                work.append(r.target)
    return out


def _reached(chain: Chain, rule: Rule, probe: Probe) -> bool:
    """No rule before ``rule`` in ``chain`` may end the chain (or leave it) for ``probe``."""
    for r in chain.rules:
        if r is rule:
            return True
        if r.kind is not Kind.CONTINUE and Tri.FALSE not in [x.test(probe) for x in r.conds]:
            return False
    return False


NAT_UNTRACKED = "a nat chain sees only the first packet of a tracked connection, and this one is not tracked"
NAT_NO_CONNTRACK = "a nat chain runs only under connection tracking, and no rule here turns it on"
NAT_BOUND = "an earlier nat chain on this hook set up the connection's nat binding: the kernel calls no later one"


def nat_skip(ruleset: Ruleset, chain: Chain, probe: Probe, bound: frozenset[str] = frozenset()) -> str:
    """Why the kernel never runs nat chain ``chain`` for ``probe`` ("" when it does).

    nat chains are called by conntrack for the first packet of a new tracked connection only:
    a packet exempted by ``notrack`` (ct state untracked), or any packet when nothing in the
    namespace turned connection tracking on, passes them untouched, whatever their policy.
    And the nat core (``nf_nat_inet_fn``) walks one hook's nat chains in priority order only
    until one has set up the binding (``bound``: hooks where a nat statement accepted the probe).
    """
    if chain.type != "nat":
        return ""
    if probe.ctstate == "untracked":
        return NAT_UNTRACKED
    if not ruleset.tracks(probe.family):
        return NAT_NO_CONNTRACK
    if chain.hook in bound:
        return NAT_BOUND
    return ""


def _run(ruleset: Ruleset, probe: Probe, notrack_prio: int | None = None) -> ProbeResult:
    return _walk(ruleset, probe, tuple(ruleset.base_chains(probe.family)), 0, frozenset(), (), notrack_prio)


def _walk(
    ruleset: Ruleset,
    probe: Probe,
    chains: tuple[tuple[Table, Chain], ...],
    start: int,
    bound: frozenset[str],
    chosen_before: tuple[ChainOutcome, ...],
    notrack_prio: int | None,
) -> ProbeResult:
    chosen = list(chosen_before)
    for i in range(start, len(chains)):
        table, chain = chains[i]
        skip = nat_skip(ruleset, chain, probe, bound)
        if skip:
            chosen.append(ChainOutcome(True, table.label, chain.name, 0, "", skipped=skip))
            continue
        outs = eval_chain(table, chain, _chain_probe(chain, probe, notrack_prio))
        accepts = [o for o in outs if o.accepted]
        if not accepts:
            drops = sorted(outs, key=lambda o: len(o.assumptions))
            return ProbeResult(probe, False, all(not o.assumptions for o in drops), tuple(drops[:1]))
        accepts.sort(key=lambda o: (len(o.assumptions), o.rule_index == 0))
        binding = [o for o in accepts if o.nat_bound]
        if binding and not accepts[0].nat_bound:
            # Some branches bind (later nat chains of this hook never run), others do not: try both.
            with_binding = _walk(
                ruleset, probe, chains, i + 1, bound | {chain.hook}, (*chosen, binding[0]), notrack_prio
            )
            without = _walk(ruleset, probe, chains, i + 1, bound, (*chosen, accepts[0]), notrack_prio)
            if without.admitted and (without.certain or not with_binding.admitted):
                return without
            return with_binding if with_binding.admitted else without
        if accepts[0].nat_bound:
            bound = bound | {chain.hook}
        chosen.append(accepts[0])
    # skipped nat chains last: the chains that accept say more
    chosen.sort(key=lambda o: bool(o.skipped))
    return ProbeResult(probe, True, all(not o.assumptions for o in chosen), tuple(chosen))


# ---------------------------------------------------------------- probe selection


@dataclass(frozen=True)
class ProbePlan:
    """Which probes a family needs; addresses/ports as representatives of classes."""

    family: int
    arbitrary: int  # an address outside every named prefix (or the policy probe)
    named: tuple[tuple[int, int], ...]  # (representative, ) of named address classes: (rep, hi)
    ports: tuple[tuple[int, int, int], ...]  # (rep, lo, hi) per elementary port class
    named_ports: Intervals  # ports appearing as constants in the rules
    interfaces: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def probes(self) -> list[Probe]:
        """The arbitrary address on every port class and interface; named classes on the first.
        Each as a TCP SYN and as a UDP datagram (a UDP shell or a DNS tunnel needs no TCP)."""
        out = []
        for proto in PROTOCOLS:
            for oif in self.interfaces:
                for rep, _lo, _hi in self.ports:
                    out.append(_probe(self.family, self.arbitrary, rep, oif, proto))
            for addr, _hi in self.named:
                for rep, _lo, _hi2 in self.ports:
                    out.append(_probe(self.family, addr, rep, self.interfaces[0], proto))
        return out


PROTOCOLS = ("tcp", "udp")


def _probe(family: int, daddr: int, dport: int, oif: str, proto: str) -> Probe:
    if proto == "tcp":
        return Probe(family, daddr, dport, oif)
    return Probe(family, daddr, dport, oif, l4proto=proto, tcpflags=frozenset())


def _walk_conds(ruleset: Ruleset, family: int) -> list[Cond]:
    out: list[Cond] = []
    for t in ruleset.tables:
        if family not in t.families():
            continue
        for c in t.chains:
            for r in c.rules:
                for cond in r.conds:
                    out.append(cond)
                    out.extend(x for alt in cond.alternatives for x in alt)
    return out


def _classes(spans: list[tuple[int, int]], top: int) -> list[tuple[int, int]]:
    """Elementary intervals of [0, top] cut at every span boundary."""
    points = {0, top + 1}
    for lo, hi in spans:
        points.add(max(0, min(lo, top + 1)))
        points.add(max(0, min(hi + 1, top + 1)))
    cuts = sorted(points)
    return [(a, b - 1) for a, b in itertools.pairwise(cuts) if a <= b - 1]


def plan(
    ruleset: Ruleset,
    family: int,
    interfaces: tuple[str, ...],
    probe_address: int | None = None,
    extra_nets: list[tuple[int, int]] | None = None,
    extra_ports: list[tuple[int, int]] | None = None,
) -> ProbePlan:
    """Choose probes: every address class named in the rules (and the policy), one
    arbitrary address outside all of them, on every elementary port class."""
    top = MAX_V4 if family == 4 else MAX_V6
    conds = _walk_conds(ruleset, family)
    addr_spans: list[tuple[int, int]] = []
    port_spans: list[tuple[int, int]] = [(p, p) for p in FIXED_PORTS]
    named_ports: list[tuple[int, int]] = []
    for c in conds:
        if not isinstance(c.values, Intervals):
            continue
        if c.key == "daddr" and (c.version in (None, family)):
            addr_spans.extend(s for s in c.values.spans if s[1] <= top)
        if c.key == "dport":
            if c.op == "in":
                port_spans.extend(c.values.spans)
                named_ports.extend(c.values.spans)
            elif c.values.spans:
                b = c.values.spans[0][0]
                port_spans.extend([(b, b), (min(b + 1, 65535), 65535), (0, max(b - 1, 0))])
    rule_spans = [s for s in addr_spans if s != (0, top)]
    addr_spans = rule_spans + list(extra_nets or [])
    port_spans += list(extra_ports or [])
    named_iv = Intervals.of(addr_spans)
    notes: list[str] = []

    arbitrary = _arbitrary(family, named_iv, probe_address, top)
    if arbitrary in named_iv:
        notes.append("every candidate address is inside a named prefix; probing with the policy address")
    named = [
        (lo, hi)
        for lo, hi in _classes(addr_spans, top)
        if lo in named_iv and not (lo in LOOPBACK[family] and hi in LOOPBACK[family])
    ]
    port_classes = []
    for lo, hi in _classes(port_spans, 65535):
        rep = next((p for p in FIXED_PORTS if lo <= p <= hi), lo)
        port_classes.append((rep, lo, hi))
    if len(port_classes) > MAX_PORT_CLASSES:
        keep = [c for c in port_classes if c[0] in FIXED_PORTS]
        named_iv_ports = Intervals.of(named_ports)
        # ports no rule names are the dangerous ones: keep them before named ones
        rest = sorted((c for c in port_classes if c[0] not in FIXED_PORTS), key=lambda c: c[0] in named_iv_ports)
        notes.append(f"{len(port_classes)} port classes: only {MAX_PORT_CLASSES} probed")
        port_classes = keep + rest[: MAX_PORT_CLASSES - len(keep)]
    limit = min(MAX_ADDR_CLASSES, max(16, PROBE_BUDGET // max(1, len(port_classes))))
    if len(named) > limit:
        notes.append(f"{len(named)} named address classes: only the first {limit} probed")
        named = named[:limit]
    return ProbePlan(
        family,
        arbitrary,
        tuple(named),
        tuple(port_classes),
        Intervals.of(named_ports),
        interfaces or ("eth0",),
        tuple(notes),
    )


def _arbitrary(family: int, named: Intervals, probe_address: int | None, top: int) -> int:
    cands = [probe_address] if probe_address is not None else []
    cands += [ip_to_int(a) for a in _CANDIDATES[family]]
    for a in cands:
        if a not in named:
            return a
    for lo, hi in _classes(list(named.spans), top):
        if lo in named:
            continue
        for a, b in PUBLIC[family].spans:  # the first public unicast address of the class
            if a <= hi and b >= lo:
                return max(a, lo)
    return cands[0]  # inside a named prefix: probing it shows that prefix's verdict


__all__ = [
    "CONNTRACK_PRIO",
    "NAT_BOUND",
    "PROTOCOLS",
    "PUBLIC",
    "ChainOutcome",
    "ProbePlan",
    "ProbeResult",
    "before_conntrack",
    "eval_chain",
    "nat_skip",
    "plan",
    "public_count",
    "run_probe",
]
