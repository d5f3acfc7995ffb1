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
