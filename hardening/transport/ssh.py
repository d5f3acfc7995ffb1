"""SSH transport over paramiko: one connection, one exec channel, bounded in time.

Host keys are verified against a known_hosts file (``~/.ssh/known_hosts`` unless told
otherwise); an unknown or changed key refuses the host. Turning checking off
(``ANSIBLE_HOST_KEY_CHECKING=False`` or ``ansible_host_key_checking=false``) accepts any key
without recording it, as Ansible does.

Example::

    result = SshTransport(target, timeout=30).run(script)
"""

from __future__ import annotations

import contextlib
import getpass
import os
import random
import select
import threading
import time
from pathlib import Path
from typing import Any

import paramiko

from hardening.inventory import Target
from hardening.model import HostStatus
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError, exchange, plan_command
from hardening.transport.sshroute import RouteError, SshRoute, resolve_route
from hardening.verbose import esc, verbosity, vlog


def _within(seconds: float) -> dict[str, Any]:
    """paramiko connect() arguments bounding every phase (TCP, banner, auth, channel) by ``seconds``."""
    return {
        "timeout": seconds,
        "banner_timeout": seconds,
        "auth_timeout": seconds,
        "channel_timeout": seconds,
        "transport_factory": ssh_transport,
    }


class UnknownHostKey(paramiko.SSHException):
    pass


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(
            f"host key for {hostname} ({key.get_name()} {key.fingerprint}) is not in {self.known_hosts}; "
            "verify it and add it (ssh-keyscan), or pass --known-hosts FILE"
        )


class _AcceptAny(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


def ssh_transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    """A paramiko Transport that offers AES-GCM first (the server picks the client's first choice
    it supports): authenticated encryption in one C call per packet, where AES-CTR with HMAC costs
    a Python-level MAC check per packet. Servers without it (old dropbear) still get CTR."""
    transport = paramiko.Transport(sock, **kwargs)
    options = transport.get_security_options()
    ciphers = tuple(options.ciphers)
    options.ciphers = tuple(c for c in ciphers if "-gcm@" in c) + tuple(c for c in ciphers if "-gcm@" not in c)
    return transport


def known_key_name(host: str, port: int) -> str:
    """The name a host's keys have in known_hosts (as OpenSSH and paramiko write it)."""
    return host if port == 22 else f"[{host}]:{port}"


def prefer_known_key_type(transport: paramiko.Transport, known_hosts: str | None, host: str, port: int) -> None:
    """Ask first for the host key type ``known_hosts`` holds for ``host:port`` (as
    ``SSHClient.connect`` does before its key exchange), so that an early handshake
    (:mod:`hardening.transport.early`) gets the key the check will look for."""
    if not known_hosts or not os.path.exists(known_hosts):
        return
    try:
        ours = known_hosts_keys(known_hosts).get(known_key_name(host, port))
    except (OSError, paramiko.SSHException):
        return
    if not ours:
        return
    options = transport.get_security_options()
    keytype = ours.keys()[0]
    if keytype == "ssh-rsa":
        keytype = next((t for t in ("rsa-sha2-512", "rsa-sha2-256") if t in options.key_types), keytype)
    if keytype in options.key_types:
        options.key_types = (keytype, *(t for t in options.key_types if t != keytype))


def host_key_known(transport: paramiko.Transport, known_hosts: str, host: str, port: int) -> bool:
    """The server's key (after key exchange) is the one ``known_hosts`` holds for ``host:port``."""
    try:
        ours = known_hosts_keys(known_hosts).get(known_key_name(host, port))
    except (OSError, paramiko.SSHException):
        return False
    key = transport.get_remote_server_key()
    return bool(ours) and ours.get(key.get_name()) == key


def load_private_key(path: str) -> paramiko.PKey | None:
    """An unencrypted private key file, or None (encrypted, unreadable, unknown type)."""
    try:
        return paramiko.PKey.from_path(path)
    except (OSError, paramiko.SSHException, ValueError, TypeError):
        return None


class _EarlyMismatch(Exception):
    """An early handshake got a host key of another type than known_hosts holds: connect afresh."""


def _adopt(client: paramiko.SSHClient, transport: paramiko.Transport, host: str, port: int) -> None:
    """Make the early ``transport`` (key exchange done) ``client``'s, checking the host key
    exactly as ``SSHClient.connect`` does after its own key exchange: an unknown key goes to the
    client's policy, a changed one raises ``BadHostKeyException``."""
    name = known_key_name(host, port)
    server_key = transport.get_remote_server_key()
    ours = client._host_keys.get(name)
    if ours is not None and server_key.get_name() not in ours:
        raise _EarlyMismatch(name)
    client._transport = transport
    if ours is None:
        client._policy.missing_host_key(client, name, server_key)
    elif ours[server_key.get_name()] != server_key:
        raise paramiko.BadHostKeyException(host, server_key, ours[server_key.get_name()])


class _DroppedBeforeBanner(TransportError):
    """The server closed or reset the connection before its SSH banner (see ``_connected``)."""


_KNOWN_HOSTS: dict[tuple[str, int, int, int], paramiko.HostKeys] = {}
_KNOWN_HOSTS_LOCK = threading.Lock()


def known_hosts_keys(path: str) -> paramiko.HostKeys:
    """``path`` parsed once per version of the file (path, inode, size, mtime) and shared.

    Parsing builds a key object per line; a fleet audit would otherwise do it once per host.
    """
    st = os.stat(path)
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    with _KNOWN_HOSTS_LOCK:
        keys = _KNOWN_HOSTS.get(key)
        if keys is None:
            keys = paramiko.HostKeys(path)
            if len(_KNOWN_HOSTS) >= 8:
                _KNOWN_HOSTS.clear()
            _KNOWN_HOSTS[key] = keys
        return keys


def _use_known_hosts(client: paramiko.SSHClient, path: str) -> None:
    """Give ``client`` the shared parsed ``path`` (what ``load_host_keys`` would load).

    Sharing is safe: the client only reads them (neither policy here adds a key). Should a
    paramiko version lack the attribute, the client loads the file itself.
    """
    if isinstance(getattr(client, "_host_keys", None), paramiko.HostKeys):
        client._host_keys = known_hosts_keys(path)
        client._host_keys_filename = path
    else:  # pragma: no cover - paramiko internals changed
        client.load_host_keys(path)


class _ParamikoChannel:
    """Adapter from a paramiko Channel to :class:`hardening.transport.base.Channel`."""

    # A server that sent the exit status but then neither data, EOF nor close for this long is done.
    EOF_GRACE = 2.0

    def __init__(self, chan: paramiko.Channel) -> None:
        self._chan = chan
        self._exit_seen: float | None = None

    def send(self, data: bytes) -> None:
        self._chan.sendall(data)

    def close_stdin(self) -> None:
        self._chan.shutdown_write()

    def recv(self, timeout: float) -> tuple[bytes, bytes, bool]:
        """The next output, or finished once the command's output is complete.

        Complete means EOF (or close) AND the exit status: the exit status alone is not enough,
        as OpenSSH sends it when the command exits, which can be before the last output is on
        the wire (the collector writes its output in one block at exit). Data always comes
        before EOF on a channel, so after EOF nothing is missing.
        """
        end = time.monotonic() + timeout
        chan = self._chan
        while True:
            out = chan.recv(65536) if chan.recv_ready() else b""
            err = chan.recv_stderr(65536) if chan.recv_stderr_ready() else b""
            if out or err:
                self._exit_seen = None  # the grace below counts from the last data
                return out, err, False
            if chan.recv_ready() or chan.recv_stderr_ready():
                continue
            if chan.closed or (chan.eof_received and chan.exit_status_ready()):
                return b"", b"", True
            now = time.monotonic()
            if chan.exit_status_ready() and not chan.eof_received:
                self._exit_seen = self._exit_seen or now
                if now - self._exit_seen >= self.EOF_GRACE:
                    return b"", b"", True
            left = end - now
            if left <= 0:
                return b"", b"", False
            if chan.eof_received:
                # Output is over (the fileno stays readable from now on); the exit status is on
                # its way, and its event is also set should the channel close instead.
                chan.status_event.wait(left)
            else:
                # The channel's fileno becomes readable on stdout or stderr data, EOF or close:
                # one wake-up per block of output, no polling.
                wait = left if self._exit_seen is None else min(left, 0.1)
                select.select([chan], [], [], wait)

    def exit_code(self) -> int | None:
        return self._chan.recv_exit_status() if self._chan.exit_status_ready() else None

    def close(self) -> None:
        """Close the channel; a connection the host already dropped is closed too (nothing to say to
        it). Raising here, in ``run``'s cleanup, would replace the host's result with a crash."""
        with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
            self._chan.close()


_REFUSED = "cannot start the collector: the server refused the command"


def exec_without_waiting(chan: paramiko.Channel, command: str) -> None:
    """Ask the server to run ``command`` on ``chan`` (``want_reply``, like ``exec_command``) but
    do not wait for its answer: the script follows at once, as OpenSSH's client sends stdin
    without waiting. A refusal closes the channel (paramiko's ``_request_failed``), which ends
    the read with no exit status; :func:`exec_refused` says so afterwards."""
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(command)
    chan._event_pending()
    chan.transport._send_user_message(m)


def exec_refused(chan: paramiko.Channel) -> bool:
    """The server answered :func:`exec_without_waiting`'s request with a failure (or closed)."""
    return chan.event.is_set() and not chan.event_ready


def default_known_hosts() -> str:
    return str(Path("~/.ssh/known_hosts").expanduser())


class SshTransport:
    """Run one script on one host over SSH."""

    def __init__(
        self, target: Target, timeout: float, known_hosts: str | None = None, max_output: int = MAX_OUTPUT
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.max_output = max_output
        self.known_hosts = known_hosts or target.known_hosts or default_known_hosts()
        self._jumps: list[paramiko.SSHClient] = []  # jump host connections, closed with the target's
        self._early_channel: paramiko.Channel | None = None  # opened by an early login

    def _client(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        if self.target.host_key_checking:
            if Path(self.known_hosts).exists():
                try:
                    _use_known_hosts(client, self.known_hosts)
                except (OSError, paramiko.SSHException) as exc:
                    raise TransportError(HostStatus.ERROR, f"cannot read {self.known_hosts}: {exc}") from None
            client.set_missing_host_key_policy(_RejectUnknown(self.known_hosts))
        else:
            client.set_missing_host_key_policy(_AcceptAny())
        return client

    def route(self) -> SshRoute:
        """Where OpenSSH would connect for this target (ssh_config, ProxyJump, ProxyCommand)."""
        t = self.target
        try:
            return resolve_route(t.host, t.port, t.user, t.key_file, t.ssh_args)
        except RouteError as exc:
            raise TransportError(HostStatus.ERROR, f"cannot follow the SSH route to {t.host}: {exc}") from None

    def _through(self, route: SshRoute, deadline: float) -> Any:
        """A socket-like path to ``route``'s host: ProxyCommand, or each jump host in turn (direct-tcpip
        channels, host keys checked like the target's), or None for a direct connection."""
        if route.proxy_command:
            try:
                return paramiko.ProxyCommand(route.proxy_command)
            except (paramiko.SSHException, OSError) as exc:
                raise TransportError(HostStatus.UNREACHABLE, f"ProxyCommand failed: {exc}") from None
        sock: Any = None
        for i, hop in enumerate(route.jumps):
            nxt = route.jumps[i + 1] if i + 1 < len(route.jumps) else None
            dest = (nxt.host, nxt.port) if nxt else (route.host, route.port)
            left = max(0.1, deadline - time.monotonic())
            client = self._client()
            self._jumps.append(client)
            try:
                client.connect(
                    hostname=hop.host,
                    port=hop.port,
                    username=hop.user,
                    key_filename=list(hop.key_files) or None,
                    look_for_keys=not hop.key_files,
                    sock=sock,
                    **_within(left),
                )
                transport = client.get_transport()
                assert transport is not None
                sock = transport.open_channel("direct-tcpip", dest, ("127.0.0.1", 0), timeout=left)
            except UnknownHostKey as exc:
                raise TransportError(
                    HostStatus.AUTH_FAILED, f"jump host {hop}: host key verification failed: {exc}"
                ) from None
            except paramiko.BadHostKeyException as exc:
                raise TransportError(HostStatus.AUTH_FAILED, f"jump host {hop}: host key CHANGED ({exc})") from None
            except paramiko.AuthenticationException as exc:
                raise TransportError(HostStatus.AUTH_FAILED, f"jump host {hop}: authentication failed: {exc}") from None
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise TransportError(
                    HostStatus.UNREACHABLE, f"jump host {hop} cannot reach {dest[0]}:{dest[1]}: {exc}"
                ) from None
        return sock

    def _connect(self, client: paramiko.SSHClient, deadline: float) -> None:
        t = self.target
        route = self.route()
        where = route.describe()
        sock = self._through(route, deadline)
        left = max(0.1, deadline - time.monotonic())
        keys = list(route.key_files) or None
        vlog(
            3,
            "%s: connecting to %s as %s (keys %s)",
            esc(t.name, 80),
            esc(where),
            esc(route.user),
            esc(", ".join(keys) if keys else "password" if t.password else "agent or default"),
        )
        auth = {
            "username": route.user,
            "password": t.password,
            "key_filename": keys,
            "look_for_keys": keys is None and t.password is None,
            "allow_agent": t.password is None,
        }
        try:
            if sock is not None or not self._authenticate_early(client, route, auth, deadline, left):
                client.connect(hostname=route.host, port=route.port, sock=sock, **auth, **_within(left))
        except UnknownHostKey as exc:
            raise TransportError(HostStatus.AUTH_FAILED, f"host key verification failed: {exc}") from None
        except paramiko.BadHostKeyException as exc:
            raise TransportError(
                HostStatus.AUTH_FAILED,
                f"host key verification failed: the key of {route.host} CHANGED "
                f"(got {exc.key.get_name()} {exc.key.fingerprint}, expected {exc.expected_key.fingerprint} "
                f"from {self.known_hosts}); this may be an attack — verify before updating known_hosts",
            ) from None
        except paramiko.AuthenticationException as exc:
            raise TransportError(HostStatus.AUTH_FAILED, f"SSH authentication failed for {t.user}: {exc}") from None
        except TimeoutError:
            raise TransportError(HostStatus.TIMEOUT, f"timed out connecting to {where}") from None
        except (paramiko.SSHException, EOFError) as exc:  # EOFError: closed under paramiko's reader
            text = str(exc) or "connection closed by the server"
            transport = client.get_transport()
            no_banner = transport is not None and not transport.remote_version
            if no_banner:
                text = f"no SSH banner received ({text})"
            if time.monotonic() >= deadline - 0.05:
                raise TransportError(
                    HostStatus.TIMEOUT, f"timed out after {self.timeout:g}s with {where}: {text}"
                ) from None
            status = HostStatus.TIMEOUT if "banner" in text.lower() or "timeout" in text.lower() else HostStatus.ERROR
            error = _DroppedBeforeBanner if no_banner else TransportError
            raise error(status, f"SSH error with {where}: {text}") from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            reasons = sorted({(e.strerror or str(e)) for e in exc.errors.values()})
            raise TransportError(HostStatus.UNREACHABLE, f"cannot connect to {where}: {', '.join(reasons)}") from None
        except OSError as exc:
            transport = client.get_transport()
            dropped = isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError) and (
                transport is None or not transport.remote_version
            )
            error = _DroppedBeforeBanner if dropped else TransportError
            raise error(HostStatus.UNREACHABLE, f"cannot connect to {where}: {exc.strerror or exc}") from None

    def _authenticate_early(
        self, client: paramiko.SSHClient, route: SshRoute, auth: dict[str, Any], deadline: float, left: float
    ) -> bool:
        """Authenticate over an early handshake with this route, if there is one (see
        :mod:`hardening.transport.early`); False: there is none, connect afresh."""
        from hardening.transport import early

        keys = auth["key_filename"] or []
        keys = [keys] if isinstance(keys, str) else list(keys)
        login = (route.user, keys[0]) if route.user and len(keys) == 1 and not auth["password"] else None
        found = early.claim(route.host, route.port, login, deadline)
        if found is None:
            if deadline - time.monotonic() < 1.0:
                # the early handshake failed late (a silent server): no time left for another
                raise TimeoutError
            return False
        transport = found.transport
        try:
            _adopt(client, transport, route.host, route.port)
        except _EarlyMismatch:
            transport.close()
            return False
        except BaseException:
            transport.close()
            raise
        transport.auth_timeout = left
        transport.channel_timeout = left
        if login is not None and found.login == login and transport.is_authenticated():
            self._early_channel = found.channel
            vlog(3, "%s: logged in early (host key checked again now)", esc(self.target.name, 80))
            return True
        if transport.is_authenticated():  # as someone else: not ours to use
            transport.close()
            return False
        client._auth(
            auth["username"] or getpass.getuser(),
            auth["password"],
            None,
            keys,
            auth["allow_agent"],
            auth["look_for_keys"],
            None,
        )
        vlog(3, "%s: authenticated over the early handshake", esc(self.target.name, 80))
        return True

    # Connections dropped before the server's banner are tried again, this many times in all.
    ATTEMPTS = 4

    def _connected(self, deadline: float) -> paramiko.SSHClient:
        """A connected, authenticated client. A connection reset or closed before the SSH banner
        is sshd refusing new connections for a moment (``MaxStartups``: too many unauthenticated
        connections at once, e.g. a jump host or one sshd behind many inventory names). Nothing
        was sent yet, so it is tried again after a growing random pause (at most 3.5 s in all),
        within the deadline."""
        for attempt in range(1, self.ATTEMPTS + 1):
            client = self._client()
            try:
                self._connect(client, deadline)
                return client
            except _DroppedBeforeBanner as exc:
                client.close()
                self._close_jumps()
                step = 0.25 * 2 ** (attempt - 1)  # 0.25, 0.5, 1 s, each plus up to as much again
                pause = step + random.uniform(0, step)
                if attempt == self.ATTEMPTS or time.monotonic() + pause >= deadline - 1.0:
                    # Refused, not slow: the server answered every time by dropping us.
                    raise TransportError(
                        HostStatus.UNREACHABLE,
                        f"{exc.message} — the server dropped the connection before its SSH banner "
                        f"{attempt} time{'s' * (attempt > 1)} (sshd MaxStartups or a firewall/tcpwrapper)",
                    ) from None
                time.sleep(pause)
            except TransportError:
                client.close()
                self._close_jumps()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, script: str) -> RunResult:
        deadline = time.monotonic() + self.timeout
        client = self._connected(deadline)
        try:
            transport = client.get_transport()
            if transport is None:
                raise TransportError(HostStatus.ERROR, "SSH transport closed after connecting")
            plan = plan_command(
                self.target.become, self.target.become_user, with_password=bool(self.target.become_password)
            )
            if verbosity() >= 3:
                key = transport.get_remote_server_key()
                vlog(
                    3,
                    "%s: server %s, host key %s %s, authenticated as %s; running %s",
                    esc(self.target.name, 80),
                    esc(transport.remote_version),
                    key.get_name(),
                    key.fingerprint,
                    esc(transport.get_username()),
                    esc(plan.command),
                )
            try:
                chan = self._early_channel
                if chan is None or chan.closed:
                    chan = transport.open_session(timeout=max(0.1, deadline - time.monotonic()))
                self._early_channel = None
                exec_without_waiting(chan, plan.command)
            except (paramiko.SSHException, OSError) as exc:
                raise TransportError(HostStatus.ERROR, f"cannot start the collector: {exc}") from None
            channel = _ParamikoChannel(chan)
            try:
                result = exchange(
                    channel,
                    script.encode("ascii"),
                    plan,
                    deadline,
                    become_password=self.target.become_password,
                    max_output=self.max_output,
                    secrets=(self.target.password, self.target.become_password),
                )
                if exec_refused(chan):
                    raise TransportError(HostStatus.ERROR, _REFUSED)
                vlog(
                    3,
                    "%s: %d bytes of output, %d of stderr, exit %s",
                    esc(self.target.name, 80),
                    len(result.stdout),
                    len(result.stderr),
                    result.exit_code,
                )
                return result
            except (paramiko.SSHException, OSError, EOFError) as exc:
                if exec_refused(chan):
                    raise TransportError(HostStatus.ERROR, _REFUSED) from None
                raise TransportError(HostStatus.ERROR, f"connection lost while collecting: {exc}") from None
            finally:
                channel.close()
        finally:
            client.close()
            self._close_jumps()

    def _close_jumps(self) -> None:
        for jump in reversed(self._jumps):
            with contextlib.suppress(paramiko.SSHException, OSError, EOFError):
                jump.close()
        self._jumps.clear()
