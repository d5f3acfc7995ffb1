"""What ufw loads at boot, rebuilt from its files as an iptables ruleset.

ufw (0.36, Debian 12) builds the filter table from ``before.rules``, ``user.rules`` and
``after.rules`` (and their ``6`` variants), then adds its own frame, measured on the
rules it really loads (tests/golden/firewall/ufw-*)::

    :OUTPUT <DEFAULT_OUTPUT_POLICY>                      (ufw6-* chains for IPv6)
    -A OUTPUT -j ufw-before-logging-output / ufw-before-output / ufw-after-output /
              ufw-after-logging-output / ufw-reject-output / ufw-track-output
    -A ufw-before-output -j ufw-user-output              (after before.rules' own rules)
    -A ufw-reject-output -j REJECT                        (policy REJECT)
    -A ufw-track-output -p tcp|udp --ctstate NEW -j ACCEPT (policy ACCEPT)

Example::

    >>> cfg = parse_config("ENABLED=yes\\n", 'DEFAULT_OUTPUT_POLICY="DROP"\\nIPV6=yes\\n')
    >>> (cfg.enabled, cfg.output_policy, cfg.ipv6)
    (True, 'DROP', True)
"""

from __future__ import annotations

from dataclasses import dataclass

from hardening.firewall.iptables import parse_rule, parse_save
from hardening.firewall.model import Chain, Ruleset, Table
from hardening.lines import iter_lines

_OUTPUT_FRAME = (
    "before-logging-output",
    "before-output",
    "after-output",
    "after-logging-output",
    "reject-output",
    "track-output",
)


@dataclass(frozen=True)
class UfwConfig:
    enabled: bool
    output_policy: str  # ACCEPT, DROP, REJECT (upper case); "" when unset
    ipv6: bool


def _vars(text: str) -> dict[str, str]:
    out = {}
    for line in iter_lines(text):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip().strip('"').strip("'")
    return out


def parse_config(ufw_conf: str, default_ufw: str) -> UfwConfig:
    """``/etc/ufw/ufw.conf`` and ``/etc/default/ufw``."""
    conf, defaults = _vars(ufw_conf), _vars(default_ufw)
    return UfwConfig(
        enabled=conf.get("ENABLED", "no").lower() == "yes",
        output_policy=defaults.get("DEFAULT_OUTPUT_POLICY", "").upper(),
        ipv6=defaults.get("IPV6", "yes").lower() != "no",
    )


def split_files(text: str) -> dict[str, str]:
    """``==> path <==`` blocks (the collector's _h_files format) by path."""
    out: dict[str, list[str]] = {}
    current = None
    for line in iter_lines(text):
        if line.startswith("==> ") and line.endswith(" <=="):
            current = line[4:-4]
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v) + "\n" for k, v in out.items()}


def persisted_ruleset(cfg: UfwConfig, files: dict[str, str], version: int) -> Ruleset:
    """The filter table ufw would load for ``version`` (4 or 6) from its files."""
    names = ("before", "user", "after")
    suffix = "6" if version == 6 else ""
    parts = [files.get(f"/etc/ufw/{n}{suffix}.rules", "") for n in names]
    missing = [f"/etc/ufw/{n}{suffix}.rules" for n, p in zip(names, parts, strict=True) if not p]
    policy = cfg.output_policy or "ACCEPT"
    pre = "ufw6-" if version == 6 else "ufw-"  # ip6tables chains are ufw6-*
    frame = [f"*filter\n:OUTPUT {'DROP' if policy in ('DROP', 'REJECT') else 'ACCEPT'} [0:0]\n"]
    frame += [f":{pre}{c} - [0:0]\n" for c in _OUTPUT_FRAME]
    frame += [f"-A OUTPUT -j {pre}{c}\n" for c in _OUTPUT_FRAME]
    frame.append("COMMIT\n")
    parsed = parse_save("".join(frame) + "".join(p for p in parts if p), version, "ufw")
    table = _merge(parsed.tables)
    table = _append(table, f"{pre}before-output", [f"-j {pre}user-output"], version)
    if policy == "REJECT":
        table = _append(table, f"{pre}reject-output", ["-j REJECT"], version)
    elif policy == "ACCEPT":
        table = _append(
            table,
            f"{pre}track-output",
            ["-p tcp -m conntrack --ctstate NEW -j ACCEPT", "-p udp -m conntrack --ctstate NEW -j ACCEPT"],
            version,
        )
    notes = tuple(f"{m} missing" for m in missing)
    return Ruleset((table,) if table else (), parsed.notes + notes)


def _merge(tables: tuple[Table, ...]) -> Table | None:
    filt = [t for t in tables if t.name == "filter"]
    if not filt:
        return None
    chains: dict[str, Chain] = {}
    for t in filt:
        for c in t.chains:
            old = chains.get(c.name)
            if old is None:
                chains[c.name] = c
            else:
                rules = tuple(old.rules) + tuple(c.rules)
                chains[c.name] = Chain(old.name, rules, old.hook or c.hook, old.policy or c.policy, old.type, old.prio)
    return Table("ufw", filt[0].family, "filter", tuple(chains.values()))


def _append(table: Table | None, chain: str, lines: list[str], version: int) -> Table | None:
    if table is None:
        return None
    out = []
    found = False
    for c in table.chains:
        if c.name == chain:
            found = True
            new = tuple(
                parse_rule(line.split(), version, f"-A {chain} {line}", len(c.rules) + i)
                for i, line in enumerate(lines, start=1)
            )
            c = Chain(c.name, c.rules + new, c.hook, c.policy, c.type, c.prio)
        out.append(c)
    if not found:
        new = tuple(parse_rule(line.split(), version, f"-A {chain} {line}", i) for i, line in enumerate(lines, start=1))
        out.append(Chain(chain, new))
    return Table(table.backend, table.family, table.name, tuple(out))
