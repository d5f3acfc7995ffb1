"""dns takes its port-53 TCP listeners from the processes piece's tables when both run.

Real runs: the collector (dash, bash, busybox) in a network namespace of the test's own with a
real TCP listener on 127.0.0.1:53 and ::1:53; the dns facts must be the same whether dns.sh reads
/proc/net/tcp itself (dns alone) or dns.py reads the processes piece's tables (both pieces).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hardening.facts import collector, dns
from hardening.facts.sections import FactError, parse_sections

SHELLS = ("dash", "bash", "busybox")
LISTEN = "0A"


def _sections(body: str, name: str = "processes.tcp", rc: int = 0):
    return parse_sections(f"@@n B {name}\n{body}\n@@n E {name} {rc}\n", "n")


def _line(i: int, port: int, state: str, inode: int) -> str:
    timers = "00000000:00000000 00:00000000 00000000     0        0"
    return f"{i:4d}: 0100007F:{port:04X} 00000000:0000 {state} {timers} {inode} 1"


def test_dns_piece_leaves_tcp_to_processes_only_when_both_run():
    both = collector.build_linux_script("n0", ("dns", "processes"))
    alone = collector.build_linux_script("n0", ("dns",))
    assert "_dns_tcp=processes\n" in both
    assert "_dns_tcp=\n" in alone and "_dns_tcp=processes" not in alone  # never left to the environment
    assert "_dns_tcp=processes" in collector.build_linux_script("n0")


def test_only_port_53_listeners_are_taken():
    rows = [_line(0, 53, LISTEN, 11), _line(1, 22, LISTEN, 12), _line(2, 53, "01", 13)]
    body = "\n".join(["  sl  local_address rem_address   st", *rows])
    got = dns.processes_tcp(_sections(body), "tcp")
    assert [(x.proto, x.address, x.port, x.inode) for x in got] == [("tcp", "127.0.0.1", 53, 11)]


def _cut(head: list[str], state: str, tail: str) -> str:
    """A table of exactly the cap: ``head`` rows, rows in ``state``, then ``tail`` (a cut line)."""
    rows = ["  sl  local_address rem_address   st", *head]
    rows += [_line(100 + i, 40000, state, 1000 + i) for i in range(dns.PROCESSES_CAP // 90)]
    body = "\n".join(rows) + "\n"
    assert len(body) > dns.PROCESSES_CAP
    body = body[: dns.PROCESSES_CAP - len(tail) - 1]
    body = body[: body.rfind("\n") + 1]
    body += "x" * (dns.PROCESSES_CAP - len(tail) - len(body) - 1) + "\n" + tail
    assert len(body) == dns.PROCESSES_CAP
    return body


def test_a_table_cut_after_the_listeners_gives_them_and_not_the_cut_line():
    # The last line is cut inside its inode: 99999 would be read as 99.
    tail = _line(9, 53, LISTEN, 99999)[:-5]
    assert tail.endswith(" 99")
    body = _cut([_line(0, 53, LISTEN, 11)], "01", tail)
    assert [x.inode for x in dns.processes_tcp(_sections(body), "tcp")] == [11]


@pytest.mark.parametrize("state", [LISTEN, "03"])
def test_a_table_cut_among_listeners_and_their_requests_is_an_error(state):
    """Only LISTEN lines, or LISTEN and SYN_RECV (before Linux 4.4 a listener's requests follow it)."""
    body = _cut([_line(0, 53, LISTEN, 11)], state, _line(9, 22, LISTEN, 12))
    with pytest.raises(FactError, match="cut at 4 MiB among the listening sockets"):
        dns.processes_tcp(_sections(body), "tcp")


def test_an_unreadable_ipv4_table_is_an_error_and_a_missing_ipv6_one_is_none():
    with pytest.raises(FactError, match="/proc/net/tcp unreadable"):
        dns.processes_tcp(_sections("", rc=1), "tcp")
    assert dns.processes_tcp(_sections("", "processes.tcp6", 127), "tcp6") == ()


def test_without_the_marker_the_dns_tcp_sections_are_required():
    """A run that says nothing about sharing needs its own dns.tcp: its absence is an error."""
    both = {"dns.tcp_from": ("processes", 0)}
    req = dns.required_sections(_sections("", "dns.udp"))
    assert "dns.tcp" in req and "processes.tcp" not in req
    shared = parse_sections("".join(f"@@n B {k}\n{t}\n@@n E {k} {rc}\n" for k, (t, rc) in both.items()), "n")
    req = dns.required_sections(shared)
    assert "dns.tcp" not in req and {"processes.tcp", "processes.tcp6"} <= set(req)


LISTENER = """
import socket, sys, time
socks = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((addr, 53))
    s.listen(1)
    socks.append(s)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 53))
print("up", flush=True)
time.sleep(float(sys.argv[1]))
"""


def _in_netns(scripts: list[str], shell: str, tmp: Path) -> list[bytes]:
    """Run each script with ``shell``, one after the other, in a new network namespace (lo only)
    beside the same real port-53 listeners (a Python child, at most 20 s, killed by PID)."""
    argv = [shell, "sh", "-s"] if shell == "busybox" else [shell, "-s"]
    runner = (
        'ip link set lo up || exit 9; py=$1 code=$2 d=$3 n=$4; shift 4; "$py" -c "$code" 20 >"$d/up" & p=$!; '
        'i=0; while [ ! -s "$d/up" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; '
        'rc=0; j=0; while [ $j -lt "$n" ]; do "$@" <"$d/s$j" >"$d/o$j" || rc=1; j=$((j+1)); done; '
        'kill "$p"; wait "$p"; exit $rc'
    )
    for i, script in enumerate(scripts):
        (tmp / f"s{i}").write_text(script)
    out = subprocess.run(
        ["unshare", "-n", "sh", "-c", runner, "runner", sys.executable, LISTENER, str(tmp), str(len(scripts)), *argv],
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "TMPDIR": str(tmp)},
    )
    assert (tmp / "up").read_text() == "up\n", out.stderr
    return [(tmp / f"o{i}").read_bytes() for i in range(len(scripts))]


@pytest.mark.parametrize("shell", SHELLS)
def test_dns_facts_are_the_same_from_its_own_tables_and_from_the_processes_tables(shell, tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which(shell):
        if os.environ.get("CI"):
            pytest.fail("CI runs as root with unshare, dash, bash and busybox installed")
        pytest.skip("needs root, unshare and the shell")
    both_pieces = ("dns", "processes")
    outs = _in_netns([collector.build_linux_script("n0", p) for p in (("dns",), both_pieces)], shell, tmp_path)
    alone, both = (parse_sections(o, "n0") for o in outs)
    assert alone.complete and both.complete
    assert "dns.tcp" in alone and "dns.tcp_from" not in alone
    assert "dns.tcp" not in both and both.text("dns.tcp_from") == "processes\n" and "processes.tcp" in both
    got = dns.parse(both).listeners
    assert sorted((x.proto, x.address, x.port) for x in got) == [
        ("tcp", "127.0.0.1", 53),
        ("tcp", "::1", 53),
        ("udp", "127.0.0.1", 53),
    ]
    assert dns.parse(alone).listeners == got  # same sockets (inodes), same order
