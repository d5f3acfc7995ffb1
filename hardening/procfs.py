"""Pure parsers of ``/proc`` records as the collectors dump them (``grep -H`` over ``/proc/PID/...``).

Shared by the hunt (:mod:`hardening.hunt.linux`) and the audit's process facts
(:mod:`hardening.facts.processes`), whose collector pieces read the same files.

    >>> cmdlines("/proc/7/cmdline:nc\\0/proc/7/cmdline:-e\\0/proc/9/cmdline:sh\\0")
    {7: ('nc', '-e'), 9: ('sh',)}
"""

from __future__ import annotations

import ipaddress
import re

MAX_ARGV = 64  # arguments kept per process
MAX_ARG = 512  # characters kept per argument

STAT_PREFIX = re.compile(r"^/proc/(\d{1,10})/stat:", re.MULTILINE)
CMD_PREFIX = re.compile(r"/proc/(\d{1,10})/cmdline:")


def by_prefix(text: str, prefix: re.Pattern[str]) -> dict[int, str]:
    """Join records that start with ``/proc/PID/...:``; the real prefix always opens a record."""
    out: dict[int, str] = {}
    marks = list(prefix.finditer(text))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        pid = int(m.group(1))
        body = text[m.end() : end]
        out[pid] = out[pid] + body if pid in out else body
    return out


def cmdlines(text: str) -> dict[int, tuple[str, ...]]:
    """argv per pid from NUL-terminated ``/proc/PID/cmdline:<arg>`` records (bounded per process)."""
    args: dict[int, list[str]] = {}
    for record in text.split("\0"):
        m = CMD_PREFIX.match(record)
        if not m:
            continue
        argv = args.setdefault(int(m.group(1)), [])
        if len(argv) < MAX_ARGV:
            argv.append(record[m.end() : m.end() + MAX_ARG])
    return {pid: tuple(a) for pid, a in args.items()}


def hex_ip(text: str, little_endian: bool) -> str:
    """Address of /proc/net/{tcp,udp}{,6} (``0100007F`` -> ``127.0.0.1``); IPv4-mapped IPv6 shown as IPv4.

    >>> hex_ip("0100007F", True), hex_ip("0000000000000000FFFF00000100007F", True)
    ('127.0.0.1', '127.0.0.1')
    """
    raw = bytes.fromhex(text)
    if little_endian:
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    v6 = ipaddress.IPv6Address(raw)
    return str(v6.ipv4_mapped) if v6.ipv4_mapped else str(v6)
