"""A hostile SSH host on 127.0.0.1 for tests and benchmarks: paramiko's server side, no sshd.

Each account (user name) is one host with a password and a behaviour. The server does what
harden's transport expects of a real host, and whatever the behaviour adds:

* password authentication (the host sees the SSH password: :attr:`Request.ssh_password`);
* one exec channel; a ``sudo -S -p PROMPT ... sh -c 'echo MARKER; exec /bin/sh -s'`` command is
  played as sudo: the prompt on stderr, the password read from stdin
  (:attr:`Request.become_password`), then the marker, or the behaviour's refusal; ``sudo -n``
  (no password to give) prints the marker at once, or ``sudo: a password is required``
  when the account asks for one (``refuse_become``);
* an account with ``refuse_exec`` answers the exec request with a failure;
* the script on stdin until EOF; its nonce (line ``HN=<nonce>``) is handed to the behaviour,
  which answers with stdout (bytes, or an iterable of bytes for large answers), stderr and an
  exit status.

Example::

    def answer(req: Request) -> Reply:
        return Reply(f"@@{req.nonce} B a\\nhello\\n@@{req.nonce} E a 0\\n".encode())

    with SshServer({"web1": Account("pw", answer)}) as srv:
        print(srv.port, srv.known_hosts_line())

Run alone (the memory benchmark, ``bench/hostile_memory.py``): ``--hosts`` accounts ``h00``...
(password ``bench-pw``) each answer about ``--size-mib`` of output, and hold their last block
until all of them have sent the rest, so that the controller holds every answer at once::

    python tests/support/ssh_server.py --hosts 10 --size-mib 30 --shape section
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

GOLDEN = Path(__file__).parents[1] / "golden" / "lab"


@dataclass(frozen=True)
class Request:
    """What the host received."""

    user: str
    command: str
    script: bytes
    nonce: str
    ssh_password: str
    become_password: str | None


@dataclass(frozen=True)
class Reply:
    stdout: bytes | Iterable[bytes]
    stderr: bytes = b""
    rc: int = 0


@dataclass(frozen=True)
class Account:
    password: str
    answer: Callable[[Request], Reply]
    # Played as sudo: given the become password, what to print on stderr before exiting 1
    # (None: accept it, print the success marker and run the script).
    refuse_become: Callable[[str], bytes] | None = None
    refuse_exec: bool = False
    # public key authentication too, with this key (its private half is the client's)
    key: paramiko.PKey | None = None


@dataclass
class _Session:
    command: str = ""
    exec_requested: threading.Event = field(default_factory=threading.Event)


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: SshServer, session: _Session) -> None:
        self.server = server
        self.session = session
        self.user = ""
        self.password = ""

    def get_allowed_auths(self, username: str) -> str:
        account = self.server.accounts.get(username)
        return "password,publickey" if account is not None and account.key is not None else "password"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        account = self.server.accounts.get(username)
        if account is None or account.key is None or account.key != key:
            return paramiko.AUTH_FAILED
        self.user = username
        if self.server.keep_requests:
            self.server.logins.append(username)
        return paramiko.AUTH_SUCCESSFUL

    def check_auth_password(self, username: str, password: str) -> int:
        account = self.server.accounts.get(username)
        if account is None or account.password != password:
            return paramiko.AUTH_FAILED
        self.user, self.password = username, password
        if self.server.keep_requests:
            self.server.logins.append(username)
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        account = self.server.accounts.get(self.user)
        if account is not None and account.refuse_exec:
            return False
        self.session.command = command.decode("utf-8", "replace")
        self.session.exec_requested.set()
        return True


_NONCE = re.compile(rb"^HN=([A-Za-z0-9]+)$", re.MULTILINE)
_MARKER = re.compile(r"HARDEN-BECOME-SUCCESS-[0-9a-f]+")


def _read_line(chan: paramiko.Channel, limit: int = 4096) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = chan.recv(1)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\n").decode("utf-8", "replace")


def _read_all(chan: paramiko.Channel, limit: int = 16 * 1024 * 1024) -> bytes:
    data = bytearray()
    while len(data) < limit:
        chunk = chan.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


class SshServer:
    """Serve ``accounts`` on 127.0.0.1 (a random port) until closed."""

    def __init__(self, accounts: dict[str, Account], port: int = 0, keep_requests: bool = True) -> None:
        self.accounts = accounts
        self.keep_requests = keep_requests  # False for benchmarks: a request holds the whole script
        self.host_key = paramiko.ECDSAKey.generate()
        self.requests: list[Request] = []
        self.logins: list[str] = []  # each successful authentication, by user
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ssh-server", daemon=True)

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"

    def __enter__(self) -> SshServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def serve_forever(self) -> None:
        self._serve()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        session = _Session()
        iface = _Interface(self, session)
        try:
            transport.start_server(server=iface)
            chan = transport.accept(timeout=20)
            if chan is None or not session.exec_requested.wait(20):
                return
            try:
                self._run(chan, iface, session.command)
            finally:
                chan.close()
            # As sshd does: the client closes the connection once it has read everything (it still
            # sends window adjustments while it reads what is buffered).
            deadline = time.monotonic() + 60
            while transport.is_active() and time.monotonic() < deadline:
                time.sleep(0.05)
        except (paramiko.SSHException, OSError, EOFError):
            return
        finally:
            transport.close()

    def _run(self, chan: paramiko.Channel, iface: _Interface, command: str) -> None:
        account = self.accounts[iface.user]
        become = None
        if command.startswith("sudo ") and "-n" in shlex.split(command)[:3]:
            if account.refuse_become is not None:
                chan.sendall_stderr(b"sudo: a password is required\n")
                chan.send_exit_status(1)
                return
            marker = _MARKER.search(command)
            chan.sendall((marker.group() if marker else "").encode() + b"\n")
        elif command.startswith("sudo "):
            words = shlex.split(command)
            prompt = words[words.index("-p") + 1]
            marker = _MARKER.search(command)
            chan.sendall_stderr(prompt.encode())
            become = _read_line(chan)
            if account.refuse_become is not None:
                chan.sendall_stderr(account.refuse_become(become))
                chan.send_exit_status(1)
                return
            chan.sendall((marker.group() if marker else "").encode() + b"\n")
        script = _read_all(chan)
        m = _NONCE.search(script)
        req = Request(iface.user, command, script, m.group(1).decode() if m else "", iface.password, become)
        if self.keep_requests:
            self.requests.append(req)
        reply = account.answer(req)
        chunks = [reply.stdout] if isinstance(reply.stdout, bytes) else reply.stdout
        for chunk in chunks:
            chan.sendall(chunk)
        if reply.stderr:
            chan.sendall_stderr(reply.stderr)
        chan.send_exit_status(reply.rc)
        chan.shutdown_write()


# ------------------------------------------------------------------------------- answers


def wire(text: str) -> bytes:
    """``text`` as a host may send it: UTF-8, lone surrogates too (bytes no UTF-8 decoder accepts)."""
    return text.encode("utf-8", "surrogatepass")


def disguises(pw: str) -> list[str]:
    """``pw`` as a hostile host may echo it: whole, and with escape sequences, control or invisible
    characters between its letters (each one shows whole in some output or to some reader)."""
    h = len(pw) // 2
    return [
        pw,
        pw[:3] + "\x1b[0m" + pw[3:],
        pw[:1] + "\x00" + pw[1:2] + "\x08" + pw[2:],
        pw[:-2] + "\r" + pw[-2:],
        "\x1b[1m".join(pw),
        pw[:h] + "\x1b]0;title\x07" + pw[h:],
        pw[:h] + "\x1b]8;;http://x/\x1b\\" + pw[h:],
        "\u200b".join(pw),
        pw[:h] + "\u202e\u2066\ufeff\u00ad\u2060" + pw[h:],
        pw[:2] + "\x9b" + pw[2:],
        pw[:2] + "\x1b(B\x1bM" + pw[2:],
        pw[:h] + "\x7f\x1f\x85" + pw[h:],
        "\x1b[31m" + pw + "\x1b[0m",
        pw[:h] + "\ud800\ufffe" + pw[h:],
        pw[:h] + "\ufe0f\U000e0041" + pw[h:],
    ]


def golden_output(nonce: str, host: str = "default") -> bytes:
    """A real collector output (tests/golden/lab/HOST.out) with ``nonce`` in its markers."""
    raw = (GOLDEN / f"{host}.out").read_bytes()
    head, _, body = raw.partition(b"\n")
    old = re.search(rb"nonce=([0-9a-f]+)", head)
    assert old is not None
    return body.replace(b"@@" + old.group(1), b"@@" + nonce.encode())


def with_section_text(output: bytes, nonce: str, name: str, extra: bytes) -> bytes:
    """``output`` with ``extra`` added at the end of section ``name``'s text."""
    end = f"\n@@{nonce} E {name} ".encode()
    assert end in output, name
    return output.replace(end, b"\n" + extra.rstrip(b"\n") + end, 1)


def big_answer(nonce: str, size: int, shape: str) -> Iterable[bytes]:
    """About ``size`` bytes of collector output (for the memory benchmark), streamed.

    ``section``: the golden output with one section (dns.resolv_conf) grown to ``size`` with
    lines of mixed scripts (Latin-1, Cyrillic, CJK, emoji); ``outside``: the same bulk
    before the first marker (text no section holds); ``ascii-emoji``: the bulk is ASCII but
    for ONE emoji at its start (the case where a whole str costs 4 bytes per character);
    ``lines``: the bulk is two-letter lines (``ab``), the most objects per byte for a
    line-splitting parser; ``nft-json``: the running nftables ruleset is the bulk (one JSON
    document of small rule objects: what the egress judgement must parse whole); ``iptables``:
    the running iptables rules are the bulk (one rule per line, each parsed into a rule).
    """
    base = golden_output(nonce)
    if shape == "iptables":  # the running iptables-nft rules: one rule per line
        start = f"@@{nonce} B firewall.iptables_nft_save\n".encode()
        pre, _, post = base.partition(start)
        yield pre + start + b"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        rule = b"-A OUTPUT -d 10.1.2.3/32 -p tcp -m tcp --dport 443 -j ACCEPT\n"
        block = rule * max(1, 65536 // len(rule))
        yield from (block for _ in range(max(0, size - len(base)) // len(block)))
        yield b"COMMIT\n" + post
        return
    if shape == "nft-json":  # the running ruleset: one JSON document of many small objects
        obj = b'{"rule": {"family": "inet", "table": "t", "chain": "c", "expr": [{"accept": null}]}}, '
        start = f"@@{nonce} B firewall.nft_ruleset\n".encode()
        pre, _, rest = base.partition(start)
        _, _, post = rest.partition(f"\n@@{nonce} E firewall.nft_ruleset ".encode())
        yield pre + start + b'{"nftables": ['
        block = obj * max(1, 65536 // len(obj))
        yield from (block for _ in range(max(0, size - len(base)) // len(block)))
        yield b'{"metainfo": {"json_schema_version": 1}}]}' + f"\n@@{nonce} E firewall.nft_ruleset ".encode() + post
        return
    lines = {
        "section": "nameserver 10.0.0.1 # é ж 中 😀 bulk line\n".encode(),
        "bmp": "nameserver 10.0.0.1 # é ж 中 bulk line\n".encode(),
        "outside": "junk é ж 中 😀 outside any section\n".encode(),
        "ascii-emoji": b"nameserver 10.0.0.1 # ascii bulk line...........\n",
        "lines": b"ab\n",
    }[shape]
    block = lines * max(1, 65536 // len(lines))
    count = max(0, size - len(base)) // len(block)
    end = f"\n@@{nonce} E dns.resolv_conf ".encode()
    pre, _, post = base.partition(end)
    if shape == "outside":
        yield from (block for _ in range(count))
        yield base
        return
    yield pre + b"\n"
    if shape == "ascii-emoji":
        yield "# 😀\n".encode()
    for _ in range(count):
        yield block
    yield end + post


def _together(chunks: Iterable[bytes], barrier: threading.Barrier) -> Iterator[bytes]:
    """``chunks``, all but the last; the last once every host has sent the rest (their answers then
    end at the same moment: the controller has them all in memory at once, the worst case)."""
    it = iter(chunks)
    prev = next(it, b"")
    for chunk in it:
        yield prev
        prev = chunk
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(120)
    yield prev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--size-mib", type=float, default=30)
    shapes = ["section", "bmp", "outside", "ascii-emoji", "lines", "nft-json", "iptables", "golden"]
    parser.add_argument("--shape", default="section", choices=shapes)
    parser.add_argument("--password", default="bench-pw")
    args = parser.parse_args()
    size = int(args.size_mib * 1024 * 1024)
    if args.shape == "golden":
        # The scale benchmark (bench/scale.py): each account answers a real lab host's collector
        # output at once (accounts default, hardened, half, ufw), as many times as asked.
        golden = {name: (GOLDEN / f"{name}.out").exists() for name in ("default", "hardened", "half", "ufw")}

        def real(name: str) -> Callable[[Request], Reply]:
            return lambda req: Reply(golden_output(req.nonce, name))

        accounts = {name: Account(args.password, real(name)) for name, ok in golden.items() if ok}
        srv = SshServer(accounts, keep_requests=False)
        sys.stdout.write(f"{srv.port}\n{srv.known_hosts_line()}")
        sys.stdout.flush()
        srv.serve_forever()
        return

    barrier = threading.Barrier(args.hosts)

    def answer(req: Request) -> Reply:
        return Reply(_together(big_answer(req.nonce, size, args.shape), barrier))

    srv = SshServer({f"h{i:02d}": Account(args.password, answer) for i in range(args.hosts)})
    sys.stdout.write(f"{srv.port}\n{srv.known_hosts_line()}")
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
