"""Streamed results and ``--resume``: what an interrupted run keeps, and what a resumed run audits."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from hardening.model import HostResult, HostStatus, Platform
from hardening.results import ResultsWriter, read_streamed

HARDEN = str(Path(sys.executable).parent / "harden")


def harden(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=120)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def host(name: str, status: HostStatus = HostStatus.OK) -> HostResult:
    return HostResult(name, Platform.LINUX, status, message=f"{name} {status.value}")


def test_torn_last_line_is_skipped_and_the_next_record_stands_alone(tmp_path):
    with ResultsWriter(tmp_path, inventory="i") as w:
        w.add(host("a"))
        w.add(host("b"))
    stream = tmp_path / "hosts.jsonl"
    stream.write_text(stream.read_text() + '{"name": "c", "platf')  # killed mid-write
    assert [h.name for h in read_streamed(tmp_path)] == ["a", "b"]
    with ResultsWriter(tmp_path, inventory="i", previous=read_streamed(tmp_path)) as w:
        w.add(host("c"))
    assert [h.name for h in read_streamed(tmp_path)] == ["a", "b", "c"]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [h["name"] for h in doc["hosts"]] == ["a", "b", "c"] and doc["complete"] is True


def test_a_host_whose_text_holds_unicode_line_separators_is_kept(tmp_path):
    # json.dumps leaves U+2028 and U+0085 as they are: only "\n" ends a streamed line.
    with ResultsWriter(tmp_path, inventory="i") as w:
        w.add(HostResult("a", Platform.LINUX, HostStatus.OK, message="x\u2028y\x85z"))
        w.add(host("b"))
    assert [(h.name, h.message) for h in read_streamed(tmp_path)] == [("a", "x\u2028y\x85z"), ("b", "b ok")]


def test_a_host_added_again_replaces_its_earlier_result(tmp_path):
    with ResultsWriter(tmp_path, inventory="i") as w:
        w.add(host("a", HostStatus.TIMEOUT))
    with ResultsWriter(tmp_path, inventory="i", previous=read_streamed(tmp_path)) as w:
        w.add(host("a"))
    (only,) = read_streamed(tmp_path)
    assert only.status is HostStatus.OK
    assert [h["status"] for h in json.loads((tmp_path / "results.json").read_text())["hosts"]] == ["ok"]


def test_a_new_run_into_an_old_directory_starts_the_stream_anew(tmp_path):
    with ResultsWriter(tmp_path, inventory="i") as w:
        w.add(host("old"))
    with ResultsWriter(tmp_path, inventory="i") as w:
        w.add(host("new"))
    assert [h.name for h in read_streamed(tmp_path)] == ["new"]


def test_interrupted_writer_marks_results_incomplete(tmp_path):
    try:
        with ResultsWriter(tmp_path, inventory="i") as w:
            w.add(host("a"))
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["complete"] is False and [h["name"] for h in doc["hosts"]] == ["a"]


def test_cli_resume_audits_only_missing_hosts_and_retry_failed_the_failed(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text(
        f"a ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=x\n"
        f"b ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=x\n"
    )
    out = tmp_path / "out"
    assert harden("audit", inv, "--limit", "a", "--out", out, "--timeout", 3).returncode == 3
    r = harden("audit", inv, "--resume", out, "--timeout", 3)
    assert r.returncode == 3 and "1 hosts kept, 1 to audit" in r.stderr, r.stderr
    assert "[1/1] b " in r.stderr
    doc = json.loads((out / "results.json").read_text())
    assert sorted(h["name"] for h in doc["hosts"]) == ["a", "b"] and doc["complete"] is True
    r = harden("audit", inv, "--resume", out, "--retry-failed", "--timeout", 3)
    assert "0 hosts kept, 2 to audit" in r.stderr, r.stderr
    assert len((out / "hosts.jsonl").read_text().splitlines()) == 4  # appended; the last per host wins
    assert len(json.loads((out / "results.json").read_text())["hosts"]) == 2


def test_cli_resume_option_errors_exit_2(tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text("a ansible_host=127.0.0.1 ansible_port=1 ansible_user=x\n")
    r = harden("audit", inv, "--retry-failed", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--retry-failed needs --resume" in r.stderr
    (tmp_path / "d").mkdir()
    r = harden("audit", inv, "--resume", tmp_path / "d", "--out", tmp_path / "elsewhere")
    assert r.returncode == 2 and "leave out --out" in r.stderr
    r = harden("audit", inv, "--resume", tmp_path / "missing")
    assert r.returncode == 2
