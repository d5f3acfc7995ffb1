"""One hostile host result through every output harden writes: terminal, results.json, HTML,
Markdown, JUnit, SARIF and the generated playbooks. Host strings stay data everywhere.

The result is written the way ``harden audit`` writes it (ResultsWriter), then the real
``harden report --format all`` and ``harden remediate`` commands render it.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import yaml
from hardening.checks.binaries_netcat.remedy import remedy as netcat_remedy
from hardening.checks.dns_query_logging.linux import resolver_notes
from rich.console import Console as RichConsole

from hardening.console import Console
from hardening.model import Evidence, HostResult, Remedy, Status
from hardening.results import ResultsWriter

GOLDEN = Path(__file__).parents[1] / "golden" / "report" / "results.json"
HARDEN = str(Path(sys.executable).parent / "harden")

HOSTILE = (
    "\x1b[2J\x1b]0;pwned\x07\x1b[31mred <script>alert(1)</script> <b>bold</b> |a|b| `tick` ```fence "
    "{{ lookup('pipe','id') }} {% raw %} [[ x ]] $(id) ; rm -rf / &amp; \n"
    "second line !!python/object/apply:os.system ['id'] &anchor *anchor \u202e\x00 # - [x](javascript:x)"
)
HOSTILE_PATH = "/tmp/x\n{{ lookup('pipe','id') }}/$(id)`id`|&a *a !!python/object:os.system \x1b[31m/nc"
HOST_ESCAPES = ("\x1b[2J", "\x1b]0;pwned")  # (its \x1b[31m is also an SGR rich emits itself)


def hostile_host() -> HostResult:
    """The lab golden's ``default`` host with every message and excerpt hostile, and hostile
    remediation inputs (a netcat copy at a hostile path, a hostile nameserver)."""
    doc = json.loads(GOLDEN.read_text())
    host = HostResult.from_json(next(h for h in doc["hosts"] if h["name"] == "default"))
    checks = []
    for c in host.checks:
        facts = dict(c.evidence.facts)
        status = c.status
        remedy = c.remedy
        if c.id == "binaries.netcat":
            status = Status.FAIL
            named = {"path": HOSTILE_PATH, "kind": "file", "link_target": "", "packages": [], "root_only": False}
            finding = {"real_path": HOSTILE_PATH, "names": [HOSTILE_PATH], "sha256": "ab" * 32, "paths": [named]}
            facts["findings"] = [finding, {"removable_packages": ["netcat-openbsd", HOSTILE], "paths": []}]
            remedy = netcat_remedy(facts["findings"])  # what the check derives from such findings
            forged = [*remedy.variables["harden_netcat_packages"], HOSTILE]  # and a hostile edit of results.json
            remedy = Remedy(remedy.role, {**remedy.variables, "harden_netcat_packages": forged}, remedy.notes)
        if c.id == "dns.query_logging":
            status = Status.FAIL
            facts["resolv_conf"] = {"nameservers": ["198.18.0.1", HOSTILE]}
            remedy = Remedy("harden_dns_logging", notes=tuple(resolver_notes(["198.18.0.1", HOSTILE])))
        facts["hostile"] = HOSTILE
        checks.append(replace(c, status=status, message=HOSTILE, evidence=Evidence(facts, HOSTILE), remedy=remedy))
    return replace(host, name="web1", message=HOSTILE, checks=tuple(checks))


def harden(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_hostile_host_data_stays_data_in_every_output(tmp_path):
    host = hostile_host()
    with ResultsWriter(tmp_path, inventory="inv.ini") as w:
        w.add(host)
    doc = json.loads((tmp_path / "results.json").read_text())
    (raw,) = doc["hosts"]
    assert raw["message"] == HOSTILE and all(c["message"] == HOSTILE for c in raw["checks"])  # kept exactly

    r = harden("report", tmp_path / "results.json", "--format", "all")
    assert r.returncode == 0, r.stderr
    for out in (r.stdout, r.stderr):
        assert "\x1b" not in out

    # HTML: the markup is text, never elements; no escape byte survives.
    html = (tmp_path / "report.html").read_text()
    tags: list[str] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: object) -> None:
            tags.append(tag)

    Tags().feed(html)
    assert "script" not in tags and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "b" not in tags or "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "\x1b" not in html and "\x00" not in html
    assert "javascript:" not in re.findall(r'href="([^"]*)"', html)

    # Markdown: no raw markup, no escapes, tables keep their width.
    md = (tmp_path / "report.md").read_text()
    assert "<script>" not in md and "<b>" not in md and "\x1b" not in md and "\x00" not in md
    assert "](javascript:" not in md

    def pipes(line: str) -> int:
        return sum(1 for i, ch in enumerate(line) if ch == "|" and (i == 0 or line[i - 1] != "\\"))

    table = [line for line in md.splitlines() if line.startswith("| web1") or line.startswith("| Host")]
    assert table and len({pipes(line) for line in table}) == 1, table

    # JUnit: well-formed XML, the message is text (markup kept as characters), no controls.
    junit = (tmp_path / "junit.xml").read_text()
    assert "\x1b" not in junit and "\x00" not in junit
    texts = " ".join(el.get("message", "") + (el.text or "") for el in ET.fromstring(junit).iter())
    assert "<script>alert(1)</script>" in texts

    # SARIF: valid JSON whose strings carry no control characters.
    sarif = json.loads((tmp_path / "harden.sarif").read_text())
    strings = json.dumps(sarif, ensure_ascii=False)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", "".join(_strings(sarif)))
    assert "<script>alert(1)</script>" in strings

    # Playbooks: host values are !unsafe data, read back exactly; no other tag; nothing in site.yml.
    r = harden("remediate", tmp_path / "results.json")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout + r.stderr
    playbooks = tmp_path / "playbooks"
    text = (playbooks / "host_vars" / "web1.yml").read_text()
    tags_used = {ev.tag for ev in yaml.parse(text) if isinstance(ev, yaml.ScalarEvent)}
    assert tags_used <= {None, "!unsafe"}, tags_used

    hv = ansible_vars(playbooks / "host_vars" / "web1.yml")
    (f,) = hv["harden_netcat_files"]
    assert f["path"] == {"value": HOSTILE_PATH, "templated": False}
    assert hv["harden_platform"]["templated"] is True  # our own constants are plain (the probe works)
    assert all(not v["templated"] for v in hv["harden_failed_checks"])
    assert [v["value"] for v in hv["harden_netcat_packages"]] == ["netcat-openbsd"]  # hostile "package" dropped
    assert "harden_dns_logging_upstreams" not in hv  # a host's nameservers never reach the playbooks
    site = (playbooks / "site.yml").read_text()
    assert "lookup" not in site and "$(id)" not in site
    plan = json.loads((playbooks / "plan.json").read_text())
    assert any("ignored" in n for h in plan["hosts"] for n in h["notes"])


_READ_AS_ANSIBLE = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

def walk(v):
    if isinstance(v, str):
        return {"value": str(v), "templated": is_trusted_as_template(v)}
    if isinstance(v, dict):
        return {k: walk(x) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x) for x in v]
    return v

print(json.dumps(walk(DataLoader().load_from_file(sys.argv[1], trusted_as_template=True))))
"""


def ansible_vars(path: Path) -> dict:
    """A vars file read as Ansible reads host_vars (file content trusted as templates), in a fresh
    process (importing Ansible here would freeze its configuration for the inventory tests).
    Every string becomes ``{"value": ..., "templated": would Ansible template it}``."""
    out = subprocess.run(
        [sys.executable, "-c", _READ_AS_ANSIBLE, str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_terminal_output_never_carries_host_escapes():
    host = hostile_host()
    # Non-interactive (pipes, CI logs): not a single escape byte.
    plain = io.StringIO()
    ui = Console(RichConsole(file=plain, highlight=False, soft_wrap=True, emoji=False), interactive=False)
    with ui.progress(total=1) as p:
        p.host_done(host)
    ui.summary([host], Path("results.json"))
    ui.error(HOSTILE)
    out = plain.getvalue()
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    assert "\\x1b[2J" in out  # shown as text
    assert "[/b]" not in out and "<script>" in out  # rich markup not interpreted, text kept

    # Interactive (a colour terminal): rich's own colour codes only, none of the host's.
    tty = io.StringIO()
    rich = RichConsole(file=tty, force_terminal=True, color_system="truecolor", width=200, highlight=False)
    ui = Console(rich, interactive=True)
    ui.summary([host], Path("results.json"))
    out = tty.getvalue()
    assert not any(seq in out for seq in HOST_ESCAPES)
    assert "\\x1b[31m" in out  # the host's colour code shown as text
    assert not re.findall(r"\x1b(?!\[[0-9;]*m)", out), "an escape other than SGR colour reached the terminal"
    assert "\x07" not in out and "\x00" not in out


def test_redact_blanks_passwords_in_every_string_a_host_sent_back():
    from hardening.audit import REDACTED, redact

    secret = "s3cret-Pw"
    host = hostile_host()
    checks = tuple(
        replace(c, message=f"m {secret}", evidence=Evidence({"k": [secret, {secret: secret}], "n": 3}, secret))
        for c in host.checks
    )
    leaky = replace(host, message=f"sudo: {secret}", checks=checks)
    out = json.dumps(redact(leaky, [secret, None, "ab"]).to_json())
    assert secret not in out and REDACTED in out and '"n": 3' in out
    assert redact(leaky, [None, "ab"]) == leaky  # nothing to redact (short secrets are left alone)
    assert redact(host, [secret]) is host  # not in the output anywhere: the result as it was
    # secrets JSON would escape (quote, backslash, controls) are still found, in every string
    for odd in ('pa"ss\\word', "tab\tsecret"):
        leaky2 = replace(host, checks=(replace(host.checks[0], evidence=Evidence({odd: [odd]}, odd)),))
        ev = redact(leaky2, [odd]).checks[0].evidence
        assert dict(ev.facts) == {REDACTED: [REDACTED]} and ev.excerpt == REDACTED
