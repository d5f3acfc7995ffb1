"""``-v`` … ``-vvvv``: Ansible's verbosity, for harden's own log and for ansible-runner.

The count means what it means to ``ansible-playbook``: it is handed to ansible-runner as its
``verbosity`` (``--engine ansible``, ``harden apply``; Ansible's output then streams to stderr),
and it opens harden's own log on stderr for the native engine:

- ``-v``: per host, where it connects (user, address, jump hosts, become) and how it ended (status, time);
- ``-vv``: the inventory and configuration read, each host's transport, known_hosts and keys in use;
- ``-vvv``: the SSH conversation's steps (server version, host key, authentication, the command run,
  bytes received);
- ``-vvvv``: paramiko's own debug log as well (as ``-vvvv`` adds connection debugging in Ansible).

Results (tables, reports) go to stdout; progress and this log go to stderr. Nothing logged holds a
password (harden never has one in a log message) and host-supplied text is escaped.

Example::

    set_verbosity(2)
    vlog(1, "web1: ssh deploy@10.0.0.5:22")
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGER = logging.getLogger("harden")
#: The logging level of each -v count (1..4): INFO, then below INFO.
_LEVELS = {1: logging.INFO, 2: logging.INFO - 5, 3: logging.DEBUG, 4: logging.DEBUG - 5}
MAX = 4

_verbosity = 0
_handler: logging.Handler | None = None


def verbosity() -> int:
    """The ``-v`` count of this run (0..4)."""
    return _verbosity


def set_verbosity(count: int, stream: TextIO | None = None) -> None:
    """Turn on the log on ``stream`` (stderr) for ``count`` (0: warnings only). ``-vvvv``: paramiko's too."""
    global _verbosity, _handler
    _verbosity = max(0, min(MAX, int(count)))
    if _handler is not None:
        LOGGER.removeHandler(_handler)
        logging.getLogger("paramiko").removeHandler(_handler)
        _handler = None
    if not _verbosity:
        return
    _handler = logging.StreamHandler(stream or sys.stderr)
    fmt = "harden: %(message)s" if _verbosity < 3 else "harden %(relativeCreated)7.0fms %(threadName)s: %(message)s"
    _handler.setFormatter(logging.Formatter(fmt))
    LOGGER.addHandler(_handler)
    LOGGER.setLevel(_LEVELS[_verbosity])
    LOGGER.propagate = False
    if _verbosity >= MAX:
        paramiko = logging.getLogger("paramiko")
        paramiko.addHandler(_handler)
        paramiko.setLevel(logging.DEBUG)


def vlog(count: int, message: str, *args: object) -> None:
    """Log ``message % args`` when the run has at least ``count`` -v (1..4)."""
    if _verbosity >= count:
        LOGGER.log(_LEVELS[min(MAX, max(1, count))], message, *args)


def esc(text: object, limit: int = 200) -> str:
    """Host-supplied text made safe for the terminal (control characters escaped, length bounded)."""
    from hardening.console import safe

    return safe(str(text), limit)


__all__ = ["MAX", "esc", "set_verbosity", "verbosity", "vlog"]
