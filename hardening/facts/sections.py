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


def parse_sections(output: str, nonce: str) -> Sections:
    """Split collector output into sections. Text outside sections is ignored.

    Sections never nest (the collector closes one before it opens the next), so a section
    whose end marker does not come before the next begin marker was cut short: it keeps
    ``rc=None``. Searching for the end only up to the next begin also keeps this linear on
    hostile output full of begin markers. An exit code longer than 10 digits is no exit
    code the collector prints: the section counts as cut short.
    """
    mark = "@@" + nonce
    begin = re.compile(rf"^{re.escape(mark)} B (\S+)\n", re.MULTILINE)
    found: dict[str, Section] = {}
    pos = 0
    while True:
        m = begin.search(output, pos)
        if not m:
            break
        name = m.group(1)
        nxt = begin.search(output, m.end())
        stop = nxt.start() if nxt else len(output)
        end = re.compile(rf"\n{re.escape(mark)} E {re.escape(name)} (-?\d{{1,10}})\n")
        e = end.search(output, m.end(), stop)
        if e is None:
            # Unterminated: the output was cut. Keep what we have, flagged by rc=None.
            found.setdefault(name, Section(name, output[m.end() : stop], None))
            pos = stop
            continue
        body = output[m.end() : e.start()]
        # A repeated name keeps its first occurrence: a host cannot override a section.
        found.setdefault(name, Section(name, body, int(e.group(1))))
        pos = e.end() - 1
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
