"""``harden verify``: prove (or disprove) that a reverse shell could get out, by calling back.

The controller listens on the callback address and ports; each host opens a NEW outbound
TCP connection to each port using only what is there (bash ``/dev/tcp``, else python3,
else perl; on Windows, PowerShell's ``Invoke-WebRequest``, see
:mod:`hardening.hunt.verify_windows`) and sends a random per-host, per-port token. A port
is ``open`` only when the controller's listener received that host's token on that port: a
stray connection (no token, an unknown token, another port's token) proves nothing and is
only counted.
``blocked``: the host could not connect (timeout, refused, unreachable) and no token came.
``error``: the controller could not listen on the port (in use, needs root), the host had
no tool to try with, or the host connected but the token never arrived (a proxy?).

Safety: the callback address comes from the SSH session (the client address in
``SSH_CONNECTION``, i.e. how the host sees the controller; for WinRM, the local address of
the controller's TCP connection to the endpoint) and is used only when it is an
address of a loopback or podman bridge interface of this controller; any other address
needs an explicit ``--callback-host``. Everything is bounded: per-attempt timeout, port
count, accepted connections, output a host may send (``--max-output``, through the transport
registry :mod:`hardening.transport`), and the listeners close when the run ends. Both phases
(learn each host's callback address, then probe) run on the fleet runner (:mod:`hardening.fleet`);
the host's passwords are blanked in all it sent back (:func:`hardening.redact.redact_host`).

Example::

    results, listeners = verify_fleet(targets, VerifyOptions(ports=(4444, 443)))
    run = run_verify(targets, VerifyOptions(), inventory="inv.ini", out_dir=Path("reports/verify"))
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import math
import re
import secrets
import selectors
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hardening import __version__
from hardening.fleet import run_fleet
from hardening.hunt.run import write_json
from hardening.hunt.verify_windows import (
    METHOD,
    CallbackOutputError,
    Judged,
    callback_script,
    classify,
    parse_callback_output,
)
from hardening.inventory import Connection, Target
from hardening.model import HostStatus, Platform
from hardening.policy import Policy
from hardening.redact import INVENTORY_FIELDS, Redactor, redact_host
from hardening.transport import run_script
from hardening.transport.base import MAX_OUTPUT, TransportError
from hardening.transport.winrm import clixml_text

MAX_PORTS = 16
DEFAULT_PORTS = (4444, 443, 53, 8080)
TOKEN_WAIT = 3.0  # seconds a listener waits for the token after accepting
OPEN_DETAIL = "the controller received this host's token: a reverse shell would get out"


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
    max_output: int = MAX_OUTPUT  # bytes a host may send (stdout + stderr), ``--max-output``


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


def check_callback_address(address: str, explicit: bool, learned_from: str = "SSH_CONNECTION") -> str:
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
            f"callback address {address} (learned from {learned_from}) is on interface {iface}, not loopback or "
            "a podman lab bridge: refusing to listen there; pass --callback-host explicitly to allow it"
        )
    return str(ip)


# ------------------------------------------------------------------------------ listeners


TOKEN_RE = re.compile(rb"HARDEN-VERIFY[ /]([0-9a-f]{32})")
HTTP_REPLY = b"HTTP/1.0 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _settled(buf: bytes, chunk: bytes) -> bool:
    """Whether a connection has said all it will: a token line, a whole HTTP request head (read to
    its end, so closing does not reset the peer before it reads our reply), end of data, or too much.

    >>> _settled(b"GET /HARDEN-VERIFY/" + b"a" * 32 + b" HTTP/1.1\\r\\nHost: x", b"x")
    False
    >>> _settled(b"HARDEN-VERIFY " + b"a" * 32, b"x")
    True
    """
    if not chunk or len(buf) > 1024 or b"\r\n\r\n" in buf:
        return True
    return not buf.startswith(b"GET ") and TOKEN_RE.search(buf) is not None


@dataclass
class _Listeners:
    """Listening sockets on (address, port); records the expected tokens received until closed.

    A token counts only when it was issued (``expected``) for the port it arrived on; anything
    else (no token, an unknown token, a token for another port) is a stray connection. A token
    comes as ``HARDEN-VERIFY <token>`` (Linux probe) or in an HTTP request line
    ``GET /HARDEN-VERIFY/<token>`` (Windows probe), which is answered with ``204``.
    """

    max_conns: int
    expected: dict[str, tuple[str, int]] = field(default_factory=dict)  # token -> (address, port)
    sockets: dict[tuple[str, int], socket.socket] = field(default_factory=dict)
    errors: dict[tuple[str, int], str] = field(default_factory=dict)
    tokens: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # token -> (address, port, peer)
    counts: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)  # connections/tokens/stray
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
        self.counts[key] = {"connections": 0, "tokens": 0, "stray": 0}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, daemon=True, name="verify-listen")
        self._thread.start()

    def _settle(self, addr: str, port: int, peer: str, buf: bytes, sock: socket.socket) -> None:
        """One connection is over: count its token (valid for this port) or count it stray."""
        m = TOKEN_RE.search(buf)
        token = m.group(1).decode() if m else ""
        where = self.counts.setdefault((addr, port), {"connections": 0, "tokens": 0, "stray": 0})
        if token and self.expected.get(token) == (addr, port) and token not in self.tokens:
            self.tokens[token] = (addr, port, peer)
            where["tokens"] += 1
            if buf.startswith(b"GET "):
                with contextlib.suppress(OSError):
                    sock.send(HTTP_REPLY)
        else:
            self.stray += 1
            where["stray"] += 1

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
                            self.counts[(addr, port)]["connections"] += 1
                            pending[conn] = (addr, port, str(peer[0]), time.monotonic() + TOKEN_WAIT, b"")
                            sel.register(conn, selectors.EVENT_READ, "conn")
                        continue
                    addr, port, peer, end, buf = pending[sock]
                    try:
                        chunk = sock.recv(256)
                    except OSError:
                        chunk = b""
                    buf += chunk
                    if _settled(buf, chunk):
                        self._settle(addr, port, peer, buf, sock)
                        sel.unregister(sock)
                        sock.close()
                        del pending[sock]
                    else:
                        pending[sock] = (addr, port, peer, end, buf)
                now = time.monotonic()
                for conn, (addr, port, peer, end, buf) in list(pending.items()):
                    if now > end:
                        self._settle(addr, port, peer, buf, conn)
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
        return Callback(port, "open", OPEN_DETAIL, method)
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
    """The controller's address as the host sees it.

    SSH: ``SSH_CONNECTION``'s client address. WinRM: the local address of a TCP connection
    from the controller to the WinRM endpoint (see :mod:`hardening.hunt.verify_windows`).
    """
    if target.connection.is_windows:
        from hardening.hunt.verify_windows import learn_winrm_callback

        return learn_winrm_callback(target, options.timeout)
    if target.connection is not Connection.SSH:
        raise VerifyError(
            f"host {target.name}: only SSH and WinRM hosts tell their callback address; pass --callback-host"
        )
    # Without become: sudo resets the environment (and the check needs no privilege).
    plain = replace(target, become=False)
    run = run_script(plain, WHOAMI, options)
    m = re.search(r"SSHCONN (\S+) \d+ \S+ \d+", run.stdout.decode("utf-8", "replace"))
    if not m:
        raise VerifyError(f"host {target.name}: SSH_CONNECTION not set in the session; pass --callback-host")
    return m.group(1).removeprefix("::ffff:")


def _addr(target: Target) -> str:
    return f"{target.host}:{target.port}" if target.port else target.host


def _platform(target: Target) -> Platform:
    return Platform.WINDOWS if target.connection.is_windows else Platform.LINUX


def _learned_from(target: Target) -> str:
    return "the WinRM connection" if target.connection.is_windows else "SSH_CONNECTION"


def _probe_linux(
    t: Target, address: str, tokens: dict[int, str], listeners: _Listeners, options: VerifyOptions
) -> HostVerify:
    """The POSIX probe over SSH/local, as the login user (no become)."""
    t0 = time.monotonic()
    script = probe_script(address, tokens, options.attempt_timeout)
    try:
        run = run_script(replace(t, become=False), script, options)  # an ordinary user's callback
    except TransportError as exc:
        return HostVerify(t.name, _addr(t), Platform.LINUX, exc.status, exc.message, address)
    time.sleep(0.2)  # let the listener read the last tokens
    method, codes = parse_probe(run.stdout.decode("utf-8", "replace"), options.ports)
    results = tuple(
        judge(p, codes.get(p), tokens[p] in listeners.tokens, listeners.errors.get((address, p)), method)
        for p in options.ports
    )
    return HostVerify(
        t.name, _addr(t), Platform.LINUX, HostStatus.OK, "", address, method, results, time.monotonic() - t0
    )


def judge_windows(port: int, judged: Judged, got_token: bool, listen_error: str | None, peer: str) -> Callback:
    """One port's result on a Windows host: the listener's token first, then the host's report."""
    if got_token:
        via = f" (it came from {peer})" if peer else ""
        detail = f"the controller received this host's token{via}: a reverse shell would get out"
        return Callback(port, "open", detail, METHOD)
    if listen_error:
        return Callback(port, "error", listen_error, METHOD)
    if judged.outcome == "connected":
        detail = f"the host {judged.detail} but its token never arrived (a proxy or NAT in between?)"
        return Callback(port, "error", detail, METHOD)
    if judged.outcome in ("timeout", "refused"):
        return Callback(port, "blocked", judged.detail, METHOD)
    return Callback(port, "error", judged.detail, METHOD)


def _probe_windows(
    t: Target, address: str, tokens: dict[int, str], listeners: _Listeners, options: VerifyOptions
) -> HostVerify:
    """The PowerShell callback over WinRM (one shell, one command, the script on stdin)."""
    t0 = time.monotonic()
    script = callback_script(address, tokens, options.attempt_timeout)
    # Attempts run one after the other on Windows: give the round trip time for all of them.
    budget = max(options.timeout, len(tokens) * (math.ceil(options.attempt_timeout) + 1) + 20)
    try:
        run = run_script(t, script, replace(options, timeout=budget))
    except TransportError as exc:
        return HostVerify(t.name, _addr(t), Platform.WINDOWS, exc.status, exc.message, address)
    time.sleep(0.2)
    try:
        method, attempts = parse_callback_output(run.stdout.decode("utf-8", "replace"), options.ports)
    except CallbackOutputError as exc:
        err = Redactor.of(t.secrets).text(clixml_text(run.stderr))  # blanked before it is cut
        message = f"{exc} (exit {run.exit_code}){': ' + err[:500] if err else ''}"
        return HostVerify(t.name, _addr(t), Platform.WINDOWS, HostStatus.ERROR, message, address, METHOD)
    results = tuple(
        judge_windows(
            p,
            classify(attempts.get(p)),
            tokens[p] in listeners.tokens,
            listeners.errors.get((address, p)),
            listeners.tokens.get(tokens[p], ("", 0, ""))[2],
        )
        for p in options.ports
    )
    return HostVerify(
        t.name, _addr(t), Platform.WINDOWS, HostStatus.OK, "", address, method, results, time.monotonic() - t0
    )


def verify_fleet(targets: Iterable[Target], options: VerifyOptions) -> tuple[list[HostVerify], list[dict[str, object]]]:
    """Verify every host; returns (per-host results in inventory order, listener states).

    Raises VerifyError when an explicit ``callback_host`` cannot be used.
    """
    targets = list(targets)
    callback, failed = learn_callbacks(targets, options)
    listeners = _Listeners(max_conns=len(targets) * len(options.ports) * 2 + 8)
    tokens = {name: {p: secrets.token_hex(16) for p in options.ports} for name in callback}
    listeners.expected = {tok: (callback[name], p) for name, ports in tokens.items() for p, tok in ports.items()}

    def probe(t: Target) -> HostVerify:
        prober = _probe_windows if t.connection.is_windows else _probe_linux
        return prober(t, callback[t.name], tokens[t.name], listeners, options)

    try:
        for address in sorted(set(callback.values())):
            for port in options.ports:
                listeners.open(address, port)
        listeners.start()
        probed = [t for t in targets if t.name in callback]
        done = {h.name: h for h in run_fleet(probed, probe, options.forks, name="verify")}
        time.sleep(0.3)
    finally:
        listeners.close()
    done = {name: rejudge(h, tokens[name], listeners.tokens) for name, h in done.items()}
    results = [redact_host(done.get(t.name) or failed[t.name], t.secrets, INVENTORY_FIELDS) for t in targets]
    return results, listener_states(listeners)


def learn_callbacks(targets: Sequence[Target], options: VerifyOptions) -> tuple[dict[str, str], dict[str, HostVerify]]:
    """(host name -> callback address, host name -> failed result) for every target: the explicit
    ``--callback-host`` for all, else each host's learned address, checked (first phase of verify)."""
    if options.callback_host:
        address = check_callback_address(options.callback_host, explicit=True)
        return {t.name: address for t in targets}, {}
    callback: dict[str, str] = {}
    failed: dict[str, HostVerify] = {}
    for t, got in run_fleet(targets, lambda t: (t, _learn_checked(t, options)), options.forks, name="verify"):
        if isinstance(got, HostVerify):
            failed[t.name] = got
        else:
            callback[t.name] = got
    return callback, failed


def _learn_checked(t: Target, options: VerifyOptions) -> str | HostVerify:
    """One host's callback address, checked as safe to listen on; or its failed result."""
    try:
        address = learn_callback(t, options)
    except TransportError as exc:
        return HostVerify(t.name, _addr(t), _platform(t), exc.status, exc.message)
    except VerifyError as exc:
        return HostVerify(t.name, _addr(t), _platform(t), HostStatus.ERROR, str(exc))
    try:
        return check_callback_address(address, explicit=False, learned_from=_learned_from(t))
    except VerifyError as exc:
        return HostVerify(t.name, _addr(t), _platform(t), HostStatus.ERROR, str(exc), address)


def rejudge(h: HostVerify, tokens: Mapping[int, str], received: Mapping[str, object]) -> HostVerify:
    """A token may land after its host's judgement: ``h`` judged again with the final token set."""
    if h.status is not HostStatus.OK:
        return h
    fixed = tuple(
        replace(c, result="open", detail=OPEN_DETAIL) if tokens[c.port] in received and c.result != "open" else c
        for c in h.callbacks
    )
    return replace(h, callbacks=fixed)


def listener_states(listeners: _Listeners) -> list[dict[str, object]]:
    """What each listener did (``listeners`` of verify.json)."""
    listening: list[dict[str, object]] = [
        {"address": a, "port": p, "status": "listening", **listeners.counts.get((a, p), {})}
        for (a, p) in sorted(listeners.sockets)
    ]
    return listening + [
        {"address": a, "port": p, "status": "error", "message": m} for (a, p), m in sorted(listeners.errors.items())
    ]


# ------------------------------------------------------------------------ verify.json


def permitted(policy: Policy | None, h: HostVerify, c: Callback) -> bool:
    """The host's own policy lets it reach the callback host on this port: open is expected there."""
    try:
        addr = ipaddress.ip_address(h.callback_host)
    except ValueError:
        return False
    return bool(policy and policy.permits(addr, c.port))


def _callback_json(c: Callback, allowed: bool) -> dict[str, Any]:
    return {"port": c.port, "result": c.result, "detail": c.detail, "method": c.method, "permitted_by_policy": allowed}


def _host_json(h: HostVerify, policy: Policy | None) -> dict[str, Any]:
    return {
        "name": h.name,
        "address": h.address,
        "platform": h.platform.value,
        "status": h.status.value,
        "message": h.message,
        "callback_host": h.callback_host,
        "method": h.method,
        "duration_s": round(h.duration_s, 3),
        "callbacks": [_callback_json(c, permitted(policy, h, c)) for c in h.callbacks],
    }


def verify_document(
    hosts: Sequence[HostVerify],
    listeners: list[dict[str, object]],
    policies: Mapping[str, Policy],
    ports: Sequence[int],
    inventory: str,
    started: str,
) -> dict[str, Any]:
    """The verify.json document (schema ``harden.verify/v1``)."""
    calls = [c for h in hosts for c in h.callbacks]
    outside = sum(c.result == "open" and not permitted(policies.get(h.name), h, c) for h in hosts for c in h.callbacks)
    return {
        "schema": "harden.verify/v1",
        "harden_version": __version__,
        "inventory": inventory,
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "ports": list(ports),
        "listeners": listeners,
        "summary": {
            "hosts": len(hosts),
            "open": sum(c.result == "open" for c in calls),
            "open_outside_policy": outside,
            "blocked": sum(c.result == "blocked" for c in calls),
            "error": sum(c.result == "error" for c in calls),
            "not_reached": sum(h.status is not HostStatus.OK for h in hosts),
        },
        "hosts": [_host_json(h, policies.get(h.name)) for h in hosts],
    }


@dataclass(frozen=True)
class VerifyRun:
    """A finished ``harden verify``: every host's result, the host policies, verify.json and where it is."""

    hosts: tuple[HostVerify, ...]
    policies: Mapping[str, Policy]
    doc: Mapping[str, Any]
    path: Path

    def permitted(self, h: HostVerify, c: Callback) -> bool:
        return permitted(self.policies.get(h.name), h, c)

    @property
    def open_outside_policy(self) -> int:
        return int(self.doc["summary"]["open_outside_policy"])

    @property
    def not_reached(self) -> int:
        return int(self.doc["summary"]["not_reached"])


def run_verify(targets: Sequence[Target], options: VerifyOptions, inventory: str, out_dir: Path) -> VerifyRun:
    """``harden verify``: verify every host, write ``out_dir/verify.json`` (0600). Raises VerifyError."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    hosts, listeners = verify_fleet(targets, options)
    policies = {t.name: t.policy for t in targets}
    doc = verify_document(hosts, listeners, policies, options.ports, inventory, started)
    return VerifyRun(tuple(hosts), policies, doc, write_json(out_dir / "verify.json", doc))
