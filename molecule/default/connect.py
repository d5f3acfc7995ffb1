"""Open one TCP connection (5 s bound) and say what happened: 'connected' or 'error ERRNO ...'."""

import socket
import sys

s = socket.socket()
s.settimeout(5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected")
except OSError as e:
    print("error", e.errno, e)
finally:
    s.close()
