"""Reading large host output a line at a time (shared by every parser).

Example::

    >>> list(iter_lines("a\\nb"))
    ['a', 'b']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def iter_lines(text: str, block: int = 65536) -> Iterator[str]:
    """The lines of ``text`` exactly as ``text.splitlines()`` gives them, a block at a time.

    A host can fill a section with millions of two-byte lines: as one list they would cost some
    60 bytes each at once; parsers that look at one line at a time hold a block's worth.

    >>> list(iter_lines("a\\r\\nb\\rc\\n\\nd", block=2)) == "a\\r\\nb\\rc\\n\\nd".splitlines()
    True
    """
    pos, size = 0, len(text)
    while pos < size:
        end = pos + block
        if end < size:  # end each block just after a line break (a CR LF pair whole), never inside a line
            m = _LINE_BREAK.search(text, end - 1)
            end = m.end() if m else size
        yield from text[pos:end].splitlines()
        pos = end
