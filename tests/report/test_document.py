"""The typed results loader: the lab golden round-trips, bad files are clear errors (exit 2)."""

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hardening.model import HostStatus, Status
from hardening.report.document import ResultsError, dump_results, load_results
from hardening.results import results_schema

GOLDEN = Path(__file__).parents[1] / "golden" / "report"
HARDEN = str(Path(sys.executable).parent / "harden")


def test_lab_golden_loads_typed_and_round_trips():
    doc = load_results(GOLDEN / "results.json")
    assert [h.name for h in doc.hosts] == ["hardened", "default", "ufw", "half"]
    assert all(h.status is HostStatus.OK for h in doc.hosts)
    assert doc.check_ids()[:2] == ("egress.default_deny", "egress.allowlist")
    assert sum(c.status is Status.FAIL for h in doc.hosts for c in h.checks) == 17
    out = json.loads(dump_results(doc))
    jsonschema.validate(out, results_schema())
    raw = json.loads((GOLDEN / "results.json").read_text())
    assert out["hosts"] == raw["hosts"]
    assert out["summary"] == raw["summary"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not JSON"),
        ('{"schema": "other/v9"}', "other/v9"),
        ('{"schema": "harden.results/v1", "tool": {"name": "harden", "version": "1"}}', "required property"),
    ],
)
def test_bad_results_file_is_a_clear_error(tmp_path, content, needle):
    bad = tmp_path / "results.json"
    bad.write_text(content)
    with pytest.raises(ResultsError, match=r"results\.json") as exc:
        load_results(bad)
    assert needle in str(exc.value)


def test_schema_violation_names_where(tmp_path):
    raw = json.loads((GOLDEN / "results.json").read_text())
    raw["hosts"][1]["checks"][0]["status"] = "fine"
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ResultsError, match="hosts/1/checks/0/status"):
        load_results(bad)


def test_cli_report_on_bad_or_missing_file_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("[]")
    for path in (bad, tmp_path / "missing.json"):
        r = subprocess.run([HARDEN, "report", str(path), "--out", str(tmp_path / "o")], capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert str(path.name) in r.stderr and "Traceback" not in r.stderr


def test_waived_status_requires_a_waiver_in_the_schema():
    raw = json.loads((GOLDEN / "results.json").read_text())
    raw["hosts"][1]["checks"][0]["status"] = "waived"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, results_schema())
