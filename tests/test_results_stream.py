"""ResultsWriter streams: results.json is written from hosts.jsonl, byte for byte what
``json.dumps(document(...), indent=2)`` gives, while memory holds only slim results."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hardening.checks import linux_checks

from hardening.audit import judge
from hardening.facts.linux import gather
from hardening.facts.sections import parse_sections
from hardening.inventory import Connection, Target
from hardening.model import HostResult, HostStatus, Platform
from hardening.policy import Policy
from hardening.results import ResultsWriter, document

G = Path(__file__).parent / "golden" / "lab"


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
    want = json.dumps(document(hosts, "inv.ini", "lab", w.started_at, True), indent=2, ensure_ascii=False) + "\n"
    _same_but_time(path.read_text(), want)
    # memory keeps verdicts and messages, not the evidence
    assert all(not c.evidence.excerpt and not c.evidence.facts for h in w.hosts for c in h.checks)
    assert [(c.id, c.status, c.message) for c in w.hosts[3].checks] == [
        (c.id, c.status, c.message) for c in hosts[3].checks
    ]


def test_a_host_added_again_replaces_its_result_and_torn_lines_are_skipped(tmp_path):
    first, again = _host("default", "web"), _host("hardened", "web")
    w = ResultsWriter(tmp_path, inventory="inv.ini")
    w.add(first)
    w._stream.write('{"name": "db", "trunc')  # a torn line, as a killed run leaves it
    w._stream.write("\n")
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
    _same_but_time(path.read_text(), want)
