"""What every transport shares: the error type, the result, and the become (sudo) handshake.

A transport opens ONE command channel to a host and feeds the collector script on its
standard input. With ``become``, the command is a sudo wrapper that prints a random
success marker once it runs as the target user. With a become password, the script is
sent only after the marker, and the password only when sudo prints our random prompt.
That keeps a password from ever reaching the shell as a command, and keeps it out of
every log. Without one, sudo runs non-interactively (``-n``: it fails at once where it
would ask) and never reads standard input, so the script follows the command at once:
no round trip waits for the marker.

Example::

    channel = SomeChannel(...)
    result = exchange(channel, script, plan_command(become=True, become_user="root"), deadline)
"""

from __future__ import annotations

import io
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Protocol

from hardening.model import HostStatus
from hardening.redact import Redactor

MAX_OUTPUT = 32 * 1024 * 1024  # a host may not send more than this (bytes, stdout + stderr)


def output_limit_message(max_output: int) -> str:
    """What a host that floods is told (``--max-output``).

    >>> output_limit_message(32 * 1024 * 1024)
    'the host sent more than 32 MiB of output (raise --max-output if this host is trusted)'
    """
    size = f"{max_output / (1024 * 1024):g} MiB" if max_output >= 1024 * 1024 else f"{max_output} bytes"
    return f"the host sent more than {size} of output (raise --max-output if this host is trusted)"


class TransportError(Exception):
    """Reaching or running on a host failed; ``status`` says how (never ``ok``).

    ``partial`` is the standard output received before the failure (a WinRM host that ran out
    of time mid-collector): the Windows audit judges the areas it holds.
    """

    def __init__(self, status: HostStatus, message: str, partial: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.partial = partial


@dataclass(frozen=True)
class RunResult:
    stdout: bytes
    stderr: bytes
    exit_code: int | None


class Channel(Protocol):
    """A started remote (or local) command with stdin/stdout/stderr."""

    def send(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def recv(self, timeout: float) -> tuple[bytes, bytes, bool]:
        """Wait up to ``timeout`` s; return (stdout chunk, stderr chunk, finished)."""
        ...

    def exit_code(self) -> int | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CommandPlan:
    """The command to start, and the markers of the become handshake (empty without become)."""

    command: str
    success_marker: str = ""
    prompt: str = ""
    # the script may be sent with the command (no become, or sudo -n: nothing else reads stdin)
    pipelined: bool = True

    @property
    def become(self) -> bool:
        return bool(self.success_marker)


def plan_command(
    become: bool, become_user: str = "root", shell: str = "/bin/sh", with_password: bool = True
) -> CommandPlan:
    """``sh -s`` or, with become, a sudo wrapper around it. ``become_user`` is quoted.

    ``with_password``: a become password is at hand, so sudo may prompt for it (``-S``; the
    script waits for the marker). Without one, sudo must not prompt (``-n``) and the script is
    sent with the command.

    >>> plan_command(True, with_password=False).command.split()[:3]
    ['sudo', '-H', '-n']
    >>> plan_command(True).pipelined, plan_command(True, with_password=False).pipelined
    (False, True)
    """
    if not become:
        return CommandPlan(f"{shell} -s")
    token = secrets.token_hex(8)
    marker = f"HARDEN-BECOME-SUCCESS-{token}"
    prompt = f"[harden-sudo-password-{token}]"
    inner = f"echo {marker}; exec {shell} -s"
    how = ["-S", "-p", shlex.quote(prompt)] if with_password else ["-n"]
    command = " ".join(["sudo", "-H", *how, "-u", shlex.quote(become_user), shell, "-c", shlex.quote(inner)])
    return CommandPlan(command, marker, prompt, pipelined=not with_password)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TransportError(HostStatus.TIMEOUT, "timed out waiting for the command to finish")
    return left


def exchange(
    channel: Channel,
    script: bytes,
    plan: CommandPlan,
    deadline: float,
    become_password: str | None = None,
    max_output: int = MAX_OUTPUT,
    secrets: tuple[str | None, ...] = (),
) -> RunResult:
    """Drive one command: become handshake (if any), send ``script`` on stdin, read to the end.

    ``secrets`` (the host's passwords) are blanked in sudo's error output before its last line
    becomes the error message: a line break inside an echoed password must not leave most of it
    on the line that is shown.

    The script's output is gathered in a ``BytesIO``, whose buffer becomes the result's bytes
    without a copy: a host's answer costs its size once (plus the buffer's growth margin),
    never a second time as text. Searches for sudo's marker and prompt look at what is new.
    """
    pre = bytearray()  # stdout before sudo's success marker (become only)
    body = io.BytesIO()  # the script's stdout
    err = bytearray()
    received = 0
    started = not plan.become
    password_sent = False
    marker = plan.success_marker.encode()
    prompt = plan.prompt.encode()
    sent = plan.pipelined
    if sent:
        channel.send(script)
        channel.close_stdin()
    finished = False
    while not finished:
        chunk_out, chunk_err, finished = channel.recv(min(0.5, _remaining(deadline)))
        received += len(chunk_out) + len(chunk_err)
        if received > max_output:
            raise TransportError(HostStatus.ERROR, output_limit_message(max_output))
        err += chunk_err
        if started:
            body.write(chunk_out)
            continue
        at = max(0, len(pre) - len(marker))
        pre += chunk_out
        found = pre.find(marker, at)
        if found != -1:
            # Everything up to the marker line is sudo's; the rest is the script's.
            body.write(bytes(pre[found + len(marker) :]).lstrip(b"\r\n"))
            pre.clear()
            started = True
            if not sent:
                channel.send(script)
                channel.close_stdin()
                sent = True
            continue
        if bytes(err[-(len(prompt) + 256) :]).rstrip().endswith(prompt):
            if password_sent:
                raise TransportError(HostStatus.AUTH_FAILED, "sudo rejected the become password")
            if not become_password:
                raise TransportError(
                    HostStatus.AUTH_FAILED,
                    "sudo asks for a password: set ansible_become_password (or allow NOPASSWD)",
                )
            channel.send(become_password.encode() + b"\n")
            password_sent = True
            err.clear()
    if not started:
        text = Redactor.of(secrets).text(bytes(err[-65536:]).decode("utf-8", "replace").replace(plan.prompt, ""))
        text = text.strip()
        reason = text.splitlines()[-1] if text else "no output"
        status = HostStatus.AUTH_FAILED if "password" in text or "sudoers" in text else HostStatus.ERROR
        if plan.pipelined and "password is required" in text:
            # sudo -n: it would have asked for a password we do not have
            raise TransportError(
                HostStatus.AUTH_FAILED, "sudo asks for a password: set ansible_become_password (or allow NOPASSWD)"
            )
        raise TransportError(status, f"become (sudo) failed: {reason}")
    stderr = bytes(err)
    if plan.become and prompt in stderr:
        stderr = stderr.replace(prompt, b"")
    return RunResult(body.getvalue(), stderr, channel.exit_code())
