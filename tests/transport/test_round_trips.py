"""Round trips the SSH transport saves: early handshakes, sudo -n with the script sent at once,
the exec request not waited for. Against tests/support/ssh_server.py (paramiko's server side on
127.0.0.1, no sshd)."""

from __future__ import annotations

import time
from pathlib import Path

import paramiko
import pytest

from hardening.inventory import Connection, Target
from hardening.model import HostStatus
from hardening.transport import early
from hardening.transport.base import TransportError, exchange, plan_command
from hardening.transport.ssh import SshTransport
from tests.support.ssh_server import Account, Reply, SshServer


def _echo(req):
    return Reply(f"@@{req.nonce} B a\nhello\n@@{req.nonce} E a 0\n".encode())


SCRIPT = "HN=abc123\necho hi\n"


def _target(srv: SshServer, known_hosts: Path, user: str = "web1", password: str | None = "pw", **kw) -> Target:
    return Target(
        name=user,
        connection=Connection.SSH,
        host="127.0.0.1",
        port=srv.port,
        user=user,
        password=password,
        known_hosts=str(known_hosts),
        **kw,
    )


@pytest.fixture(autouse=True)
def _no_leftovers():
    yield
    early.close_unclaimed()


# ------------------------------------------------------------------ sudo: -n and the script at once


def test_without_a_become_password_sudo_must_not_prompt_and_the_script_goes_with_the_command():
    plan = plan_command(True, "root", with_password=False)
    assert plan.command.startswith("sudo -H -n -u root ")
    assert "-S" not in plan.command.split() and plan.prompt not in plan.command
    assert plan.pipelined
    assert not plan_command(True, "root").pipelined  # a password to give: wait for the marker
    assert plan_command(False).pipelined


class _Recorder:
    """A channel that records when the script was sent relative to what it has answered."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.sent: list[tuple[int, bytes]] = []
        self.answered = 0

    def send(self, data: bytes) -> None:
        self.sent.append((self.answered, data))

    def close_stdin(self) -> None: ...

    def recv(self, timeout: float):
        self.answered += 1
        return self.replies.pop(0) if self.replies else (b"", b"", True)

    def exit_code(self):
        return 0

    def close(self) -> None: ...


def test_the_script_is_sent_before_the_marker_with_sudo_n_and_after_it_with_a_password():
    plan = plan_command(True, with_password=False)
    chan = _Recorder([(plan.success_marker.encode() + b"\nout\n", b"", False)])
    result = exchange(chan, b"script", plan, time.monotonic() + 5)
    assert chan.sent == [(0, b"script")]  # before anything came back, and once
    assert result.stdout == b"out\n"

    plan = plan_command(True, with_password=True)
    chan = _Recorder([(plan.success_marker.encode() + b"\nout\n", b"", False)])
    result = exchange(chan, b"script", plan, time.monotonic() + 5, become_password="x")
    assert chan.sent == [(1, b"script")]  # only after the marker
    assert result.stdout == b"out\n"


def test_sudo_n_that_wants_a_password_says_which_variable_to_set():
    plan = plan_command(True, with_password=False)
    chan = _Recorder([(b"", b"sudo: a password is required\n", True)])
    with pytest.raises(TransportError) as err:
        exchange(chan, b"script", plan, time.monotonic() + 5)
    assert err.value.status is HostStatus.AUTH_FAILED
    assert "set ansible_become_password" in err.value.message


def test_sudo_n_over_ssh_runs_the_script_and_a_refusal_is_auth_failed(tmp_path):
    kh = tmp_path / "kh"
    with SshServer({"web1": Account("pw", _echo), "locked": Account("pw", _echo, refuse_become=lambda pw: b"")}) as srv:
        kh.write_text(srv.known_hosts_line())
        result = SshTransport(_target(srv, kh, become=True), timeout=10).run(SCRIPT)
        assert b"hello" in result.stdout
        assert srv.requests[-1].command.startswith("sudo -H -n ")
        assert srv.requests[-1].script == SCRIPT.encode()
        with pytest.raises(TransportError) as err:
            SshTransport(_target(srv, kh, "locked", become=True), timeout=10).run(SCRIPT)
        assert err.value.status is HostStatus.AUTH_FAILED


def test_a_refused_exec_request_is_reported_not_waited_for(tmp_path):
    kh = tmp_path / "kh"
    with SshServer({"noexec": Account("pw", _echo, refuse_exec=True)}) as srv:
        kh.write_text(srv.known_hosts_line())
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            SshTransport(_target(srv, kh, "noexec"), timeout=20).run(SCRIPT)
    assert err.value.status is HostStatus.ERROR
    assert "refused the command" in err.value.message
    assert time.monotonic() - started < 10  # not the timeout


# ------------------------------------------------------------------ early handshakes: the guess


def _inv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inv.ini"
    path.write_text(text)
    return path


def test_guesses_come_from_the_hosts_own_lines_in_file_order(tmp_path):
    inv = _inv(
        tmp_path,
        "[web]\n"
        "a ansible_host=10.0.0.1 ansible_port=2222 ansible_ssh_common_args='-o UserKnownHostsFile=/kh'\n"
        "b ansible_host=10.0.0.2\n"
        "c\n"  # no ansible_host: not guessed from its name
        "d ansible_host=10.0.0.4 ansible_connection=winrm\n"
        "e ansible_host=10.0.0.5 ansible_ssh_common_args='-o ProxyJump=bastion'\n"
        "[web:vars]\nharden_egress_allow=10.0.0.0/8\n",
    )
    got = early.guess_hosts(inv, None, 10)
    assert [(g.name, g.host, g.port, g.known_hosts) for g in got] == [
        ("a", "10.0.0.1", 2222, "/kh"),
        ("b", "10.0.0.2", 22, None),
    ]
    assert [g.name for g in early.guess_hosts(inv, None, 1)] == ["a"]
    assert [g.name for g in early.guess_hosts(inv, "b", 10)] == ["b"]
    assert early.guess_hosts(inv, "web", 10) == []  # a group: its members are ansible's to say
    assert early.guess_hosts(inv, "a*", 10) == []
    assert early.guess_hosts(inv, "!a", 10) == []


def test_nothing_is_guessed_when_anything_else_could_move_a_host(tmp_path):
    text = "[web]\na ansible_host=10.0.0.1\n"
    assert early.guess_hosts(_inv(tmp_path, text + "[web:vars]\nansible_port=2200\n"), None, 5) == []
    assert early.guess_hosts(_inv(tmp_path, text + "[all:vars]\nansible_user=x\n"), None, 5) == []
    yml = tmp_path / "inv.yml"
    yml.write_text("all:\n  hosts:\n    a:\n      ansible_host: 10.0.0.1\n")
    assert early.guess_hosts(yml, None, 5) == []
    inv = _inv(tmp_path, text)
    assert early.guess_hosts(inv, None, 5) != []
    (tmp_path / "host_vars").mkdir()
    assert early.guess_hosts(inv, None, 5) == []


# ------------------------------------------------------------------ early handshakes: over the wire


def _early_inventory(tmp_path: Path, srv: SshServer, kh: Path, user: str = "web1") -> Path:
    return _inv(
        tmp_path,
        f"[lab]\n{user} ansible_host=127.0.0.1 ansible_port={srv.port} ansible_user={user} "
        f"ansible_ssh_common_args='-o UserKnownHostsFile={kh}'\n",
    )


def test_an_early_handshake_is_taken_by_the_connection_and_its_host_key_checked(tmp_path):
    kh = tmp_path / "kh"
    with SshServer({"web1": Account("pw", _echo)}) as srv:
        kh.write_text(srv.known_hosts_line())
        assert early.start_early(_early_inventory(tmp_path, srv, kh), None, 5, 10, None) == 1
        assert list(early.pending_routes()) == [("127.0.0.1", srv.port)]
        result = SshTransport(_target(srv, kh), timeout=10).run(SCRIPT)
        assert b"hello" in result.stdout
        assert list(early.pending_routes()) == []  # taken, not a second connection
        assert len(srv.requests) == 1


def test_an_early_handshake_with_a_changed_host_key_refuses_the_host(tmp_path):
    kh = tmp_path / "kh"
    with SshServer({"web1": Account("pw", _echo)}) as srv:
        other = paramiko.ECDSAKey.generate()
        kh.write_text(f"[127.0.0.1]:{srv.port} {other.get_name()} {other.get_base64()}\n")
        early.start_early(_early_inventory(tmp_path, srv, kh), None, 5, 10, None)
        with pytest.raises(TransportError) as err:
            SshTransport(_target(srv, kh), timeout=10).run(SCRIPT)
        assert err.value.status is HostStatus.AUTH_FAILED and "CHANGED" in err.value.message
        assert srv.requests == []  # nothing ran, no password was sent before the check


def test_an_early_handshake_with_an_unknown_host_key_refuses_the_host(tmp_path):
    kh = tmp_path / "kh"
    kh.write_text("")
    with SshServer({"web1": Account("pw", _echo)}) as srv:
        early.start_early(_early_inventory(tmp_path, srv, kh), None, 5, 10, None)
        with pytest.raises(TransportError) as err:
            SshTransport(_target(srv, kh), timeout=10).run(SCRIPT)
        assert err.value.status is HostStatus.AUTH_FAILED and "not in" in err.value.message
        assert srv.requests == []


def test_an_unused_early_handshake_is_closed(tmp_path):
    kh = tmp_path / "kh"
    with SshServer({"web1": Account("pw", _echo)}) as srv:
        kh.write_text(srv.known_hosts_line())
        early.start_early(_early_inventory(tmp_path, srv, kh), None, 5, 10, None)
        (hs,) = [h for q in early._PENDING.values() for h in q]
        assert hs.done.wait(10) and hs.transport is not None and hs.transport.is_active()
        early.close_unclaimed()
        assert not hs.transport.is_active()
        assert list(early.pending_routes()) == []


def _key_pair(tmp_path: Path) -> tuple[paramiko.PKey, Path]:
    pkey = paramiko.ECDSAKey.generate()
    path = tmp_path / "id_ecdsa"
    pkey.write_private_key_file(str(path))
    return pkey, path


def _key_inventory(tmp_path: Path, srv: SshServer, kh: Path, key: Path, user: str = "web1") -> Path:
    return _inv(
        tmp_path,
        f"[lab]\n{user} ansible_host=127.0.0.1 ansible_port={srv.port} ansible_user={user} "
        f"ansible_ssh_private_key_file={key} ansible_ssh_common_args='-o UserKnownHostsFile={kh}'\n",
    )


def _key_target(srv: SshServer, kh: Path, key: Path, user: str = "web1") -> Target:
    return _target(srv, kh, user, password=None, key_file=str(key))


def test_an_early_login_to_a_known_host_is_used_once_and_its_key_checked_again(tmp_path):
    kh = tmp_path / "kh"
    pkey, path = _key_pair(tmp_path)
    with SshServer({"web1": Account("pw", _echo, key=pkey)}) as srv:
        kh.write_text(srv.known_hosts_line())
        early.start_early(_key_inventory(tmp_path, srv, kh, path), None, 5, 10, None)
        (hs,) = [h for q in early._PENDING.values() for h in q]
        assert hs.done.wait(10) and hs.login == ("web1", str(path)) and hs.channel is not None
        assert srv.requests == []  # logged in, nothing run
        result = SshTransport(_key_target(srv, kh, path), timeout=10).run(SCRIPT)
        assert b"hello" in result.stdout
        assert srv.logins == ["web1"]  # the early login was the only one


def test_no_early_login_to_an_unknown_host_and_none_used_for_another_user(tmp_path):
    kh = tmp_path / "kh"
    pkey, path = _key_pair(tmp_path)
    accounts = {"web1": Account("pw", _echo, key=pkey), "web2": Account("pw", _echo, key=pkey)}
    with SshServer(accounts) as srv:
        kh.write_text("")  # unknown host key: no login before the real check
        early.start_early(_key_inventory(tmp_path, srv, kh, path), None, 5, 10, None)
        (hs,) = [h for q in early._PENDING.values() for h in q]
        assert hs.done.wait(10) and hs.transport is not None and hs.login is None
        assert srv.logins == []
        early.close_unclaimed()

        kh.write_text(srv.known_hosts_line())
        early.start_early(_key_inventory(tmp_path, srv, kh, path), None, 5, 10, None)
        (hs,) = [h for q in early._PENDING.values() for h in q]
        assert hs.done.wait(10) and hs.login == ("web1", str(path))
        # the inventory's answer differs from the guess (another user): a fresh login, web1's unused
        result = SshTransport(_key_target(srv, kh, path, "web2"), timeout=10).run(SCRIPT)
        assert b"hello" in result.stdout and srv.requests[-1].user == "web2"
        assert srv.logins == ["web1", "web2"]


def test_an_early_handshake_with_a_silent_server_ends_as_a_timeout(tmp_path):
    """A listener that accepts and never speaks: the host is reported timed out, as without early handshakes."""
    import socket

    kh = tmp_path / "kh"
    kh.write_text("")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    inv = _inv(tmp_path, f"[x]\nsilent ansible_host=127.0.0.1 ansible_port={port} ansible_user=u\n")
    try:
        assert early.start_early(inv, None, 5, 3, None) == 1
        target = Target(name="silent", connection=Connection.SSH, host="127.0.0.1", port=port, user="u",
                        password="pw", known_hosts=str(kh))  # fmt: skip
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            SshTransport(target, timeout=3).run(SCRIPT)
        assert err.value.status is HostStatus.TIMEOUT, err.value.message
        assert time.monotonic() - started < 6
    finally:
        server.close()
