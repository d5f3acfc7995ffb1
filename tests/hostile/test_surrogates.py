"""Text that no UTF-8 writer can encode, from hosts or from a hand-edited results.json.

A lone UTF-16 surrogate in a Python string cannot be written to results.json, the reports or
host_vars: it used to end the whole run (UnicodeEncodeError), every host's results with it.
It comes from a user's file name that is not UTF-8 (Ansible hands the byte back as ``\\udcff``;
the engine's test covers that), from a Windows file name with an unpaired surrogate (PowerShell
writes it as ``"\\ud800"`` in JSON), or from such an escape in an edited results.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from hardening.checks import windows_checks

from hardening import hostjson
from hardening.audit import judge
from hardening.facts.windows import gather, parse_output
from hardening.inventory import Connection, Target
from hardening.model import CheckResult

GOLDEN = Path(__file__).parents[1] / "golden"


def test_a_windows_name_with_an_unpaired_surrogate_is_judged_and_written():
    text = (GOLDEN / "windows" / "server2022-default.json").read_text()
    assert "lsass.exe" in text
    hostile = text.replace("lsass.exe", "ls\\ud800ass.exe")  # the JSON escape PowerShell writes
    target = Target(name="w", host="w", connection=Connection.WINRM)
    results: tuple[CheckResult, ...] = judge(gather(parse_output(hostile)), target, windows_checks())
    blob = json.dumps([r.to_json() for r in results], ensure_ascii=False).encode("utf-8")  # no UnicodeEncodeError
    assert b"\\ud800" not in blob


def test_host_json_keeps_pairs_and_escaped_backslashes():
    assert hostjson.loads('["\\\\ud800", "\\ud83d\\ude00", "a\\udc00b"]') == ["\\ud800", "\U0001f600", "a\ufffdb"]


def test_a_table_name_spelled_as_a_lone_surrogate_in_nft_json_is_judged_and_written(tmp_path):
    """``nft -j`` output is JSON too: a table named with the escape ``"\\ud800"`` reached the check
    messages and ended the run when results.json was written."""
    from hardening.engine_ansible import _host_run, result_from_event
    from hardening.inventory import load_inventory
    from hardening.results import ResultsWriter, host_text

    (tmp_path / "inv.ini").write_text("h ansible_host=127.0.0.1\n")
    target = load_inventory(tmp_path / "inv.ini")[0]
    text = (GOLDEN / "lab" / "ufw.out").read_bytes().decode("utf-8", "surrogateescape")
    nonce = text.split("nonce=")[1].split()[0]
    stdout = text.partition("\n")[2].replace('"filter"', '"f\\ud800"')
    result = result_from_event(_host_run(target), "runner_on_ok", {"stdout": stdout, "rc": 0}, nonce)
    line = host_text(result).encode("utf-8")
    assert "f\ufffd".encode() in line
    (tmp_path / "out").mkdir()
    writer = ResultsWriter(tmp_path / "out", "inv.ini")
    writer.add(result)  # the writer's own guard too


def test_harden_report_reads_a_results_json_with_a_lone_surrogate_escape(tmp_path):
    import subprocess
    import sys

    doc = json.loads((GOLDEN / "report" / "results.json").read_text())
    doc["hosts"][0]["message"] = "edited \udcff"
    (tmp_path / "r.json").write_text(json.dumps(doc))  # ensure_ascii: the file holds the escape "\udcff"
    harden = Path(sys.executable).parent / "harden"
    r = subprocess.run([str(harden), "report", str(tmp_path / "r.json"), "--format", "all", "-o", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "internal error" not in r.stderr and r.returncode in (0, 1), r.stderr[-2000:]
