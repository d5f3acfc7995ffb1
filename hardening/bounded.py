"""Work in a forked child process, bounded in time and memory; its outcome comes back pickled.

For work that reads input someone else shapes and that may never end or never stop growing
(an inventory whose vars files hold a YAML alias bomb): the child's address space is capped
(``RLIMIT_AS``: what it has when forked plus a margin) and it is killed, with what it started,
after a wall-clock bound. The child stays in the caller's process group, so a vault password
script can still prompt on the terminal.

Example::

    outcome = start_child(lambda: parse(path), seconds=60, memory_mb=2048, expected=(ValueError,)).outcome()
    if outcome.kind == "ok":
        use(outcome.value)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

Kind = Literal["ok", "error", "memory", "timeout", "died", "crash"]


@dataclass(frozen=True)
class Outcome:
    """How the work ended: ``ok`` (``value``: its result), ``error`` (an expected exception: its
    message), ``memory`` (MemoryError), ``timeout``, ``died`` (killed by a signal or gone without a
    word: how), ``crash`` (any other exception: its text)."""

    kind: Kind
    value: Any = None


@dataclass(frozen=True)
class BoundedChild:
    """A forked child running bounded work (:func:`start_child`); :meth:`outcome` collects it once."""

    pid: int
    fd: int
    deadline: float

    def outcome(self) -> Outcome:
        try:
            data = _read(self.fd, self.pid, self.deadline)
        except BaseException:  # Ctrl-C while waiting: the child (and what it started) goes too
            kill_tree(self.pid)
            raise
        finally:
            os.close(self.fd)
        if data is None:
            return Outcome("timeout")
        _, status = os.waitpid(self.pid, 0)
        if not data:
            how = f"signal {-os.waitstatus_to_exitcode(status)}" if os.WIFSIGNALED(status) else "no answer"
            return Outcome("died", how)
        kind, value = pickle.loads(data)  # written by _child below: this module's own code
        return Outcome(kind, value)


def start_child(
    work: Callable[[], Any], seconds: float, memory_mb: int, expected: tuple[type[BaseException], ...] = ()
) -> BoundedChild:
    """Fork a child that runs ``work()`` with its address space limited to what it has plus
    ``memory_mb`` and sends back its result; it is killed ``seconds`` after it starts. Exceptions of
    the ``expected`` types come back as ``error`` with their message."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, write_end, memory_mb, expected)
    os.close(write_end)
    return BoundedChild(pid, read_end, time.monotonic() + seconds)


def _child(work: Callable[[], Any], fd: int, memory_mb: int, expected: tuple[type[BaseException], ...]) -> NoReturn:
    """Run ``work`` under the memory bound and write ``(kind, value)`` to ``fd``; then exit at once
    (``os._exit``: nothing of the parent's, such as buffered output, is flushed or run twice)."""
    code = 0
    try:
        _cap_address_space(memory_mb)
        try:
            result: tuple[str, Any] = ("ok", work())
        except expected as exc:
            result = ("error", str(exc))
        except MemoryError:
            result = ("memory", None)
        except RecursionError:
            result = ("crash", "values nested too deeply")
        except Exception as exc:
            result = ("crash", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(result)
        except MemoryError:
            data = pickle.dumps(("memory", None))
        except Exception as exc:  # a value that cannot be sent back
            data = pickle.dumps(("crash", f"the result cannot be sent back: {exc}"))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _cap_address_space(extra_mb: int) -> None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            vm = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:")), 0)
    except OSError:
        vm = 0
    cap = vm + extra_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and what it started (a script that never ends), then reap ``pid``. The
    descendants are found in /proc (the child is in the caller's process group, not its own)."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{entry}/stat", "rb") as f:
                parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
    doomed, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        doomed.append(current)
        frontier += [child for child, parent in parents.items() if parent == current]
    for victim in doomed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(victim, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _read(fd: int, pid: int, deadline: float) -> bytes | None:
    """Everything the child writes until it closes the pipe; None (child killed) past ``deadline``."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        ready = select.select([fd], [], [], left)[0] if left > 0 else []
        if not ready:
            kill_tree(pid)
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
