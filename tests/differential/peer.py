"""Peer listener (runs in the peer namespace): accepts TCP and logs UDP datagrams on the given ports.

Usage: peer.py LOG PORT... ; prints "ready"; logs each UDP payload (one line) to LOG. Exits by itself after 600 s.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115
    ports = [int(p) for p in sys.argv[2:]]
    sel = selectors.DefaultSelector()
    for fam, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for port in ports:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(fam, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((any_addr, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(64)
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, kind)
    print("ready", flush=True)
    end = time.monotonic() + 600
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            try:
                if key.data == socket.SOCK_STREAM:
                    c, _a = s.accept()
                    c.close()
                else:
                    data, _a = s.recvfrom(512)
                    log.write(data.decode("ascii", "replace")[:100] + "\n")
                    s.sendto(data, _a)
            except OSError:
                pass


if __name__ == "__main__":
    main()
