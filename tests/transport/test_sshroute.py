"""The SSH route harden follows is the one OpenSSH takes: command line first, then ssh_config."""

import os
import subprocess
import sys

import pytest

from hardening.transport.sshroute import MAX_JUMPS, Hop, RouteError, command_line_options, resolve_route

CONFIG = """
Host web1
  HostName 10.1.1.1
  Port 2200
  User ops
  IdentityFile ~/.ssh/web_key
  ProxyJump bastion
Host bastion
  HostName 192.0.2.9
  User jump
  IdentityFile /keys/jump
Host loop
  ProxyJump loophop
Host loophop
  ProxyJump loop
Host viacmd
  ProxyCommand ssh -W %h:%p gateway
"""


def test_ssh_config_hostname_port_user_key_and_jump_apply_as_openssh_does():
    r = resolve_route("web1", None, None, None, (), config_text=CONFIG)
    assert (r.host, r.port, r.user) == ("10.1.1.1", 2200, "ops")
    assert r.key_files[0].endswith("/.ssh/web_key")
    assert r.jumps == (Hop("192.0.2.9", 22, "jump", ("/keys/jump",)),)


def test_inventory_values_and_command_line_options_win_over_ssh_config():
    args = ("-o ProxyJump=a@hop1:2022,hop2 -o Port=2300", "-o HostName=10.9.9.9")
    r = resolve_route("web1", 2222, "me", "/k", args, config_text=CONFIG)
    assert (r.host, r.port, r.user) == ("10.9.9.9", 2222, "me")  # ansible_port beats -o Port beats the file
    assert r.key_files[0] == "/k"
    assert [str(h) for h in r.jumps] == ["a@hop1:2022", "hop2:22"]


@pytest.mark.parametrize(
    "args",
    [
        ("-J jump@bastion:2222",),
        ("-Jjump@bastion:2222",),
        ("-o 'ProxyJump jump@bastion:2222'",),
        ("-oProxyJump=jump@bastion:2222",),
    ],
)
def test_every_spelling_of_a_jump_is_followed(args):
    r = resolve_route("10.0.0.5", None, None, None, args, config_text="")
    assert [str(h) for h in r.jumps] == ["jump@bastion:2222"]


def test_proxycommand_tokens_are_expanded_and_config_proxycommand_applies():
    r = resolve_route("h", 2201, "u", None, ("-o ProxyCommand='nc -x socks:1080 %h %p # %r %%'",), config_text="")
    assert r.proxy_command == "nc -x socks:1080 h 2201 # u %"
    assert resolve_route("viacmd", None, None, None, (), config_text=CONFIG).proxy_command == "ssh -W viacmd:22 gateway"


@pytest.mark.parametrize(
    ("host", "args", "reason"),
    [
        ("loop", (), "nested jumps"),
        ("h", ("-o ProxyJump=a -o ProxyCommand=nc %h %p",), "both ProxyJump and ProxyCommand"),
        ("h", ("-F /nonexistent/ssh_config",), "does not exist"),
        ("h", ("-o Port=99999",), "out of range"),
        ("h", ("-o ProxyJump=" + ",".join(f"j{i}" for i in range(MAX_JUMPS + 1)),), "more than"),
        ("h", ("-o 'unterminated",), "cannot read ssh arguments"),
    ],
)
def test_a_route_that_cannot_be_followed_exactly_is_refused(host, args, reason):
    with pytest.raises(RouteError, match=reason):
        resolve_route(host, None, None, None, args, config_text=None if args and "-F" in args[0] else CONFIG)


def test_options_that_do_not_change_the_peer_are_ignored_and_first_value_wins():
    opts, cfg = command_line_options(("-o ServerAliveInterval=30 -o Port=1 -o Port=2 -F /etc/x", "-C"))
    assert opts == {"port": "1"} and cfg == "/etc/x"


def test_proxyjump_none_means_direct():
    assert resolve_route("web1", None, None, None, ("-o ProxyJump=none",), config_text=CONFIG).jumps == ()


def test_without_an_ssh_config_file_the_route_is_paramikos_empty_config_route(tmp_path, monkeypatch):
    """No ~/.ssh/config: resolved without paramiko, to exactly what paramiko's empty config gives."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cases = [(), ("-o ProxyJump=jump@bastion:2222",), ("-p 2200 -l ops -i ~/.ssh/k",), ("-o ProxyCommand=nc %h %p",)]
    for args in cases:
        for host in ("10.0.0.5", "Web.Example", "[2001:db8::1]"):
            empty = resolve_route(host, None, "u", None, args, config_text="")
            assert resolve_route(host, None, "u", None, args) == empty


def test_resolving_a_route_without_an_ssh_config_file_does_not_import_paramiko(tmp_path):
    code = (
        "import sys; from hardening.transport.sshroute import resolve_route; "
        "r = resolve_route('10.0.0.5', 2222, 'u', None, ('-o StrictHostKeyChecking=yes',)); "
        "print(r.host, r.port, 'paramiko' in sys.modules)"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == ["10.0.0.5", "2222", "False"], out.stderr
