"""services.least_privilege: exposed services' accounts (Linux lab captures and variants), Windows fixtures."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from pathlib import Path

from hardening.checks import registry

from hardening.facts.linux import LinuxFacts, gather
from hardening.facts.processes import Listener, Proc
from hardening.facts.sections import parse_sections
from hardening.facts.windows import gather as win_gather
from hardening.facts.windows import parse_output
from hardening.model import Platform, Status
from hardening.policy import Policy
from hardening.remediate import plan_host

GOLDEN = Path(__file__).parents[2] / "golden"
LINUX = registry().check("services.least_privilege", Platform.LINUX)
WINDOWS = registry().check("services.least_privilege", Platform.WINDOWS)


def lab(host: str) -> LinuxFacts:
    text = (GOLDEN / "lab" / f"{host}.out").read_text()
    nonce = re.match(r"# harden collector output host=\S+ nonce=(\w+)", text).group(1)
    return gather(parse_sections(text, nonce))


def test_lab_hardened_nginx_drops_privileges_and_sshd_separates_them():
    v = LINUX.run(lab("hardened"), Policy())
    assert v.status is Status.PASS, v.message
    assert "root master, requests handled by www-data" in v.message
    assert "per-connection privilege separation" in v.message
    assert LINUX.run(lab("default"), Policy()).status is Status.PASS


def test_lab_half_every_finding():
    v = LINUX.run(lab("half"), Policy())
    assert v.status is Status.FAIL
    assert "www-data may write the web root /var/www/html" in v.message
    assert "runs as appsvc, whose login shell is /bin/bash" in v.message
    assert "appsvc has sudo rights without a password" in v.message
    assert "runs as root with no unprivileged worker" in v.message  # python3 -m http.server 8001
    assert v.remedy is not None
    assert v.remedy.variables == {
        "harden_service_privilege_nologin": ["appsvc"],
        "harden_service_privilege_sudo": ["appsvc"],
        "harden_service_privilege_webroots": ["/var/www/html"],
    }


def test_the_planner_drops_what_the_results_file_should_not_choose():
    check = {
        "id": "services.least_privilege",
        "status": "fail",
        "remediation": {
            "role": "harden_service_privilege",
            "variables": {
                "harden_service_privilege_nologin": ["root", "appsvc", "$(id)"],
                "harden_service_privilege_sudo": ["appsvc"],
                "harden_service_privilege_webroots": ["/etc", "/var/www/../../etc", "/var/www/html"],
            },
        },
    }
    hp = plan_host({"name": "h", "platform": "linux", "status": "ok", "checks": [check]})
    assert hp.variables["harden_service_privilege_nologin"] == ["appsvc"]
    assert hp.variables["harden_service_privilege_webroots"] == ["/var/www/html"]
    assert sum("ignored" in n for n in hp.notes) == 4


def _with(f: LinuxFacts, **areas) -> LinuxFacts:
    return replace(f, areas={**f.areas, **areas})


def test_loopback_only_and_socket_activation_by_init():
    f = lab("default")
    procs = f.processes
    loop = {i: replace(x, address="127.0.0.1") for i, x in procs.listeners.items()}
    v = LINUX.run(_with(f, processes=replace(procs, listeners=loop)), Policy())
    assert v.status is Status.PASS and "no process listens" in v.message
    # init holding a service's socket (socket activation) is not the service
    sshd = next(p for p in procs.procs.values() if p.exe_path == "/usr/sbin/sshd" and p.sockets)
    inode = next(i for i in sshd.sockets if i in procs.listeners)
    init = Proc(1, 0, "systemd", "/usr/lib/systemd/systemd", ("/sbin/init",), 0, 0, 0, "", (inode,))
    child = replace(sshd, ppid=1)
    table = {**procs.procs, 1: init, sshd.pid: child}
    v = LINUX.run(_with(f, processes=replace(procs, procs=table)), Policy())
    assert v.status is Status.PASS and "/usr/lib/systemd/systemd" not in v.message


def test_mac_confinement_counts_where_the_kernel_enforces_it():
    f = lab("hardened")
    ac = f.appcontrol
    enforcing = replace(
        ac, apparmor=replace(ac.apparmor, module_enabled=True, profiles=(("/usr/sbin/sshd", "enforce"),))
    )
    v = LINUX.run(_with(f, appcontrol=enforcing), Policy())
    assert v.status is Status.FAIL and "unconfined by the MAC policy" in v.message
    confined = {pid: replace(p, label=f"{p.exe_path} (enforce)") for pid, p in f.processes.procs.items()}
    v = LINUX.run(_with(f, appcontrol=enforcing, processes=replace(f.processes, procs=confined)), Policy())
    assert v.status is Status.PASS


def test_listener_with_no_visible_owner_is_an_error():
    f = lab("default")
    extra = Listener("tcp", "0.0.0.0", 9999, 424242)
    procs = replace(
        f.processes, listeners={424242: extra}, procs={k: replace(p, sockets=()) for k, p in f.processes.procs.items()}
    )
    assert LINUX.run(_with(f, processes=procs), Policy()).status is Status.ERROR


# ----------------------------------------------------------------------------- Windows


def win(name: str, edit=None):
    d = copy.deepcopy(parse_output((GOLDEN.parent / "windows" / "fixtures" / f"{name}.jsonl").read_text()))
    if edit:
        edit(d)
    return win_gather(d)


def test_windows_fixture_states():
    v = WINDOWS.run(win("server2022-default"), Policy())
    assert v.status is Status.PASS, v.message
    assert "Spooler" not in v.message  # Windows' own, on loopback here anyway
    assert WINDOWS.run(win("server2022-hardened"), Policy()).status is Status.PASS
    v = WINDOWS.run(win("server2022-partial"), Policy())
    assert v.status is Status.FAIL and "AcmeAgent" in v.message and "'legacy'" in v.message
    assert v.remedy is not None and v.remedy.variables["harden_win_service_privilege_app_pools"] == ["legacy"]
    assert WINDOWS.run(win("server2022-nonadmin"), Policy()).status is Status.ERROR


def test_windows_exposed_teamviewer_as_system_fails():
    def exposed(d):
        for x in d["listeners"]["tcp"]:
            if x["port"] == 5939:
                x["address"] = "0.0.0.0"

    v = WINDOWS.run(win("server2022-default", exposed), Policy())
    assert v.status is Status.FAIL and "TeamViewer" in v.message
