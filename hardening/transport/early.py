"""Early SSH handshakes: start connecting while the inventory is still being read.

ansible-core reads the inventory in a bounded child process (hundreds of milliseconds); over a
WAN the SSH handshake (TCP, version exchange, key exchange: 3 round trips) takes as long. So
``harden audit`` guesses, from the INI inventory's own lines, where the first hosts are and
starts their handshakes at once, in background threads: TCP, the version banner and the key
exchange. Only when the host's key is already in known_hosts and matches, and the host's line
names its user and private key file, does the early handshake also log in with that key (a
signature, no secret leaves) and open the session channel; it never runs anything. When the
real targets arrive, a connection to the same route takes a finished handshake
(:func:`claim`), checks the host key against the real target's known_hosts as a fresh
connection would, and uses the login only if the real target's user and key are the ones
used. A guess that turns out wrong costs one unused connection (at worst one login that runs
nothing), closed unused (:func:`close_unclaimed`).

The guess is conservative; no guess, no early handshake:

* INI inventories only, and no ``host_vars``/``group_vars`` directory next to the file, no
  ``[...:vars]`` section setting a connection variable (they could move the host);
* the host's line names ``ansible_host`` (no guessing from inventory names), no
  ``ansible_connection`` other than ssh, and no templated value (``{{``, ``{%``);
* ``--limit`` absent or a list of plain host names;
* the route (ssh_config, ``ansible_ssh_common_args``) is direct: no ProxyJump, no ProxyCommand.

Example::

    start_early(Path("inv.ini"), limit=None, most=20, timeout=30, known_hosts=None)
    transport = claim("10.0.0.5", 22, deadline)   # a paramiko.Transport after kex, or None
    close_unclaimed()
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: variables that decide where and how a host is reached
_CONNECTION_VARS = frozenset(
    {
        "ansible_host",
        "ansible_ssh_host",
        "ansible_port",
        "ansible_ssh_port",
        "ansible_user",
        "ansible_ssh_user",
        "ansible_connection",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
        "ansible_ssh_private_key_file",
    }
)
_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")
_MAX_BYTES = 1024 * 1024  # a larger inventory is not guessed at
#: at most this many early handshakes (sshd's MaxStartups sheds more unauthenticated ones at once)
MAX_EARLY = 32


@dataclass(frozen=True)
class Guess:
    """A host's direct SSH route, as its inventory line says."""

    name: str
    host: str
    port: int
    known_hosts: str | None  # UserKnownHostsFile from the line's ssh arguments
    user: str | None = None  # ansible_user, when the line names it
    key_file: str | None = None  # ansible_ssh_private_key_file, when the line names it


def guess_hosts(inventory: Path, limit: str | None, most: int) -> list[Guess]:
    """The first ``most`` hosts of an INI ``inventory`` whose direct route its own lines say, in
    file order (each host once); [] when anything could move them (see the module docstring)."""
    if most <= 0 or inventory.suffix in (".yml", ".yaml", ".json") or not inventory.is_file():
        return []
    base = inventory.parent
    if (base / "host_vars").exists() or (base / "group_vars").exists():
        return []
    try:
        if inventory.stat().st_size > _MAX_BYTES:
            return []
        text = inventory.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return _guesses(text, _limit_names(limit), most)


def _limit_names(limit: str | None) -> set[str] | None:
    """The host names of a ``--limit`` made only of names; None for no limit; an empty set
    (guess nothing) for patterns, groups of unknown members, exclusions."""
    if limit is None:
        return None
    names = {p.strip() for p in re.split(r"[,:]", limit) if p.strip()}
    if not names or any(re.search(r"[^A-Za-z0-9_.\-]", n) for n in names):
        return set()
    return names


def _guesses(text: str, names: set[str] | None, most: int) -> list[Guess]:
    found: list[Guess] = []
    seen: set[str] = set()
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            return []
        if section.endswith(":vars"):
            key = words[0].split("=", 1)[0] if words else ""
            if key in _CONNECTION_VARS:
                return []
            continue
        if section.endswith(":children") or not words:
            continue
        guess = _guess(words)
        if guess is None or guess.name in seen or (names is not None and guess.name not in names):
            continue
        seen.add(guess.name)
        found.append(guess)
        if len(found) >= most:
            break
    return found


def _guess(words: list[str]) -> Guess | None:
    name = words[0]
    if "[" in name or "=" in name:
        return None
    values = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if any("{{" in v or "{%" in v for v in values.values()):
        return None
    if values.get("ansible_connection", "ssh") not in ("ssh", "paramiko", "smart"):
        return None
    host = values.get("ansible_host") or values.get("ansible_ssh_host")
    if not host:
        return None
    port_text = values.get("ansible_port") or values.get("ansible_ssh_port") or ""
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        return None
    from hardening.transport.sshroute import RouteError, command_line_options, resolve_route

    args = (values.get("ansible_ssh_common_args"), values.get("ansible_ssh_extra_args"))
    try:
        route = resolve_route(host, port, values.get("ansible_user"), None, args)
        options, _ = command_line_options(args)
    except (RouteError, OSError, ValueError):
        return None
    if route.jumps or route.proxy_command:
        return None
    known = options.get("userknownhostsfile")
    key = values.get("ansible_ssh_private_key_file") or values.get("ansible_private_key_file")
    return Guess(
        name,
        route.host,
        route.port,
        str(Path(known.split()[0]).expanduser()) if known else None,
        values.get("ansible_user") or values.get("ansible_ssh_user"),
        str(Path(key).expanduser()) if key else None,
    )


class _Handshake:
    """One early handshake in a background thread: TCP, banner, key exchange."""

    def __init__(self, guess: Guess, timeout: float, known_hosts: str | None) -> None:
        self.guess = guess
        self.timeout = timeout
        self.known_hosts = known_hosts or guess.known_hosts
        self.transport: Any = None
        self.login: tuple[str, str] | None = None  # (user, key file) it logged in with
        self.channel: Any = None  # the session channel opened after the login
        self.done = threading.Event()
        self.claimed = False
        self.thread = threading.Thread(target=self._run, name=f"harden-early-{guess.port}", daemon=True)

    def _run(self) -> None:
        sock = None
        try:
            sock = socket.create_connection((self.guess.host, self.guess.port), timeout=self.timeout)
            from hardening.transport.ssh import prefer_known_key_type, ssh_transport

            transport = ssh_transport(sock)
            transport.banner_timeout = self.timeout
            prefer_known_key_type(transport, self.known_hosts, self.guess.host, self.guess.port)
            transport.start_client(timeout=self.timeout)
            if not transport.initial_kex_done:  # start_client returns at its timeout without raising
                transport.close()
                return
            self.transport = transport
            self._log_in(transport)
        except Exception:  # a failed guess is only a lost head start
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        finally:
            self.done.set()

    def _log_in(self, transport: Any) -> None:
        """Log in with the line's key and open the session channel, only to a host whose key
        ``known_hosts`` holds and that presented it."""
        user, key_file = self.guess.user, self.guess.key_file
        if not (user and key_file and self.known_hosts):
            return
        from hardening.transport.ssh import host_key_known, load_private_key

        if not host_key_known(transport, self.known_hosts, self.guess.host, self.guess.port):
            return
        pkey = load_private_key(key_file)
        if pkey is None:
            return
        transport.auth_timeout = self.timeout
        transport.auth_publickey(user, pkey)
        self.login = (user, key_file)
        self.channel = transport.open_session(timeout=self.timeout)

    def close(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


_LOCK = threading.Lock()
_PENDING: dict[tuple[str, int], list[_Handshake]] = {}


def start_early(inventory: Path, limit: str | None, most: int, timeout: float, known_hosts: str | None) -> int:
    """Start the early handshakes of :func:`guess_hosts`; how many were started."""
    guesses = guess_hosts(inventory, limit, min(most, MAX_EARLY))
    for guess in guesses:
        hs = _Handshake(guess, timeout, known_hosts)
        with _LOCK:
            _PENDING.setdefault((guess.host, guess.port), []).append(hs)
        hs.thread.start()
    return len(guesses)


@dataclass(frozen=True)
class Early:
    """A claimed early handshake: the transport after key exchange (host key NOT yet checked by
    the caller), and the login and session channel if it went that far."""

    transport: Any
    login: tuple[str, str] | None
    channel: Any


def claim(host: str, port: int, login: tuple[str, str] | None, deadline: float) -> Early | None:
    """A finished early handshake with ``host:port``, or None. One logged in as ``login`` (user,
    key file) is taken first; waits for one in progress until ``deadline``, then raises
    ``TimeoutError`` (the host is as slow as a fresh connection would find it)."""
    with _LOCK:
        queue = _PENDING.get((host, port)) or []
        pick = next((h for h in queue if login and (h.guess.user, h.guess.key_file) == login), None)
        hs = pick or (queue[0] if queue else None)
        if hs is not None:
            queue.remove(hs)
    if hs is None:
        return None
    hs.claimed = True
    if not hs.done.wait(max(0.0, deadline - time.monotonic())):
        hs.close()
        threading.Thread(target=_close_when_done, args=(hs,), daemon=True).start()
        raise TimeoutError(f"no SSH handshake with {host}:{port} within the timeout")
    transport = hs.transport
    if transport is None or not transport.is_active():
        hs.close()
        return None
    return Early(transport, hs.login, hs.channel)


def close_unclaimed() -> None:
    """Close every early handshake nobody took (the run is over, or its guesses were wrong)."""
    with _LOCK:
        left = [hs for queue in _PENDING.values() for hs in queue]
        _PENDING.clear()
    for hs in left:
        hs.done.wait(0)
        hs.close()
        if not hs.done.is_set():
            # Still connecting: its thread ends within its own timeout; close what it makes.
            threading.Thread(target=_close_when_done, args=(hs,), daemon=True).start()


def _close_when_done(hs: _Handshake) -> None:
    hs.done.wait(hs.timeout + 1)
    hs.close()


def pending_routes() -> Iterable[tuple[str, int]]:
    """The routes with early handshakes nobody took yet (tests)."""
    with _LOCK:
        return [k for k, v in _PENDING.items() if v]
