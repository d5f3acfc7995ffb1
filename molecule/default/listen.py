"""Listen on ADDR at a free port until FROM connects; bounded in time and count.

Usage: listen.py ADDR PORTFILE SECONDS FROM
Writes the port to PORTFILE once listening (IP_FREEBIND: ADDR may appear later), accepts at most
8 connections within SECONDS, prints 'accepted IP' for each, and exits 0 as soon as FROM connected
(1 when it did not). verify.yml starts it as an async task (killed at its async limit as well).
"""

import os
import socket
import sys
import time

IP_FREEBIND = 15

addr, portfile, seconds, expected = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, 1)
s.bind((addr, 0))
s.listen(8)
tmp = portfile + ".tmp"
with open(tmp, "w") as fh:
    fh.write(f"{s.getsockname()[1]}\n")
os.replace(tmp, portfile)
deadline = time.monotonic() + seconds
heard = False
for _ in range(8):
    left = deadline - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        conn, peer = s.accept()
    except TimeoutError:
        break
    conn.close()
    print("accepted", peer[0], flush=True)
    if peer[0] == expected:
        heard = True
        break
s.close()
if not heard:
    print(f"no connection from {expected} within {seconds:.0f} s", flush=True)
sys.exit(0 if heard else 1)
