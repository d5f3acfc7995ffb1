"""The one fleet runner and the one transport registry (audit, hunt, verify and allowlist share them)."""

from __future__ import annotations

import threading
import time
from dataclasses import fields

import click
import pytest

from hardening.audit import AuditOptions
from hardening.fleet import run_fleet, run_fleet_ordered
from hardening.hunt.run import HuntOptions
from hardening.hunt.verify import VerifyOptions
from hardening.inventory import Connection, Target
from hardening.transport import open_transport, run_script
from hardening.transport.base import MAX_OUTPUT, RunResult


class _Tracker:
    """Counts hosts in flight; each host sleeps its own time (seconds) and returns its name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[str] = []

    def __call__(self, host: tuple[str, float]) -> str:
        name, delay = host
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(name)
        time.sleep(delay)
        with self.lock:
            self.running -= 1
        return name


def test_run_fleet_is_bounded_and_yields_as_each_finishes():
    hosts = [("slow", 0.4), ("a", 0.01), ("b", 0.01), ("c", 0.01), ("d", 0.01)]
    work = _Tracker()
    seen: list[str] = []
    got = list(run_fleet(hosts, work, forks=2, on_start=lambda h: seen.append(h[0])))
    assert work.most <= 2
    assert sorted(got) == sorted(h for h, _ in hosts)
    assert got[-1] == "slow"  # completion order, not inventory order
    assert seen == [h for h, _ in hosts]  # on_start in inventory order, once per host


def test_run_fleet_stopped_early_starts_nothing_new_and_does_not_wait():
    hosts = [("fast", 0.0), ("slow", 2.0), *[(f"h{i}", 0.0) for i in range(20)]]
    work = _Tracker()
    it = run_fleet(hosts, work, forks=2)
    t0 = time.monotonic()
    assert next(it) == "fast"
    it.close()  # the caller stops (as Ctrl-C does): the generator's finally runs now
    assert time.monotonic() - t0 < 1.5  # did not wait for "slow"
    time.sleep(0.1)
    assert len(work.started) <= 3  # fast, slow and at most the one started to replace fast


def test_run_fleet_raises_a_bug_in_per_host():
    def boom(host: str) -> str:
        raise RuntimeError(host)

    with pytest.raises(RuntimeError):
        list(run_fleet(["x"], boom, forks=4))


def test_run_fleet_ordered_keeps_inventory_order_and_reports_in_it():
    hosts = [("first", 0.3), ("second", 0.0), ("third", 0.1)]
    done: list[str] = []
    assert run_fleet_ordered(hosts, _Tracker(), forks=3, on_done=done.append) == ["first", "second", "third"]
    assert done == ["first", "second", "third"]
    assert run_fleet_ordered([], _Tracker(), forks=3) == []


@pytest.mark.parametrize(
    ("connection", "cls"),
    [(Connection.SSH, "SshTransport"), (Connection.LOCAL, "LocalTransport"), (Connection.WINRM, "WinrmTransport")],
)
def test_open_transport_gives_every_connection_the_cap_and_timeout(connection, cls, tmp_path):
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    target = Target("h", connection, "127.0.0.1", port=2222)
    transport = open_transport(target, 12.0, str(kh), 1234)
    assert type(transport).__name__ == cls
    assert (transport.timeout, transport.max_output) == (12.0, 1234)
    if connection is Connection.SSH:
        assert transport.known_hosts == str(kh)
    default = open_transport(target, 5.0, str(kh))
    assert default.max_output == MAX_OUTPUT


def test_run_script_takes_any_command_options(monkeypatch):
    """AuditOptions, HuntOptions and VerifyOptions all carry the same three transport settings."""
    seen = []

    class Fake:
        def __init__(self, *args) -> None:
            seen.append(args[1:])

        def run(self, script: str) -> RunResult:
            return RunResult(script.encode(), b"", 0)

    import hardening.transport.ssh as ssh

    monkeypatch.setattr(ssh, "SshTransport", Fake)
    target = Target("h", Connection.SSH, "127.0.0.1")
    for options in (
        AuditOptions(timeout=7, known_hosts="kh", max_output=99),
        HuntOptions(timeout=7, known_hosts="kh", max_output=99),
        VerifyOptions(timeout=7, known_hosts="kh", max_output=99),
    ):
        assert run_script(target, "echo", options).stdout == b"echo"
    assert seen == [(7, "kh", 99)] * 3


def test_every_command_has_the_same_default_cap():
    for options in (AuditOptions, HuntOptions, VerifyOptions):
        assert {f.name: f.default for f in fields(options)}["max_output"] == MAX_OUTPUT


@pytest.mark.parametrize("command", ["audit", "hunt", "verify"])
def test_max_output_option_is_the_same_for_audit_hunt_and_verify(command):
    from hardening.cli import cli

    ctx = click.Context(cli)
    cmd = cli.get_command(ctx, command)
    (opt,) = [p for p in cmd.params if p.name == "max_output"]
    assert (opt.opts, opt.default) == (["--max-output"], 32)  # MiB on the command line
    assert opt.process_value(click.Context(cmd), 32) == MAX_OUTPUT  # bytes for the command
