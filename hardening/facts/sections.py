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
from collections.abc import Mapping
from dataclasses import dataclass

RC_NOT_FOUND = 127


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
    """Split collector output into sections. Text outside sections is ignored."""
    mark = "@@" + nonce
    begin = re.compile(rf"^{re.escape(mark)} B (\S+)\n", re.MULTILINE)
    found: dict[str, Section] = {}
    pos = 0
    while True:
        m = begin.search(output, pos)
        if not m:
            break
        name = m.group(1)
        end = re.compile(rf"\n{re.escape(mark)} E {re.escape(name)} (-?\d+)\n")
        e = end.search(output, m.end())
        if e is None:
            # Unterminated: the output was cut. Keep what we have, flagged by rc=None.
            nxt = begin.search(output, m.end())
            stop = nxt.start() if nxt else len(output)
            found.setdefault(name, Section(name, output[m.end() : stop], None))
            pos = stop
            continue
        body = output[m.end() : e.start()]
        # A repeated name keeps its first occurrence: a host cannot override a section.
        found.setdefault(name, Section(name, body, int(e.group(1))))
        pos = e.end() - 1
    return Sections(found, complete=DONE_SECTION in found)


class FactError(Exception):
    """A fact area could not be read or parsed. The message says why, for a person.

    Parsers raise it; :func:`hardening.facts.linux.gather` stores it in place of the
    facts, and every check that needs that area reports ``error`` (never ``pass``).
    """
