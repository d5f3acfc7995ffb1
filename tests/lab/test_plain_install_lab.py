"""A user's install (non-editable, no extras, fresh venv) against a lab host an attacker lives on.

The whole loop as a new user runs it: ``pip install .`` into a fresh venv, then that venv's
``harden verify`` / ``audit`` / ``apply`` / ``verify``. Meanwhile an unprivileged user on the
host (uid 1500) has planted links named like netcats that point at other packages' programs
(sshd, python3, coreutils, sudo, apt): the plan must never name those packages, the links
are quarantined as links, and every one of those programs is still there afterwards. Also:
a guard refusal in one role (a forged plan that would cascade into python3-apt) is reported
by role while the host's other roles still run; a directory swapped for a symlink into
/usr/bin after the audit makes the quarantine refuse instead of acting in /usr/bin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from labutil import DEBS, pexec, private_lab

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
PORTS = "4444,443"
MALLORY = "1500"
#: link -> target: every target belongs to a package that must survive
ATTACKS = {
    "/tmp/x/nc": "/usr/sbin/sshd",
    "/home/mallory/ncat": "/usr/bin/python3",
    "/dev/shm/socat": "/bin/ls",
    "/tmp/netcat": "/usr/bin/sudo",
    "/var/tmp/busybox": "/usr/bin/apt",
}
SURVIVORS = ("openssh-server", "python3", "coreutils", "sudo", "apt", "python3-apt")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with harden installed as a user would: ``pip install DIR``, no extras."""
    base = tmp_path_factory.mktemp("plain")
    src = base / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(".venv", ".git", ".lab", "reports", "build", "*.egg-info", "__pycache__"),
    )
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=120)
    pip = subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(src)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    shutil.rmtree(src)
    listed = subprocess.run([str(env_dir / "bin" / "pip"), "list"], capture_output=True, text=True).stdout
    assert "molecule" not in listed and "pytest" not in listed  # no test extras
    return env_dir / "bin"


@pytest.fixture(scope="module")
def alab(lab, tmp_path_factory):  # `lab` first: root, podman and the shared network exist
    with private_lab(tmp_path_factory, ("default",), "a") as up:
        yield up


def run(bindir: Path, *args, cwd, timeout=900):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{bindir}:{env.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        [str(bindir / args[0]), *map(str, args[1:])], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def statuses(path: Path) -> dict[str, str]:
    (host,) = json.loads(path.read_text())["hosts"]
    assert host["status"] == "ok", host["message"]  # SSH still works
    return {c["id"]: c["status"] for c in host["checks"]}


def callbacks(path: Path) -> list[str]:
    (host,) = json.loads(path.read_text())["hosts"]
    return [c["result"] for c in host["callbacks"]]


def test_plain_install_audit_apply_reaudit_against_symlink_attacks(venv, alab, tmp_path):
    c = alab.host("default").container
    inv = tmp_path / "inventory.ini"
    # a policy that names the controller (198.18.0.1) only as the DNS resolver (port 53 to it is
    # inside the policy): callbacks to it on 4444 and 443 must end up blocked
    policy = "harden_egress_allow=198.18.0.128/25\nharden_dns_resolvers=198.18.0.1"
    inv.write_text(alab.inventory.read_text().replace("harden_egress_allow=198.18.0.0/24", policy))
    inv.chmod(0o600)

    # the attacker: an unprivileged user planting netcat-named links to other packages' programs
    assert pexec(c, "useradd", "-m", "-u", MALLORY, "mallory").returncode == 0
    plant = "mkdir -p /tmp/x /tmp/y && " + " && ".join(f"ln -s {t} {p}" for p, t in ATTACKS.items())
    plant += " && ln -s /etc/alternatives/nc /tmp/y/nc"  # same target as root's /usr/bin/nc
    r = pexec(c, "sh", "-c", plant, user=MALLORY)
    assert r.returncode == 0, r.stderr

    before = run(venv, "harden", "verify", inv, "--out", tmp_path / "v0", "--ports", PORTS, cwd=tmp_path)
    assert callbacks(tmp_path / "v0" / "verify.json") == ["open", "open"], before.stdout + before.stderr

    out = tmp_path / "run"
    audit = run(venv, "harden", "audit", inv, "--out", out, cwd=tmp_path)
    assert audit.returncode == 1, audit.stderr[-3000:]
    hv = yaml.safe_load((out / "playbooks" / "host_vars" / "default.yml").read_text().replace("!unsafe", ""))
    assert hv["harden_netcat_packages"] == ["netcat-openbsd"]  # never openssh-server, python3, coreutils...
    links = {f["path"]: f for f in hv["harden_netcat_files"]}
    for path, target in ATTACKS.items():
        assert links[path] == {"path": path, "kind": "symlink", "link_target": target, "root_only": False}

    # a swap after the audit: /tmp/y becomes a symlink to /usr/bin, so /tmp/y/nc is root's
    # /usr/bin/nc (same link target). The quarantine refuses instead of acting in /usr/bin.
    swap = "mv /tmp/y /tmp/y.audit && ln -s /usr/bin /tmp/y"
    assert pexec(c, "sh", "-c", swap, user=MALLORY).returncode == 0
    library = venv.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    library = library / "hardening" / "playbooks" / "plugins" / "modules"
    args = "path=/tmp/y/nc kind=symlink link_target=/etc/alternatives/nc root_only=false dir=/var/lib/harden/q"
    adhoc = run(
        venv, "ansible", "-i", inv, "default", "-M", library, "-m", "harden_quarantine", "-a", args, cwd=tmp_path
    )
    assert adhoc.returncode != 0 and "REFUSED" in adhoc.stdout + adhoc.stderr, adhoc.stdout + adhoc.stderr
    assert pexec(c, "test", "-L", "/usr/bin/nc").returncode == 0
    assert pexec(c, "sh", "-c", "rm /tmp/y && mv /tmp/y.audit /tmp/y", user=MALLORY).returncode == 0

    # a forged plan that would cascade (python-apt-common takes python3-apt with it): the
    # netcat role refuses, the other roles still run, the summary names the failed role
    hv_path = out / "playbooks" / "host_vars" / "default.yml"
    original = hv_path.read_text()
    hv_path.write_text(original.replace('harden_netcat_packages:\n  - !unsafe "netcat-openbsd"',
                                        'harden_netcat_packages:\n  - python-apt-common'))  # fmt: skip
    assert hv_path.read_text() != original
    forged = run(venv, "harden", "apply", out, "--inventory", inv, "-e", DEBS, cwd=tmp_path)
    log = forged.stdout + forged.stderr
    assert forged.returncode == 1, log[-4000:]
    assert "roles that failed" in log and "harden_netcat: " in log, log[-4000:]
    assert "would also remove python3-apt" in log, log[-4000:]
    runs = sorted((out / "apply").iterdir())
    after = statuses(runs[-1] / "after" / "results.json")
    assert after["egress.default_deny"] == "pass" and after["dns.query_logging"] == "pass", log[-4000:]
    assert pexec(c, "dpkg", "-s", "python3-apt").returncode == 0

    # the real plan: packages and links go, every attacked program stays
    hv_path.write_text(original)
    apply = run(venv, "harden", "apply", out, "--inventory", inv, "-e", DEBS, cwd=tmp_path)
    log = apply.stdout + apply.stderr
    assert "== apply: successful" in log, log[-4000:]
    runs = sorted((out / "apply").iterdir())
    after = statuses(runs[-1] / "after" / "results.json")
    for check in ("egress.default_deny", "egress.allowlist", "dns.query_logging", "binaries.netcat"):
        assert after[check] == "pass", (check, log[-4000:])
    for pkg in SURVIVORS:
        assert pexec(c, "dpkg", "-s", pkg).returncode == 0, pkg
    for target in ATTACKS.values():
        assert pexec(c, "test", "-e", target).returncode == 0, target
    for path in (*ATTACKS, "/tmp/y/nc"):
        assert pexec(c, "test", "-L", path).returncode == 1, path  # moved away
    records = pexec(c, "sh", "-c", "cat /var/lib/harden/quarantine/link-*.json").stdout
    recorded = {}
    for chunk in records.split("}\n"):
        if chunk.strip():
            rec = json.loads(chunk + "}")
            recorded[rec["original_path"]] = rec["link_target"]
    assert recorded == {**ATTACKS, "/tmp/y/nc": "/etc/alternatives/nc"}
    assert pexec(c, "dpkg", "-s", "netcat-openbsd").returncode == 1  # the one real netcat is gone

    end = run(venv, "harden", "verify", inv, "--out", tmp_path / "v1", "--ports", PORTS, "--attempt-timeout", "2",
              cwd=tmp_path)  # fmt: skip
    assert callbacks(tmp_path / "v1" / "verify.json") == ["blocked", "blocked"], end.stdout + end.stderr
