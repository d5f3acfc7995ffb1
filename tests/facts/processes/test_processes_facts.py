"""Golden tests of the processes parser on real collector output (tests/golden/sensors/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardening.facts import processes
from hardening.facts.sections import FactError, Section, Sections, parse_sections

GOLDEN = Path(__file__).parents[2] / "golden" / "sensors"


def golden(name: str) -> Sections:
    return parse_sections((GOLDEN / f"{name}.out").read_bytes(), "x")


def test_host_root_sees_every_process_but_its_own():
    s = golden("processes_host_root")
    p = processes.parse(s)
    assert p.fds_readable and not p.warnings
    me = int(s.text("processes.self"))
    assert me not in p.procs and all(q.ppid != me for q in p.procs.values())
    assert sum(1 for q in p.procs.values() if q.exe) > 10
    assert p.procs[1].euid == 0 and p.procs[1].argv  # PID 1 of this VM hides its exe even from root
    assert p.accounts[0].name == "root" and p.accounts[0].shell.endswith("sh")
    assert all(q.label == "" for q in p.procs.values())  # no LSM on this kernel: attr/current says nothing


def test_host_nobody_cannot_read_other_users_executables():
    p = processes.parse(golden("processes_host_nobody"))
    assert not p.fds_readable and "not root" in p.warnings[0]
    assert p.procs[1].exe == "" and p.procs[1].euid == 0  # status is world-readable, exe is not


def test_container_stand_ins_are_identified_by_executable_and_uid():
    ok = processes.parse(golden("ctr_ok"))
    falco = ok.running({"/usr/bin/falco"})
    assert len(falco) == 1 and falco[0].euid == 0 and falco[0].comm == "falco"
    fake = processes.parse(golden("ctr_fake"))
    by_exe = {q.exe_path: q for q in fake.procs.values()}
    assert by_exe["/tmp/x/falco"].euid == 0 and "/usr/bin/falco" not in by_exe
    # the container's root has no CAP_SYS_PTRACE: nobody's falco shows its argv but not its exe
    nobody = next(q for q in fake.procs.values() if q.euid == 65534)
    assert nobody.argv[0] == "/usr/bin/falco" and nobody.pid in fake.unreadable


def test_listening_sockets_tcp_udp_and_connected_udp():
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    tcp = head + (
        "   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1\n"
        "   1: 0512A8C6:01BB 0A12A8C6:D431 01 00000000:00000000 00:00000000 00000000     0        0 12 1\n"
    )
    got = processes.parse_net(tcp, "tcp")
    assert [(x.address, x.port, x.loopback) for x in got.values()] == [("127.0.0.1", 53, True)]
    udp = head + (
        "   0: 00000000:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 21 2\n"
        "   1: 0512A8C6:A000 0112A8C6:0035 07 00000000:00000000 00:00000000 00000000     0        0 22 2\n"
    )
    assert [x.label() for x in processes.parse_net(udp, "udp").values()] == ["udp 0.0.0.0:514"]
    v6 = head + "   0: 0000000000000000FFFF00000512A8C6:0050 00000000000000000000000000000000:0000 0A 0 0 0 0 0 31 1\n"
    assert processes.parse_net(v6, "tcp")[31].address == "198.168.18.5"


def test_a_comm_with_parentheses_and_spaces_keeps_its_ppid():
    assert processes.parse_stat_line("7 (a) b (c)) S 3 7 7 0") == ("a) b (c)", 3)
    assert processes.parse_stat_line("7 no parens") is None


def test_cut_output_is_an_error_not_an_empty_table():
    s = golden("processes_host_root")
    cut = dict(s.by_name)
    cut["processes.stat"] = Section("processes.stat", cut["processes.stat"].body, None)
    with pytest.raises(FactError, match="cut short"):
        processes.parse(Sections(cut, complete=False))
    gone = {k: v for k, v in s.by_name.items() if k != "processes.tcp"}
    with pytest.raises(FactError, match=r"processes\.tcp"):
        processes.parse(Sections(gone, complete=True))


def test_passwd_skips_nis_and_garbage():
    acc = processes.parse_passwd("+::0:0:::\nbad\nweb:x:33:33:w:/var/www:/bin/bash\nweb2:x:33:33:w:/x:/bin/sh\n")
    assert list(acc) == [33] and acc[33].name == "web" and acc[33].shell == "/bin/bash"


def test_a_cut_socket_table_drops_its_cut_last_line():
    """At the cap the last line may end inside its inode (12345 read as 123): it is not a listener."""
    s = golden("processes_host_root")
    line = "{:4d}: 00000000:{:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {} 1\n"
    rows = "".join(line.format(i, 1024 + i % 3000, 100000 + i) for i in range(processes.CAP // 100))
    body = ("  sl  local_address rem_address   st\n" + rows)[: processes.CAP - 60]
    body = body[: body.rfind("\n") + 1]
    cut = line.format(9999, 4444, 12345)
    cut = cut[: cut.index(" 12345") + 4]  # "... 0 123"
    body += "x" * (processes.CAP - len(body) - len(cut) - 1) + "\n" + cut
    assert len(body) == processes.CAP
    tables = dict(s.by_name, **{"processes.tcp": Section("processes.tcp", body, 0)})
    p = processes.parse(Sections(tables, s.complete))
    assert not any(li.port == 4444 for li in p.listeners.values())
    assert any(li.port == 1024 for li in p.listeners.values())
    assert any("processes.tcp hit the 4 MiB cap" in w for w in p.warnings)
