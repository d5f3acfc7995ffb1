"""Markdown summary: a ticket/PR comment whose tables survive hostile host data."""

from datetime import date
from pathlib import Path

from hardening.report.document import load_results
from hardening.report.frameworks import load_framework
from hardening.report.markdown import render_markdown
from hardening.report.text import md_cell, md_code_block
from hardening.report.waivers import apply_waivers, load_waivers

GOLDEN = Path(__file__).parents[1] / "golden" / "report"


def _unescaped_pipes(line: str) -> int:
    return sum(1 for i, ch in enumerate(line) if ch == "|" and (i == 0 or line[i - 1] != "\\"))


def test_lab_golden_summary():
    md = render_markdown(load_results(GOLDEN / "results.json"), load_framework("cis"))
    assert md.startswith("## ❌ harden: FAIL — 17 failing checks on 4 of 4 hosts")
    assert "| critical | 2 | 0 |" in md and "| high | 9 | 0 |" in md
    assert "| half | ❌ FAIL | ❌ FAIL | ❌ FAIL | ❌ FAIL | ❌ FAIL | ❌ FAIL |" in md
    assert "| hardened | ✅ pass | ✅ pass | ✅ pass | ⚠️ error | ❌ FAIL | ✅ pass |" in md
    assert "### By CIS Debian Linux 12 Benchmark v1.1.0" in md
    assert "Not mapped in this framework: dns.query\\_logging" in md


def test_hostile_data_cannot_break_tables_or_inject_markup():
    md = render_markdown(load_results(GOLDEN / "hostile.json"))
    assert "<script>" not in md and "<b>" not in md and "\x1b" not in md and "\x00" not in md
    header = next(line for line in md.splitlines() if line.startswith("| Host |"))
    width = _unescaped_pipes(header)
    rows = [line for line in md.splitlines() if line.startswith(("| web", "| gone"))]
    assert len(rows) == 2 and "⛔ not audited" in rows[1]
    assert all(_unescaped_pipes(line) == width for line in rows), rows
    assert "web&lt;script&gt;alert(1)&lt;/script&gt;\\|01" in md
    # findings list: one line per host, message newline folded, backticks escaped
    evil = [line for line in md.splitlines() if line.startswith("- ❌ FAIL **web")]
    assert len(evil) == 6 and all("\\`tick\\`" in line and "second line" in line for line in evil)


def test_waivers_are_shown_with_expiry():
    doc = apply_waivers(load_results(GOLDEN / "results.json"), load_waivers(GOLDEN / "waivers.yml"), date(2026, 12, 1))
    md = render_markdown(doc)
    assert "| ufw | ✅ pass | ✅ pass | 💤 waived |" in md
    assert "❌ FAIL\\*" in md and "a waiver for this check expired" in md
    assert "_EXPIRED on 2026-10-31: Kernel without an LSM until the Q3 rebuild_" in md
    assert "_waived until 2027-03-31: openbsd-nc is used" in md


def test_cell_and_code_block_escaping():
    assert md_cell("a|b <x>\n`y`") == "a\\|b &lt;x&gt; \\`y\\`"
    block = md_code_block("x ``` y\n")
    assert block.startswith("````text\n") and block.endswith("\n````")
