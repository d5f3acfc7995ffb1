"""``harden verify``: prove (or disprove) that a reverse shell could get out, by calling back.

The controller listens on the callback address and ports; each host opens a NEW outbound
TCP connection to each port using only what is there (bash ``/dev/tcp``, else python3,
else perl) and sends a random per-host, per-port token. A port is ``open`` only when the
controller's listener received that host's token: a stray connection proves nothing.
``blocked``: the host could not connect (timeout, refused, unreachable) and no token came.
``error``: the controller could not listen on the port (in use, needs root), the host had
no tool to try with, or the host connected but the token never arrived (a proxy?).

Safety: the callback address comes from the SSH session (the client address in
``SSH_CONNECTION``, i.e. how the host sees the controller) and is used only when it is an
address of a loopback or podman bridge interface of this controller; any other address
needs an explicit ``--callback-host``. Everything is bounded: per-attempt timeout, port
count, accepted connections, and the listeners close when the run ends.

Example::

    results = verify_fleet(targets, VerifyOptions(ports=(4444, 443)))
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import re
import secrets
import selectors
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from hardening.hunt.run import HuntOptions, run_script
from hardening.inventory import Connection, Target
from hardening.model import HostStatus, Platform
from hardening.transport.base import TransportError

MAX_PORTS = 16
DEFAULT_PORTS = (4444, 443, 53, 8080)
TOKEN_WAIT = 3.0  # seconds a listener waits for the token after accepting


class VerifyError(Exception):
    """verify cannot run as asked (bad callback address, bad ports); exit 2."""


@dataclass(frozen=True)
class VerifyOptions:
    ports: tuple[int, ...] = DEFAULT_PORTS
    callback_host: str | None = None  # explicit: skips the interface safety check
    attempt_timeout: float = 3.0
    forks: int = 10
    timeout: float = 60.0
    known_hosts: str | None = None


@dataclass(frozen=True)
class Callback:
    port: int
    result: str  # open | blocked | error
    detail: str = ""
    method: str = ""


@dataclass(frozen=True)
class HostVerify:
    name: str
    address: str
    platform: Platform
    status: HostStatus
    message: str = ""
    callback_host: str = ""
    method: str = ""
    callbacks: tuple[Callback, ...] = ()
    duration_s: float = 0.0


def parse_ports(text: str) -> tuple[int, ...]:
    """``"4444,443"`` -> ``(4444, 443)``; raises VerifyError on anything else.

    >>> parse_ports("4444, 443,53")
    (4444, 443, 53)
    """
    ports: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise VerifyError(f"--ports: {item!r} is not a TCP port (1-65535)")
        if int(item) not in ports:
            ports.append(int(item))
    if not ports or len(ports) > MAX_PORTS:
        raise VerifyError(f"--ports: give 1 to {MAX_PORTS} ports")
    return tuple(ports)


# ------------------------------------------------------------------ callback address safety


def interface_of(address: str) -> str | None:
    """The controller interface that holds ``address`` (``ip -j addr``), or None."""
    try:
        out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, timeout=10, check=True).stdout
        links = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    for link in links:
        for a in link.get("addr_info", []):
            if a.get("local") == address:
                return str(link.get("ifname"))
    return None


def podman_bridges() -> set[str]:
    try:
        out = subprocess.run(
            ["podman", "network", "ls", "--format", "{{.NetworkInterface}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.strip() for line in out.splitlines() if line.strip()}


def check_callback_address(address: str, explicit: bool) -> str:
    """Validate the address the controller will listen on; returns it. Raises VerifyError.

    Learned addresses must sit on a loopback or podman bridge interface of this machine
    (the lab); anything else needs ``--callback-host``. Either way it must be local.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise VerifyError(f"callback address {address!r} is not an IP address") from None
    if ip.is_unspecified or ip.is_multicast:
        raise VerifyError(f"callback address {address} cannot be listened on")
    iface = interface_of(str(ip))
    if iface is None:
        raise VerifyError(
            f"callback address {address} is not an address of this controller: the hosts see the controller "
            "through NAT or a proxy; pass --callback-host with an address the hosts can reach and we can bind"
        )
    if not explicit and not ip.is_loopback and iface != "lo" and iface not in podman_bridges():
        raise VerifyError(
            f"callback address {address} (learned from SSH_CONNECTION) is on interface {iface}, not loopback or "
            "a podman lab bridge: refusing to listen there; pass --callback-host explicitly to allow it"
        )
    return str(ip)


# ------------------------------------------------------------------------------ listeners


@dataclass
class _Listeners:
    """Listening sockets on (address, port); records tokens received until closed."""

    max_conns: int
    sockets: dict[tuple[str, int], socket.socket] = field(default_factory=dict)
    errors: dict[tuple[str, int], str] = field(default_factory=dict)
    tokens: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # token -> (address, port, peer)
    stray: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def open(self, address: str, port: int) -> None:
        key = (address, port)
        if key in self.sockets or key in self.errors:
            return
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
            s.listen(64)
        except OSError as exc:
            s.close()
            if exc.errno == errno.EADDRINUSE:
                self.errors[key] = f"port {port} on {address} is already in use on the controller (a resolver?)"
            elif exc.errno == errno.EACCES:
                self.errors[key] = f"port {port} needs root on the controller to listen"
            else:
                self.errors[key] = f"cannot listen on {address}:{port}: {exc.strerror or exc}"
            return
        s.setblocking(False)
        self.sockets[key] = s

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, daemon=True, name="verify-listen")
        self._thread.start()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        for s in self.sockets.values():
            sel.register(s, selectors.EVENT_READ, "listen")
        pending: dict[socket.socket, tuple[str, int, str, float, bytes]] = {}
        accepted = 0
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if key.data == "listen":
                        with contextlib.suppress(OSError):
                            conn, peer = sock.accept()
                            accepted += 1
                            if accepted > self.max_conns:
                                conn.close()
                                continue
                            conn.setblocking(False)
                            addr, port = sock.getsockname()[:2]
                            pending[conn] = (addr, port, str(peer[0]), time.monotonic() + TOKEN_WAIT, b"")
                            sel.register(conn, selectors.EVENT_READ, "conn")
                        continue
                    addr, port, peer, end, buf = pending[sock]
                    try:
                        chunk = sock.recv(256)
                    except OSError:
                        chunk = b""
                    buf += chunk
                    m = re.search(rb"HARDEN-VERIFY ([0-9a-f]{32})", buf)
                    if m or not chunk or len(buf) > 512:
                        if m and m.group(1).decode() not in self.tokens:
                            self.tokens[m.group(1).decode()] = (addr, port, peer)
                        elif not m:
                            self.stray += 1
                        sel.unregister(sock)
                        sock.close()
                        del pending[sock]
                    else:
                        pending[sock] = (addr, port, peer, end, buf)
                now = time.monotonic()
                for conn, (_, _, _, end, _) in list(pending.items()):
                    if now > end:
                        self.stray += 1
                        sel.unregister(conn)
                        conn.close()
                        del pending[conn]
        finally:
            for conn in pending:
                with contextlib.suppress(OSError):
                    conn.close()
            sel.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for s in self.sockets.values():
            with contextlib.suppress(OSError):
                s.close()


# ------------------------------------------------------------------------- host scripts

LINUX_PROBE = r"""#!/bin/sh
# harden verify: try a new outbound TCP connection to the controller on each port, send a token.
# Read-only; bounded: each attempt is killed after $T seconds; all attempts run at once.
H=%(host)s
T=%(timeout)d
SPECS=%(specs)s
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if command -v bash >/dev/null 2>&1; then M=bash
elif command -v python3 >/dev/null 2>&1; then M=python3
elif command -v perl >/dev/null 2>&1; then M=perl
else echo "METHOD none"; exit 0; fi
echo "METHOD $M"
_try() {
    case $M in
    bash) exec bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 3
        printf "HARDEN-VERIFY %%s\n" "$3" >&3; sleep 1' x "$H" "$1" "$2" ;;
    python3) exec python3 -c 'import socket,sys
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=float(sys.argv[4]))
s.sendall(("HARDEN-VERIFY %%s\n" %% sys.argv[3]).encode()); s.close()' "$H" "$1" "$2" "$T" 2>/dev/null || exit 3 ;;
    perl) exec perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(PeerAddr=>$ARGV[0],
        PeerPort=>$ARGV[1],Proto=>"tcp",Timeout=>$ARGV[3]) or exit 3;
        print $s "HARDEN-VERIFY $ARGV[2]\n"; close $s' "$H" "$1" "$2" "$T" ;;
    esac
}
D=$(mktemp -d 2>/dev/null || { d=/tmp/harden-verify.$$; mkdir -m 700 "$d" && echo "$d"; })
trap 'rm -rf "$D"' EXIT HUP INT TERM
for s in $SPECS; do
    p=${s%%%%:*}; k=${s#*:}
    ( _try "$p" "$k" >/dev/null 2>&1 & c=$!
      ( sleep "$T"; kill -9 "$c" ) >/dev/null 2>&1 & w=$!
      wait "$c"; r=$?
      kill "$w" 2>/dev/null
      echo "$r" > "$D/$p" ) &
done
wait
for s in $SPECS; do p=${s%%%%:*}; printf 'RESULT %%s %%s\n' "$p" "$(cat "$D/$p" 2>/dev/null || echo 255)"; done
"""

WHOAMI = 'printf "SSHCONN %s\\n" "$SSH_CONNECTION"\n'


def probe_script(callback_host: str, tokens: dict[int, str], timeout: float) -> str:
    specs = " ".join(f"{p}:{t}" for p, t in tokens.items())
    return LINUX_PROBE % {
        "host": shlex.quote(callback_host),
        "timeout": max(1, int(timeout)),
        "specs": shlex.quote(specs),
    }


def parse_probe(output: str, ports: Sequence[int]) -> tuple[str, dict[int, int]]:
    """(method, port -> exit code of the attempt) from the probe's output.

    >>> parse_probe("METHOD bash\\nRESULT 4444 0\\nRESULT 443 137\\n", [4444, 443])
    ('bash', {4444: 0, 443: 137})
    """
    method = ""
    codes: dict[int, int] = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "METHOD":
            method = parts[1]
        elif len(parts) == 3 and parts[0] == "RESULT" and parts[1].isdigit() and parts[2].isdigit():
            codes.update({int(parts[1]): int(parts[2])} if int(parts[1]) in ports else {})
    return method, codes


def judge(port: int, code: int | None, got_token: bool, listen_error: str | None, method: str) -> Callback:
    """One port's result from the host's exit code and whether our listener got the token."""
    if got_token:
        return Callback(
            port, "open", "the controller received this host's token: a reverse shell would get out", method
        )
    if listen_error:
        return Callback(port, "error", listen_error, method)
    if method == "none":
        return Callback(port, "error", "no bash, python3 or perl on the host to try with", method)
    if code is None:
        return Callback(port, "error", "the host did not report this attempt", method)
    if code == 0:
        return Callback(
            port, "error", "the host connected but the token never arrived (a proxy or NAT in between?)", method
        )
    if code in (137, 143, 124):
        return Callback(port, "blocked", "the connection attempt timed out (dropped)", method)
    return Callback(port, "blocked", f"the connection failed (refused or unreachable, exit {code})", method)


def learn_callback(target: Target, options: VerifyOptions) -> str:
    """The controller's address as the host sees it: SSH_CONNECTION's client address."""
    if target.connection is not Connection.SSH:
        raise VerifyError(f"host {target.name}: only SSH hosts tell their callback address; pass --callback-host")
    # Without become: sudo resets the environment (and the check needs no privilege).
    plain = replace(target, become=False)
    run = run_script(plain, WHOAMI, HuntOptions(timeout=options.timeout, known_hosts=options.known_hosts))
    m = re.search(r"SSHCONN (\S+) \d+ \S+ \d+", run.stdout.decode("utf-8", "replace"))
    if not m:
        raise VerifyError(f"host {target.name}: SSH_CONNECTION not set in the session; pass --callback-host")
    return m.group(1).removeprefix("::ffff:")


def _addr(target: Target) -> str:
    return f"{target.host}:{target.port}" if target.port else target.host


def verify_fleet(targets: Iterable[Target], options: VerifyOptions) -> tuple[list[HostVerify], list[dict[str, object]]]:
    """Verify every host; returns (per-host results, listener states)."""
    targets = list(targets)
    started = time.monotonic()
    hunt_opts = HuntOptions(timeout=options.timeout, known_hosts=options.known_hosts)
    callback: dict[str, str] = {}
    failed: dict[str, HostVerify] = {}
    for t in targets:
        if t.connection is Connection.WINRM:
            failed[t.name] = HostVerify(
                t.name, _addr(t), Platform.WINDOWS, HostStatus.ERROR, "verify over WinRM is not supported yet"
            )

    def learn(t: Target) -> tuple[str, str | Exception]:
        try:
            return t.name, learn_callback(t, options)
        except (TransportError, VerifyError) as exc:
            return t.name, exc

    todo = [t for t in targets if t.name not in failed]
    if options.callback_host:
        address = check_callback_address(options.callback_host, explicit=True)
        callback = {t.name: address for t in todo}
    else:
        with ThreadPoolExecutor(max_workers=max(1, options.forks)) as pool:
            for name, got in pool.map(learn, todo):
                t = next(x for x in todo if x.name == name)
                if isinstance(got, TransportError):
                    failed[name] = HostVerify(name, _addr(t), Platform.LINUX, got.status, got.message)
                elif isinstance(got, Exception):
                    failed[name] = HostVerify(name, _addr(t), Platform.LINUX, HostStatus.ERROR, str(got))
                else:
                    callback[name] = got
        for name, address in list(callback.items()):
            t = next(x for x in todo if x.name == name)
            try:
                callback[name] = check_callback_address(address, explicit=False)
            except VerifyError as exc:
                failed[name] = HostVerify(name, _addr(t), Platform.LINUX, HostStatus.ERROR, str(exc), address)
                del callback[name]
    listeners = _Listeners(max_conns=len(targets) * len(options.ports) * 2 + 8)
    for address in sorted(set(callback.values())):
        for port in options.ports:
            listeners.open(address, port)
    listeners.start()
    tokens = {name: {p: secrets.token_hex(16) for p in options.ports} for name in callback}

    def probe(t: Target) -> HostVerify:
        t0 = time.monotonic()
        address = callback[t.name]
        script = probe_script(address, tokens[t.name], options.attempt_timeout)
        try:
            run = run_script(replace(t, become=False), script, hunt_opts)  # an ordinary user's callback
        except TransportError as exc:
            return HostVerify(t.name, _addr(t), Platform.LINUX, exc.status, exc.message, address)
        time.sleep(0.2)  # let the listener read the last tokens
        method, codes = parse_probe(run.stdout.decode("utf-8", "replace"), options.ports)
        results = tuple(
            judge(
                p,
                codes.get(p),
                tokens[t.name][p] in listeners.tokens,
                listeners.errors.get((address, p)),
                method,
            )
            for p in options.ports
        )
        return HostVerify(
            t.name, _addr(t), Platform.LINUX, HostStatus.OK, "", address, method, results, time.monotonic() - t0
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.forks)) as pool:
            done = {h.name: h for h in pool.map(probe, [t for t in todo if t.name in callback])}
        time.sleep(0.3)
    finally:
        listeners.close()
    # A token may land after its host's judgement: re-judge with the final token set.
    for name, h in done.items():
        if h.status is HostStatus.OK:
            fixed = tuple(
                judge(c.port, None if c.result != "blocked" else 1, True, None, h.method)
                if tokens[name][c.port] in listeners.tokens and c.result != "open"
                else c
                for c in h.callbacks
            )
            done[name] = HostVerify(**{**h.__dict__, "callbacks": fixed})
    listener_doc: list[dict[str, object]] = [
        {"address": a, "port": p, "status": "listening"} for (a, p) in sorted(listeners.sockets)
    ] + [{"address": a, "port": p, "status": "error", "message": m} for (a, p), m in sorted(listeners.errors.items())]
    _ = started
    return [done.get(t.name) or failed[t.name] for t in targets], listener_doc
