"""The technique corpus, replayed from real collector output (tests/golden/hunt/corpus_shells.*).

Captured by ``HARDEN_HUNT_CAPTURE=DIR pytest tests/lab/test_hunt_lab.py -k corpus`` while every
case of ``tests/support/revshell_corpus.py`` ran in a lab container (README in the golden folder).
The same judgement as the lab test, on the same bytes, with no host: each technique by name is
high (at most one miss per 22), no look-alike is high, and the new collector sections parse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from hardening.facts.sections import parse_sections
from hardening.hunt.linux import parse_snapshot
from hardening.hunt.score import HuntContext, kind, score

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
import revshell_corpus as rc

GOLDEN = Path(__file__).parents[1] / "golden" / "hunt"


@pytest.fixture(scope="module", params=["corpus_shells", "corpus_host"])
def corpus(request):
    """Inside the container over SSH, and from the host's root namespace (its other namespaces' tables,
    the container's fifos and ptys keyed by its namespace)."""
    raw = (GOLDEN / f"{request.param}.out").read_bytes()
    nonce, _, body = raw.partition(b"\n")
    snap = parse_snapshot(parse_sections(body.decode("utf-8", "replace"), nonce.decode()))
    names = json.loads((GOLDEN / f"{request.param}.scenarios.json").read_text())
    cases = {c.name: c for c in (*rc.cases(), rc.INTERACTIVE)}
    return snap, [(cases[n], set(p)) for n, p in names.items()]


def _results(snap, groups, ctx=None):
    return rc.outcomes({d.pid: d.severity.value for d in score(snap, ctx or HuntContext())}, groups)


def test_every_technique_high_and_no_look_alike_high(corpus):
    snap, groups = corpus
    results = _results(snap, groups)
    table = rc.table(results)
    assert all(o.pids for o in results), table
    bad = [o for o in results if o.malicious]
    assert len(bad) >= 22
    assert len([o for o in bad if o.tier != "high"]) <= len(bad) // 22, table
    assert not [o.case for o in results if not o.malicious and o.tier == "high"], table


def test_roles_and_approved_networks_never_make_a_look_alike_high(corpus):
    import ipaddress

    snap, groups = corpus
    plain = {o.case: o.tier for o in _results(snap, groups)}
    for ctx in (
        HuntContext(roles=("ci",)),
        HuntContext(roles=("workstation",)),
        HuntContext(approved=(ipaddress.ip_network("10.0.0.0/8"),)),  # the lab is outside: never raises
        HuntContext(approved=(ipaddress.ip_network("198.18.0.0/24"),)),  # the lab is inside: lowers
    ):
        for o in _results(snap, groups, ctx):
            assert rc.RANK[o.tier] <= rc.RANK[plain[o.case]], (ctx, o)
            if not o.malicious:
                assert o.tier != "high", (ctx, o)


def test_new_sections_parse_from_real_output(corpus):
    snap, groups = corpus
    by_name = {c.name: pids for c, pids in groups}
    procs = snap.processes
    # pipes, fifos and ptys with their pty index (tty-index in fdinfo)
    chans = {ch for p in procs.values() for _, ch in p.channels}
    assert any(c.startswith("pipe:") for c in chans) and any(c.startswith("fifo:/tmp/hf.") for c in chans)
    assert any(c.startswith("ptmx:") and c != "ptmx:?" for c in chans)
    # UDP sockets and the port range
    assert any(s.proto == "udp" and s.connected for s in snap.sockets.values())
    assert snap.ephemeral is not None
    # executable identity by content: the renamed ncat and socat
    kw = [procs[p] for p in by_name["renamed ncat named like a kernel thread, relaying a fifo shell"] if p in procs]
    assert any(p.identity == "ncat" and p.argv[:1] == ("[kworker/0:2]",) for p in kw)
    dbus = [procs[p] for p in by_name["renamed socat (as dbus-daemon) with EXEC"] if p in procs]
    assert any(p.identity == "socat" for p in dbus)


def test_bind_shell_is_reported_as_such(corpus):
    snap, groups = corpus
    pids = dict((c.name, p) for c, p in groups)["bind shell (nc -l -e)"]
    found = [d for d in score(snap) if d.pid in pids]
    assert any(d.extra.get("technique") == "bind-shell" and d.severity.value == "high" for d in found)


def _golden(name: str):
    raw = (GOLDEN / name).read_bytes()
    nonce, _, body = raw.partition(b"\n")
    sections = parse_sections(body.decode("utf-8", "replace"), nonce.decode())
    return sections, parse_snapshot(sections)


def test_busybox_slow_paths_parse():
    """The collector's BusyBox paths (no ``find -printf``): same sections, same channels, and a
    renamed ncat (/tmp/kw) known by its package's md5sums, or without dpkg by the host's ncat."""
    sections, snap = _golden("busybox_tools.out")
    chans = {p.comm: dict(p.channels) for p in snap.processes.values()}
    assert chans["sleep"][0] == "fifo:/tmp/f" and chans["python3"][4] == "ptmx:0" and chans["python3"][5] == "pts:0"
    assert chans["sh"][3] == "fifo:/tmp/f"  # the writer end, a fifo seen by [ -p ]
    assert sections.rc("hunt.udp") == 0 and "pkg\t" in sections.text("hunt.exeid")
    kw = next(p for p in snap.processes.values() if p.exe == "/tmp/kw")
    assert kw.identity == "ncat" and kind(kw) == "netcat"
    sections, snap = _golden("busybox_nodpkg.out")
    assert "pkg\t" not in sections.text("hunt.exeid") and "known\t" in sections.text("hunt.exeid")
    assert next(p for p in snap.processes.values() if p.exe == "/tmp/kw").identity == "ncat"
