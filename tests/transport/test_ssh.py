"""SSH transport without a server: known_hosts parsed once per file version; a channel read to its end."""

from __future__ import annotations

import os

import paramiko

from hardening.transport.ssh import _use_known_hosts, known_hosts_keys


def _line(host: str, key: paramiko.PKey) -> str:
    return f"{host} {key.get_name()} {key.get_base64()}\n"


def test_parsed_once_and_reparsed_when_the_file_changes(tmp_path):
    path = tmp_path / "known_hosts"
    first, second = paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()
    path.write_text(_line("[127.0.0.1]:2222", first))
    keys = known_hosts_keys(str(path))
    assert known_hosts_keys(str(path)) is keys  # shared, not parsed again
    assert keys.lookup("[127.0.0.1]:2222")[first.get_name()] == first

    path.write_text(_line("[127.0.0.1]:2222", second) + _line("[127.0.0.1]:2223", first))
    os.utime(path, ns=(1, 1))  # a rewrite within one mtime tick still differs in size; force both
    changed = known_hosts_keys(str(path))
    assert changed is not keys
    assert changed.lookup("[127.0.0.1]:2222")[second.get_name()] == second  # the old key is gone

    client = paramiko.SSHClient()
    _use_known_hosts(client, str(path))
    assert client.get_host_keys() is changed
    assert client.get_host_keys().lookup("[127.0.0.1]:2223")[first.get_name()] == first


class _Chan:
    """Stands in for a paramiko Channel whose exit status arrives before its last output (as
    OpenSSH may send it): the output and EOF come later, from another thread."""

    def __init__(self) -> None:
        import threading

        self._r, self._w = os.pipe()  # readable while data or EOF is waiting (like Channel.fileno)
        self._buf = b""
        self._lock = threading.Lock()
        self.closed = False
        self.eof_received = False
        self.status_event = threading.Event()
        self.status_event.set()  # the exit status is already there

    def later(self, data: bytes, delay: float, pieces: int = 1) -> None:
        """``data`` in ``pieces`` parts, ``delay`` s apart, then EOF."""
        import threading
        import time

        size = -(-len(data) // pieces)

        def feed() -> None:
            for i in range(pieces):
                time.sleep(delay)
                with self._lock:
                    self._buf += data[i * size : (i + 1) * size]
                    self.eof_received = i == pieces - 1
                os.write(self._w, b"x")

        threading.Thread(target=feed, daemon=True).start()

    def fileno(self) -> int:
        return self._r

    def exit_status_ready(self) -> bool:
        return True

    def recv_ready(self) -> bool:
        return bool(self._buf)

    def recv_stderr_ready(self) -> bool:
        return False

    def recv(self, n: int) -> bytes:
        with self._lock:
            out, self._buf = self._buf[:n], self._buf[n:]
            return out

    def recv_stderr(self, n: int) -> bytes:
        return b""


def test_output_after_the_exit_status_is_still_read():
    from hardening.transport.ssh import _ParamikoChannel

    chan = _Chan()
    chan.later(b"the whole collector output\n", 0.3)
    wrapped = _ParamikoChannel(chan)  # type: ignore[arg-type]
    got = b""
    for _ in range(50):  # bounded: at most 50 x 0.5 s
        out, _err, finished = wrapped.recv(0.5)
        got += out
        if finished:
            break
    assert got == b"the whole collector output\n"
    os.close(chan._r)
    os.close(chan._w)


def test_output_trickling_in_after_the_exit_status_for_longer_than_the_grace_is_read_whole():
    """The grace for a server that never sends EOF counts from the last data, not from the exit status."""
    from hardening.transport.ssh import _ParamikoChannel

    chan = _Chan()
    data = bytes(range(256)) * 48  # 12 KiB in 8 parts, 0.4 s apart: 3.2 s > EOF_GRACE
    chan.later(data, 0.4, pieces=8)
    wrapped = _ParamikoChannel(chan)  # type: ignore[arg-type]
    got = b""
    for _ in range(50):  # bounded
        out, _err, finished = wrapped.recv(0.5)
        got += out
        if finished:
            break
    assert got == data
    os.close(chan._r)
    os.close(chan._w)


def test_a_connection_dropped_before_the_banner_is_tried_again_then_reported():
    """sshd throttling (MaxStartups) resets new connections before its banner: harden tries again
    (four connections in all, growing pauses), then reports the host with the reason."""
    import socket
    import struct
    import threading
    import time

    import pytest

    from hardening.inventory import Connection, Target
    from hardening.model import HostStatus
    from hardening.transport.base import TransportError
    from hardening.transport.ssh import SshTransport

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[float] = []
    stop = threading.Event()

    def reset_each() -> None:
        end = time.monotonic() + 30  # bounded
        while not stop.is_set() and time.monotonic() < end:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(time.monotonic())
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST

    thread = threading.Thread(target=reset_each, daemon=True)
    thread.start()
    target = Target(
        name="throttled",
        connection=Connection.SSH,
        host="127.0.0.1",
        port=server.getsockname()[1],
        user="x",
        password="not-used",
        host_key_checking=False,
    )
    started = time.monotonic()
    try:
        with pytest.raises(TransportError) as err:
            SshTransport(target, timeout=15).run("true")
    finally:
        stop.set()
        thread.join(5)
        server.close()
    assert len(accepted) == SshTransport.ATTEMPTS == 4, (err.value.status, err.value.message)
    # paramiko reports the reset while reading the banner, or while sending its own
    assert "no SSH banner received" in err.value.message or "reset" in err.value.message.lower()
    assert err.value.status is HostStatus.UNREACHABLE  # refused, not slow
    assert "dropped the connection before its SSH banner 4 times" in err.value.message
    assert time.monotonic() - started < 8  # pauses: at most 0.5 + 1 + 2 s


def test_closing_a_channel_the_host_already_dropped_does_not_raise():
    """A host that drops the connection right after answering (a phishing sudo does) must not turn
    the transport's cleanup into an exception that ends the whole run."""
    from hardening.transport.ssh import _ParamikoChannel

    class Dropped:
        def close(self) -> None:
            raise EOFError

    _ParamikoChannel(Dropped()).close()  # type: ignore[arg-type]
