"""ResultsWriter streams: results.json is written from hosts.jsonl (the document ``document(...)``
gives, one host per line), while memory holds only slim results."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from hardening.checks import linux_checks

from hardening.audit import judge
from hardening.facts.linux import gather
from hardening.facts.sections import parse_sections
from hardening.inventory import Connection, Target
from hardening.model import Evidence, HostResult, HostStatus, PackedFacts, Platform
from hardening.policy import Policy
from hardening.results import ResultsWriter, document

G = Path(__file__).parents[1] / "golden" / "lab"


def _closed_writer(out: Path, hosts: Iterable[HostResult]) -> ResultsWriter:
    """A complete run of ``hosts`` streamed and closed in ``out``, as ``harden audit`` leaves it."""
    w = ResultsWriter(out, inventory="inv.ini")
    for h in hosts:
        w.add(h)
    w.complete = True
    w.close()
    return w


def _host(state: str, name: str) -> HostResult:
    text = (G / f"{state}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    target = Target(name=name, connection=Connection.SSH, host="x", policy=Policy())
    checks = judge(gather(parse_sections(text, nonce)), target, linux_checks())
    return HostResult(name, Platform.LINUX, HostStatus.OK, "", "x:22", checks, 1.0)


def _same_but_time(a: str, b: str) -> None:
    strip = re.compile(r'"finished_at": "[^"]*"')
    assert strip.sub("", a) == strip.sub("", b)


def test_results_json_is_streamed_from_the_jsonl(tmp_path):
    hosts = [_host(s, f"{s}-{i}") for i, s in enumerate(["default", "hardened", "half", "ufw", "default"])]
    w = ResultsWriter(tmp_path, inventory="inv.ini", limit="lab")
    for h in hosts:
        w.add(h)
    w.complete = True
    path = w.close()
    text = path.read_text()
    want = document(hosts, "inv.ini", "lab", w.started_at, True)
    got = json.loads(text)
    assert {**got, "finished_at": ""} == {**want, "finished_at": ""}
    # the head indented, then one host per line, verbatim from the stream
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1] == '  "schema": "harden.results/v1",' and lines[-2:] == ["  ]", "}"]
    host_lines = [ln for ln in lines if ln.startswith('    {"name": ')]
    assert len(host_lines) == 5
    assert [ln.strip().rstrip(",") for ln in host_lines] == (tmp_path / "hosts.jsonl").read_text().splitlines()
    # memory keeps verdicts and messages, not the evidence
    assert all(not c.evidence.excerpt and not c.evidence.facts for h in w.hosts for c in h.checks)
    assert [(c.id, c.status, c.message) for c in w.hosts[3].checks] == [
        (c.id, c.status, c.message) for c in hosts[3].checks
    ]


def test_a_host_added_again_replaces_its_result_and_torn_lines_are_skipped(tmp_path):
    first, again = _host("default", "web"), _host("hardened", "web")
    w = ResultsWriter(tmp_path, inventory="inv.ini")
    w.add(first)
    w._stream.write(b'{"name": "db", "trunc')  # a torn line, as a killed run leaves it
    w._stream.write(b"\n")
    w.add(again)
    w.complete = True
    doc = json.loads(w.close().read_text())
    assert [h["name"] for h in doc["hosts"]] == ["web"]
    assert doc["hosts"][0] == json.loads(json.dumps(again.to_json()))
    assert doc["summary"]["hosts"] == 1


def test_empty_run(tmp_path):
    w = ResultsWriter(tmp_path, inventory="inv.ini")
    path = w.close()
    want = json.dumps(document([], "inv.ini", None, w.started_at, False), indent=2, ensure_ascii=False) + "\n"
    _same_but_time(path.read_text(), want)  # no host: exactly the indented document


def test_reports_after_a_run_work_from_the_stream_and_match_the_whole_document(tmp_path):
    """The audit's report stage reads the stream back host by host (evidence packed as text), yet
    writes what the reports of the fully parsed results.json would be, byte for byte."""
    from hardening.report.document import dump_results, load_results, write_results, written_results
    from hardening.report.html import html_chunks, render_html
    from hardening.report_cli import reports_after_run

    hosts = [_host(s, f"{s}-{i}") for i, s in enumerate(["default", "hardened", "half", "ufw"])]
    w = _closed_writer(tmp_path / "run", hosts)
    streamed = written_results(w)
    whole = load_results(w.results_path)
    assert streamed == whole
    assert all(isinstance(c.evidence.facts, PackedFacts) for h in streamed.hosts for c in h.checks if c.evidence.facts)
    assert [c.evidence.facts_dict() for c in streamed.hosts[3].checks] == [
        dict(c.evidence.facts) for c in hosts[3].checks
    ]
    write_results(streamed, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == dump_results(whole) == w.results_path.read_text()
    chunks = list(html_chunks(streamed))
    assert len(chunks) > 100  # written piece by piece, never one string
    assert "".join(chunks) == render_html(whole)
    before = w.results_path.read_bytes()
    doc = reports_after_run(w, ("html", "json"), None, None)
    assert w.results_path.read_bytes() == before  # the writer's results.json is the JSON report
    assert (tmp_path / "run" / "report.html").read_text() == render_html(doc)


def test_packed_facts_behave_as_the_mapping_they_hold():
    facts = {"rules": [{"chain": "output", "n": 2}], "ipv6": None, "ratio": 0.5, "name": "nginx\u00e9"}
    packed = PackedFacts(facts)
    assert packed == facts and facts == packed and packed == PackedFacts(dict(facts))
    assert packed != {**facts, "ipv6": False}
    assert packed.unpack() == facts and list(packed) == list(facts) and len(packed) == 4
    assert packed["rules"][0]["n"] == 2
    ev = Evidence(facts, "x").packed()
    assert ev.facts_dict() == facts and ev.to_json() == {"facts": facts, "excerpt": "x"}
    assert Evidence().packed() == Evidence()


def test_evidence_after_a_run_is_spilled_to_a_file_not_held_in_memory(tmp_path):
    """The reports after an audit hold each check's evidence as a place in a temporary file:
    read back equal (facts, excerpt, surrogates included), the hosts' other fields shared with the writer."""
    from hardening.report.document import written_results
    from hardening.results import SpilledEvidence

    hosts = [_host(s, f"{s}-{i}") for i, s in enumerate(["default", "ufw"])]
    w = _closed_writer(tmp_path / "run", hosts)
    doc = written_results(w)
    spilled = [c.evidence for h in doc.hosts for c in h.checks if c.evidence.facts or c.evidence.excerpt]
    assert spilled and all(isinstance(e, SpilledEvidence) for e in spilled)
    assert not vars(spilled[0]) and type(spilled[0]).__slots__ == ("_host", "_index")  # nothing but the place
    for got, want in zip(doc.hosts, hosts, strict=True):
        assert [c.evidence for c in got.checks] == [c.evidence for c in want.checks]
        assert [c.evidence.facts_dict() for c in got.checks] == [dict(c.evidence.facts) for c in want.checks]
        kept = next(k for k in w.hosts if k.name == got.name)
        assert all(a.message is b.message for a, b in zip(got.checks, kept.checks, strict=True))


def test_slim_copies_share_equal_verdicts_and_only_equal_ones(tmp_path):
    """Hosts with the same verdicts share one slim check result; a different message, remedy
    variable or status is never merged into another host's."""
    from dataclasses import replace

    from hardening.model import Remedy, Status

    a, b = _host("default", "a"), _host("default", "b")
    failing = next(i for i, c in enumerate(b.checks) if c.remedy is not None)
    changed = b.checks[failing]
    other_remedy = Remedy(changed.remedy.role, {**changed.remedy.variables, "harden_extra": [1]}, changed.remedy.notes)
    c = replace(b, name="c", checks=tuple(replace(x, remedy=other_remedy) if x is changed else x for x in b.checks))
    d = replace(b, name="d", checks=tuple(replace(x, message=x.message + "!") if x is changed else x for x in b.checks))
    e = replace(b, name="e", checks=tuple(replace(x, status=Status.ERROR) if x is changed else x for x in b.checks))
    w = _closed_writer(tmp_path, (a, b, c, d, e))
    ka, kb, kc, kd, ke = w.hosts
    assert all(x is y for x, y in zip(ka.checks, kb.checks, strict=True))  # equal verdicts: one object
    for kept, host in ((kc, c), (kd, d), (ke, e)):
        assert kept.checks[failing] is not ka.checks[failing]
        assert kept.checks[failing] == replace(host.checks[failing], evidence=Evidence())
        assert all(x is y for i, (x, y) in enumerate(zip(kept.checks, ka.checks, strict=True)) if i != failing)
    assert kc.checks[failing].remedy.variables["harden_extra"] == [1]
    assert [json.loads(ln)["name"] for ln in (tmp_path / "hosts.jsonl").read_text().splitlines()] == list("abcde")


def test_html_after_a_run_lays_out_shared_facts_as_each_hosts_own(tmp_path):
    """Equal facts texts are laid out once for the HTML report after a run; every host's
    evidence still shows its own facts: the page equals the one rendered from plain dicts."""
    from dataclasses import replace

    from hardening.report.document import written_results
    from hardening.report.html import render_html
    from hardening.report.text import readable_json
    from hardening.report.view import build_view

    hosts = [_host(s, f"{s}-{i}") for i, s in enumerate(["default", "half", "default", "ufw", "half"])]
    w = _closed_writer(tmp_path, hosts)
    streamed = written_results(w)
    plain = replace(streamed, hosts=tuple(HostResult.from_json(h.to_json()) for h in streamed.hosts))
    assert not any(isinstance(c.evidence.facts, PackedFacts) for h in plain.hosts for c in h.checks)
    assert render_html(streamed) == render_html(plain)
    by_host = {h.name: h for h in hosts}
    items = [(f.check_id, it) for _, fs in build_view(streamed).findings for f in fs for it in f.items]
    assert len(items) > 10
    for check_id, it in items:
        assert it.facts_json == readable_json(dict(by_host[it.host].check(check_id).evidence.facts))
