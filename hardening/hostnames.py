"""Inventory host names that become file names: one rule, matched against the WHOLE name.

Host names come from the inventory, and a dynamic inventory takes them from a CMDB, cloud
tags or DNS: data someone else may control. Where a host name becomes a file name
(``playbooks/host_vars/<host>.yml``, a gathered ``<host>.out``), it must be a plain name:
letters, digits and ``_ . : @ [ ] -``, not starting with a dot, at most 200 characters.
A newline, a control character, a slash or ``..`` never reaches a path.

The match is ``re.fullmatch``: ``re.match(r"^...$")`` would accept ``"web1\\n"``, because
``$`` also matches just before a trailing newline.

Example::

    >>> file_safe("web1.example.com"), file_safe("web1\\n"), file_safe("../etc/x"), file_safe(".hidden")
    (True, False, False, False)
    >>> host_file_name("web1", ".yml")
    'web1.yml'
"""

from __future__ import annotations

import re

#: The rule, as a pattern for ``re.fullmatch`` (playbooks/harden_collect.yml applies the same text).
FILE_SAFE_PATTERN = "(?![.])[]A-Za-z0-9_.:@[-]{1,200}"
_FILE_SAFE = re.compile(FILE_SAFE_PATTERN)


class UnsafeHostName(ValueError):
    """A host name that cannot be used as a file name; the message says which and why."""


def file_safe(name: str) -> bool:
    """True when ``name`` may become a file name as it is (see the module docstring)."""
    return _FILE_SAFE.fullmatch(name) is not None


def host_file_name(name: str, suffix: str) -> str:
    """``name + suffix``, or :class:`UnsafeHostName` when ``name`` is not a plain file name."""
    if not file_safe(name):
        raise UnsafeHostName(
            f"host name {name!r} cannot be a file name (letters, digits and _ . : @ [ ] - only, "
            "not starting with a dot, at most 200 characters)"
        )
    return name + suffix
