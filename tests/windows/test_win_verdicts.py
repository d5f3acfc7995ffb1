"""Windows verdicts over the collector's schema-2 output (issue 18): one JSON line per area.

The fixtures (tests/windows/fixtures/*.jsonl) are what the collector prints, kept to the
documented shapes (see docs/windows.md, "What each check relies on"); they were NOT captured
from a real Windows host. Each test names the issue item it covers.
"""

import copy
import json
import re
from pathlib import Path

import pytest
from hardening.checks import evaluated
from windows_expect import CHECKS, FIXTURE_VERDICTS

from hardening.facts.windows import NETCAT_NAMES, collector_script, gather, parse_output
from hardening.model import Status
from hardening.policy import Policy

FIXTURES = Path(__file__).parent / "fixtures"
POLICY = Policy.from_vars({"harden_egress_allow": ["10.0.0.0/8"]})


def text(name: str) -> str:
    return (FIXTURES / f"{name}.jsonl").read_text()


def doc(name: str) -> dict:
    return parse_output(text(name))


def judge(d, policy=POLICY):
    facts = gather(d)
    return {cid: evaluated(c.evaluate, facts, policy) for cid, c in CHECKS.items()}


def code_lines(section: str = "") -> str:
    """The collector's code (comments dropped), optionally only one '# --- name' section of it."""
    script = collector_script()
    if section:
        start = script.index(f"# --- {section}")
        end = script.find("# --- ", start + 6)
        script = script[start : end if end > 0 else None]
    return "\n".join(line.split("#", 1)[0] for line in script.splitlines())


@pytest.mark.parametrize(("fixture", "expected"), FIXTURE_VERDICTS)
def test_schema2_fixtures_are_judged_as_documented(fixture, expected):
    d = doc(fixture)
    assert d["done"] is True and d["schema"] == 2
    for cid, v in judge(d).items():
        assert v.status is expected.get(cid, Status.FAIL), (cid, v.message)


# --- item 3: WDAC UMCI=2 is not CLM when the audit's own session is FullLanguage ------------------


def wdac_only(session_mode: str) -> dict:
    d = copy.deepcopy(doc("server2022-hardened"))
    d["appcontrol"]["device_guard"].update(code_integrity=2, usermode_code_integrity=2)
    d["appcontrol"]["applocker_xml"] = ""
    d["appcontrol"]["session_language_mode"] = session_mode
    d["powershell"]["language_mode"] = session_mode
    return d


def test_item3_umci2_with_a_fulllanguage_audit_session_fails_both_checks():
    verdicts = judge(wdac_only("FullLanguage"))
    for cid in ("powershell.language_mode", "appcontrol.enforced"):
        v = verdicts[cid]
        assert v.status is Status.FAIL, (cid, v.message)
        assert "FullLanguage" in v.message and "Disabled:Script Enforcement" in v.message
    enforced = judge(wdac_only("ConstrainedLanguage"))
    assert enforced["powershell.language_mode"].status is Status.PASS
    assert enforced["appcontrol.enforced"].status is Status.PASS


def test_item3_option11_is_a_fail_even_with_applocker_enforced():
    d = wdac_only("FullLanguage")
    d["appcontrol"]["applocker_xml"] = doc("server2022-hardened")["appcontrol"]["applocker_xml"]
    assert judge(d)["appcontrol.enforced"].status is Status.FAIL
    assert judge(d)["powershell.language_mode"].status is Status.FAIL


def test_item3_schema1_output_reads_the_session_mode_from_the_powershell_area():
    d = wdac_only("FullLanguage")
    del d["appcontrol"]["session_language_mode"]
    assert judge(d)["appcontrol.enforced"].status is Status.FAIL


def test_item3_the_note_no_longer_claims_a_session_configuration():
    from hardening.checks.powershell_language_mode import windows as lm

    assert "endpoint's\nconfiguration" not in (lm.__doc__ or "")
    assert "WinRS" in (lm.__doc__ or "")
    v = judge(doc("server2022-partial"))["powershell.language_mode"]
    assert "reflects the WinRM endpoint" not in v.message


# --- items 1 and 2: the netcat search -------------------------------------------------------------


def with_found(entries: list[dict]) -> dict:
    d = copy.deepcopy(doc("server2022-hardened"))
    d["binaries"]["found"] = entries
    return d


def test_item1_arbitrary_files_returned_by_an_ignored_include_are_not_netcat_likes():
    # What 5.1 returns when -Include is ignored with -LiteralPath: every file under the place.
    junk = [
        {
            "path": "C:\\Users\\Administrator\\Documents\\report.docx",
            "name": "report.docx",
            "size": 18234,
            "sha256": "0" * 64,
            "signature": "NotSigned",
            "signer": None,
            "product": "",
        },
        {
            "path": "C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\desktop.ini",
            "name": "desktop.ini",
            "size": 174,
            "sha256": "1" * 64,
            "signature": "NotSigned",
            "signer": None,
            "product": "",
        },
        # a hostile host claiming a netcat name for another file
        {"path": "C:\\Temp\\evil.txt", "name": "nc.exe", "size": 1, "sha256": "2" * 64},
    ]
    v = judge(with_found(junk))["binaries.netcat"]
    assert v.status is Status.PASS, v.message
    assert len(v.evidence.facts["ignored_entries"]) == 3
    real = {"path": "C:\\Temp\\NC64.EXE", "name": "NC64.EXE", "size": 45272, "sha256": "3" * 64,
            "signature": "NotSigned"}  # fmt: skip
    v = judge(with_found([*junk, real]))["binaries.netcat"]
    assert v.status is Status.FAIL and [f["path"] for f in v.evidence.facts["findings"]] == ["C:\\Temp\\NC64.EXE"]


def test_item1_the_collector_never_relies_on_include_and_compares_names_itself():
    code = code_lines("netcat-likes").lower()
    assert "-include" not in code and "-recurse" not in code and "-depth" not in code
    assert "-in $names" in code
    for name in NETCAT_NAMES:
        assert f"'{name}'" in code
    assert "new-timespan -seconds" in code  # bounded in time on the host


def test_item2_the_search_does_not_follow_reparse_points():
    code = code_lines("netcat-likes")
    assert re.search(r"Attributes\s+-like\s+'\*ReparsePoint\*'", code)
    assert "DirUnauthorizedAccessError" in code  # only real listing denials are counted


def test_item2_an_admin_audit_with_the_legacy_junctions_skipped_can_pass():
    d = doc("server2022-hardened")
    assert d["binaries"]["denied"] == [] and d["binaries"]["reparse_skipped_count"] > 0
    v = judge(d)["binaries.netcat"]
    assert v.status is Status.PASS and v.evidence.facts["reparse_points_not_followed"] > 0


def test_item2_real_denials_and_an_early_stop_are_errors_that_say_where():
    v = judge(doc("server2022-nonadmin"))["binaries.netcat"]
    assert v.status is Status.ERROR and "C:\\ProgramData\\Microsoft\\Crypto\\SystemKeys" in v.message
    d = copy.deepcopy(doc("server2022-hardened"))
    d["binaries"]["incomplete"] = "stopped after 50000 folders (90 s / 50000 folders)"
    v = judge(d)["binaries.netcat"]
    assert v.status is Status.ERROR and "stopped early" in v.message


# --- item 6: Sysmon's configuration without sysmon -c ----------------------------------------------


def test_item6_no_eula_in_hkcu_means_unknown_config_error_never_fail():
    d = copy.deepcopy(doc("server2022-hardened"))
    sm = d["sysmon"]
    del sm["config_text"], sm["config_rc"]
    sm["eula_accepted"] = False
    d["dns_client"]["is_enabled"] = False
    verdicts = judge(d)
    assert verdicts["audit.sysmon"].status is Status.ERROR and "EULA" in verdicts["audit.sysmon"].message
    assert verdicts["dns.query_logging"].status is Status.ERROR, verdicts["dns.query_logging"].message
    assert verdicts["audit.sysmon"].evidence.facts["last_config_change"]["hash"].startswith("SHA256=")


def test_item6_an_unreadable_config_with_the_dns_log_off_is_an_error():
    d = copy.deepcopy(doc("server2022-hardened"))
    d["sysmon"]["config_text"] = "garbage"
    d["dns_client"]["is_enabled"] = False
    verdicts = judge(d)
    assert verdicts["audit.sysmon"].status is Status.ERROR
    assert verdicts["dns.query_logging"].status is Status.ERROR  # was fail
    d["sysmon"]["services"][0]["state"] = "Stopped"  # Sysmon known not to run: a real fail
    assert judge(d)["dns.query_logging"].status is Status.FAIL


def test_item6_the_collector_never_accepts_the_eula_and_runs_sysmon_c_bounded():
    code = code_lines("Sysmon")
    assert "accepteula" not in code.lower()
    assert "EulaAccepted" in code and "HKCU:\\Software\\Sysinternals\\System Monitor" in code
    assert "Invoke-HardenBounded" in code and "'-c'" in code
    assert "SysmonDrv" in code or "Services\\$($drv[0].name)\\Parameters" in code


# --- item 5: PowerShell 2.0 on Server ----------------------------------------------------------------


def test_item5_an_unknown_feature_name_is_not_installed_when_another_query_answered():
    d = doc("server2022-hardened")
    names = [f["name"] for f in d["powershell"]["v2_features"]]
    assert names == ["MicrosoftWindowsPowerShellV2Root", "MicrosoftWindowsPowerShellV2", "PowerShell-V2"]
    v = judge(d)["powershell.logging"]
    assert v.status is Status.PASS, v.message
    assert v.evidence.facts["v2_features"]["MicrosoftWindowsPowerShellV2Root"] == "NotPresent"


def test_item5_the_server_role_feature_installed_fails():
    d = copy.deepcopy(doc("server2022-hardened"))
    d["powershell"]["v2_features"][2]["state"] = "Installed"
    v = judge(d)["powershell.logging"]
    assert v.status is Status.FAIL and "PowerShell-V2=Enabled" in v.message


def test_item5_no_query_answering_is_unknown_not_a_pass():
    v = judge(doc("server2022-nonadmin"))["powershell.logging"]
    assert v.status is Status.ERROR and "requires elevation" in v.message


def test_item5_one_try_per_feature_name_in_the_collector():
    code = code_lines("PowerShell")
    loop = code[code.index("foreach ($n in @('MicrosoftWindowsPowerShellV2Root'") :]
    assert loop.index("try {") < loop.index("Get-WindowsOptionalFeature")
    assert "Get-WindowsFeature -Name 'PowerShell-V2'" in code


# --- item 4: one line per area ------------------------------------------------------------------------


def test_item4_finished_areas_are_judged_when_the_output_is_cut():
    full = text("server2022-hardened")
    lines = full.splitlines()
    cut = "\r\n".join(lines[:5]) + "\r\n" + lines[5][:40]  # sysmon's line cut short, no binaries, no done
    facts = gather(parse_output(cut))
    assert not facts.complete
    verdicts = {cid: evaluated(c.evaluate, facts, POLICY) for cid, c in CHECKS.items()}
    assert verdicts["egress.default_deny"].status is Status.PASS
    assert verdicts["powershell.logging"].status is Status.PASS
    assert verdicts["audit.sysmon"].status is Status.ERROR
    assert verdicts["binaries.netcat"].status is Status.ERROR


def test_item4_collector_prints_one_line_per_area_fast_ones_first():
    script = collector_script()
    areas = re.findall(r"^Write-HardenArea '(\w+)'", script, re.MULTILINE)
    assert areas == [
        "meta",
        "firewall",
        "dns_client",
        "appcontrol",
        "powershell",
        "sysmon",
        "sensors",
        "forwarding",
        "listeners",
        "binaries",
        "done",
    ]
    code = code_lines().lower()
    for banned in ("add-type", "new-object", "[system.", "::", ".containskey("):
        assert banned not in code, banned


def test_item4_hostile_lines_are_bounded_and_the_first_area_wins():
    first = {"harden_collector": "windows", "schema": 2, "meta": {"is_admin": True}}
    again = {"harden_collector": "windows", "schema": 2, "meta": {"is_admin": False}}
    foreign = {"harden_collector": "other", "firewall": {}}
    out = "\n".join(json.dumps(o) for o in (first, again, foreign)) + "\n" + "{" * 5000
    d = parse_output(out)
    assert d["meta"] == {"is_admin": True} and "firewall" not in d


# --- item 9: firewall enumeration ------------------------------------------------------------------


def test_item9_no_matching_outbound_rule_is_not_an_error():
    code = code_lines("firewall")
    # -Direction/-Enabled on Get-NetFirewallRule make "no matching rule" an ObjectNotFound error.
    assert "Get-NetFirewallRule -PolicyStore ActiveStore |" in code
    assert "-Direction Outbound" not in code and "-Enabled True" not in code
    d = copy.deepcopy(doc("server2022-hardened"))
    d["firewall"]["outbound_rules"] = []
    verdicts = judge(d)
    assert verdicts["egress.default_deny"].status is Status.PASS
    assert verdicts["egress.allowlist"].status is not Status.ERROR


def test_item9_filters_are_joined_without_mixing_gpo_and_local_stores():
    code = code_lines("firewall")
    # An InstanceID seen twice in the ActiveStore (GPO and local rule of the same ID) is not joined
    # by ID: that rule's filters are asked of the rule object itself (association, its own store).
    assert "$twice[$id] = $true" in code and "$map[$id] = $null" in code
    assert "$rule | & $cmdlet" in code


# --- review of issue 18: the netcat search must never pass on what it could not judge -------------


UNUSABLE = [
    "\\\\fileserver\\share\\nc.exe",
    "\\\\?\\C:\\Users\\bob\\AppData\\Local\\Temp\\nc.exe",
    "C:\\" + "a\\" * 16400 + "nc.exe",
]


@pytest.mark.parametrize("path", UNUSABLE)
def test_a_netcat_name_at_a_path_the_controller_rejects_is_an_error_not_a_pass(path):
    v = judge(with_found([{"path": path, "name": "nc.exe", "size": 1, "sha256": "", "signature": "NotSigned"}]))[
        "binaries.netcat"
    ]
    assert v.status is Status.ERROR, v.message
    assert v.evidence.facts_dict()["unusable_entries"] and v.evidence.facts_dict()["ignored_entries"] == []


def test_other_listing_errors_make_no_finding_an_error_and_are_reported_with_findings():
    d = copy.deepcopy(doc("server2022-hardened"))
    d["binaries"]["other_errors"] = 3
    v = judge(d)["binaries.netcat"]
    assert v.status is Status.ERROR and "3 folders could not be listed" in v.message
    d["binaries"]["found"] = [{"path": "C:\\Temp\\nc.exe", "name": "nc.exe", "size": 1, "sha256": "0" * 64}]
    v = judge(d)["binaries.netcat"]
    assert v.status is Status.FAIL and "3 folders could not be listed" in v.message
    assert v.evidence.facts_dict()["other_errors"] == 3


def test_the_pass_message_does_not_claim_full_coverage():
    v = judge(doc("server2022-hardened"))["binaries.netcat"]
    assert v.status is Status.PASS and "places searched" in v.message and "not seen" in v.message


def test_reparse_point_files_are_names_like_any_other_only_folders_are_skipped():
    code = code_lines("netcat-likes")
    loop = code[code.index("foreach ($c in $children)") :]
    loop = loop[: loop.index("$found = @()")]
    container = loop.index("if ($c.PSIsContainer)")
    assert container < loop.index("ReparsePoint"), "the reparse test must apply to folders only"
    assert "elseif ($c.Name -in $names" in loop
    # a placeholder is reported but not read (reading recalls it from the cloud)
    assert "placeholder" in code and "attributes = [string]$h.Attributes" in code


def test_the_search_covers_the_user_writable_places_and_stays_bounded():
    code = code_lines("netcat-likes")
    assert 'path = "$env:SystemDrive\\"; depth = 2' in code  # folders Authenticated Users create at C:\
    for place in ("'Tasks'", "'Tracing'", "'System32\\spool\\drivers\\color'"):
        assert place in code, place
    assert "'AppData\\Local\\Temp'); depth = 3" in code  # %TEMP%\<sub>\nc.exe, Temp1_x.zip\
    assert "$bin.incomplete" in code and "50000" in code and "-Seconds 90" in code


def test_a_folder_asked_for_twice_is_walked_to_the_deeper_depth():
    code = code_lines("netcat-likes")
    assert "$seen[$key] -ge $pl.depth" in code and "$seen[$key] = $pl.depth" in code
    assert "if (-not $pl.path -or $seen[$pl.path])" not in code


def test_sysmon_service_names_are_the_documented_ones_and_c_runs_only_a_signed_sysmon():
    code = code_lines("Sysmon")
    assert "-like 'Sysmon*'" not in code and "-in @('Sysmon', 'Sysmon64')" in code
    assert code.index("Get-AuthenticodeSignature -LiteralPath $exe") < code.index("& $program '-c'")
    assert "$sm.eula_accepted -and $trusted" in code
    d = copy.deepcopy(doc("server2022-hardened"))
    d["sysmon"].pop("config_text")
    d["sysmon"]["config_refused"] = "not run: C:\\Users\\x\\Sysmon64.exe is not a Microsoft-signed program"
    v = judge(d)["audit.sysmon"]
    assert v.status is not Status.PASS and "not run" in v.evidence.facts["config_problem"]


def test_unbounded_jobs_are_reported_in_evidence():
    assert "$ps.v2_unbounded" in code_lines("PowerShell") and "$sm.config_unbounded" in code_lines("Sysmon")
    d = copy.deepcopy(doc("server2022-hardened"))
    d["powershell"]["v2_unbounded"] = "background jobs refused"
    d["sysmon"]["config_unbounded"] = "background jobs refused"
    v = judge(d)
    assert v["powershell.logging"].evidence.facts["v2_unbounded"] == "background jobs refused"
    assert v["audit.sysmon"].evidence.facts["config_unbounded"] == "background jobs refused"


# --- review item 8: a ConstrainedLanguage session is not proof when something else can cause it -------


def cl_under_umci2(**changes) -> dict:
    d = wdac_only("ConstrainedLanguage")
    d["powershell"]["lockdown_policy_machine"] = d["powershell"]["lockdown_policy_session"] = ""
    for key, value in changes.items():
        area, field = key.split("__")
        d[area][field] = value
    return d


@pytest.mark.parametrize(
    "changes",
    [
        {"powershell__lockdown_policy_machine": "4"},
        {"powershell__lockdown_policy_session": "4"},
        {"appcontrol__remoting_session": True},
        {"harden_connection": "psrp"},
    ],
    ids=["machine-lockdown-var", "session-lockdown-var", "pssenderinfo", "psrp-connection"],
)
def test_cl_session_under_umci2_is_unknown_when_the_lockdown_variable_or_psrp_can_explain_it(changes):
    d = cl_under_umci2(**{k: v for k, v in changes.items() if "__" in k})
    d.update({k: v for k, v in changes.items() if "__" not in k})
    for cid in ("powershell.language_mode", "appcontrol.enforced"):
        v = judge(d)[cid]
        assert v.status is Status.ERROR and "cannot tell" in v.message, (cid, v.message)
    clean = judge(cl_under_umci2())
    assert clean["powershell.language_mode"].status is Status.PASS
    assert clean["appcontrol.enforced"].status is Status.PASS


def test_cl_session_over_psrp_passes_when_applocker_independently_enforces_scripts():
    d = cl_under_umci2(appcontrol__remoting_session=True)
    d["appcontrol"]["applocker_xml"] = doc("server2022-hardened")["appcontrol"]["applocker_xml"]
    v = judge(d)
    assert v["powershell.language_mode"].status is Status.PASS and "AppLocker" in v["powershell.language_mode"].message
    assert v["appcontrol.enforced"].status is Status.PASS


def test_the_collector_records_a_remoting_session():
    assert "$ac.remoting_session = [bool]($null -ne $PSSenderInfo)" in code_lines("application control")


# --- review item 9: AppLocker allow-all rules do not enforce anything --------------------------------


ALLOW_ALL = (
    '<AppLockerPolicy Version="1">'
    '<RuleCollection Type="Exe" EnforcementMode="Enabled"><FilePathRule Id="{{1}}" Name="all" '
    'UserOrGroupSid="S-1-1-0" Action="Allow"><Conditions><FilePathCondition Path="{exe}"/></Conditions>'
    "</FilePathRule></RuleCollection>"
    '<RuleCollection Type="Script" EnforcementMode="Enabled"><FilePathRule Id="{{2}}" Name="all" '
    'UserOrGroupSid="S-1-1-0" Action="Allow"><Conditions><FilePathCondition Path="{script}"/></Conditions>'
    "</FilePathRule></RuleCollection></AppLockerPolicy>"
)


@pytest.mark.parametrize(("exe", "script"), [("*", "*"), ("%OSDRIVE%\\*", "%OSDRIVE%\\*"), ("%WINDIR%\\*", "*")])
def test_applocker_allow_all_for_everyone_passes_neither_check(exe, script):
    d = copy.deepcopy(doc("server2022-hardened"))
    d["appcontrol"]["applocker_xml"] = ALLOW_ALL.format(exe=exe, script=script)
    d["appcontrol"]["device_guard"]["usermode_code_integrity"] = 0
    v = judge(d)
    for cid in ("powershell.language_mode", "appcontrol.enforced"):
        assert v[cid].status is Status.FAIL and "allows everything" in v[cid].message, (cid, v[cid].message)
    d["appcontrol"]["applocker_xml"] = ALLOW_ALL.format(exe="%WINDIR%\\*", script="%PROGRAMFILES%\\*")
    v = judge(d)
    assert v["powershell.language_mode"].status is Status.PASS
    assert v["appcontrol.enforced"].status is Status.PASS


# --- review item 10: PowerShell 2.0 removed from the OS (Windows 11 24H2, Server 2025) ----------------


def v2_removed(**extra) -> dict:
    d = copy.deepcopy(doc("server2022-hardened"))
    d["powershell"]["v2_features"] = [
        {"name": n, "source": "optional", "error": f"Feature name {n} is unknown.",
         "error_id": "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand", **extra}
        for n in ("MicrosoftWindowsPowerShellV2Root", "MicrosoftWindowsPowerShellV2")
    ]  # fmt: skip
    return d


def test_both_feature_names_unknown_to_dism_is_not_installed():
    v = judge(v2_removed(hresult="0x800F080C"))["powershell.logging"]
    assert v.status is Status.PASS, v.message
    assert set(v.evidence.facts["v2_features"].values()) == {"NotPresent"}
    assert judge(v2_removed())["powershell.logging"].status is Status.PASS  # older collector: the message


def test_both_names_failing_otherwise_stays_unknown():
    d = v2_removed(hresult="0x800702E4")  # ERROR_ELEVATION_REQUIRED
    v = judge(d)["powershell.logging"]
    assert v.status is Status.ERROR
    d["powershell"]["v2_features"].append({"name": "PowerShell-V2", "source": "server", "error": "Access denied"})
    d["powershell"]["v2_features"][:2] = v2_removed(hresult="0x800F080C")["powershell"]["v2_features"]
    assert judge(d)["powershell.logging"].status is Status.ERROR  # the Server role query did not answer


def test_the_collector_records_the_hresult_of_a_failed_feature_query():
    assert "hresult = ('0x{0:X8}' -f $_.Exception.HResult)" in code_lines("PowerShell")
