"""binaries.netcat: parser goldens (real output, see golden/binaries/README.md) and pure check tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening.checks import evaluated
from hardening.checks.binaries_netcat import linux as check

from hardening.facts import binaries
from hardening.facts.linux import gather
from hardening.facts.sections import FactError, parse_sections
from hardening.model import Status
from hardening.policy import Policy

GOLDEN = Path(__file__).parents[2] / "golden" / "binaries"
SHELLS = ("dash", "busybox")
HOSTILE = "/tmp/.x\n\tevil/nc"


def raw(name: str, shell: str = "dash") -> str:
    return (GOLDEN / f"{name}.{shell}.txt").read_text(encoding="utf-8", errors="surrogateescape")


def facts(name: str, shell: str = "dash", text: str | None = None) -> binaries.BinaryFacts:
    return binaries.parse(parse_sections(text if text is not None else raw(name, shell), "x"))


def verdict(name: str, policy: Policy | None = None, shell: str = "dash", text: str | None = None):
    s = parse_sections(text if text is not None else raw(name, shell), "x")
    return evaluated(check.evaluate, gather(s), policy or Policy())


def by_flavor(f: binaries.BinaryFacts) -> dict[str, binaries.Binary]:
    return {b.flavor: b for b in f.binaries}


# -- parser goldens ---------------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_host_with_every_variant(shell):
    f = facts("host_all", shell)
    assert f.package_db == "dpkg" and f.incomplete == ""
    b = by_flavor(f)
    assert set(b) == {"openbsd-nc", "traditional-nc", "ncat", "socat", "busybox"}
    nc = b["openbsd-nc"]
    # /usr/bin/nc -> /etc/alternatives/nc -> /bin/nc.openbsd: one finding, all names
    assert nc.real_path == "/usr/bin/nc.openbsd"
    assert set(nc.names) == {"/usr/bin/nc", "/usr/bin/netcat", "/usr/bin/nc.openbsd"}
    assert nc.packages == ("netcat-openbsd",) and nc.exec_support == "no"
    assert b["traditional-nc"].exec_support == "yes" and b["traditional-nc"].packages == ("netcat-traditional",)
    assert b["ncat"].exec_support == "yes" and b["socat"].exec_support == "yes"
    for x in f.binaries:
        assert len(x.sha256) == 64 and x.magic == "7f454c46" and x.location == "system"
    symlink = next(p for p in f.paths if p.path == "/usr/bin/nc")
    assert symlink.kind == "symlink" and symlink.link_target == "/etc/alternatives/nc"


@pytest.mark.parametrize("shell", SHELLS)
def test_busybox_merged_usr_spelling_is_owned(shell):
    (bb,) = facts("busybox_only", shell).binaries
    # dpkg records /bin/busybox; the file was found as /usr/bin/busybox
    assert bb.real_path == "/usr/bin/busybox" and bb.packages == ("busybox",)
    assert bb.busybox_nc is True and bb.exec_support == "yes" and bb.exec_how == "busybox nc -e PROG"
    assert "busybox: /bin/busybox" in parse_sections(raw("busybox_only", shell), "x").text("binaries.dpkg")


@pytest.mark.parametrize("shell", SHELLS)
def test_dropped_copies_and_hostile_names(shell):
    f = facts("dropped", shell)
    names = {n for b in f.binaries for n in b.names}
    assert HOSTILE in names  # a directory name with a newline and a tab survives intact
    assert names == {
        HOSTILE,
        "/tmp/nc",
        "/usr/local/bin/nc",
        "/usr/local/bin/socat",
        "/dev/shm/ncat",
        "/home/alice/.local/bin/busybox",
    }
    assert not any(p.executed for p in f.paths)  # nothing outside system dirs is ever run
    reasons = {p.path: p.not_run_reason for p in f.paths}
    assert reasons.pop(HOSTILE) == "unusual characters in path"
    assert set(reasons.values()) == {"not a system directory"}
    real = {b.real_path: b for b in f.binaries}
    assert set(real["/tmp/nc"].names) == {"/tmp/nc", "/usr/local/bin/nc"}
    assert real["/tmp/nc"].location == "dropped" and real["/tmp/nc"].flavor == "traditional-nc"
    assert real["/usr/local/bin/socat"].location == "local"
    assert real["/home/alice/.local/bin/busybox"].busybox_nc is None
    assert all(b.packages == () and b.owner_known for b in f.binaries)


@pytest.mark.parametrize("shell", SHELLS)
def test_symlinks_are_judged_as_themselves_never_by_their_target(shell):
    """A user's links named like netcats into other packages' programs (golden: links)."""
    f = facts("links", shell)
    assert f.incomplete == ""
    named = {n.path: (n, b) for b in f.binaries for n in b.paths}
    for path, target_pkg in (
        ("/tmp/x/nc", "openssh-client"),
        ("/home/alice/ncat", "python3.11-minimal"),
        ("/dev/shm/d/socat", "coreutils"),
    ):
        n, b = named[path]
        assert n.kind == "symlink" and n.packages == () and n.root_only is False
        assert b.packages == () and b.removable_packages == ()
        assert target_pkg in b.target_packages  # known, shown, never acted on
    # the user's copy of socat (uid 1000) in a home directory: unpackaged, not root-only
    n, b = named["/home/alice/bin/socat"]
    assert n.kind == "file" and n.uid == 1000 and not n.root_only and b.removable_packages == ()
    # the real netcat-openbsd: removable, because /usr/bin/nc.openbsd itself is its file
    n, b = named["/usr/bin/nc.openbsd"]
    assert n.packages == ("netcat-openbsd",) and n.root_only and b.removable_packages == ("netcat-openbsd",)
    # links to it: the alternatives links and root's /usr/local/bin/nc are root-only, the
    # user's /tmp/netcat is not; none of them is packaged
    assert named["/usr/bin/nc"][0].managed_link and not named["/usr/local/bin/nc"][0].managed_link
    assert named["/usr/local/bin/nc"][0].root_only and not named["/tmp/netcat"][0].root_only
    assert {named[p][0].packages for p in ("/usr/bin/nc", "/usr/local/bin/nc", "/tmp/netcat")} == {()}


def test_links_check_names_the_link_and_its_targets_package():
    v = verdict("links")
    assert v.status is Status.FAIL
    assert "unpackaged link to a file of package openssh-client" in v.message
    found = {f["real_path"]: f for f in v.evidence.facts["findings"]}
    ssh = found["/usr/bin/ssh"]
    assert ssh["packages"] == [] and ssh["removable_packages"] == [] and ssh["target_packages"] == ["openssh-client"]
    assert ssh["paths"] == [
        {
            "path": "/tmp/x/nc",
            "kind": "symlink",
            "link_target": "/usr/bin/ssh",
            "packages": [],
            "root_only": False,
            "uid": 0,  # of the file it resolves to (stat -L)
        }
    ]
    assert "remove the packages (busybox ncat netcat-openbsd netcat-traditional socat)" in v.message.lower()
    assert "openssh" not in v.message.split("Remove the packages")[1].split(";")[0]


@pytest.mark.parametrize(
    ("path", "dirs", "expected"),
    [
        ("/usr/bin/nc", "L 0:41ed 0:41ed 0:41ed P 0:41ed 0:41ed 0:41ed ", True),
        ("/bin/nc", "L 0:a1ff 0:41ed P 0:41ed 0:41ed 0:41ed ", True),  # /bin -> usr/bin (root's link)
        ("/tmp/nc", "L 0:43ff 0:41ed P 0:43ff 0:41ed ", False),  # sticky, world-writable /tmp
        ("/usr/local/bin/nc", "L 0:43fd 0:41ed 0:41ed 0:41ed P 0:43fd 0:41ed 0:41ed 0:41ed ", False),  # g+w staff
        ("/opt/x/nc", "L 1000:41ed 0:41ed 0:41ed P 1000:41ed 0:41ed 0:41ed ", False),  # a user's directory
        ("/usr/lib/x/nc", "L 0:a1ff 0:41ed 0:41ed 0:41ed P 1000:41ed 0:41ed 0:41ed ", False),  # link to a home
        ("/usr/bin/nc", "L 0:41ed 0:41ed 0:41ed P ! ", False),  # stat failed
        ("/usr/bin/nc", "L 0:41ed 0:41ed P 0:41ed 0:41ed 0:41ed ", False),  # one directory short
        ("/usr/bin/nc", "", False),  # an older collector
    ],
)
def test_root_only_dirs(path, dirs, expected):
    assert binaries.root_only_dirs(path, dirs) is expected


def test_removable_needs_every_condition():
    ok = binaries.NamedPath("/usr/bin/socat", "file", "", ("socat",), True, 0)
    assert binaries.removable((ok,)) == ("socat",)
    assert binaries.removable((binaries.NamedPath("/usr/bin/socat", "file", "", ("socat",), False, 0),)) == ()
    assert binaries.removable((binaries.NamedPath("/usr/bin/socat", "file", "", ("socat",), True, 1000),)) == ()
    assert binaries.removable((binaries.NamedPath("/usr/sbin/nc", "file", "", ("openssh-server",), True, 0),)) == ()
    assert binaries.removable((binaries.NamedPath("/usr/bin/nc", "file", "", ("busybox:amd64",), True, 0),)) == (
        "busybox",
    )


def test_none_golden_is_empty():
    f = facts("none")
    assert f.binaries == () and f.incomplete == ""


def test_spellings():
    assert binaries.spellings("/usr/bin/busybox") == ("/usr/bin/busybox", "/bin/busybox")
    assert binaries.spellings("/sbin/x") == ("/sbin/x", "/usr/sbin/x")
    assert binaries.spellings("/opt/x") == ("/opt/x",)


@pytest.mark.parametrize(
    "body",
    [
        "@bin\0/tmp/nc\0file\0",  # wrong field count
        "garbage\0" * 12,  # not a record
        "@bin\0/tmp/nc",  # cut short
    ],
)
def test_garbage_raises_fact_error(body):
    with pytest.raises(FactError):
        binaries.parse_found(body)


# -- check ----------------------------------------------------------------------------------


def test_none_passes():
    v = verdict("none")
    assert v.status is Status.PASS and v.evidence.facts["findings"] == []


def test_openbsd_nc_fails_with_lower_weight():
    v = verdict("openbsd_only")
    assert v.status is Status.FAIL
    assert "netcat-openbsd" in v.message and "no -e" in v.message and "piped to a shell" in v.message
    assert "/usr/bin/nc" in v.message


def test_traditional_nc_fails_with_exec():
    v = verdict("traditional_only")
    assert v.status is Status.FAIL
    assert "netcat-traditional" in v.message and "can run a program on connect" in v.message


@pytest.mark.parametrize("shell", SHELLS)
def test_busybox_with_nc_applet_fails_even_though_packaged(shell):
    v = verdict("busybox_only", shell=shell)
    assert v.status is Status.FAIL
    assert "package busybox" in v.message and "-e PROG" in v.message
    assert "unpackaged" not in v.message


def test_unpackaged_socat_and_dropped_nc_fail_flagged_dropped():
    v = verdict("dropped")
    assert v.status is Status.FAIL
    assert "looks dropped" in v.message
    assert "/usr/local/bin/socat" in v.message and repr(HOSTILE) in v.message
    found = {f["real_path"]: f for f in v.evidence.facts["findings"]}
    assert found["/usr/local/bin/socat"]["location"] == "local"
    assert found["/tmp/nc"]["location"] == "dropped"


def test_policy_allows_by_name_and_path():
    policy = Policy.from_vars(
        {
            "harden_allowed_binaries": [
                "socat",
                "ncat",
                "busybox",
                "/usr/bin/nc.traditional",
                "/usr/bin/nc",  # a name of the nc.openbsd binary
            ]
        }
    )
    v = verdict("host_all", policy)
    assert v.status is Status.PASS and "allowed by" in v.message
    assert len(v.evidence.facts["allowed"]) == 5
    partial = Policy.from_vars({"harden_allowed_binaries": ["socat"]})
    v = verdict("host_all", partial)
    assert v.status is Status.FAIL and "allowed by policy: /usr/bin/socat" in v.message


def test_busybox_without_nc_applet_is_not_a_finding():
    text = raw("busybox_only").replace("\nnc\n", "\n", 1)
    (bb,) = facts("busybox_only", text=text).binaries
    assert bb.busybox_nc is False and not bb.is_netcat
    v = verdict("busybox_only", text=text)
    assert v.status is Status.PASS and "busybox without an nc applet" in v.message


def test_incomplete_search_without_findings_is_error_not_pass():
    text = raw("none").replace(
        "@@x E binaries.found 0\n",
        "@@x E binaries.found 1\n\n@@x B binaries.found!err\nfind: '/home/bob': Permission denied\n"
        "@@x E binaries.found!err 0\n",
    )
    v = verdict("none", text=text)
    assert v.status is Status.ERROR and "Permission denied" in v.message


def test_cut_output_is_error():
    text = raw("host_all")
    v = verdict("host_all", text=text[: text.index("@@x E binaries.found")])
    assert v.status is Status.ERROR


def test_a_users_link_never_makes_a_netcat_allowed():
    """ln -s /usr/bin/nc.openbsd /tmp/netcat (golden links): allowing "netcat" by name must not
    tolerate netcat-openbsd through the user's link; root's alternatives link /usr/bin/netcat does."""
    v = verdict("links", Policy.from_vars({"harden_allowed_binaries": ["socat"]}))
    allowed = {f["real_path"] for f in v.evidence.facts["allowed"]}
    assert "/usr/bin/socat" in allowed  # the real socat, by its own name
    assert "/usr/bin/ls" not in allowed  # /dev/shm/d/socat -> ls: a user's link named socat
    found = {f["real_path"] for f in v.evidence.facts["findings"]}
    assert "/usr/bin/ls" in found and "/home/alice/bin/socat" not in allowed
    f = facts("links")
    nc = next(b for b in f.binaries if b.real_path == "/usr/bin/nc.openbsd")
    user_only = [n for n in nc.paths if n.path == "/tmp/netcat"]
    assert user_only and not user_only[0].root_only
    pol = Policy.from_vars({"harden_allowed_binaries": ["netcat"]})
    assert check._allowed(nc, pol) == "netcat"  # root's /usr/bin/netcat (alternatives) is root-only
    bare = binaries.Binary(**{**nc.__dict__, "paths": tuple(n for n in nc.paths if n.path != "/usr/bin/netcat")})
    assert check._allowed(bare, pol) == ""  # only the user's /tmp/netcat names it "netcat": not allowed
