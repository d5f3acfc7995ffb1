"""JSON a host printed (``nft -j``, the Windows collectors, container stores...), read without lone surrogates.

JSON may spell a UTF-16 surrogate alone (``"\\ud800"``), and PowerShell does for a file name
NTFS holds with an unpaired one: any user can make such a name. ``json.loads`` keeps it as a
lone surrogate, which no UTF-8 writer (results.json, the reports, host_vars) can encode: one
such name would end the whole run's results. Here each becomes U+FFFD, as a byte that is not
UTF-8 does in a Linux host's output.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads(text: str) -> Any:
    """``json.loads(text)`` with every lone surrogate replaced by U+FFFD (pairs are characters already).

    >>> loads('{"a\\\\udc00": ["x\\\\ud800y", "\\\\ud83d\\\\ude00"]}') == {"a\\ufffd": ["x\\ufffdy", "\\U0001f600"]}
    True
    """
    doc = json.loads(text)
    return clean(doc) if _SURROGATE_ESCAPE.search(text) else doc  # text from bytes holds none unescaped


def clean(value: Any) -> Any:
    """``value`` (JSON data) with every lone surrogate in its strings replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    return value


def scrub(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD.

    >>> scrub("a\\udcffb")
    'a\ufffdb'
    """
    return _SURROGATE.sub("\ufffd", text)
