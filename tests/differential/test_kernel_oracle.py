"""Differential test: harden's egress verdicts against the Linux kernel itself.

Each state of :mod:`states` is loaded into a fresh client namespace (joined to a peer only by
a veth pair); real TCP and UDP probes go out from unprivileged uids to allowed, outside-policy
and arbitrary destinations; then ``harden audit`` runs on that namespace end to end
(``ansible_connection=local`` under ``ip netns exec``, with a private mount namespace whose
/etc holds the same state as what loads at boot). The test fails on any false pass, and on a
false fail the state does not name a documented caution for. It prints the table.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import netlab
import pytest
from states import STATES, State

PORTS_OPEN = (4444, 40000)  # named by no rule: "any port"
PORTS_NAMED = (443, 53)
PORTS = PORTS_OPEN + PORTS_NAMED
UIDS = (65534, 33)  # nobody, www-data: unprivileged footholds
WORKERS = 6
DEADLINE = 300.0  # seconds for the whole suite: states not started by then fail the test
INV_VARS = (
    'harden_probe_addresses=\'["198.19.77.77", "2001:db8:77::77"]\' '
    'harden_egress_allow=\'["198.19.1.0/24", "2001:db8:1::/48"]\''
)


@dataclass(frozen=True)
class Row:
    name: str
    kernel_dd: bool  # default deny holds: no arbitrary destination on an unnamed port
    kernel_al: bool  # allowlist holds: nothing outside the policy admitted
    harden_dd: str
    harden_al: str
    admitted: tuple[str, ...]
    caution: str
    error: str = ""

    @property
    def false_pass(self) -> list[str]:
        out = []
        if self.harden_dd == "pass" and not self.kernel_dd:
            out.append("egress.default_deny")
        if self.harden_al == "pass" and not self.kernel_al:
            out.append("egress.allowlist")
        return out

    @property
    def false_fail(self) -> list[str]:
        out = []
        if self.harden_dd != "pass" and self.kernel_dd:
            out.append("egress.default_deny")
        if self.harden_al != "pass" and self.kernel_al:
            out.append("egress.allowlist")
        return out


def _load(pair: netlab.Pair, st: State) -> None:
    if st.nft:
        netlab.sh(pair.ns("nft", "-f", "-"), input=st.nft)
    for text, tool in ((st.v4, "iptables"), (st.v6, "ip6tables")):
        if text:
            netlab.sh(pair.ns(f"{tool}-{st.backend}-restore"), input=text)


def _kernel(pair: netlab.Pair) -> tuple[bool, bool, tuple[str, ...]]:
    probes = [(f, p, a, port) for f in (4, 6) for p in ("tcp", "udp") for a in netlab.PEER_ADDRS[f] for port in PORTS]
    admitted: set[tuple[int, str, str, int]] = set()
    with ThreadPoolExecutor(max_workers=len(UIDS)) as ex:
        for res in ex.map(lambda uid: pair.probe(probes, uid=uid), UIDS):
            admitted |= {k for k, ok in res.items() if ok}
    arbitrary = {netlab.ARBITRARY_V4, netlab.ARBITRARY_V6}
    outside = arbitrary | {netlab.OUTSIDE_V4, netlab.OUTSIDE_V6}
    dd = not any(a in arbitrary and port in PORTS_OPEN for _f, _p, a, port in admitted)
    al = dd and not any(a in outside for _f, _p, a, _port in admitted)
    shown = tuple(sorted(f"{p}/{a}:{port}" for _f, p, a, port in admitted if a in outside))
    return dd, al, shown


NOT_RUN = "not run: the suite's deadline passed"


def _one(i: int, st: State, prefix: str, work: Path, harden: str, deadline: float) -> Row:
    if time.monotonic() > deadline:
        return Row(st.name, False, False, "error", "error", (), st.caution, NOT_RUN)
    pair = netlab.make_pair(prefix, i, PORTS, work / "peer-logs")
    try:
        _load(pair, st)
        dd, al, shown = _kernel(pair)
        left = max(10.0, min(120.0, deadline - time.monotonic()))
        res = netlab.run_audit(pair, work / st.name, st.etc_files(), INV_VARS, harden, timeout=left)
        checks = {c["id"]: c for h in res["hosts"] for c in h["checks"]}
        hd = checks.get("egress.default_deny", {}).get("status", "missing")
        ha = checks.get("egress.allowlist", {}).get("status", "missing")
        return Row(st.name, dd, al, hd, ha, shown, st.caution)
    except Exception as exc:
        return Row(st.name, False, False, "error", "error", (), st.caution, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        pair.close()


def _table(rows: list[Row]) -> str:
    def yn(b: bool) -> str:
        return "deny" if b else "OPEN"

    lines = [f"{'state':34} {'kernel dd/al':14} {'harden dd/al':14} result"]
    for r in rows:
        res = "ok"
        if r.error:
            res = "SETUP ERROR " + r.error
        elif r.false_pass:
            res = "FALSE PASS " + ",".join(r.false_pass)
        elif r.false_fail:
            res = ("false fail (caution: " + r.caution + ")") if r.caution else "FALSE FAIL " + ",".join(r.false_fail)
        kernel = f"{yn(r.kernel_dd)}/{'ok' if r.kernel_al else 'OUT'}"
        lines.append(f"{r.name:34} {kernel:14} {r.harden_dd + '/' + r.harden_al:14} {res}")
    fp = sum(1 for r in rows if r.false_pass)
    ff = sum(1 for r in rows if r.false_fail and not r.error)
    lines.append(f"{len(rows)} states: {fp} false passes, {ff} false fails "
                 f"({sum(1 for r in rows if r.false_fail and r.caution)} under a documented caution)")  # fmt: skip
    return "\n".join(lines)


@pytest.mark.differential
def test_harden_agrees_with_the_kernel(netns_ok: None, tmp_path: Path) -> None:
    harden = str(Path(sys.executable).parent / "harden")
    assert os.path.exists(harden), "harden is not installed in this environment"
    removed = netlab.remove_stale()  # left by an earlier run that was killed
    if removed:
        print(f"removed {len(removed)} namespaces of an earlier, killed run: {' '.join(removed[:6])}")
    prefix = netlab.prefix_for(os.getpid())
    only = os.environ.get("HARDEN_DIFF_ONLY")
    states = [s for s in STATES if not only or only in s.name]
    start = time.monotonic()
    deadline = start + DEADLINE
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as ex:
            rows = list(ex.map(lambda a: _one(a[0], a[1], prefix, tmp_path, harden, deadline), enumerate(states)))
    finally:
        for name in netlab.leftover(prefix):
            netlab.sh(["ip", "netns", "del", name], check=False)
    took = time.monotonic() - start
    print("\n" + _table(rows) + f"\n({took:.1f} s)")
    assert not netlab.leftover(prefix), "namespaces left behind"
    assert len(states) >= 60 or only
    not_run = [r.name for r in rows if r.error == NOT_RUN]
    assert not not_run, f"{len(not_run)} states not run within {DEADLINE} s: {not_run}"
    errors = [r for r in rows if r.error]
    assert not errors, "states that could not be set up: " + "; ".join(f"{r.name}: {r.error}" for r in errors)
    false_pass = [r.name for r in rows if r.false_pass]
    assert not false_pass, f"false passes: {false_pass}"
    bad_fail = [r.name for r in rows if r.false_fail and not r.caution]
    assert not bad_fail, f"false fails without a documented caution: {bad_fail}"
