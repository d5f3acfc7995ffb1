"""The HTML report: self-contained, escaped, and really rendered by headless Chromium."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hardening.report.document import load_results
from hardening.report.frameworks import load_framework
from hardening.report.html import render_html

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_self_contained_no_network_no_script():
    html = render_html(load_results(GOLDEN / "results.json"), load_framework("nist"))
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "<link" not in html and "@import" not in html
    assert "<svg" in html and "<style>" in html
    # posture, matrix, chart, findings with evidence, why it matters, remediation
    assert "17 failing checks on 4 of 4 hosts" in html
    assert html.count('class="cell s-fail"') == 17 and html.count('class="cell s-pass"') == 6
    assert html.count("<details>") == 17 + 1  # every failing or erroring result has its evidence
    assert "ATT&amp;CK</b> T1071" in html and "NIST 800-53</b> SC-7(5)" in html
    assert "policy drop;" in html  # the nftables remediation excerpt
    assert "By NIST SP 800-53 Rev. 5" in html


def test_hostile_host_data_is_escaped():
    html = render_html(load_results(GOLDEN / "hostile.json"))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;|01" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "Connection refused &lt;i&gt;" in html
    assert "Hosts not fully audited" in html


def _chromium(*args, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (make install installs it)")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_headless_chromium_renders_a_screenshot(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(load_results(GOLDEN / "results.json")), encoding="utf-8")
    png = tmp_path / "shot.png"
    r = _chromium(f"--screenshot={png}", "--window-size=1280,2000", page.as_uri(), tmp_path=tmp_path)
    assert png.exists(), r.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280 and int.from_bytes(data[20:24], "big") == 2000
    assert len(data) > 50_000  # a real page, not a blank one (a blank 1280x2000 PNG is a few KB)


def test_injected_markup_does_not_become_dom_in_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(load_results(GOLDEN / "hostile.json")), encoding="utf-8")
    r = _chromium("--dump-dom", page.as_uri(), tmp_path=tmp_path)
    dom = r.stdout
    assert "Hosts × checks" in dom, r.stderr[-2000:]
    assert "<script" not in dom.lower() and "<b>x</b>" not in dom
    assert "web&lt;script&gt;alert(1)&lt;/script&gt;|01" in dom


def test_evidence_is_laid_out_for_people_and_stays_the_same_json():
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hardening.report.text import readable_json

    leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    )

    @settings(max_examples=300, deadline=None)
    @given(values)
    def round_trip(v):
        assert json.loads(readable_json(v)) == v

    round_trip()
    text = readable_json({"running": {"IPv4": {"open": [{"port": 4444}]}, "read_from": ["nft"]}, "x": 1})
    assert text.splitlines()[:3] == ["{", '  "running": {', '    "IPv4": {']
    assert '      "open": [{"port": 4444}]' in text.splitlines()  # the fourth level stays on one line
