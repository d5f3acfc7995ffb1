"""Hostile and broken collector output: no parser or check crashes, and garbage never passes.

A compromised host can print anything. Starting from the real lab captures
(tests/golden/lab/*.out, see the README there) and from passing variants built with the
documented fixtures of tests/golden/{audit,appcontrol}/fixtures, each property garbles one
area's sections (dns, audit, appcontrol, binaries) and runs ``gather`` plus every Linux check:

- no exception escapes a parser (they become :class:`FactError`) or a check;
- evidence stays JSON-able (results.json must be writable);
- a section cut short (rc None), a required section that is absent, or a command that must
  succeed exiting non-zero never yields ``pass`` for that area's check: none of these can be
  a legitimate host state. (Replacing text while keeping rc 0 can be legitimate, e.g. an
  empty netcat search, so those mutations are only checked for crashes.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hardening.checks import evaluated, linux_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardening.facts import appcontrol, audit, binaries, dns
from hardening.facts.linux import gather
from hardening.facts.sections import FactError, Section, Sections, parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parents[1] / "golden"
CHECKS = linux_checks()
# The egress checks read only facts.firewall, which the per-area properties never garble; they
# cost ~35 ms a run, so they run in the raw-stream property (which garbles everything) only.
AREA_CHECKS = tuple(c for c in CHECKS if not c.meta.id.startswith("egress."))
AREAS = {  # area -> (parser module, the check judging it)
    "dns": (dns, "dns.query_logging"),
    "audit": (audit, "audit.auditd"),
    "appcontrol": (appcontrol, "appcontrol.enforced"),
    "binaries": (binaries, "binaries.netcat"),
}
# Sections whose command cannot legitimately fail for the area to pass: exit codes allowed.
MUST_SUCCEED = {
    "dns": {
        "dns.resolv_conf": (0, 127),
        "dns.procs": (0,),
        "dns.udp": (0, 1),
        "dns.tcp": (0, 1),
        "processes.tcp": (0,),
        "dns.dnsmasq_conf": (0,),
    },
    "audit": {
        "audit.bins": (0,),
        "audit.boot": (0,),
        "audit.procs": (0,),
        "audit.env": (0,),
        "audit.status": (0,),
        "audit.rules_loaded": (0,),
        "audit.rules_d_dir": (0, 127),
        "audit.rules_d": (0,),
    },
    "appcontrol": {
        "appcontrol.cmdline": (0,),
        "appcontrol.mounts": (0,),
        "appcontrol.apparmor_enabled": (0, 127),
    },
    "binaries": {"binaries.found": (0,)},
}
ALL_NETCATS = ["nc", "nc.openbsd", "nc.traditional", "netcat", "ncat", "socat", "busybox"]
POLICIES = (
    Policy(),
    # lab default's resolver approved and every netcat tolerated: more bases that pass
    Policy.from_vars({"harden_dns_resolvers": ["198.18.0.1"], "harden_allowed_binaries": ALL_NETCATS}),
)


def _lab(host: str) -> tuple[str, str]:
    text = (GOLDEN / "lab" / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return text, nonce


def _with(s: Sections, changes: dict[str, tuple[str, int] | None]) -> Sections:
    by_name = dict(s.by_name)
    for name, change in changes.items():
        if change is None:
            by_name.pop(name, None)
        else:
            by_name[name] = Section(name, *change)
    return Sections(by_name, s.complete)


def _bases() -> dict[str, Sections]:
    out = {h: parse_sections(*_lab(h)) for h in ("default", "hardened", "half", "ufw")}
    hardened = out["hardened"]
    afix, cfix = GOLDEN / "audit" / "fixtures", GOLDEN / "appcontrol" / "fixtures"
    rules = (GOLDEN / "audit" / "harden-coverage.rules").read_text()
    # auditd healthy: the documented auditctl fixtures (a kernel with rules cannot run here)
    out["audit_pass"] = _with(
        hardened,
        {
            "audit.status": ((afix / "auditctl-s-immutable.txt").read_text(), 0),
            "audit.status!err": None,
            "audit.rules_loaded": ((afix / "auditctl-l-coverage.txt").read_text(), 0),
            "audit.rules_loaded!err": None,
            "audit.procs": ("812 auditd\n", 0),
            "audit.rules_d_dir": ("50-harden.rules\n", 0),
            "audit.rules_d": (f"==> /etc/audit/rules.d/50-harden.rules <==\n{rules}\n", 0),
        },
    )
    out["selinux_pass"] = _with(
        hardened,
        {
            "appcontrol.selinux_enforce": ((cfix / "selinux-enforce-1.txt").read_text(), 0),
            "appcontrol.selinux_config": ((cfix / "selinux-config-enforcing.txt").read_text(), 0),
            "appcontrol.getenforce": ("Enforcing\n", 0),
        },
    )
    out["apparmor_pass"] = _with(
        hardened,
        {
            "appcontrol.apparmor_enabled": ((cfix / "apparmor-enabled-Y.txt").read_text(), 0),
            "appcontrol.apparmor_profiles": ((cfix / "apparmor-profiles-enforce.txt").read_text(), 0),
            "appcontrol.lsm": ("lockdown,capability,landlock,yama,apparmor,bpf", 0),
        },
    )
    # The collector now runs dns beside processes: dns.sh prints dns.tcp_from instead of its
    # own TCP tables, and dns.py reads processes.tcp and processes.tcp6 (captured in the same run).
    shared = {"dns.tcp": None, "dns.tcp6": None, "dns.tcp_from": ("processes\n", 0)}
    for host in ("default", "hardened"):  # the bases whose dns passes
        out[f"{host}_dns_shared"] = _with(out[host], shared)
    # Likewise audit.sh prints audit.pkg_from and audit.py reads auditd's line from the sensors
    # piece's dpkg-query ("name db-status version want ok status").
    for name in ("audit_pass", "hardened"):
        out[f"{name}_pkg_shared"] = _pkg_shared(out[name])
    return out


def _pkg_shared(s: Sections) -> Sections:
    line = s.text("audit.pkg").strip() if s.rc("audit.pkg") == 0 else ""
    name, _, tail = line.partition(" ")
    listed = f"{name} {tail.split()[-1]} {tail}\n" if tail else ""
    packages = (listed + s.text("sensors.packages"), 1)
    return _with(s, {"audit.pkg": None, "audit.pkg_from": ("sensors\n", 0), "sensors.packages": packages})


BASES = _bases()
BASE_NAMES = sorted(BASES)


def judge(s: Sections, policy: Policy, checks: tuple = AREA_CHECKS) -> dict[str, Status]:
    """``checks`` over ``s``; fails the test if anything raises or evidence is not JSON-able."""
    facts = gather(s)
    out = {}
    for check in checks:
        v = evaluated(check.evaluate, facts, policy)
        assert isinstance(v.status, Status) and v.message, check.meta.id
        json.dumps(v.evidence.facts)
        out[check.meta.id] = v.status
    return out


def required(s: Sections, area: str) -> tuple[str, ...]:
    """The sections ``area``'s parser needs in ``s`` (dns: its TCP tables or the processes piece's)."""
    if area not in AREAS:  # "meta": the header's sections
        return ()
    module = AREAS[area][0]
    return module.required_sections(s) if hasattr(module, "required_sections") else module.SECTIONS


def area_names(s: Sections, area: str) -> list[str]:
    """The sections ``area``'s parser reads in ``s``."""
    return sorted({n for n in s if n.startswith(area + ".")} | {n for n in required(s, area) if n in s})


def assert_never_pass(s: Sections, area: str, policy: Policy) -> None:
    check_id = AREAS[area][1]
    status = judge(s, policy)[check_id]
    assert status is not Status.PASS, f"{check_id} passed on garbled {area} output"


def test_bases_pass_where_expected():
    """The no-pass properties are not vacuous: every area passes on some base."""
    passing = {
        (name, i, cid)
        for name in BASE_NAMES
        for i, policy in enumerate(POLICIES)
        for cid, status in judge(BASES[name], policy, CHECKS).items()
        if status is Status.PASS
    }
    for base, policy, check_id in [
        ("hardened", 0, "dns.query_logging"),
        ("default", 1, "dns.query_logging"),
        ("hardened_dns_shared", 0, "dns.query_logging"),
        ("default_dns_shared", 1, "dns.query_logging"),
        ("audit_pass_pkg_shared", 0, "audit.auditd"),
        ("hardened", 0, "binaries.netcat"),
        ("default", 1, "binaries.netcat"),
        ("audit_pass", 0, "audit.auditd"),
        ("selinux_pass", 0, "appcontrol.enforced"),
        ("apparmor_pass", 0, "appcontrol.enforced"),
    ]:
        assert (base, policy, check_id) in passing


# -- hostile text -------------------------------------------------------------------------

FRAGMENTS = [
    "\x00",
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "@bin\x00",
    "@trunc\x00",
    "\x1b[31m",
    "\x1b]0;owned\x07",
    "\x1b[2J\x1b[H",
    "\ufffd\ufffd",
    "\r\n",
    "\n",
    "\t",
    "@@x B dns.procs\n",
    "@@ E audit.status 0\n",
    "==> /etc/dnsmasq.conf <==\n",
    "==> /etc/audit/rules.d/x\n.rules <==\n",
    "==> ",
    " <==\n",
    "log-queries\n",
    "conf-file=/etc/dnsmasq.conf\n",
    "conf-dir=/etc/dnsmasq.d,*.conf\n",
    "@proc 1\n",
    "@proc ²\n",
    "@proc " + "9" * 5000 + "\n",
    "uid ²\n",
    "sockets 1 2 ² 99999999999999999999999999\n",
    "cmdline zz\n",
    "comm 6\n",
    "@config /etc/unbound/unbound.conf\n",
    "log-queries=yes\n",
    "querylog yes;\n",
    'logging { category queries { q; }; channel q { file "/x"; }; };\n',
    "{" * 3000,
    "}" * 300,
    "-e 2\n",
    "-e 0\n",
    "-A never,exit\n",
    "-a never,task\n",
    "-a always,exit -F arch=b64 -S execve\n",
    "-F a2=" + "9" * 5000 + "\n",
    "-F a2=0x" + "f" * 300 + "\n",
    "enabled 2\n",
    "enabled -1\n",
    "enabled " + "9" * 5000 + "\n",
    "pid -5\n",
    "CapEff zz\n",
    "CapEff " + "f" * 500 + "\n",
    "systemd running\n",
    "link /etc/systemd/system/auditd.service -> /dev/null\n",
    "selinux=0 ",
    "enforcing=0",
    " -- ",
    "lsm=,,,,",
    "/usr/sbin/x (enforce)\n",
    "(enforce)\n",
    "Y",
    "1",
    "-1",
    "²",
    "١٢٣",
    "9" * 5000,
    "-" + "9" * 30,
    "0x",
    "$(reboot)",
    "`id`",
    "; rm -rf /",
    "/tmp/.x\n\tevil/nc",
    "BusyBox v1.36\n--- --list\nnc\n",
    "   1: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 4 2\n",
    "   1: 0100007F:0035 00000000:0000 07 0 0 0 ² ² ²\n",
    "   1: ZZ:0035 00000000:0000 07 0 0 0 0 0 0\n",
]

_decoded_garbage = st.binary(max_size=64).map(lambda b: b.decode("utf-8", "replace"))
_piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=40), _decoded_garbage)
hostile_text = st.one_of(
    st.lists(_piece, max_size=10).map("".join),
    st.sampled_from(["", "A" * 200_000, ("x" * 999 + "\n") * 200, "\n" * 20_000, "==> a\n" * 2000]),
)
RCS = st.sampled_from([0, 0, 0, 1, 2, 4, 126, 127, 255, -1, -2147483648, 2147483647, None])


def _mutate_text(draw, original: str) -> str:
    """Either hostile text, or the original with hostile pieces spliced in (keeps structure)."""
    if draw(st.booleans()):
        return draw(hostile_text)
    text = original
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3)) * draw(st.integers(0, 20))
        text = text[:at] + draw(_piece) + text[at + cut :]
    return text


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.data())
def test_hostile_text_in_one_area_never_crashes(data):
    base = BASES[data.draw(st.sampled_from(BASE_NAMES))]
    area = data.draw(st.sampled_from([*AREAS, "meta"]))
    names = area_names(base, area)
    changes = {}
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        text = _mutate_text(data.draw, base[name].text)
        changes[name] = (text, data.draw(RCS))
    s = _with(base, changes)
    statuses = judge(s, data.draw(st.sampled_from(POLICIES)))
    if area != "meta" and any(rc is None for _, rc in changes.values()):
        assert statuses[AREAS[area][1]] is not Status.PASS


@FAST
@given(st.data())
def test_truncated_section_is_an_error_never_a_pass(data):
    """rc None: the connection was cut in the middle of this section."""
    base = BASES[data.draw(st.sampled_from(BASE_NAMES))]
    area = data.draw(st.sampled_from(list(AREAS)))
    name = data.draw(st.sampled_from(area_names(base, area)))
    text = base[name].text
    kept = text[: data.draw(st.integers(0, len(text)))]
    s = _with(base, {name: (kept, None)})
    assert isinstance(gather(s).areas[area], FactError)
    assert_never_pass(s, area, data.draw(st.sampled_from(POLICIES)))


@FAST
@given(st.data())
def test_absent_required_section_is_an_error_never_a_pass(data):
    """The output stopped between two sections: the later ones are simply not there."""
    base = BASES[data.draw(st.sampled_from(BASE_NAMES))]
    area = data.draw(st.sampled_from(list(AREAS)))
    name = data.draw(st.sampled_from(required(base, area)))
    s = _with(base, {name: None})
    assert isinstance(gather(s).areas[area], FactError)
    assert_never_pass(s, area, data.draw(st.sampled_from(POLICIES)))


@FAST
@given(st.data())
def test_failed_command_never_passes(data):
    base = BASES[data.draw(st.sampled_from(BASE_NAMES))]
    area = data.draw(st.sampled_from(list(AREAS)))
    must = [(n, ok) for n, ok in sorted(MUST_SUCCEED[area].items()) if n in base and n in required(base, area)]
    name, allowed = data.draw(st.sampled_from(must))
    rc = data.draw(st.integers(-(2**31), 2**31 - 1).filter(lambda r: r not in allowed))
    s = _with(base, {name: (base[name].text, rc)})
    assert_never_pass(s, area, data.draw(st.sampled_from(POLICIES)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hostile_raw_stream_never_crashes(data):
    """Garbage spliced anywhere into the raw output, markers with the real nonce included."""
    host = data.draw(st.sampled_from(["default", "hardened", "half", "ufw"]))
    text, nonce = _lab(host)
    names = sorted(parse_sections(text, nonce))
    marker = st.builds(
        lambda kind, name, rc: f"\n@@{nonce} {kind} {name} {rc}\n",
        st.sampled_from(["B", "E"]),
        st.sampled_from([*names, "x", "dns.procs!err"]),
        st.sampled_from(["0", "1", "-1", "127", "9" * 50, "", "x"]),
    )
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.sampled_from([0, 0, 10, 1000, len(text)]))
        text = text[:at] + data.draw(st.one_of(marker, _piece, hostile_text)) + text[at + cut :]
    s = parse_sections(text, nonce)
    judge(s, data.draw(st.sampled_from(POLICIES)), CHECKS)


@pytest.mark.parametrize("rc", ["9" * 5000, "-" + "9" * 11])
def test_absurd_exit_code_is_a_cut_section_not_a_crash(rc):
    s = parse_sections(f"@@n B a\nbody\n@@n E a {rc}\n\n@@n B b\nx\n@@n E b 0\n", "n")
    assert s["a"].rc is None and s["b"].rc == 0


def test_begin_marker_inside_a_section_cuts_it():
    # A section never contains another's begin marker: the first one was cut short.
    s = parse_sections("@@n B a\npartial\n@@n B b\nx\n@@n E b 0\n@@n E a 0\n", "n")
    assert s["a"].rc is None and s["a"].text == "partial\n" and s["b"].rc == 0


def test_many_unclosed_begin_markers_parse_in_linear_time():
    out = "".join(f"@@n B s{i}\n{'y' * 50}\n" for i in range(20_000))
    s = parse_sections(out, "n")
    assert len(s) == 20_000 and all(sec.rc is None for sec in s.values())


def test_unicode_digit_uid_is_not_root_and_does_not_crash():
    s = _with(BASES["hardened"], {"meta.id": ("²\n", 0)})
    facts = gather(s)
    assert facts.uid is None and not facts.is_root
    judge(s, Policy(), CHECKS)


# -- the real collector pieces, run here on hostile file names --------------------------------

SHELLS = [sh for sh in (["dash", "-s"], ["busybox", "sh", "-s"]) if shutil.which(sh[0])]
HOSTILE_DIRS = ["$(touch PWNED)", "`touch PWNED`", "a\n==> fake <==\nb", "-rf", "x;touch PWNED", " \t"]


def _run_out(shell: list[str], script: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(shell, input=script.encode(), capture_output=True, timeout=60, check=False, cwd=cwd)


def _run(shell: list[str], script: str, cwd: Path) -> Sections:
    return parse_sections(_run_out(shell, script, cwd).stdout.decode("utf-8", "replace"), "n1")


#: Runs a command with a /tmp of its own holding a copy of the directory it starts in (a child of
#: /tmp, still reachable as the working directory once the new /tmp hides it). A copy, not a bind
#: mount: the netcat search does not cross file systems (find -xdev). What the command made there
#: is gone with the namespace, so a file named PWNED* anywhere in that /tmp is said on stderr.
_PRIVATE_TMP = (
    'mount -t tmpfs -o size=4m,mode=1777 harden-test /tmp && cp -a . "/tmp/$1" && shift && { "$@"; _rc=$?;'
    " find /tmp -name 'PWNED*' -exec printf '%s\\n' PWNED-IN-PRIVATE-TMP ';' >&2; exit $_rc; }"
)


def _private_tmp(tree: Path) -> list[str]:
    """The prefix that runs a command with only ``tree`` in /tmp (a mount namespace: root, or a user
    namespace), or [] where this system allows neither: then the command sees the real /tmp."""
    if tree.parent != Path("/tmp") or not shutil.which("unshare"):
        return []
    for ns in (["unshare", "--mount", "--propagation", "private"], ["unshare", "--user", "--map-root-user", "--mount"]):
        cmd = [*ns, "sh", "-c", _PRIVATE_TMP, "sh", tree.name]
        probe = subprocess.run([*cmd, "sh", "-c", "ls -A /tmp"], capture_output=True, text=True, timeout=30, cwd=tree)
        if probe.returncode == 0 and probe.stdout.split() == [tree.name]:
            return cmd
    return []


@pytest.fixture
def hostile_tree():
    """Dirs with hostile names under /tmp (the netcat search looks there), each holding ``nc``."""
    root = Path(tempfile.mkdtemp(prefix="harden-hostile.", dir="/tmp"))
    try:
        for name in HOSTILE_DIRS:
            (root / name).mkdir()
            (root / name / "nc").write_bytes(b"\x7fELF not really")
            (root / name / "x.rules").write_text("-w /etc/cron.d -p wa\n")
        yield root
    finally:
        shutil.rmtree(root)


@pytest.mark.skipif(not SHELLS or not Path("/proc/self/mem").exists(), reason="needs dash or busybox, Linux")
@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s[0])
def test_hostile_file_names_run_nothing_and_keep_the_framing(shell, hostile_tree):
    from hardening.facts.collector import build_linux_script

    # In a /tmp of its own: the piece records at most 64 netcat-like paths, and this machine's /tmp
    # may hold more than that (other tests' and tools' scratch), which would crowd these out.
    prefix = _private_tmp(hostile_tree)
    out = _run_out([*prefix, *shell], build_linux_script("n1", pieces=("binaries",)), hostile_tree)
    assert b"PWNED" not in out.stderr  # the shells ran in the private /tmp's copy
    s = parse_sections(out.stdout.decode("utf-8", "replace"), "n1")
    assert s.complete and s.rc("binaries.found") is not None
    facts = binaries.parse(s)
    if prefix:  # the private /tmp held nothing else
        assert [p.path for p in facts.paths if p.path.startswith("/tmp/")] == [
            p.path for p in facts.paths if p.path.startswith(str(hostile_tree))
        ]
    mine = sorted(p.path for p in facts.paths if p.path.startswith(str(hostile_tree)))
    assert mine == sorted(f"{hostile_tree}/{d}/nc" for d in HOSTILE_DIRS)
    assert not any(p.executed for p in facts.paths if p.path.startswith(str(hostile_tree)))
    # _h_files: names with newlines cannot fake a block header; an unreadable file is exit 1
    header = (Path(binaries.__file__).parent / "header.sh").read_text()
    globs = f"'{hostile_tree}'/*/x.rules /proc/self/mem"
    script = f"HN=n1\n{header}\n_h_files t.files {globs}\n_h_files t.ok '{hostile_tree}'/-rf/x.rules\n"
    s = _run(shell, script, hostile_tree)
    assert s.rc("t.files") == 1 and "/proc/self/mem" in s.stderr("t.files")
    assert s.rc("t.ok") == 0
    heads = [ln for ln in s.text("t.files").splitlines() if ln.startswith("==> ")]
    assert len(heads) == len(HOSTILE_DIRS) + 1 and "==> fake <==" not in heads
    assert [p.name for p in hostile_tree.rglob("PWNED*")] == []  # the shells ran in hostile_tree
