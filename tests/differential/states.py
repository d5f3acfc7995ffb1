"""The firewall states of the differential suite: each is loaded into a fresh namespace.

A state gives the running ruleset (nft text, iptables-restore text per backend) and the files
that load it at boot (written into the audit's private /etc overlay). ``caution`` names the
documented reason a false fail is acceptable (docs/checks.md, "Allowed false fails").
Allowed destinations: 198.19.1.0/24 and 2001:db8:1::/48 (also the policy allowlist);
198.19.2.0/24 and 2001:db8:2::/48 are outside the policy; 198.19.77.77 and 2001:db8:77::77 are
the arbitrary destinations. Ports 4444 and 40000 are named by no rule; 443 and 53 are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

A4, A6 = "198.19.1.0/24", "2001:db8:1::/48"
O4, O6 = "198.19.2.0/24", "2001:db8:2::/48"
NFT_WANTS = {"systemd/system/multi-user.target.wants/nftables.service": "->/lib/systemd/system/nftables.service"}
NFP_WANTS = {"systemd/system/multi-user.target.wants/netfilter-persistent.service": ""}

MARK_CAUTION = "meta mark / -m mark: only root (CAP_NET_ADMIN) can set a mark"
LIMIT_CAUTION = "rate limit: which packets the kernel admits depends on timing; harden counts it as admitting"


@dataclass(frozen=True)
class State:
    name: str
    nft: str = ""  # running: nft -f; persisted: /etc/nftables.conf
    v4: str = ""  # iptables-restore text, IPv4
    v6: str = ""
    backend: str = "nft"  # iptables backend: "nft" or "legacy"
    etc: dict[str, str] = field(default_factory=dict)  # extra files under /etc (ufw, firewalld)
    persist: bool = True  # write nftables.conf / rules.v4|v6 and enable them at boot
    caution: str = ""

    def etc_files(self) -> dict[str, str]:
        out = dict(self.etc)
        if self.persist and self.nft:
            out["nftables.conf"] = "flush ruleset\n" + self.nft
            out.update(NFT_WANTS)
        if self.persist and (self.v4 or self.v6):
            if self.v4:
                out["iptables/rules.v4"] = self.v4
            if self.v6:
                out["iptables/rules.v6"] = self.v6
            out.update(NFP_WANTS)
        return out


def chain(body: str, policy: str = "drop", hook: str = "output", prio: str = "0", typ: str = "filter",
          name: str = "out", extra: str = "") -> str:  # fmt: skip
    return (
        f"  chain {name} {{\n    type {typ} hook {hook} priority {prio}; policy {policy};\n{_lines(body)}  }}\n{extra}"
    )


def _lines(body: str) -> str:
    return "".join(f"    {x.strip()}\n" for x in body.strip().splitlines() if x.strip())


def table(family: str, name: str, *chains: str, flags: str = "") -> str:
    fl = f"  flags {flags}\n" if flags else ""
    return f"table {family} {name} {{\n{fl}{''.join(chains)}}}\n"


BASE = 'oifname "lo" accept\nct state established,related accept\n'
ALLOW4 = f"ip daddr {A4} tcp dport 443 accept\nip daddr {A4} udp dport 53 accept\n"
ALLOW = ALLOW4 + f"ip6 daddr {A6} tcp dport 443 accept\n"


def inet(body: str, policy: str = "drop", **kw: str) -> str:
    return table("inet", "f", chain(body, policy, **kw))


def ipt(rules: str, policy: str = "DROP", chains: str = "", tables: str = "", v6: bool = False) -> str:
    decl = "".join(f":{c} - [0:0]\n" for c in chains.split())
    body = _lines(rules).replace("    ", "")
    if v6:
        body = body.replace(A4, A6).replace(O4, O6)
    return f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT {policy} [0:0]\n{decl}{body}COMMIT\n{tables}"


IPT_BASE = "-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
IPT_ALLOW = f"-A OUTPUT -d {A4} -p tcp --dport 443 -j ACCEPT\n-A OUTPUT -d {A4} -p udp --dport 53 -j ACCEPT\n"


def pair(name: str, rules: str, backend: str, caution: str = "", **kw: str) -> State:
    """The same iptables rules for IPv4 and IPv6."""
    return State(name, v4=ipt(rules, **kw), v6=ipt(rules, v6=True, **kw), backend=backend, caution=caution)


# ---------------------------------------------------------------- ufw and firewalld


def ufw_state(name: str, policy: str, user: str) -> State:
    """ufw's frame (as ufw 0.36 loads it) plus before/user/after files; the files load at boot."""
    frame = ("before-logging-output", "before-output", "after-output", "after-logging-output", "reject-output",
             "track-output")  # fmt: skip
    files: dict[str, str] = {
        "ufw/ufw.conf": "ENABLED=yes\n",
        "default/ufw": f'IPV6=yes\nDEFAULT_OUTPUT_POLICY="{policy}"\n',
        "systemd/system/multi-user.target.wants/ufw.service": "",
    }
    running = {}
    for v, pre, a in ((4, "ufw-", A4), (6, "ufw6-", A6)):
        sfx = "6" if v == 6 else ""
        before = f"*filter\n:{pre}before-output - [0:0]\n-A {pre}before-output -o lo -j ACCEPT\n"
        before += f"-A {pre}before-output -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n"
        usr = f"*filter\n:{pre}user-output - [0:0]\n" + user.replace("CH", f"{pre}user-output").replace("NET", a)
        usr += "COMMIT\n"
        after = f"*filter\n:{pre}after-output - [0:0]\nCOMMIT\n"
        files[f"ufw/before{sfx}.rules"] = before
        files[f"ufw/user{sfx}.rules"] = usr
        files[f"ufw/after{sfx}.rules"] = after
        pol = "DROP" if policy in ("DROP", "REJECT") else "ACCEPT"
        text = f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT {pol} [0:0]\n"
        text += "".join(f":{pre}{c} - [0:0]\n" for c in (*frame, "user-output"))
        text += "".join(f"-A OUTPUT -j {pre}{c}\n" for c in frame)
        text += f"-A {pre}before-output -o lo -j ACCEPT\n"
        text += f"-A {pre}before-output -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        text += f"-A {pre}before-output -j {pre}user-output\n"
        text += user.replace("CH", f"{pre}user-output").replace("NET", a)
        if policy == "REJECT":
            text += f"-A {pre}reject-output -j REJECT\n"
        if policy == "ACCEPT":
            text += f"-A {pre}track-output -p tcp -m conntrack --ctstate NEW -j ACCEPT\n"
            text += f"-A {pre}track-output -p udp -m conntrack --ctstate NEW -j ACCEPT\n"
        running[v] = text + "COMMIT\n"
    return State(name, v4=running[4], v6=running[6], backend="nft", etc=files, persist=False)


def firewalld_state(name: str, target: str | None, rich: str) -> State:
    """firewalld's inet table (output part, as firewalld 1.x builds it) and its policy XML."""
    files = {"systemd/system/multi-user.target.wants/firewalld.service": ""}
    pol_chain = ""
    jump = ""
    if target is not None:
        xml = f'<?xml version="1.0" encoding="utf-8"?>\n<policy target="{target}" priority="-1">\n'
        xml += '  <ingress-zone name="HOST"/>\n  <egress-zone name="ANY"/>\n'
        for fam, net in (("ipv4", A4), ("ipv6", A6)):
            if rich:
                xml += f'  <rule family="{fam}"><destination address="{net}"/>{rich}<accept/></rule>\n'
        xml += "</policy>\n"
        files["firewalld/policies/egress.xml"] = xml
        port = " tcp dport 443" if "443" in rich else ""
        verdict = {"DROP": "drop", "REJECT": "reject", "ACCEPT": "accept"}.get(target, "")
        body = f"ip daddr {A4}{port} accept\nip6 daddr {A6}{port} accept\n" if rich else ""
        pol_chain = f"  chain filter_OUT_policy_egress {{\n{_lines(body + verdict)}  }}\n"
        jump = "jump filter_OUT_policy_egress\n"
    out = chain(f'ct state established,related accept\noifname "lo" accept\n{jump}', "accept", prio="10",
                name="filter_OUTPUT")  # fmt: skip
    inp = chain('ct state established,related accept\niifname "lo" accept\nreject', "accept", hook="input",
                prio="10", name="filter_INPUT")  # fmt: skip
    text = f"table inet firewalld {{\n{inp}{out}{pol_chain}}}\n"
    return State(name, nft=text, etc=files, persist=False)


XT_NAT_DROP = (
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING DROP [0:0]\nCOMMIT\n"
)
XT_TRACK = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n"

XT_NAT_MASQ = (
    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
    "-A POSTROUTING -o hdc0 -j MASQUERADE\nCOMMIT\n"
)


def raw_xt(rules: str, policy: str = "ACCEPT") -> str:
    return f"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT {policy} [0:0]\n{_lines(rules).replace('    ', '')}COMMIT\n"


NAT_POST_DROP = table("inet", "n", chain("", hook="postrouting", prio="110", typ="nat"))
# Port 4444 (named by no other rule) to the arbitrary address: the binding is set up for any destination.
DNAT_ARBITRARY = (
    "meta nfproto ipv4 th dport 4444 dnat ip to 198.19.77.77\n"
    "meta nfproto ipv6 th dport 4444 dnat ip6 to 2001:db8:77::77"
)

# ---------------------------------------------------------------- the states

STATES: tuple[State, ...] = (
    # nft, inet family
    State("nft-inet-deny", inet(BASE + ALLOW)),
    State("nft-empty-table", table("inet", "f")),
    State("nft-policy-accept", inet(BASE + ALLOW, "accept")),
    State("nft-ct-new-accept", inet(BASE + "ct state new accept")),
    State("nft-oifname-not-lo", inet(BASE + 'oifname != "lo" accept')),
    State("nft-tcp443-any", inet(BASE + "tcp dport 443 accept")),
    State("nft-udp53-any", inet(BASE + ALLOW + "udp dport 53 accept")),
    State("nft-l4proto-udp", inet(BASE + ALLOW + "meta l4proto udp accept")),
    State("nft-l4proto-tcp", inet(BASE + "meta l4proto tcp accept")),
    State("nft-drop-only-syn", inet("tcp flags & (syn|ack) == syn drop", "accept")),
    State("nft-final-reject", inet(BASE + ALLOW + "reject", "accept")),
    State("nft-final-counter-drop", inet(BASE + ALLOW + "counter drop", "accept")),
    State(
        "nft-jump-user",
        table("inet", "f", chain(BASE + "jump allow_out"), f"  chain allow_out {{\n{_lines(ALLOW)}  }}\n"),
    ),
    State(
        "nft-goto-user",
        table("inet", "f", chain(BASE + "goto allow_out"), f"  chain allow_out {{\n{_lines(ALLOW)}  }}\n"),
    ),
    State(
        "nft-return-narrow",
        table(
            "inet",
            "f",
            chain(BASE + "jump chk"),
            f"  chain chk {{\n{_lines(f'ip daddr != {A4} return' + chr(10) + 'accept')}  }}\n",
        ),
    ),
    State(
        "nft-return-open",
        table(
            "inet",
            "f",
            chain(BASE + "jump chk"),
            f"  chain chk {{\n{_lines(f'ip daddr {O4} return' + chr(10) + 'accept')}  }}\n",
        ),
    ),
    State(
        "nft-named-set",
        table(
            "inet",
            "f",
            f"  set ok4 {{\n    type ipv4_addr; flags interval; elements = {{ {A4} }}\n  }}\n",
            chain(BASE + "ip daddr @ok4 accept"),
        ),
    ),
    State(
        "nft-set-broad",
        table(
            "inet",
            "f",
            "  set ok4 {\n    type ipv4_addr; flags interval; elements = { 0.0.0.0/1, 128.0.0.0/1 }\n  }\n",
            chain(BASE + "ip daddr @ok4 accept"),
        ),
    ),
    State("nft-vmap", inet(BASE + f"ip daddr vmap {{ {A4} : accept, {O4} : drop }}")),
    State(
        "nft-named-vmap",
        table(
            "inet",
            "f",
            f"  map vm {{\n    type ipv4_addr : verdict; flags interval; elements = {{ {A4} : accept }}\n  }}\n",
            chain(BASE + "ip daddr vmap @vm"),
        ),
    ),
    State("nft-concat", inet(BASE + "ip daddr . tcp dport { 198.19.1.1 . 443 } accept")),
    State("nft-neg-daddr", inet(BASE + f"ip daddr != {O4} accept")),
    State("nft-neg-dport", inet(BASE + "tcp dport != 22 accept")),
    State("nft-skuid-root", inet(BASE + "meta skuid 0 accept")),
    State("nft-skuid-nobody", inet(BASE + "meta skuid 65534 accept")),
    State("nft-skuid-www", inet(BASE + "meta skuid 33 accept")),
    State("nft-skgid-nogroup", inet(BASE + "meta skgid 65534 accept")),
    State("nft-mark", inet(BASE + "meta mark 0x1 accept"), caution=MARK_CAUTION),
    State("nft-oifname-veth", inet(BASE + 'oifname "hdc0" accept')),
    State("nft-oifname-other", inet(BASE + 'oifname "eth9" accept')),
    State(
        "nft-two-chains-drop-final",
        table("inet", "f", chain("accept", "accept", name="a"), chain(BASE + ALLOW, prio="10", name="b")),
    ),
    State("nft-two-tables", table("ip", "a", chain("accept", "accept")) + inet(BASE + ALLOW)),
    State(
        "nft-two-chains-open",
        table("inet", "f", chain("", "accept", name="a"), chain("", "accept", prio="10", name="b")),
    ),
    State(
        "nft-early-accept-late-drop",
        table(
            "inet",
            "f",
            chain("ct state new accept", "accept", prio="-100", name="a"),
            chain(BASE + ALLOW, prio="100", name="b"),
        ),
    ),
    State(
        "nft-nat-output-drop",
        table("ip", "n", chain("", hook="output", prio="-100", typ="nat"))
        + table("ip6", "n", chain("", hook="output", prio="-100", typ="nat")),
    ),
    State("nft-nat-postrouting-drop", table("inet", "n", chain("", hook="postrouting", prio="100", typ="nat"))),
    State(
        "nft-nat-drop-with-ct",
        table("inet", "n", chain("", hook="postrouting", prio="100", typ="nat"))
        + inet("ct state invalid drop", "accept"),
    ),
    State(
        "nft-nat-drop-notrack",
        table("inet", "n", chain("", hook="postrouting", prio="100", typ="nat"))
        + table("inet", "r", chain("notrack", "accept", prio="-300", name="raw"))
        + inet("ct state invalid drop", "accept"),
    ),
    State(
        "nft-nat-drop-notrack-udp",
        table("inet", "n", chain("", hook="postrouting", prio="100", typ="nat"))
        + table("inet", "r", chain("meta l4proto udp notrack", "accept", prio="-300", name="raw"))
        + inet("ct state invalid drop", "accept"),
    ),
    State(
        "nft-notrack-untracked-accept",
        table("inet", "r", chain("meta l4proto udp notrack", "accept", prio="-300", name="raw"))
        + inet(BASE + "ct state untracked accept"),
    ),
    State(
        "nft-masquerade-drop",
        table("ip", "n", chain('oifname "eth9" masquerade', hook="postrouting", prio="100", typ="nat"))
        + inet(BASE + ALLOW, "accept"),
    ),
    State("nft-dormant-drop", table("inet", "f", chain(BASE), flags="dormant")),
    State(
        "nft-dormant-plus-active", table("inet", "d", chain("accept", "accept"), flags="dormant") + inet(BASE + ALLOW)
    ),
    State("nft-ip-only", table("ip", "f", chain(BASE + ALLOW4))),
    State("nft-ip6-only", table("ip6", "f", chain(BASE))),
    State("nft-ip-and-ip6", table("ip", "f", chain(BASE + ALLOW4)) + table("ip6", "f", chain(BASE))),
    State(
        "nft-route-chain-drop",
        table("ip", "r", chain(BASE, typ="route", prio="-150"))
        + table("ip6", "r", chain(BASE, typ="route", prio="-150")),
    ),
    State("nft-mangle-prio-drop", inet(BASE + ALLOW, prio="-150")),
    State("nft-raw-prio-drop", inet('oifname "lo" accept\n' + ALLOW, prio="-300")),
    State("nft-input-only", table("inet", "f", chain(BASE, hook="input"))),
    State(
        "nft-broad-halves",
        inet(
            BASE + "ip daddr 0.0.0.0/1 accept\nip daddr 128.0.0.0/1 accept\n"
            "ip6 daddr ::/1 accept\nip6 daddr 8000::/1 accept"
        ),
    ),
    State("nft-udp-high-range", inet(BASE + ALLOW + "udp dport 1024-65535 accept")),
    State("nft-th-dport-53", inet(BASE + ALLOW + "th dport 53 accept")),
    State("nft-sport-privileged", inet(BASE + ALLOW + "tcp sport 22 accept")),
    State("nft-sport-unprivileged", inet(BASE + "tcp sport 1024-65535 accept")),
    State("nft-related-only", inet('oifname "lo" accept\nct state related accept')),
    State("nft-limit-accept", inet(BASE + "limit rate 100/second accept"), caution=LIMIT_CAUTION),
    State("nft-outside-policy", inet(BASE + ALLOW + f"ip daddr {O4} accept")),
    State("nft-v6-allowed-udp", inet(BASE + ALLOW + f"ip6 daddr {A6} udp dport 53 accept")),
    State("nft-neg-l4proto", inet(BASE + "meta l4proto != tcp accept")),
    # iptables, legacy backend
    pair("ipt-legacy-deny", IPT_BASE + IPT_ALLOW, "legacy"),
    pair("ipt-legacy-open", IPT_BASE, "legacy", policy="ACCEPT"),
    pair(
        "ipt-legacy-capital-chain",
        IPT_BASE + "-A OUTPUT -j ALLOW\n" + IPT_ALLOW.replace("OUTPUT", "ALLOW"),
        "legacy",
        chains="ALLOW",
    ),
    pair(
        "ipt-legacy-capital-goto",
        IPT_BASE + "-A OUTPUT -g EGRESS\n" + IPT_ALLOW.replace("OUTPUT", "EGRESS"),
        "legacy",
        chains="EGRESS",
    ),
    pair("ipt-legacy-udp53-any", IPT_BASE + IPT_ALLOW + "-A OUTPUT -p udp --dport 53 -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-udp-any", IPT_BASE + IPT_ALLOW + "-A OUTPUT -p udp -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-owner-root", IPT_BASE + "-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-owner-nobody", IPT_BASE + "-A OUTPUT -m owner --uid-owner 65534 -j ACCEPT\n", "legacy"),
    State("ipt-legacy-ipv4-only", v4=ipt(IPT_BASE + IPT_ALLOW), backend="legacy"),
    pair("ipt-legacy-final-reject", IPT_BASE + IPT_ALLOW + "-A OUTPUT -j REJECT\n", "legacy", policy="ACCEPT"),
    pair(
        "ipt-legacy-return",
        IPT_BASE + "-A OUTPUT -j chk\n-A chk ! -d 198.19.1.0/24 -j RETURN\n-A chk -j ACCEPT\n",
        "legacy",
        chains="chk",
    ),
    pair("ipt-legacy-neg-dest", IPT_BASE + "-A OUTPUT ! -d 198.19.2.0/24 -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-multiport", IPT_BASE + "-A OUTPUT -p tcp -m multiport --dports 443,8443 -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-tcp-new", IPT_BASE + "-A OUTPUT -p tcp -m conntrack --ctstate NEW -j ACCEPT\n", "legacy"),
    pair("ipt-legacy-mark", IPT_BASE + "-A OUTPUT -m mark --mark 0x1 -j ACCEPT\n", "legacy", caution=MARK_CAUTION),
    State(
        "ipt-legacy-mangle-drop",
        v4="*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        ":OUTPUT DROP [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A OUTPUT -o lo -j ACCEPT\n"
        f"-A OUTPUT -d {A4} -j ACCEPT\nCOMMIT\n",
        v6="*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        ":OUTPUT DROP [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A OUTPUT -o lo -j ACCEPT\nCOMMIT\n",
        backend="legacy",
    ),
    pair(
        "ipt-legacy-raw-notrack",
        IPT_BASE + "-A OUTPUT -m conntrack --ctstate UNTRACKED -j ACCEPT\n",
        "legacy",
        tables="*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p udp -j CT --notrack\nCOMMIT\n",
    ),
    State("ipt-legacy-nat-drop", v4=XT_NAT_DROP, v6=XT_NAT_DROP, backend="legacy"),
    State(
        "ipt-legacy-nat-drop-tracked",
        v4=XT_NAT_DROP + XT_TRACK,
        v6=XT_NAT_DROP + XT_TRACK,
        backend="legacy",
    ),
    State("ipt-nft-nat-drop", v4=XT_NAT_DROP, v6=XT_NAT_DROP, backend="nft"),
    State(
        "nft-notrack-then-ct-new-drop",
        table("inet", "r", chain("notrack", "accept", prio="-300", name="raw")) + inet("ct state new drop", "accept"),
    ),
    # ct state before conntrack (priority < -200): invalid, not new
    State("nft-raw-ct-new-drop", inet('oifname "lo" accept\nct state new drop', "accept", prio="-300")),
    State("nft-raw-ct-invalid-drop", inet('oifname "lo" accept\nct state invalid drop', "accept", prio="-300")),
    State("nft-prio-201-ct-new-drop", inet('oifname "lo" accept\nct state new drop', "accept", prio="-201")),
    State(
        "ipt-raw-ct-new-drop",
        v4=raw_xt("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m conntrack --ctstate NEW -j DROP"),
        v6=raw_xt("-A OUTPUT -o lo -j ACCEPT\n-A OUTPUT -m conntrack --ctstate NEW -j DROP"),
        backend="legacy",
    ),
    State(
        "ipt-raw-drop-not-new-accept",
        v4=raw_xt("-A OUTPUT -m state ! --state NEW -j ACCEPT", "DROP"),
        v6=raw_xt("-A OUTPUT -m state ! --state NEW -j ACCEPT", "DROP"),
        backend="nft",
    ),
    State(
        "nft-raw-notrack-then-untracked",
        table("inet", "r", chain("notrack", "accept", prio="-300", name="raw"))
        + inet('oifname "lo" accept\nct state untracked accept', prio="-250"),
    ),
    # one hook's nat chains stop at the first that sets up the binding
    State(
        "nft-nat-masq-then-nat-drop",
        table("inet", "a", chain("masquerade", "accept", hook="postrouting", prio="100", typ="nat")) + NAT_POST_DROP,
    ),
    State(
        "nft-nat-masq-other-if-then-drop",
        table("inet", "a", chain('oifname "eth9" masquerade', "accept", hook="postrouting", prio="100", typ="nat"))
        + NAT_POST_DROP,
    ),
    State(
        "nft-nat-accept-then-nat-drop",
        table("inet", "a", chain("accept", "accept", hook="postrouting", prio="100", typ="nat"))
        + NAT_POST_DROP
        + inet("ct state invalid drop", "accept"),
    ),
    State("ipt-masq-then-nft-nat-drop", nft=NAT_POST_DROP, v4=XT_NAT_MASQ, v6=XT_NAT_MASQ, backend="nft"),
    State(
        "nft-dnat-then-nat-drop",
        table("inet", "c", chain(DNAT_ARBITRARY, "accept", hook="output", prio="-100", typ="nat", name="o1"))
        + table("inet", "d", chain("", hook="output", prio="-90", typ="nat", name="o2")),
    ),
    # tproxy turns no conntrack on; notrack exempts only on the raw output path
    State(
        "nft-tproxy-nat-drop",
        table("ip", "t", chain("meta l4proto tcp tproxy to :8080", "accept", hook="prerouting", prio="-150"))
        + NAT_POST_DROP,
    ),
    State(
        "nft-notrack-prerouting-nat-drop",
        NAT_POST_DROP
        + table("inet", "r", chain("notrack", "accept", hook="prerouting", prio="-300", name="raw"))
        + inet("ct state invalid drop", "accept"),
    ),
    State(
        "nft-notrack-after-ct-nat-drop",
        NAT_POST_DROP
        + table("inet", "r", chain("notrack", "accept", prio="0", name="late"))
        + inet("ct state invalid drop", "accept"),
    ),
    # iptables, nft backend
    pair("ipt-nft-deny", IPT_BASE + IPT_ALLOW, "nft"),
    pair("ipt-nft-open", IPT_BASE, "nft", policy="ACCEPT"),
    pair(
        "ipt-nft-capital-chain",
        IPT_BASE + "-A OUTPUT -j ALLOW\n" + IPT_ALLOW.replace("OUTPUT", "ALLOW"),
        "nft",
        chains="ALLOW",
    ),
    pair("ipt-nft-udp-any", IPT_BASE + IPT_ALLOW + "-A OUTPUT -p udp -j ACCEPT\n", "nft"),
    pair("ipt-nft-udp53-any", IPT_BASE + IPT_ALLOW + "-A OUTPUT -p udp --dport 53 -j ACCEPT\n", "nft"),
    pair("ipt-nft-owner-www", IPT_BASE + "-A OUTPUT -m owner --uid-owner 33 -j ACCEPT\n", "nft"),
    State("ipt-nft-ipv6-only", v6=ipt(IPT_BASE, v6=True), backend="nft"),
    pair("ipt-nft-dport-range", IPT_BASE + "-A OUTPUT -p tcp --dport 1024:65535 -j ACCEPT\n", "nft"),
    # mixes
    State("mix-nft-drop-iptnft-accept", nft=inet(BASE + ALLOW), v4=ipt("", "ACCEPT"), v6=ipt("", "ACCEPT")),
    State(
        "mix-nft-accept-legacy-drop",
        nft=inet("", "accept"),
        v4=ipt(IPT_BASE + IPT_ALLOW),
        v6=ipt(IPT_BASE + IPT_ALLOW, v6=True),
        backend="legacy",
    ),
    State(
        "mix-nft-v4-legacy-v6", nft=table("ip", "f", chain(BASE + ALLOW4)), v6=ipt(IPT_BASE, v6=True), backend="legacy"
    ),
    State("mix-all-open", nft=inet("", "accept"), v4=ipt("", "ACCEPT"), v6=ipt("", "ACCEPT"), backend="legacy"),
    State(
        "mix-nft-udp-legacy-drop-tcp",
        nft=inet(BASE + "meta l4proto udp accept"),
        v4=ipt("-A OUTPUT -p udp -j ACCEPT\n-A OUTPUT -p tcp --syn -j DROP\n", "ACCEPT"),
        v6=ipt("-A OUTPUT -p udp -j ACCEPT\n-A OUTPUT -p tcp --syn -j DROP\n", "ACCEPT", v6=True),
        backend="legacy",
    ),
    # ufw
    ufw_state("ufw-deny-allow-net", "DROP", "-A CH -d NET -p tcp --dport 443 -j ACCEPT\n"),
    ufw_state("ufw-reject", "REJECT", ""),
    ufw_state("ufw-allow-out", "ACCEPT", ""),
    ufw_state("ufw-deny-udp53-any", "DROP", "-A CH -p udp --dport 53 -j ACCEPT\n"),
    # firewalld
    firewalld_state("firewalld-egress-reject", "REJECT", '<port port="443" protocol="tcp"/>'),
    firewalld_state("firewalld-egress-drop-any-port", "DROP", ""),
    firewalld_state("firewalld-zones-only", None, ""),
)
