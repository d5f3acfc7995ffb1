"""Local transport (``ansible_connection=local``): the collector runs on the controller itself.

Same contract as SSH: one ``sh -s`` process (or its sudo wrapper), script on stdin,
bounded by the deadline; the process group is killed when time runs out.

Example::

    result = LocalTransport(target, timeout=30).run(script)
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from typing import IO

from hardening.inventory import Target
from hardening.model import HostStatus
from hardening.transport.base import MAX_OUTPUT, RunResult, TransportError, exchange, plan_command


class _ProcessChannel:
    def __init__(self, command: str) -> None:
        self._proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._queue: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self._open = 2
        for fd, stream in ((1, self._proc.stdout), (2, self._proc.stderr)):
            threading.Thread(target=self._pump, args=(fd, stream), daemon=True).start()

    def _pump(self, fd: int, stream: IO[bytes] | None) -> None:
        assert stream is not None
        while chunk := stream.read1(65536):
            self._queue.put((fd, chunk))
        self._queue.put((fd, b""))

    def send(self, data: bytes) -> None:
        if self._proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.write(data)
                self._proc.stdin.flush()

    def close_stdin(self) -> None:
        if self._proc.stdin:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()

    def recv(self, timeout: float) -> tuple[bytes, bytes, bool]:
        out = bytearray()
        err = bytearray()
        end = time.monotonic() + timeout
        while self._open:
            try:
                fd, chunk = self._queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                break
            if not chunk:
                self._open -= 1
            (out if fd == 1 else err).extend(chunk)
            if self._queue.empty():
                break
        if not self._open:
            self._proc.wait()
            return bytes(out), bytes(err), not out and not err
        return bytes(out), bytes(err), False

    def exit_code(self) -> int | None:
        return self._proc.poll()

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()


class LocalTransport:
    def __init__(self, target: Target, timeout: float, max_output: int = MAX_OUTPUT) -> None:
        self.target = target
        self.timeout = timeout
        self.max_output = max_output

    def run(self, script: str) -> RunResult:
        deadline = time.monotonic() + self.timeout
        become = self.target.become and not (os.geteuid() == 0 and self.target.become_user == "root")
        plan = plan_command(become, self.target.become_user)
        try:
            channel = _ProcessChannel(plan.command)
        except OSError as exc:
            raise TransportError(HostStatus.ERROR, f"cannot start /bin/sh: {exc}") from None
        try:
            return exchange(
                channel,
                script.encode("ascii"),
                plan,
                deadline,
                self.target.become_password,
                self.max_output,
                (self.target.password, self.target.become_password),
            )
        finally:
            channel.close()
