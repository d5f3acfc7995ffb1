"""The collector's wire format: named sections of raw command output.

The collector (one POSIX sh script, see :mod:`hardening.facts.collector`) prints every
command's output between marker lines that carry a per-run random nonce, so a file on
the host that happens to contain a marker cannot open or close a section::

    @@<nonce> B <name>
    ...raw output, any bytes...
    @@<nonce> E <name> <exit code>

``rc`` is the command's exit status; 127 means the command does not exist on the host.
Standard error of a section, when not empty, comes as the section ``<name>!err``.

Example::

    >>> out = "@@n1 B os\\nID=debian\\n@@n1 E os 0\\n"
    >>> parse_sections(out, "n1")["os"].text
    'ID=debian'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hardening.lines import iter_lines as iter_lines  # re-exported for the parsers
from hardening.redact import Redactor

RC_NOT_FOUND = 127
_UINT = re.compile(r"[0-9]{1,19}")

# A section larger than this is decoded only if it holds no 4-byte UTF-8 character: one emoji makes
# CPython store the whole str at 4 bytes per character (with it, 30 MiB of output would be 120 MB).
WIDE_LIMIT = 4 * 1024 * 1024
_FOUR_BYTE_LEAD = re.compile(rb"[\xf0-\xf4]")

EXCERPT_MARGIN = 4096  # characters read beyond an excerpt's cut, so that a password across it is blanked whole

Body = str | bytes | memoryview  # a section's output: raw bytes as the host sent them, or text


def decode(body: Body, name: str = "") -> str:
    """A section's output as text (UTF-8; bytes that are not are U+FFFD).

    Raises :class:`FactError` for a section over :data:`WIDE_LIMIT` that holds 4-byte characters
    (emoji and the like): no real ruleset, process table or configuration that large carries
    them, and decoding it would cost four times its size.
    """
    if isinstance(body, str):
        return body
    if len(body) > WIDE_LIMIT and _FOUR_BYTE_LEAD.search(body):
        raise FactError(
            f"the output of {name or 'a section'} is {len(body) / 2**20:.0f} MiB with characters outside the "
            "Basic Multilingual Plane (emoji...): not decoded (no real output that large has them)"
        )
    return str(body, "utf-8", "replace")


def head(body: Body, limit: int) -> tuple[str, bool]:
    """The first ``limit`` characters of ``body`` as text, and whether there was more; decodes at most
    ``4 * (limit + 1)`` bytes (a UTF-8 character has at most four), whatever the section's size."""
    if isinstance(body, str):
        return body[:limit], len(body) > limit
    text = str(body[: 4 * (limit + 1)], "utf-8", "replace")
    return text[:limit], len(text) > limit


@dataclass(frozen=True)
class Section:
    """One command's captured output.

    ``body`` is the output as the host sent it: a view into the whole collector output (bytes),
    decoded by :attr:`text` each time it is read, so the output is held once, as bytes, and
    only the section a parser reads is text while it reads it. (Text is accepted too.)
    """

    name: str
    body: Body
    rc: int | None  # None: the section never closed (output cut short)

    @property
    def text(self) -> str:
        return decode(self.body, self.name)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def missing(self) -> bool:
        """The command or file does not exist on the host."""
        return self.rc == RC_NOT_FOUND


@dataclass(frozen=True)
class Sections(Mapping[str, Section]):
    """All sections of one collector run, by name.

    ``redactor`` blanks the host's passwords in :meth:`excerpt` before it cuts (set by the audit:
    see :func:`hardening.audit.linux_result`), so that a cut never leaves most of one.
    """

    by_name: Mapping[str, Section]
    complete: bool  # the collector printed its final marker
    redactor: Redactor = field(default_factory=Redactor, compare=False)

    def __getitem__(self, key: str) -> Section:
        return self.by_name[key]

    def __iter__(self):
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def text(self, name: str) -> str:
        """Output of ``name``, or "" when the section is absent."""
        sec = self.by_name.get(name)
        return sec.text if sec else ""

    def stderr(self, name: str) -> str:
        return self.text(name + "!err")

    def rc(self, name: str) -> int | None:
        sec = self.by_name.get(name)
        return sec.rc if sec else None

    def excerpt(self, *names: str, limit: int = 4000) -> str:
        """A bounded, labelled excerpt of some sections, for evidence (never decodes more than it shows)."""
        parts = []
        for name in names:
            sec = self.by_name.get(name)
            if sec is None:
                continue
            if self.redactor:  # blank first, then cut: a password across the cut is blanked whole
                text, more = head(sec.body, limit + EXCERPT_MARGIN)
                text = self.redactor.text(text)
                text, more = text[:limit], more or len(text) > limit
            else:
                text, more = head(sec.body, limit)
            parts.append(f"# {name} (rc={sec.rc})\n{text}" + ("\n[... truncated]" if more else ""))
        return "\n".join(parts)


DONE_SECTION = "__done__"


@dataclass(frozen=True)
class _Syntax:
    """The marker lines, as patterns over text or over bytes."""

    name_line: re.Pattern  # type: ignore[type-arg]
    rc_line: re.Pattern  # type: ignore[type-arg]
    newline: str | bytes
    begin: str | bytes
    end: str | bytes
    space: str | bytes


_TEXT = _Syntax(re.compile(r"(\S+)\n"), re.compile(r"(-?\d{1,10})\n"), "\n", " B ", " E ", " ")
_BYTES = _Syntax(re.compile(rb"(\S+)\n"), re.compile(rb"(-?\d{1,10})\n"), b"\n", b" B ", b" E ", b" ")


def _find_begin(output: Any, mark: Any, pos: int, syn: _Syntax) -> tuple[int, Any, int] | None:
    """The first begin line at or after ``pos`` that starts a line: (its start, name, where its body starts).

    Plain string search: the nonce differs on every host, and a regex built around it would be
    compiled anew for each host (most of the parse time). ``output``, ``mark`` and the name are
    all text or all bytes.
    """
    head_ = mark + syn.begin
    i = output.find(head_, pos)
    while i != -1:
        if i == 0 or output[i - 1 : i] == syn.newline:
            m = syn.name_line.match(output, i + len(head_))
            if m:
                return i, m.group(1), m.end()
        i = output.find(head_, i + 1)
    return None


def _find_end(output: Any, mark: Any, name: Any, pos: int, stop: int, syn: _Syntax) -> tuple[int, int, int] | None:
    """The first ``\\n<mark> E <name> <rc>\\n`` inside ``output[pos:stop]``: (its start, rc, its end)."""
    head_ = syn.newline + mark + syn.end + name + syn.space
    i = output.find(head_, pos, stop)
    while i != -1:
        m = syn.rc_line.match(output, i + len(head_), stop)
        if m:
            return i, int(m.group(1)), m.end()
        i = output.find(head_, i + 1, stop)
    return None


def parse_sections(output: str | bytes, nonce: str) -> Sections:
    """Split collector output into sections. Text outside sections is ignored.

    ``output`` is best the raw bytes the host sent: each section then holds a view of them
    (no copy), decoded only when a parser reads it. Sections never nest (the collector
    closes one before it opens the next), so a section whose end marker does not come before
    the next begin marker was cut short: it keeps ``rc=None``. Searching for the end only up
    to the next begin also keeps this linear on hostile output full of begin markers. An exit
    code longer than 10 digits is no exit code the collector prints: the section counts as
    cut short.
    """
    view: Any
    if isinstance(output, str):
        syn, mark, view = _TEXT, "@@" + nonce, output
    else:
        output = bytes(output)  # a bytearray could change under the views
        syn, mark, view = _BYTES, ("@@" + nonce).encode(), memoryview(output)
    found: dict[str, Section] = {}
    m = _find_begin(output, mark, 0, syn)
    while m is not None:
        _, raw_name, body_start = m
        name = raw_name if isinstance(raw_name, str) else raw_name.decode("utf-8", "replace")
        # The next begin line is also where the search after this section would resume: the end
        # line is searched for only before it, so nothing between them can start a section.
        nxt = _find_begin(output, mark, body_start, syn)
        stop = nxt[0] if nxt else len(output)
        e = _find_end(output, mark, raw_name, body_start, stop, syn)
        if e is None:
            # Unterminated: the output was cut. Keep what we have, flagged by rc=None.
            found.setdefault(name, Section(name, view[body_start:stop], None))
        else:
            # A repeated name keeps its first occurrence: a host cannot override a section.
            found.setdefault(name, Section(name, view[body_start : e[0]], e[1]))
        m = nxt
    return Sections(found, complete=DONE_SECTION in found)


def parse_uint(text: str) -> int | None:
    """A plain non-negative decimal number (ASCII digits only, at most 19), else None.

    ``str.isdigit`` accepts "²" and 5,000-digit strings, on which ``int`` raises.

    >>> parse_uint(" 42\\n"), parse_uint("²"), parse_uint("-1"), parse_uint("9" * 40)
    (42, None, None, None)
    """
    t = text.strip()
    return int(t) if _UINT.fullmatch(t) else None


def marked(sections: Sections, name: str, value: str) -> bool:
    """Section ``name`` ran and says ``value``: a piece's note that another piece beside it
    printed what it would have (see ``collector._linux_piece``)."""
    return sections.rc(name) == 0 and sections.text(name).strip() == value


def require_sections(sections: Sections, area: str, required: Iterable[str]) -> None:
    """Raise :class:`FactError` unless ``area``'s sections are all there and all closed.

    Any section of the area (its ``!err`` companions included) left open means the output
    was cut in the middle of it: what it says is partial, and partial is not "nothing
    found". A required section that is absent means the output stopped before it.

    Example::

        require_sections(sections, "dns", ("dns.resolv_conf", "dns.procs"))
    """
    cut = [n for n in sections if n.startswith(area + ".") and sections[n].rc is None]
    if cut:
        raise FactError(
            f"the output of {cut[0]} was cut short (the section never closed): "
            "the connection dropped or the collector was killed; rerun the audit"
        )
    missing = [n for n in required if n not in sections]
    if missing:
        raise FactError(f"the collector output has no {missing[0]} section ({area} output cut short?): rerun the audit")


class FactError(Exception):
    """A fact area could not be read or parsed. The message says why, for a person.

    Parsers raise it; :func:`hardening.facts.linux.gather` stores it in place of the
    facts, and every check that needs that area reports ``error`` (never ``pass``).
    """
