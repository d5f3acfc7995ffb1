"""Probe sender (runs in the client namespace as an unprivileged uid).

stdin: JSON list of [family, proto, address, port]; argv[1]: timeout in seconds.
stdout: JSON list of [[family, proto, address, port], connected] (TCP: the handshake
completed; UDP: the datagram was sent — whether it arrived, the peer's log tells).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor


def one(p: list, timeout: float) -> bool:
    fam, proto, addr, port = p
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    if proto == "tcp":
        s = socket.socket(af, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            return True
        except OSError:
            return False
        finally:
            s.close()
    s = socket.socket(af, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        for _ in range(2):
            s.sendto(f"udp {addr} {port} {os.getuid()}".encode(), (addr, port))
        s.recv(512)
        return True
    except OSError:
        return False
    finally:
        s.close()


def main() -> None:
    timeout = float(sys.argv[1])
    probes = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(lambda p: one(p, timeout), probes))
    json.dump([[p, r] for p, r in zip(probes, results, strict=True)], sys.stdout)


if __name__ == "__main__":
    main()
