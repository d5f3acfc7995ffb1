"""The check registry: every check is one folder, complete for each platform it declares;
reports read metadata by (id, platform); the planner takes roles from the registry."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hardening.checks import CheckDefinitionError, load_definition, registry

from hardening.facts.areas import areas
from hardening.facts.collector import build_linux_script, linux_pieces
from hardening.frameworks import framework_files
from hardening.model import CheckResult, Evidence, HostResult, HostStatus, Platform, Remedy, Status
from hardening.remediate import plan_host, roles_source
from hardening.report.document import ResultsDoc
from hardening.report.junit import render_junit
from hardening.report.markdown import render_markdown
from hardening.report.sarif import render_sarif
from hardening.report.view import build_view

CHECKS_DIR = Path(__file__).parents[2] / "checks"


@pytest.mark.parametrize("definition", registry().checks, ids=lambda d: d.id)
def test_every_check_is_complete_on_each_platform_it_declares(definition):
    assert definition.folder == definition.id.replace(".", "_")
    assert definition.title
    for platform, check in definition.platforms.items():
        m = check.meta
        assert m.id == definition.id and m.platform is platform
        assert m.title and len(m.rationale) > 80, (m.id, platform)
        frameworks = {r.framework for r in m.references}
        assert {"attack", "nist"} <= frameworks, (m.id, platform)
        assert all(r.title for r in m.references)
        assert m.fix.summary and m.fix.snippet and m.fix.language, (m.id, platform)
        assert (roles_source() / m.role / "tasks" / "main.yml").is_file(), (m.id, m.role)
        assert callable(check.evaluate)


def test_roles_run_in_stage_order_with_the_riskiest_last():
    assert registry().roles(Platform.LINUX)[-1] == "harden_egress"
    assert registry().roles(Platform.WINDOWS)[-1] == "harden_win_appcontrol"
    shipped = {p.name for p in roles_source().iterdir() if p.is_dir()}
    assert set(registry().roles(Platform.LINUX) + registry().roles(Platform.WINDOWS)) == shipped


def test_every_framework_requirement_has_evidence_and_every_reference_is_declared():
    declared = {(f.short, rid) for f in framework_files() for rid, _ in f.requirements}
    cited = {(r.framework, r.id) for d in registry() for c in d.platforms.values() for r in c.meta.references}
    assert cited <= declared
    assert declared <= cited, declared - cited  # a requirement no check cites is dead data


def _raw(folder="egress_default_deny"):
    return yaml.safe_load((CHECKS_DIR / folder / "check.yaml").read_text())


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda r: r["linux"]["references"].update({"nist-800-53": ["XX-99"]}), "not a requirement"),
        (lambda r: r["linux"].pop("fix"), "fix"),
        (lambda r: r["linux"]["fix"].update({"summary": " "}), "summary"),
        (lambda r: r["linux"].pop("role"), "role"),
        (lambda r: r.update({"severity": "urgent"}), "severity"),
        (lambda r: r.update({"id": "egress.other"}), "folder"),
        (lambda r: r.pop("title"), "title"),  # two platforms need a neutral title
        (lambda r: (r.pop("linux"), r.pop("windows")), "no platform"),
    ],
)
def test_a_broken_check_yaml_is_refused_with_the_reason(edit, error):
    raw = _raw()
    edit(raw)
    with pytest.raises(CheckDefinitionError, match=error):
        load_definition("egress_default_deny", raw)


def test_a_platform_without_its_evaluation_module_is_refused():
    raw = _raw("audit_sysmon")
    raw["linux"] = raw["windows"]
    with pytest.raises(CheckDefinitionError, match=r"linux\.py"):
        load_definition("audit_sysmon", raw)


def test_fact_areas_declare_pieces_and_sections_once():
    linux = areas(Platform.LINUX)
    assert linux_pieces() == tuple(a.piece for a in linux)
    script = build_linux_script("abc123")
    for a in linux:
        assert a.sections and all(s.startswith(a.name + ".") for s in a.sections), a.name
        for section in a.sections[:1]:
            assert section in script, section  # the piece prints the sections its parser declares
    assert {a.name for a in areas(Platform.WINDOWS)} >= {"firewall", "dns", "sysmon", "powershell"}


def test_each_fact_module_declares_only_the_platform_its_name_says():
    # areas() imports only the modules that may declare the platform asked for (windows* for
    # Windows): a Linux area in a windows* module (or the reverse) would be silently lost.
    import importlib
    import pkgutil

    import hardening.facts as package

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for a in getattr(module, "AREAS", ()):
            assert (a.platform is Platform.WINDOWS) == info.name.startswith("windows"), (info.name, a.name)


def test_linux_checks_and_areas_load_no_windows_module():
    # Start-up of an audit of Linux hosts: the Windows parsers and evaluations stay unimported
    # until a Windows host needs them (the evaluation module loads when a check first runs).
    code = (
        "import sys\n"
        "from hardening.checks import linux_checks, load_platforms, registry\n"
        "from hardening.model import Platform\n"
        "load_platforms([Platform.LINUX]); registry().roles(Platform.WINDOWS)\n"
        "assert all(c.module in sys.modules for c in linux_checks())\n"
        "print(sorted(m for m in sys.modules if 'windows' in m))\n"
        "load_platforms([Platform.WINDOWS])\n"
        "print(sum(m.startswith('hardening.facts.windows') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split("\n")[:2] == ["[]", "4"]


def test_a_check_module_without_evaluate_is_refused_when_it_runs(monkeypatch):
    import types

    from hardening.checks import CheckDefinitionError

    check = registry().check("egress.default_deny", Platform.LINUX)
    assert check is not None
    monkeypatch.setitem(sys.modules, check.module, types.ModuleType(check.module))
    with pytest.raises(CheckDefinitionError, match="defines no evaluate"):
        check.run(object(), object())
    assert check.validate_remedy is None


# ----------------------------------------------------------------------------- mixed fleet


def _result(cid: str, platform: Platform, status: Status) -> CheckResult:
    meta = registry().meta(cid, platform)
    assert meta is not None
    return CheckResult.of(meta, _verdict(status))


def _verdict(status: Status):
    from hardening.model import Verdict

    return Verdict(status, f"{status.value} here", Evidence({"k": 1}))


def _doc(order: str) -> ResultsDoc:
    lin = HostResult(
        "lin1",
        Platform.LINUX,
        HostStatus.OK,
        checks=tuple(_result(c.meta.id, Platform.LINUX, Status.FAIL) for c in registry().for_platform(Platform.LINUX)),
    )
    win = HostResult(
        "win1",
        Platform.WINDOWS,
        HostStatus.OK,
        checks=tuple(
            _result(c.meta.id, Platform.WINDOWS, Status.FAIL) for c in registry().for_platform(Platform.WINDOWS)
        ),
    )
    hosts = (lin, win) if order == "linux-first" else (win, lin)
    return ResultsDoc("0", "2026-12-06T00:00:00+00:00", "2026-12-06T00:00:01+00:00", "inv", None, True, hosts)


def test_mixed_fleet_columns_do_not_depend_on_host_order():
    a, b = build_view(_doc("linux-first")), build_view(_doc("windows-first"))
    assert a.columns == b.columns
    titles = {c.id: c.title for c in a.columns}
    assert titles["egress.default_deny"] == registry().get("egress.default_deny").title  # neutral over both
    assert titles["audit.sysmon"] == registry().meta("audit.sysmon", Platform.WINDOWS).title


def test_mixed_fleet_findings_carry_each_platforms_own_title_rationale_and_fix():
    view = build_view(_doc("linux-first"))
    findings = [f for _, group in view.findings for f in group]
    egress = {f.items[0].host: f for f in findings if f.check_id == "egress.default_deny"}
    assert egress["win1"].guide.language == "powershell" and "nft" not in egress["win1"].guide.snippet
    assert egress["lin1"].guide.language == "nftables"
    assert egress["win1"].title == registry().meta("egress.default_deny", Platform.WINDOWS).title
    assert {r.framework for r in egress["win1"].references} >= {"cis-windows"}
    assert "cis" not in {r.framework for r in egress["win1"].references}
    sysmon = next(f for f in findings if f.check_id == "audit.sysmon")
    assert sysmon.guide.rationale and sysmon.guide.remediation and "Sysmon64" in sysmon.guide.snippet


def test_mixed_fleet_sarif_rules_label_both_platforms_and_windows_only_rules_have_help():
    sarif = json.loads(render_sarif(_doc("windows-first")))
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    egress = rules["egress.default_deny"]["help"]["text"]
    assert egress.startswith("Linux: ") and "\n\nWindows: " in egress and "Set-NetFirewallProfile" in egress
    assert rules["audit.sysmon"]["fullDescription"]["text"] and "Sysmon64" in rules["audit.sysmon"]["help"]["text"]
    assert [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]] == [
        d.id for d in registry() if d.id in rules
    ]  # registry order, whichever host comes first


def test_mixed_fleet_junit_and_markdown_use_the_hosts_platform_titles():
    xml = render_junit(_doc("windows-first"))
    win_title = registry().meta("egress.default_deny", Platform.WINDOWS).title
    lin_title = registry().meta("egress.default_deny", Platform.LINUX).title
    assert win_title in xml and lin_title in xml
    md = render_markdown(_doc("windows-first"))
    assert "Set-NetFirewallProfile" in md or "DefaultOutboundAction" in md


# ----------------------------------------------------------------------------- typed remedies


def test_a_failed_result_carries_the_registry_role_whatever_the_evaluation_said():
    meta = registry().meta("binaries.netcat", Platform.LINUX)
    from hardening.model import Verdict

    forged = Verdict(Status.FAIL, "x", Evidence(), Remedy("harden_egress", {"harden_netcat_packages": ["bash"]}))
    r = CheckResult.of(meta, forged)
    assert r.remedy.role == "harden_netcat"
    assert CheckResult.of(meta, Verdict(Status.PASS, "ok")).remedy is None
    assert CheckResult.from_json(r.to_json()).remedy == r.remedy


def test_the_planner_takes_roles_from_the_registry_and_rechecks_variables():
    check = {
        "id": "binaries.netcat",
        "status": "fail",
        "remediation": {
            "role": "harden_netcat",
            "variables": {
                "harden_netcat_packages": ["netcat-openbsd", "openssh-server", "bash; id"],
                "harden_netcat_files": [
                    {"path": "/tmp/nc", "kind": "file", "sha256": "a" * 64, "root_only": False},
                    {"path": "/etc/../etc/shadow", "kind": "file", "sha256": "b" * 64},
                    {
                        "path": "/usr/bin/nc",
                        "kind": "symlink",
                        "link_target": "/etc/alternatives/nc",
                        "root_only": True,
                    },
                    {"path": "relative/nc", "kind": "file", "sha256": "c" * 64},
                ],
                "harden_egress_allow": ["0.0.0.0/0"],
            },
        },
    }
    hp = plan_host({"name": "h", "platform": "linux", "checks": [check]})
    assert hp.roles == ("harden_netcat",)
    assert hp.variables["harden_netcat_packages"] == ["netcat-openbsd"]
    assert [f["path"] for f in hp.variables["harden_netcat_files"]] == ["/tmp/nc"]
    assert "harden_egress_allow" not in hp.variables  # only the role's own variables pass
    forged_role = {**check, "remediation": {**check["remediation"], "role": "harden_egress"}}
    hp = plan_host({"name": "h", "platform": "linux", "checks": [forged_role]})
    assert hp.roles == ("harden_netcat",) and hp.variables["harden_netcat_packages"] == []
    assert any("not harden_netcat" in n for n in hp.notes)


def test_windows_netcat_remedy_round_trips_and_rejects_unc_and_device_paths():
    from hardening.checks.binaries_netcat.windows import validate_remedy

    notes: list[str] = []
    got = validate_remedy(
        {
            "harden_win_netcat_files": [
                {"path": "C:\\Users\\bob\\AppData\\Local\\Temp\\nc.exe", "sha256": "A" * 64},
                {"path": "\\\\attacker\\share\\nc.exe", "sha256": "b" * 64},
                {"path": "\\\\?\\C:\\Windows\\System32\\cmd.exe", "sha256": "c" * 64},
                {"path": "C:\\Windows\\..\\x.exe", "sha256": "d" * 64},
                {"path": "C:\\Tools\\nc.exe", "sha256": "short"},
            ]
        },
        notes,
    )
    assert got == {
        "harden_win_netcat_files": [{"path": "C:\\Users\\bob\\AppData\\Local\\Temp\\nc.exe", "sha256": "a" * 64}]
    }
    assert len(notes) == 4


def test_shipped_yaml_reads_the_same_with_libyaml_and_pure_python():
    """hardening.shipped_yaml uses libyaml when present: every shipped file must mean the same to both."""
    from pathlib import Path

    import yaml

    from hardening import shipped_yaml

    root = Path(__file__).resolve().parents[2]
    files = sorted([*root.glob("checks/*/check.yaml"), *root.glob("hardening/frameworks/*.yaml")])
    assert len(files) >= 12
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert shipped_yaml.load(text) == yaml.safe_load(text), path
