#!/usr/bin/env python3
"""A delaying TCP relay on 127.0.0.1: a WAN link in front of lab hosts, for bench/fleet.py.

Why a relay: the link to a lab host is loopback plus podman's port forwarding, and this
machine's kernel has no ``sch_netem`` (no qdisc can delay packets inside the containers'
namespaces). So the delay is added in user space, by a separate process whose CPU is nobody's.

The model (one-way delay ``d``, RTT = 2d), per connection, in the times the client sees:

* TCP: a real client's ``connect()`` returns after 1 RTT and the server sees the connection
  (the final ACK) at 1.5 RTT. Here the relay accepts at once (connect() returns after ~0), so
  it opens the connection to the server at ``3d`` and forwards nothing to the server before
  then: the server sees the connection when it would, and what the client sends right after
  ``connect()`` (both OpenSSH and paramiko send their banner at once) reaches the server at
  ``3d``, as it would have (sent at 2d, arriving 3d).
* data: every chunk read from one side is written to the other ``d`` later, in order (no
  bandwidth limit, no loss). A half-close (EOF) travels the same way.

So every request/response exchange costs one RTT, the TCP handshake included, for every
client alike (harden's paramiko, OpenSSH, Ansible's OpenSSH). Checked by the bench: it times
the SSH banner through the relay (2 RTT from the start of connect()).

Usage::

    wanrelay.py --delay-ms 30 LISTEN_PORT:TARGET_PORT [...]    # prints "ready" when listening

It runs until SIGTERM/SIGINT, or until ``--max-seconds`` (default 7200) passes, and holds at
most ``--max-conns`` connections at once (further ones wait in the listen backlog).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time

HOST = "127.0.0.1"


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.Future[asyncio.StreamWriter], delay: float, not_before: float
) -> None:
    """Copy ``reader`` to ``writer`` (once it exists), each chunk ``delay`` s after it was read and
    never before ``not_before`` (loop time)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        w = await writer
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    if w.can_write_eof():
                        w.write_eof()
                return
            w.write(data)
            await w.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(262144)
            queue.put_nowait((max(loop.time() + delay, not_before), data))
            if not data:
                break
        await sender
    except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
        sender.cancel()
        raise


async def _serve_one(
    client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, target: int, delay: float, slots: asyncio.Semaphore
) -> None:
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    opened = accepted + 3 * delay  # a real server sees the connection at the final ACK: 1.5 RTT = 3d
    server_w: asyncio.Future[asyncio.StreamWriter] = loop.create_future()
    client_done: asyncio.Future[asyncio.StreamWriter] = loop.create_future()
    client_done.set_result(client_w)
    async with slots:
        upstream = asyncio.create_task(_pipe(client_r, server_w, delay, opened))
        try:
            await asyncio.sleep(max(0.0, opened - loop.time()))
            server_r, w = await asyncio.wait_for(asyncio.open_connection(HOST, target), 10)
            server_w.set_result(w)
            await asyncio.gather(upstream, _pipe(server_r, client_done, delay, 0.0))
        except (OSError, TimeoutError):
            upstream.cancel()
        finally:
            client_w.close()
            if server_w.done() and not server_w.cancelled():
                server_w.result().close()
            else:
                server_w.cancel()


async def _main(pairs: list[tuple[int, int]], delay: float, max_seconds: float, max_conns: int) -> None:
    slots = asyncio.Semaphore(max_conns)
    servers = []
    for listen, target in pairs:

        def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, target: int = target) -> asyncio.Future[None]:
            return asyncio.ensure_future(_serve_one(r, w, target, delay, slots))

        servers.append(await asyncio.start_server(handler, HOST, listen, backlog=1024, limit=262144))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max_seconds)
    for s in servers:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay-ms", type=float, default=30.0, help="one-way delay (RTT is twice this)")
    ap.add_argument("--max-seconds", type=float, default=7200.0)
    ap.add_argument("--max-conns", type=int, default=2000)
    ap.add_argument("pairs", nargs="+", metavar="LISTEN:TARGET")
    args = ap.parse_args()
    pairs = [(int(a), int(b)) for a, b in (p.split(":", 1) for p in args.pairs)]
    started = time.monotonic()
    asyncio.run(_main(pairs, args.delay_ms / 1000.0, args.max_seconds, args.max_conns))
    print(f"relay stopped after {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
