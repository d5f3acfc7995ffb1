"""Making hostile host data safe for each output: Markdown cells, XML 1.0, terminals.

Host names, messages and evidence come from hosts that may be compromised. HTML is
escaped by Jinja2's autoescape; the rest goes through these functions.

Example::

    >>> md_cell("a|b <x>\\n`y`")
    'a\\\\|b &lt;x&gt; \\\\`y\\\\`'
"""

from __future__ import annotations

import json
import re

from hardening.redact import ANSI_SEQUENCE

# What these functions drop, redaction (hardening.redact) treats as invisible: a password with
# such characters between its letters is blanked before any of them runs.
# C0 controls except tab/newline/CR, DEL, C1 controls; ANSI CSI/OSC sequences first
_ANSI = re.compile(ANSI_SEQUENCE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# characters XML 1.0 forbids (after the controls above): surrogates, U+FFFE, U+FFFF
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_control(text: str) -> str:
    """Drop ANSI escape sequences and control characters (keeps tab and newline)."""
    return _CONTROL.sub("", _ANSI.sub("", text)).replace("\r\n", "\n").replace("\r", "\n")


def terminal_safe(text: str) -> str:
    """One line a terminal shows as text: no escapes, controls or newlines."""
    return " ".join(strip_control(text).split())


def xml_safe(text: str) -> str:
    """Text legal in XML 1.0 (ElementTree escapes ``& < >`` and quotes itself)."""
    return _XML_ILLEGAL.sub("", strip_control(text))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md_text(text: str) -> str:
    """Inline Markdown text: specials backslash-escaped, ``< > &`` as entities, one line."""
    one = terminal_safe(text)
    one = one.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", one)


def md_cell(text: str) -> str:
    """Text for a Markdown table cell (pipes, markup, backticks and newlines neutralised)."""
    return md_text(text)


def md_code_block(text: str) -> str:
    """A fenced block whose fence is longer than any backtick run inside ``text``."""
    body = strip_control(text).rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{body}\n{fence}"


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # the C encoder (no indent)


def readable_json(value: object, depth: int = 3) -> str:
    """JSON for a person: objects (and lists holding objects or lists) ``depth`` levels deep are
    laid out one member per line; what is deeper stays on one line.

    ``json.dumps(indent=...)`` is pure Python; a 1,000-host report spent seconds in it. This
    encodes every leaf with the C encoder, and the result is still valid JSON.

    >>> print(readable_json({"a": [1, 2], "b": {"c": {"d": [{"e": 1}]}}}, depth=2))
    {
      "a": [1, 2],
      "b": {
        "c": {"d": [{"e": 1}]}
      }
    }
    """
    return _readable(value, depth, "")


def _readable(value: object, depth: int, pad: str) -> str:
    inner = pad + "  "
    if depth > 0 and isinstance(value, dict) and value:
        items = [f"{inner}{_ENCODE(str(k))}: {_readable(v, depth - 1, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if depth > 0 and isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        return "[\n" + ",\n".join(inner + _readable(v, depth - 1, inner) for v in value) + "\n" + pad + "]"
    return _ENCODE(value)
