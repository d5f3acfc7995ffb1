"""Fault injection against real processes: a lab sshd whose fault users misbehave, a tarpit, a closed port.

A dedicated lab container (its own prefix, removed at the end) gets fault users from
``tests/support/fault_host.sh``: sshd forces ``harden-fault MODE`` for them (hang, cut the
connection halfway, garbage, truncated output, flood, slow), ``fpw``/``fsudo`` log in with a
password. The tarpit is a real listener on 127.0.0.1 that accepts and stays silent. Every
harden run here is a real ``harden audit`` subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hardening.lab import Lab, lab_down, lab_up
from hardening.lab.lab import ensure_keypair, wait_for_banner

pytestmark = pytest.mark.lab

HARDEN = str(Path(sys.executable).parent / "harden")
FAULT_SCRIPT = Path(__file__).parents[1] / "support" / "fault_host.sh"
SLACK = 2.0  # seconds a host may take beyond --timeout (thread start, teardown)


@dataclass(frozen=True)
class FaultLab:
    lab: Lab
    container: str
    port: int
    password: str
    wrong_key: Path

    def exec(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", "exec", self.container, "sh", "-c", script], capture_output=True, text=True, timeout=60
        )

    def line(self, name: str, user: str, **extra: str) -> str:
        """An inventory line for ``name`` logging in to the fault container as ``user``."""
        pairs = {"ansible_host": "127.0.0.1", "ansible_port": str(self.port), "ansible_user": user}
        if "ansible_password" not in extra and "ansible_ssh_private_key_file" not in extra:
            pairs["ansible_ssh_private_key_file"] = str(self.lab.key)
        pairs.update(extra)
        return " ".join([name, *(f"{k}={v}" for k, v in pairs.items())])

    def logins(self, user: str) -> int:
        """How many times sshd accepted a login for ``user`` (from the container log)."""
        logs = subprocess.run(["podman", "logs", self.container], capture_output=True, text=True, timeout=30)
        return len(re.findall(rf"Accepted \w+ for {user} from", logs.stdout + logs.stderr))


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    if os.geteuid() != 0 or shutil.which("podman") is None:
        if os.environ.get("CI"):
            pytest.fail("fault lab cannot run under CI: needs root and podman")
        pytest.skip("the fault lab needs root and podman")
    workdir = tmp_path_factory.mktemp("faultlab")
    prefix = f"harden-f{os.getpid()}"
    lab = lab_up(workdir, ("default",), prefix=prefix)
    try:
        host = lab.host("default")
        password = "fault-" + os.urandom(6).hex()
        subprocess.run(
            ["podman", "cp", str(FAULT_SCRIPT), f"{host.container}:/usr/local/sbin/harden-fault"], check=True
        )
        setup = subprocess.run(
            ["podman", "exec", host.container, "sh", "-c",
             f"chmod 0755 /usr/local/sbin/harden-fault && /usr/local/sbin/harden-fault install {password}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
        time.sleep(0.3)  # sshd re-executes on SIGHUP
        wait_for_banner(host.port)
        wrong_key, _ = ensure_keypair(tmp_path_factory.mktemp("otherkey"))  # a real key the host does not authorize
        yield FaultLab(lab, host.container, host.port, password, wrong_key)
    finally:
        lab_down(prefix=prefix, workdir=workdir)


@contextlib.contextmanager
def tarpit() -> Iterator[int]:
    """A listener on 127.0.0.1 that accepts TCP and never sends a byte (bounded to 120 s)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def hold() -> None:
        end = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def harden(*args: object, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARDEN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def hosts_of(out: Path) -> dict[str, dict]:
    return {h["name"]: h for h in json.loads((out / "results.json").read_text())["hosts"]}


def statuses(host: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in host["checks"]}


# ----------------------------------------------------------------------------- one run, every fault


def test_every_fault_gets_its_status_within_the_timeout_and_the_healthy_host_is_audited(faults, tmp_path):
    timeout = 8
    f = faults
    with tarpit() as tarpit_port:
        inv = tmp_path / "inv.ini"
        inv.write_text(
            "\n".join(
                [
                    f.line("healthy", "harden", ansible_become="true"),
                    f"unreachable ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_user=x",
                    f"tarpit ansible_host=127.0.0.1 ansible_port={tarpit_port} ansible_user=x",
                    f.line("badkey", "harden", ansible_ssh_private_key_file=str(f.wrong_key)),
                    f.line("badpw", "fpw", ansible_password="not-the-password"),
                    f.line(
                        "badsudo",
                        "fsudo",
                        ansible_password=f.password,
                        ansible_become="true",
                        ansible_become_password="not-the-password",
                    ),
                    f.line("hang", "fhang"),
                    f.line("cut", "fcut"),
                    f.line("garbage", "fgarbage"),
                    f.line("trunc", "ftrunc"),
                    f.line("flood", "fflood"),  # 8 MiB against --max-output 4
                ]
            )
            + "\n"
        )
        started = time.monotonic()
        r = harden(
            "audit", inv, "--out", tmp_path / "out", "--timeout", timeout, "--forks", 12,
            "--max-output", 4, "--known-hosts", f.lab.known_hosts,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert r.returncode == 3, r.stderr
    hosts = hosts_of(tmp_path / "out")
    want = {
        "healthy": "ok",
        "unreachable": "unreachable",
        "tarpit": "timeout",
        "badkey": "auth_failed",
        "badpw": "auth_failed",
        "badsudo": "auth_failed",
        "hang": "timeout",
        "cut": "error",
        "garbage": "error",
        "trunc": "error",
        "flood": "error",
    }
    assert {n: h["status"] for n, h in hosts.items()} == want, {n: h["message"] for n, h in hosts.items()}
    for name, h in hosts.items():
        assert h["duration_s"] <= timeout + SLACK, (name, h["duration_s"])
        if name != "healthy":
            assert h["checks"] and not any(c["status"] == "pass" for c in h["checks"]), name
    assert elapsed < timeout + 15, elapsed  # hosts ran in parallel, none held the run
    assert "refused" in hosts["unreachable"]["message"].lower()
    assert "sudo rejected the become password" in hosts["badsudo"]["message"]
    assert "more than 4 MiB" in hosts["flood"]["message"]
    assert "incomplete" in hosts["cut"]["message"] and "incomplete" in hosts["trunc"]["message"]
    # Hostile bytes in the messages never reach the terminal raw.
    assert "\x1b" not in r.stdout + r.stderr
    # The healthy host is judged exactly as when it is audited alone.
    alone = tmp_path / "alone"
    r2 = harden("audit", inv, "--limit", "healthy", "--out", alone, "--timeout", 30, "--known-hosts", f.lab.known_hosts)
    assert r2.returncode in (0, 1), r2.stderr
    assert statuses(hosts["healthy"]) == statuses(hosts_of(alone)["healthy"])
    assert "fail" in statuses(hosts["healthy"]).values()  # stock Debian: egress is open


def test_output_cap_is_configurable_against_a_real_flood(faults, tmp_path):
    """--max-output: the default 32 MiB stops a 40 MiB flood; a larger cap lets it through (then it is
    judged as the garbage it is); neither ever yields a pass."""
    faults.exec("echo 41943040 > /etc/harden-fault-flood")
    try:
        inv = tmp_path / "inv.ini"
        inv.write_text(faults.line("flood", "fflood") + "\n")
        r = harden("audit", inv, "--out", tmp_path / "a", "--timeout", 60, "--known-hosts", faults.lab.known_hosts)
        assert r.returncode == 3
        (h,) = hosts_of(tmp_path / "a").values()
        assert h["status"] == "error" and "more than 32 MiB" in h["message"], h["message"]
        r = harden(
            "audit", inv, "--out", tmp_path / "b", "--timeout", 60, "--max-output", 64,
            "--known-hosts", faults.lab.known_hosts,
        )  # fmt: skip
        assert r.returncode == 3
        (h,) = hosts_of(tmp_path / "b").values()
        assert h["status"] == "error" and "incomplete" in h["message"], h["message"]
        assert not any(c["status"] == "pass" for c in h["checks"])
    finally:
        faults.exec("rm -f /etc/harden-fault-flood")


# ----------------------------------------------------------------------------- interrupt and resume


def _start_audit(inv: Path, out: Path, faults: FaultLab) -> subprocess.Popen[str]:
    # SIGINT back to its default in the child: a background shell may have started us with it ignored.
    return subprocess.Popen(
        [HARDEN, "audit", str(inv), "--out", str(out), "--forks", "1", "--timeout", "30",
         "--known-hosts", str(faults.lab.known_hosts)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _interrupt_mid_run(inv: Path, out: Path, faults: FaultLab, signum: int) -> tuple[int, str, float]:
    """Start an audit, wait until the first host is streamed, send ``signum``; (rc, stderr, seconds to exit)."""
    proc = _start_audit(inv, out, faults)
    try:
        stream = out / "hosts.jsonl"
        end = time.monotonic() + 60
        while not (stream.is_file() and stream.read_text().count("\n") >= 1):
            assert proc.poll() is None and time.monotonic() < end, "the first host never finished"
            time.sleep(0.1)
        time.sleep(0.5)  # the slow host is now in flight (it sleeps 5 s before answering)
        sent = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        return proc.returncode, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_keeps_finished_hosts_and_resume_audits_only_the_missing(faults, tmp_path, signum):
    inv = tmp_path / "inv.ini"
    inv.write_text("\n".join([faults.line("first", "fquick1"), faults.line("slow", "fslow"),
                              faults.line("last", "fquick2")]) + "\n")  # fmt: skip
    out = tmp_path / "out"
    before = {u: faults.logins(u) for u in ("fquick1", "fslow", "fquick2")}

    rc, err, took = _interrupt_mid_run(inv, out, faults, signum)
    assert rc == 3, err
    assert took < 4, f"exit took {took:.1f}s after the signal: it waited for the host in flight"
    assert "interrupted" in err and "partial results" in err and "--resume" in err, err
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] is False
    assert [h["name"] for h in doc["hosts"]] == ["first"]
    assert [json.loads(line)["name"] for line in (out / "hosts.jsonl").read_text().splitlines()] == ["first"]
    if signum == signal.SIGTERM:
        return

    r = harden("audit", inv, "--resume", out, "--timeout", 30, "--known-hosts", faults.lab.known_hosts)
    assert r.returncode in (0, 1), r.stderr  # every host audited (without root: errors, fails)
    assert "1 hosts kept, 2 to audit" in r.stderr + r.stdout
    doc = json.loads((out / "results.json").read_text())
    assert doc["complete"] is True
    assert sorted(h["name"] for h in doc["hosts"]) == ["first", "last", "slow"]
    assert all(h["status"] == "ok" for h in doc["hosts"])
    assert (out / "hosts.jsonl").read_text().count("\n") == 3
    after = {u: faults.logins(u) for u in ("fquick1", "fslow", "fquick2")}
    # first: once (first run only); slow: started in the first run, again on resume; last: once.
    assert {u: after[u] - before[u] for u in after} == {"fquick1": 1, "fslow": 2, "fquick2": 1}


def test_resume_retry_failed_audits_the_failed_hosts_again(faults, tmp_path):
    inv = tmp_path / "inv.ini"
    inv.write_text(faults.line("good", "fquick1") + "\n" + faults.line("bad", "fgarbage") + "\n")
    out = tmp_path / "out"
    assert harden("audit", inv, "--out", out, "--known-hosts", faults.lab.known_hosts).returncode == 3
    before = {u: faults.logins(u) for u in ("fquick1", "fgarbage")}
    r = harden("audit", inv, "--resume", out, "--known-hosts", faults.lab.known_hosts)
    assert r.returncode == 3 and "2 hosts kept, 0 to audit" in r.stderr + r.stdout
    r = harden("audit", inv, "--resume", out, "--retry-failed", "--known-hosts", faults.lab.known_hosts)
    assert r.returncode == 3 and "1 hosts kept, 1 to audit" in r.stderr + r.stdout
    after = {u: faults.logins(u) for u in ("fquick1", "fgarbage")}
    assert {u: after[u] - before[u] for u in after} == {"fquick1": 0, "fgarbage": 1}
    assert {n: h["status"] for n, h in hosts_of(out).items()} == {"good": "ok", "bad": "error"}


# ----------------------------------------------------------------------------------------- secrets


def _vaulted(value: str, vault_password: str) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(vault_password.encode())
    blob = VaultLib([("default", secret)]).encrypt(value, secret).decode()
    return "!vault |\n" + "\n".join("    " + line for line in blob.splitlines())


def test_passwords_never_reach_results_reports_logs_or_runner_artifacts(faults, tmp_path):
    """Vault-encrypted SSH and become passwords work, and appear nowhere harden writes — also when a
    hostile host (``phish``) plays sudo to get the become password and echoes it back."""
    vault_password = "vault-" + os.urandom(6).hex()
    phish_secret = "phish-" + os.urandom(6).hex()
    (tmp_path / "vault-pass").write_text(vault_password + "\n")
    inv_dir = tmp_path / "inv"
    (inv_dir / "host_vars").mkdir(parents=True)
    common = f"-o UserKnownHostsFile={faults.lab.known_hosts} -o StrictHostKeyChecking=yes"
    (inv_dir / "hosts.ini").write_text(
        f"sudo ansible_host=127.0.0.1 ansible_port={faults.port} ansible_user=fsudo ansible_become=true"
        f" ansible_ssh_common_args='{common}' ansible_python_interpreter=/usr/bin/python3\n"
        + faults.line("phish", "fphish", ansible_become="true")
        + "\n"
    )
    (inv_dir / "host_vars" / "sudo.yml").write_text(
        f"ansible_password: {_vaulted(faults.password, vault_password)}\n"
        f"ansible_become_password: {_vaulted(faults.password, vault_password)}\n"
    )
    (inv_dir / "host_vars" / "phish.yml").write_text(
        f"ansible_become_password: {_vaulted(phish_secret, vault_password)}\n"
    )
    out = tmp_path / "out"
    r = harden(
        "audit", inv_dir / "hosts.ini", "--out", out, "--format", "all", "--known-hosts", faults.lab.known_hosts,
        "--vault-password-file", tmp_path / "vault-pass", "--timeout", 30,
    )  # fmt: skip
    assert r.returncode == 3, r.stderr
    hosts = hosts_of(out)
    assert hosts["sudo"]["status"] == "ok" and "root" not in hosts["sudo"]["message"], hosts["sudo"]["message"]
    assert hosts["phish"]["status"] == "auth_failed", hosts["phish"]["message"]
    assert "********" in hosts["phish"]["message"]  # it did echo the password: harden blanked it
    secrets = [faults.password, phish_secret, vault_password]
    seen = [("stdout/stderr", r.stdout + r.stderr)]

    check = harden(
        "apply", out, "--inventory", inv_dir / "hosts.ini", "--limit", "sudo", "--check",
        "--vault-password-file", tmp_path / "vault-pass",
    )  # fmt: skip
    assert "== check mode" in check.stdout, check.stdout + check.stderr
    artifacts = [f for f in (out / "apply").rglob("*") if f.is_file()]
    assert any(f.name == "stdout" for f in artifacts)
    seen.append(("apply stdout/stderr", check.stdout + check.stderr))
    seen += [(str(f), f.read_bytes().decode("utf-8", "replace")) for f in out.rglob("*") if f.is_file()]
    leaks = [(where, s) for where, text in seen for s in secrets if s in text]
    assert not leaks, leaks
