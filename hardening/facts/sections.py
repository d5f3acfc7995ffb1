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
from dataclasses import dataclass

RC_NOT_FOUND = 127
_UINT = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class Section:
    """One command's captured output."""

    name: str
    text: str
    rc: int | None  # None: the section never closed (output cut short)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def missing(self) -> bool:
        """The command or file does not exist on the host."""
        return self.rc == RC_NOT_FOUND


@dataclass(frozen=True)
class Sections(Mapping[str, Section]):
    """All sections of one collector run, by name."""

    by_name: Mapping[str, Section]
    complete: bool  # the collector printed its final marker

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
        """A bounded, labelled excerpt of some sections, for evidence."""
        parts = []
        for name in names:
            sec = self.by_name.get(name)
            if sec is None:
                continue
            body = sec.text if len(sec.text) <= limit else sec.text[:limit] + "\n[... truncated]"
            parts.append(f"# {name} (rc={sec.rc})\n{body}")
        return "\n".join(parts)


DONE_SECTION = "__done__"


_NAME_LINE = re.compile(r"(\S+)\n")
_RC_LINE = re.compile(r"(-?\d{1,10})\n")


def _find_begin(output: str, mark: str, pos: int) -> tuple[int, str, int] | None:
    """The first begin line at or after ``pos`` that starts a line: (its start, name, where its body starts).

    Plain string search: the nonce differs on every host, and a regex built around it would be
    compiled anew for each host (most of the parse time).
    """
    head = mark + " B "
    i = output.find(head, pos)
    while i != -1:
        if i == 0 or output[i - 1] == "\n":
            m = _NAME_LINE.match(output, i + len(head))
            if m:
                return i, m.group(1), m.end()
        i = output.find(head, i + 1)
    return None


def _find_end(output: str, mark: str, name: str, pos: int, stop: int) -> tuple[int, int, int] | None:
    """The first ``\\n<mark> E <name> <rc>\\n`` inside ``output[pos:stop]``: (its start, rc, its end)."""
    head = f"\n{mark} E {name} "
    i = output.find(head, pos, stop)
    while i != -1:
        m = _RC_LINE.match(output, i + len(head), stop)
        if m:
            return i, int(m.group(1)), m.end()
        i = output.find(head, i + 1, stop)
    return None


def parse_sections(output: str, nonce: str) -> Sections:
    """Split collector output into sections. Text outside sections is ignored.

    Sections never nest (the collector closes one before it opens the next), so a section
    whose end marker does not come before the next begin marker was cut short: it keeps
    ``rc=None``. Searching for the end only up to the next begin also keeps this linear on
    hostile output full of begin markers. An exit code longer than 10 digits is no exit
    code the collector prints: the section counts as cut short.
    """
    mark = "@@" + nonce
    found: dict[str, Section] = {}
    pos = 0
    while (m := _find_begin(output, mark, pos)) is not None:
        _, name, body_start = m
        nxt = _find_begin(output, mark, body_start)
        stop = nxt[0] if nxt else len(output)
        e = _find_end(output, mark, name, body_start, stop)
        if e is None:
            # Unterminated: the output was cut. Keep what we have, flagged by rc=None.
            found.setdefault(name, Section(name, output[body_start:stop], None))
            pos = stop
            continue
        end_start, rc, end_stop = e
        # A repeated name keeps its first occurrence: a host cannot override a section.
        found.setdefault(name, Section(name, output[body_start:end_start], rc))
        pos = end_stop - 1
    return Sections(found, complete=DONE_SECTION in found)


def parse_uint(text: str) -> int | None:
    """A plain non-negative decimal number (ASCII digits only, at most 19), else None.

    ``str.isdigit`` accepts "²" and 5,000-digit strings, on which ``int`` raises.

    >>> parse_uint(" 42\\n"), parse_uint("²"), parse_uint("-1"), parse_uint("9" * 40)
    (42, None, None, None)
    """
    t = text.strip()
    return int(t) if _UINT.fullmatch(t) else None


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
