"""The lab of real hosts: reachable, in the promised states, and unable to leave the lab.

Network safety: host-to-container traffic goes only to 127.0.0.1 (published sshd) or
198.18.0.0/24 after `ip route get` shows the podman bridge; the containment tests check
the host guard is in place before any packet is sent toward an off-lab address.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

import pytest

from hardening.lab import (
    DEADEND,
    DEFAULT_STATES,
    GATEWAY,
    GUARD_TABLE,
    SUBNET,
    Lab,
    LabHost,
    lab_down,
    lab_status,
    lab_up,
)
from hardening.lab.image import parse_debian_mirror
from hardening.lab.lab import render_inventory

pytestmark = pytest.mark.lab


def sh(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def in_host(host: LabHost, script: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return sh(["podman", "exec", host.container, "sh", "-c", script], timeout=timeout)


def bridge_of(lab: Lab) -> str:
    out = sh(["podman", "network", "inspect", lab.network, "--format", "{{.NetworkInterface}}"])
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def assert_host_route_is_bridge(lab: Lab, host: LabHost) -> None:
    """Safety precondition for container<->host traffic: the host routes the lab via the bridge."""
    route = sh(["ip", "route", "get", host.ip]).stdout
    assert f"dev {bridge_of(lab)} " in route, route


def guard_counter(chain: str, match: str) -> int:
    listing = sh(["nft", "list", "chain", "inet", GUARD_TABLE, chain]).stdout
    for line in listing.splitlines():
        if match in line:
            m = re.search(r"counter packets (\d+)", line)
            assert m, line
            return int(m.group(1))
    raise AssertionError(f"no rule matching {match!r} in guard chain {chain}:\n{listing}")


def ansible_hostvars(inventory: Path) -> dict[str, dict[str, object]]:
    """Read the inventory the way Ansible does (proves the quoting holds)."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory)])
    vm = VariableManager(loader=loader, inventory=inv)
    return {h.name: vm.get_vars(host=h) for h in inv.get_hosts()}


# ---------------------------------------------------------------- reachability and logins


def test_every_host_answers_with_an_ssh_banner(lab: Lab):
    assert [h.name for h in lab.hosts] == list(DEFAULT_STATES)
    for host in lab.hosts:
        with socket.create_connection(("127.0.0.1", host.port), timeout=5) as s:
            s.settimeout(5)
            banner = s.recv(256)
        assert banner.startswith(b"SSH-2.0-OpenSSH_"), (host.name, banner)


def test_status_lists_the_running_hosts(lab: Lab):
    status = {h.name: h for h in lab_status(lab.prefix)}
    assert set(status) == set(DEFAULT_STATES)
    for host in lab.hosts:
        assert status[host.name] == host


def test_inventory_parses_with_ansible_and_ssh_logins_work_with_strict_known_hosts(lab: Lab):
    hv = ansible_hostvars(lab.inventory)
    assert set(hv) == set(DEFAULT_STATES)
    assert {str(v["harden_lab_ip"]) for v in hv.values()} == {h.ip for h in lab.hosts}
    assert all(v["harden_egress_allow"] == SUBNET for v in hv.values())
    assert oct(lab.key.stat().st_mode & 0o777) == "0o600"
    for name, expect_user, expect_uid in [
        ("default", "harden", "0"),
        ("hardened", "harden", "0"),
        ("ufw", "root", "0"),
    ]:
        v = hv[name]
        argv = ["ssh", "-p", str(v["ansible_port"]), "-i", str(v["ansible_ssh_private_key_file"])]
        argv += [*shlex.split(str(v["ansible_ssh_common_args"])), "-o", "BatchMode=yes"]
        cmd = "id -un; sudo -n id -u" if v.get("ansible_become") else "id -un; id -u"
        out = sh([*argv, f"{v['ansible_user']}@{v['ansible_host']}", cmd])
        assert out.returncode == 0, (name, out.stderr)
        assert out.stdout.split() == [expect_user, expect_uid], name


def test_half_logs_in_with_a_password_and_sudo_asks_for_it(lab: Lab):
    v = ansible_hostvars(lab.inventory)["half"]
    assert "ansible_ssh_private_key_file" not in v
    password = str(v["ansible_password"])
    assert v["ansible_become_password"] == password == lab.password
    argv = [
        "sshpass",
        "-e",
        "ssh",
        "-p",
        str(v["ansible_port"]),
        *shlex.split(str(v["ansible_ssh_common_args"])),
    ]
    argv += ["-o", "PubkeyAuthentication=no", "-o", "ConnectTimeout=5", "harden@127.0.0.1"]
    script = "sudo -n true 2>/dev/null && echo nopasswd; printf '%s\\n' \"$PW\" | sudo -S -p '' id -u"
    env = {**os.environ, "SSHPASS": password}
    out = subprocess.run(
        [*argv, f"PW={shlex.quote(password)}; {script}"], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0"]  # sudo -n refused, sudo with the password worked
    env["SSHPASS"] = password + "x"
    bad = subprocess.run([*argv, "true"], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0


def test_an_unknown_host_key_is_refused(lab: Lab, tmp_path):
    host = lab.host("default")
    other = lab.host("hardened")
    # hardened's keys filed under default's port: the real key does not match -> refused
    known = lab.known_hosts.read_text().splitlines()
    wrong = [ln.replace(f"]:{other.port} ", f"]:{host.port} ") for ln in known if f"]:{other.port} " in ln]
    (tmp_path / "kh").write_text("\n".join(wrong) + "\n")
    opts = [
        "-o",
        f"UserKnownHostsFile={tmp_path / 'kh'}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
    ]
    out = sh(["ssh", "-p", str(host.port), "-i", str(lab.key), *opts, "harden@127.0.0.1", "true"])
    assert out.returncode == 255
    assert "HOST IDENTIFICATION HAS CHANGED" in out.stderr or "verification failed" in out.stderr


# ------------------------------------------------------------------------------ states


def test_hardened_state(lab: Lab):
    host = lab.host("hardened")
    ruleset = in_host(host, "nft list ruleset").stdout
    output = ruleset[ruleset.index("chain output") :]
    assert "table inet filter" in ruleset and "policy drop;" in output.splitlines()[1]
    assert "ct state new accept" not in ruleset
    persisted = in_host(host, "nft -c -f /etc/nftables.conf && cat /etc/nftables.conf")
    assert persisted.returncode == 0 and "policy drop" in persisted.stdout
    found = in_host(
        host,
        "for p in netcat-openbsd netcat-traditional ncat socat busybox; do "
        "dpkg-query -W -f '${db:Status-Status} ${Package}\\n' $p 2>/dev/null; done; "
        "command -v nc ncat socat busybox || true",
    )
    assert " installed" not in found.stdout and "/" not in found.stdout, found.stdout
    assert in_host(host, "cat /etc/resolv.conf").stdout.split() == ["nameserver", "127.0.0.1"]
    rules = in_host(host, "cat /etc/audit/rules.d/harden.rules").stdout
    assert "arch=b64 -S execve" in rules and "arch=b32 -S execve" in rules and "a2=28" in rules
    assert in_host(host, "test -L /etc/systemd/system/multi-user.target.wants/auditd.service").returncode == 0
    # dnsmasq logs queries: the query goes container -> 127.0.0.1 -> 198.18.0.1 (in the lab)
    assert_host_route_is_bridge(lab, host)
    assert in_host(host, f"ip route get {GATEWAY}").stdout.startswith(f"{GATEWAY} dev eth0")
    in_host(host, "timeout 2 getent hosts lab-probe-hardened.example", timeout=10)
    log = in_host(host, "cat /var/log/dnsmasq.log").stdout
    assert re.search(r"query\[A{1,4}\] lab-probe-hardened\.example from 127\.0\.0\.1", log), log


def test_half_state_traps(lab: Lab):
    host = lab.host("half")
    ruleset = in_host(host, "nft list ruleset").stdout
    assert "table ip filter" in ruleset and "table inet" not in ruleset and "table ip6" not in ruleset
    assert ruleset.index("ct state new accept") < ruleset.index("ip daddr 198.18.0.0/24 accept")
    persisted = in_host(host, "cat /etc/nftables.conf").stdout
    assert "table inet filter" in persisted and "ct state new accept" not in persisted
    conf = in_host(host, "cat /etc/dnsmasq.d/*.conf /etc/dnsmasq.conf").stdout
    assert not re.search(r"^\s*log-queries", conf, re.M)
    assert "dnsmasq" in in_host(host, "ps -eo comm").stdout
    assert in_host(host, "test -x /usr/local/bin/socat && ! dpkg -S /usr/local/bin/socat").returncode == 0
    assert in_host(host, "dpkg-query -W -f '${db:Status-Status}' ncat").stdout == "installed"
    assert in_host(host, "dpkg-query -W -f '${db:Status-Status}' netcat-openbsd").stdout != "installed"


def test_default_and_ufw_states(lab: Lab):
    default = lab.host("default")
    assert in_host(default, "nft list ruleset").stdout.strip() == ""
    pkgs = in_host(default, "dpkg-query -W -f '${Package} ${db:Status-Status}\\n'").stdout
    installed = {ln.split()[0] for ln in pkgs.splitlines() if ln.endswith(" installed")}
    assert "netcat-openbsd" in installed
    assert not installed & {"netcat-traditional", "ncat", "socat", "busybox", "auditd", "dnsmasq"}
    assert in_host(default, "ls /var/cache/harden/debs").stdout.count(".deb") >= 3
    ufw = lab.host("ufw")
    status = in_host(ufw, "ufw status verbose").stdout
    assert "Status: active" in status and "deny (outgoing)" in status
    assert re.search(r"198\.18\.0\.0/24\s+ALLOW OUT", status), status
    assert "netcat-openbsd" in in_host(ufw, "dpkg-query -W netcat-openbsd").stdout


# ------------------------------------------------------------------------- containment


def test_default_route_points_at_the_dead_end(lab: Lab):
    for host in lab.hosts:
        route = in_host(host, "ip route get 8.8.8.8").stdout
        assert f"via {DEADEND} dev eth0" in route, (host.name, route)
        assert in_host(host, "ip -6 route show default").stdout.strip() == "", host.name


def test_guard_is_installed_for_the_lab_bridge(lab: Lab):
    bridge = bridge_of(lab)
    assert_host_route_is_bridge(lab, lab.host("default"))
    listing = sh(["nft", "list", "table", "inet", GUARD_TABLE]).stdout
    assert f'iifname "{bridge}" ip daddr != {SUBNET} counter' in listing
    assert f'iifname "{bridge}" meta nfproto ipv6 counter' in listing
    assert "hook forward priority filter - 10" in listing


def test_off_lab_tcp_from_a_container_dies_on_the_bridge(lab: Lab):
    host = lab.host("default")  # has nc (netcat-openbsd) and no firewall of its own
    test_guard_is_installed_for_the_lab_bridge(lab)  # guard first, then any packet
    assert f"via {DEADEND} " in in_host(host, "ip route get 198.51.100.1").stdout
    before = guard_counter("forward", "ip daddr !=")
    started = time.monotonic()
    out = in_host(host, "timeout 3 nc -z -w 2 198.51.100.1 9; echo rc=$?", timeout=10)
    assert "rc=0" not in out.stdout and time.monotonic() - started < 8
    neigh = in_host(host, f"ip neigh show {DEADEND}").stdout
    assert "lladdr" not in neigh, neigh  # nobody answered for the dead end
    assert guard_counter("forward", "ip daddr !=") == before  # never even reached the host


def test_guard_drops_off_lab_packets_even_when_a_container_reroutes(lab: Lab):
    """A container with NET_ADMIN routes one off-lab address via the real gateway: the host drops it."""
    host = lab.host("default")
    test_guard_is_installed_for_the_lab_bridge(lab)
    target = "198.51.100.1"
    before = guard_counter("forward", "ip daddr !=")
    assert in_host(host, f"ip route add {target}/32 via {GATEWAY}").returncode == 0
    try:
        out = in_host(host, f"timeout 3 nc -z -w 2 {target} 9; echo rc=$?", timeout=10)
    finally:
        in_host(host, f"ip route del {target}/32 via {GATEWAY}")
    assert "rc=0" not in out.stdout
    assert guard_counter("forward", "ip daddr !=") > before
    assert f"via {DEADEND} " in in_host(host, f"ip route get {target}").stdout


# -------------------------------------------------------------------------- lifecycle


def test_a_second_lab_comes_and_goes_without_disturbing_the_first(lab: Lab, tmp_path):
    prefix = f"{lab.prefix}-x"
    second = lab_up(tmp_path / "w", ("default",), prefix=prefix, network=lab.network)
    assert second.hosts[0].ip not in {h.ip for h in lab.hosts}
    assert second.hosts[0].port not in {h.port for h in lab.hosts}
    again = lab_up(tmp_path / "w", ("default",), prefix=prefix, network=lab.network)  # replaces
    assert len(lab_status(prefix)) == 1 and again.hosts[0].container == second.hosts[0].container
    lab_down(prefix=prefix, network=lab.network, workdir=tmp_path / "w")
    assert lab_status(prefix) == []
    assert not (tmp_path / "w").exists()
    # the first lab is untouched, and so is the guard its network still needs
    assert all(h.running for h in lab_status(lab.prefix)) and len(lab_status(lab.prefix)) == len(lab.hosts)
    assert sh(["nft", "list", "table", "inet", GUARD_TABLE]).returncode == 0


# --------------------------------------------------------------------------- pure bits


def test_inventory_quotes_values():
    h = LabHost("half", "c", "half", "198.18.0.130", 4000, True)
    text = render_inventory([h], Path("/a b/key"), Path("/a b/kh"), "pa ss'w")
    line = text.splitlines()[1]
    assert shlex.split(line)[0] == "half"
    args = dict(a.split("=", 1) for a in shlex.split(line)[1:])
    assert args["ansible_password"] == "pa ss'w" and args["ansible_become_password"] == "pa ss'w"
    assert shlex.split(args["ansible_ssh_common_args"])[1] == "UserKnownHostsFile=/a b/kh"
    assert "ansible_ssh_private_key_file" not in args


DEB822 = "Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: main\n"


@pytest.mark.parametrize(
    ("files", "want"),
    [
        (
            {"d.sources": DEB822.format(uri="http://m/debian", suites="bookworm bookworm-updates")},
            "http://m/debian",
        ),
        (
            {"s.list": "deb-src http://x bookworm main\ndeb [arch=amd64] http://y/d bookworm main\n"},
            "http://y/d",
        ),
        ({"n.sources": DEB822.format(uri="https://n/node_20.x", suites="nodistro")}, None),
        ({"e.sources": "Enabled: no\n" + DEB822.format(uri="http://z", suites="bookworm")}, None),
    ],
)
def test_mirror_discovery(files, want):
    assert parse_debian_mirror(files) == want
