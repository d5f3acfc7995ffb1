"""The drift baseline's files: one per host under ``--baseline DIR``, reviewable and diffable.

``DIR/<inventory name, escaped>.json`` is JSON with sorted keys and one observation per line::

    {
      "schema": "harden.baseline/v1",
      "host": "web1",
      "hunts": 3,
      "created": "2026-12-07T01:00:00+00:00",
      "updated": "2026-12-07T03:00:00+00:00",
      "categories": {
        "listen": {
          "tcp *:22 /usr/sbin/sshd": {"count": 3, "description": "...", "first": "...", "last": "..."}
        },
        ...
      }
    }

The file name comes from the inventory name only, never from what a host sent: letters, digits,
``.``, ``_`` and ``-`` stay, every other byte of its UTF-8 (``/``, ``%``, spaces, ...) becomes
``%XX``, a leading ``.`` too (so ``..`` is ``%2E.``); a name with NUL, empty, or longer than 128
characters is refused (:class:`BaselineError`). Files are written atomically, mode 0600 (they
hold host data), never through a symlink.

Example::

    >>> file_name("web/1"), file_name(".."), file_name("db-01.example.com")
    ('web%2F1.json', '%2E..json', 'db-01.example.com.json')
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from hardening.hunt.drift import Baseline, Entry

SCHEMA_ID = "harden.baseline/v1"
MAX_NAME = 128  # characters of an inventory name a baseline file may be named after
MAX_FILE = 64 * 1024 * 1024  # bytes of a baseline file read
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class BaselineError(ValueError):
    """A baseline that cannot be used (unreadable, corrupt, another host's, a name that cannot be a
    file): drift is an error for that host, never "no drift"."""


def file_name(host: str) -> str:
    """The baseline file name of an inventory name (see the module)."""
    if not host or "\0" in host or len(host) > MAX_NAME:
        raise BaselineError(f"inventory name {host!r} cannot name a baseline file (empty, NUL or too long)")
    out = []
    for i, ch in enumerate(host):
        if ch in _SAFE and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out += [f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape")]
    name = "".join(out) + ".json"
    if len(name) > 250:  # most file systems allow 255 bytes
        raise BaselineError(f"inventory name {host[:40]!r}...: its baseline file name would be too long")
    return name


def to_text(b: Baseline) -> str:
    """The file's text: sorted keys, one observation per line (a diff shows one line per change)."""
    head = {"schema": SCHEMA_ID, "host": b.host, "hunts": b.hunts, "created": b.created, "updated": b.updated}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "categories": {')
    cats = sorted(b.categories.items())
    for ci, (cat, entries) in enumerate(cats):
        lines.append(f"    {json.dumps(cat)}: {{")
        items = sorted(entries.items())
        for ei, (key, e) in enumerate(items):
            value = {"count": e.count, "description": e.description, "first": e.first, "last": e.last}
            sep = "," if ei < len(items) - 1 else ""
            lines.append(f"      {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}{sep}")
        lines.append("    }" + ("," if ci < len(cats) - 1 else ""))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _str(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise BaselineError(f"{name!r} is not a string")
    return value


def from_text(text: str, host: str) -> Baseline:
    """Parse and check a baseline file's text (raises :class:`BaselineError` when corrupt or another host's)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_ID:
        raise BaselineError(f"not a {SCHEMA_ID} baseline")
    if doc.get("host") != host:
        raise BaselineError(f"the baseline is of host {str(doc.get('host'))[:80]!r}, not {host!r}")
    hunts = doc.get("hunts")
    cats = doc.get("categories")
    if not isinstance(hunts, int) or isinstance(hunts, bool) or hunts < 1 or not isinstance(cats, dict):
        raise BaselineError("'hunts' (a positive integer) or 'categories' (an object) is missing or wrong")
    out: dict[str, dict[str, Entry]] = {}
    for cat, entries in cats.items():
        if not isinstance(entries, dict):
            raise BaselineError(f"category {cat!r} is not an object")
        have = out.setdefault(cat, {})
        for key, e in entries.items():
            if not isinstance(e, dict):
                raise BaselineError(f"{cat} {key!r}: not an object")
            count = e.get("count")
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= hunts:
                raise BaselineError(f"{cat} {key!r}: count is not between 1 and hunts ({hunts})")
            have[key] = Entry(count, _str(e, "first"), _str(e, "last"), _str(e, "description"))
    return Baseline(host, hunts, _str(doc, "created"), _str(doc, "updated"), out)


def load(directory: Path, host: str) -> Baseline | None:
    """The host's baseline, None when it has none yet (raises :class:`BaselineError`: corrupt, a
    symlink, too big, unreadable)."""
    path = directory / file_name(host)
    try:
        # O_NONBLOCK: a FIFO in its place never blocks the open; only a regular file is read
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BaselineError(f"{path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BaselineError(f"{path}: not a regular file")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(MAX_FILE + 1)
        except OSError as exc:
            raise BaselineError(f"{path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE:
        raise BaselineError(f"{path}: larger than {MAX_FILE >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not UTF-8") from exc
    try:
        return from_text(text, host)
    except BaselineError as exc:
        raise BaselineError(f"{path}: {exc}") from exc


def save(directory: Path, b: Baseline) -> Path:
    """Write the host's baseline atomically (0600; the directory is created 0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / file_name(b.host)
    tmp = directory / f".{file_name(b.host)}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(to_text(b))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
