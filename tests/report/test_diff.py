"""harden diff: newly failing, fixed, still failing, hosts added or gone; exit 1 on regressions."""

import json
import subprocess
import sys
from pathlib import Path

from hardening.model import Severity
from hardening.report.diff import diff_results, render_diff_text
from hardening.report.document import load_results

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
HARDEN = str(Path(sys.executable).parent / "harden")


def _variant(tmp_path, name, edit):
    raw = json.loads((GOLDEN / "results.json").read_text())
    edit(raw)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return path


def _set(raw, host, check, status):
    h = next(h for h in raw["hosts"] if h["name"] == host)
    c = next(c for c in h["checks"] if c["id"] == check)
    c["status"] = status


def _old(raw):
    _set(raw, "ufw", "egress.default_deny", "fail")  # fixed since
    _set(raw, "hardened", "binaries.netcat", "pass")
    raw["hosts"] = [h for h in raw["hosts"] if h["name"] != "half"] + [
        {**raw["hosts"][0], "name": "retired", "checks": []}
    ]


def _new(raw):
    _set(raw, "hardened", "binaries.netcat", "fail")  # regression (medium)
    _set(raw, "hardened", "dns.query_logging", "error")  # no longer judged


def test_classification(tmp_path):
    old = load_results(_variant(tmp_path, "old", _old))
    new = load_results(_variant(tmp_path, "new", _new))
    d = diff_results(old, new)
    assert [(c.host, c.check) for c in d.fixed] == [("ufw", "egress.default_deny")]
    newly = {(c.host, c.check) for c in d.newly_failing}
    assert ("hardened", "binaries.netcat") in newly
    assert {c for c in newly if c[0] == "half"} == {  # a new host's failures are new failures
        ("half", cid) for cid in new.check_ids()
    }
    assert ("default", "egress.default_deny") in {(c.host, c.check) for c in d.still_failing}
    assert [(c.host, c.check, c.old, c.new) for c in d.not_judged] == [
        ("hardened", "dns.query_logging", "pass", "error")
    ]
    assert d.hosts_added == ("half",) and d.hosts_gone == ("retired",)
    assert {c.check for c in d.regressions(Severity.CRITICAL)} == {"egress.default_deny"}  # half's
    assert "newly failing: 7" in render_diff_text(d)


def test_same_results_no_regressions_exit_0(tmp_path):
    r = subprocess.run([HARDEN, "diff", str(GOLDEN / "results.json"), str(GOLDEN / "results.json")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "newly failing: 0" in r.stdout and "still failing: 17" in r.stdout and "fixed: 0" in r.stdout


def test_cli_exit_codes(tmp_path):
    old, new = _variant(tmp_path, "old", _old), _variant(tmp_path, "new", _new)
    r = subprocess.run([HARDEN, "diff", str(old), str(new)], capture_output=True, text=True)
    assert r.returncode == 1 and "hardened  binaries.netcat  (pass -> fail)" in r.stdout
    r = subprocess.run([HARDEN, "diff", str(new), str(old), "--format", "json"], capture_output=True, text=True)
    assert r.returncode == 1  # reversed: ufw's egress.default_deny breaks again
    data = json.loads(r.stdout)
    assert data["hosts_gone"] == ["half"] and data["hosts_added"] == ["retired"]
    assert [(c["host"], c["check"]) for c in data["newly_failing"]] == [("ufw", "egress.default_deny")]
    r = subprocess.run([HARDEN, "diff", str(new), str(old), "--fail-on", "critical"], capture_output=True, text=True)
    assert r.returncode == 1
    r = subprocess.run([HARDEN, "diff", str(old), str(new), "--format", "md", "--fail-on", "critical"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 1 and "### Newly failing" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = subprocess.run([HARDEN, "diff", str(old), str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.json" in r.stderr


def test_hostile_names_are_terminal_safe(tmp_path):
    r = subprocess.run([HARDEN, "diff", str(GOLDEN / "results.json"), str(GOLDEN / "hostile.json")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 1
    assert "\x1b" not in r.stdout and "\x00" not in r.stdout
    assert "hosts added: 2" in r.stdout


def test_fail_on_ignores_regressions_below_the_threshold(tmp_path):
    new = _variant(tmp_path, "new", lambda raw: _set(raw, "hardened", "binaries.netcat", "fail"))  # medium
    base = str(GOLDEN / "results.json")
    assert subprocess.run([HARDEN, "diff", base, str(new), "--fail-on", "high"], capture_output=True).returncode == 0
    assert subprocess.run([HARDEN, "diff", base, str(new), "--fail-on", "medium"], capture_output=True).returncode == 1


def _netcat_findings(raw, host, paths):
    h = next(h for h in raw["hosts"] if h["name"] == host)
    c = next(c for c in h["checks"] if c["id"] == "binaries.netcat")
    c["status"] = "fail"
    c["evidence"]["facts"]["findings"] = [{"real_path": p, "names": [p]} for p in paths]


def test_a_new_finding_in_a_check_that_was_already_failing_is_a_regression(tmp_path):
    old = load_results(_variant(tmp_path, "o", lambda r: _netcat_findings(r, "default", ["/usr/bin/nc.openbsd"])))
    same = load_results(_variant(tmp_path, "s", lambda r: _netcat_findings(r, "default", ["/usr/bin/nc.openbsd"])))
    new = load_results(
        _variant(tmp_path, "n", lambda r: _netcat_findings(r, "default", ["/usr/bin/nc.openbsd", "/dev/shm/.x/nc"]))
    )
    assert not [c for c in diff_results(old, same).worse if c.check == "binaries.netcat"]
    d = diff_results(old, new)
    (worse,) = [c for c in d.worse if c.host == "default" and c.check == "binaries.netcat"]
    assert worse.new_findings == ("/dev/shm/.x/nc",)
    assert worse in d.regressions(Severity.MEDIUM)
    text = render_diff_text(d)
    assert "worse (still failing, new findings): " in text and "new: /dev/shm/.x/nc" in text
