"""Blank passwords in what hosts send back, in every form an output could show them.

A host that gets a password (it plays sudo and receives the become password, or runs the
SSH server and sees the login password) can echo it into its output, and so into messages,
evidence, every report and the terminal. It can also interleave it with characters that
some output drops or that nobody sees, so that a search for the plain password misses it
while a report shows it whole::

    hun\\x1b[0mter42    h\\x00u\\x08nter42    hunter\\r42    hun\\u200bter42    hun\\x1b]0;x\\x07ter42

The outputs normalise host text as follows (:mod:`hardening.report.text`, :mod:`hardening.console`):

* HTML, SARIF, Markdown code blocks, ``harden apply``: ANSI escape sequences
  (:data:`ANSI_SEQUENCE`), then C0/C1 control characters, are dropped (``strip_control``);
* JUnit: the same, then surrogates and U+FFFE/U+FFFF (``xml_safe``);
* Markdown text and one-line terminal text: the same, then runs of whitespace become one
  space (``terminal_safe``);
* the terminal (``console.safe``) shows controls as ``\\xNN`` text;
* JSON (results.json, hosts.jsonl, hunt.json, verify.json) keeps strings exactly: whoever
  reads them with ``jq -r`` or strips control characters sees the letters joined;
* browsers and terminals draw no default-ignorable characters (zero-width spaces, bidi
  controls, soft hyphens, variation selectors: :data:`INVISIBLE`).

So a password is matched with any run of the characters those drop between its letters
(:data:`IGNORABLE`: C0, DEL, C1, default-ignorable, surrogates, U+FFFE/U+FFFF), and also
with whole ANSI sequences among them (tokenised as ``strip_control`` does), and a
whitespace character of a password matches any run of whitespace and ignorables. The
whole match, junk included, becomes :data:`REDACTED`, until nothing matches. Whatever the
outputs then drop or collapse, no output shows the password: each view of the text is
covered by one of the two patterns (tests/hostile/test_redact.py checks that property).

A host that knows the password can still print it in a form no normalisation undoes
(reversed, base64, spelt out, look-alike letters): redaction is about outputs revealing a
secret by accident, not about a host that wants to publish it (it has it already).

Example::

    >>> r = Redactor.of(["hunter42", None, "ab"])
    >>> r.text("sudo: hun\\x1b[0mter42 and h\\x00u\\x08nter42, hunter\\r42")
    'sudo: ******** and ********, ********'
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

REDACTED = "********"
MIN_SECRET = 4  # shorter secrets are left alone: blanking them would shred the text

#: An ANSI (ECMA-48) escape sequence as ``strip_control`` drops it: CSI, OSC (ended by BEL or ST),
#: or ESC, intermediate bytes and a final byte (``ESC ( B`` of ``tput sgr0``, ``ESC M``...).
ANSI_SEQUENCE = r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])"
#: C0 controls (tab, newline and CR included), DEL and C1 controls.
CONTROL = "\x00-\x1f\x7f-\x9f"
#: Unicode's Default_Ignorable_Code_Point characters (drawn as nothing: zero-width, bidi, joiners,
#: variation selectors...) and the other format characters (category Cf).
INVISIBLE = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
#: What XML 1.0 forbids beyond the controls above (``xml_safe`` drops them).
XML_ILLEGAL = "\ud800-\udfff\ufffe\uffff"
#: Every character some output drops or nobody sees, as a regex character class.
IGNORABLE = f"[{CONTROL}{INVISIBLE}{XML_ILLEGAL}]"

_CHAR_GAP = f"{IGNORABLE}*+"
_SEQ_GAP = f"(?:{ANSI_SEQUENCE}|{IGNORABLE})*+"
_CHAR_SPACE = rf"(?:{IGNORABLE}|\s)++"
_SEQ_SPACE = rf"(?:{ANSI_SEQUENCE}|{IGNORABLE}|\s)++"


def _pattern(secret: str, gap: str, space: str) -> str:
    """``secret`` with ``gap`` between its letters; a run of whitespace in it matches ``space``.

    The gaps are possessive: each consumes the whole run of ignorables (or of ANSI sequences
    and ignorables, read left to right as ``strip_control`` reads them) and never gives a
    character back, so a search costs linear time on any text.
    """
    parts: list[str] = []
    prev_space = True  # no gap before the first token
    for run in re.findall(r"\s+|\S", secret):
        if run.isspace():
            parts.append(space)
            prev_space = True
            continue
        if not prev_space:
            parts.append(gap)
        parts.append(re.escape(run))
        prev_space = False
    return "".join(parts)


def _separator(words: Iterable[str]) -> str:
    """A character that is no password letter, no whitespace and nothing ignorable."""
    used = set("".join(words))
    return next(c for c in "\U000f0000\U000f0001\U000f0002\ue000\ue001" if c not in used)


@dataclass(frozen=True)
class Redactor:
    """Blanks a set of secrets in host text (see the module docstring). Empty: changes nothing."""

    pattern: re.Pattern[str] | None = None
    separator: str = "\ue000"

    @classmethod
    def of(cls, secrets: Iterable[str | None]) -> Redactor:
        words = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=lambda w: (-len(w), w))
        return _redactor(tuple(words)) if words else cls()

    def __bool__(self) -> bool:
        return self.pattern is not None

    def found(self, strings: Iterable[str]) -> bool:
        """Whether any of ``strings`` holds a secret (one search over them all)."""
        if self.pattern is None:
            return False
        return self.pattern.search(self.separator.join(strings)) is not None

    def text(self, value: str) -> str:
        """``value`` with every secret blanked, junk between its letters included."""
        if self.pattern is None or not value:
            return value
        for _ in range(8):  # a blank can bring letters on its two sides into a new match: again
            new = self.pattern.sub(REDACTED, value)
            if new == value:
                return value
            value = new
        return value

    def raw(self, data: bytes) -> bytes:
        """Raw output (any bytes) with every secret blanked; bytes that are not UTF-8 stay as they were
        (and count as invisible between a password's letters)."""
        if self.pattern is None or not data:
            return data
        text = data.decode("utf-8", "surrogateescape")
        blanked = self.text(text)
        return data if blanked == text else blanked.encode("utf-8", "surrogateescape")

    def data(self, value: Any) -> Any:
        """JSON-like data (str, list, tuple, dict keys and values) with every string blanked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        return value

    def record(self, value: Any, keep: frozenset[str] = frozenset()) -> Any:
        """A frozen dataclass (nested ones, tuples and mappings of them too) with every string field
        blanked, except the fields named in ``keep`` at the top. Enums are left as they are."""
        if isinstance(value, Enum) or self.pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if f.name in keep or not f.init:
                    continue
                old = getattr(value, f.name)
                new = self.record(old)
                if new is not old and new != old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        if isinstance(value, tuple):
            return tuple(self.record(v) for v in value)
        if isinstance(value, list):
            return [self.record(v) for v in value]
        if isinstance(value, Mapping):
            return {self.record(k): self.record(v) for k, v in value.items()}
        return value


R = TypeVar("R")

#: Fields of a per-host record that come from the inventory, not from the host: never blanked.
INVENTORY_FIELDS = frozenset({"name", "address"})


def redact_host(record: R, secrets: Iterable[str | None], keep: frozenset[str] = INVENTORY_FIELDS) -> R:
    """A host's record (a frozen dataclass: what hunt, verify or allowlist learnt of one host) with the
    host's passwords (``Target.secrets``) blanked in every string, except the fields in ``keep``.

    The one way hunt, verify and allowlist blank a host's passwords (audit blanks its results the
    same way, walking their evidence facts faster: ``hardening.audit.redact``).

    >>> from hardening.hunt.run import HostHunt
    >>> from hardening.model import HostStatus, Platform
    >>> h = HostHunt("web1", "10.0.0.1", Platform.LINUX, HostStatus.ERROR, "sudo: hun\x1b[0mter42")
    >>> redact_host(h, ("hunter42", None)).message
    'sudo: ********'
    """
    result: R = Redactor.of(secrets).record(record, keep=keep)
    return result


@lru_cache(maxsize=256)
def _redactor(words: tuple[str, ...]) -> Redactor:
    """The redactor of ``words`` (longest first), built once per set of passwords: a fleet shares a few."""
    alternatives = [_pattern(w, _CHAR_GAP, _CHAR_SPACE) for w in words]
    alternatives += [_pattern(w, _SEQ_GAP, _SEQ_SPACE) for w in words]
    return Redactor(re.compile("|".join(f"(?:{a})" for a in alternatives)), _separator(words))


def json_strings(value: Any, out: list[str] | None = None) -> list[str]:
    """Every string (keys included) of JSON-like data: what :func:`strings_of` gives, faster for
    the evidence facts of every host (plain dicts, lists and tuples only)."""
    out = [] if out is None else out
    kind = type(value)
    if kind is str:
        out.append(value)
    elif kind is dict:
        for k, v in value.items():
            out.append(k if type(k) is str else str(k))
            if type(v) is not str:
                json_strings(v, out)
            else:
                out.append(v)
    elif kind is list or kind is tuple:
        for v in value:
            if type(v) is str:
                out.append(v)
            else:
                json_strings(v, out)
    elif isinstance(value, str | Mapping | list | tuple):  # subclasses: the general walk
        out.extend(strings_of(value))
    return out


def strings_of(value: Any) -> Iterator[str]:
    """Every string in JSON-like data or frozen dataclasses (keys included), for :meth:`Redactor.found`."""
    if isinstance(value, Enum):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from strings_of(k)
            yield from strings_of(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from strings_of(v)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from strings_of(getattr(value, f.name))


def scrub_files(root: Path, redactor: Redactor) -> None:
    """Blank the inventory's passwords in every file under ``root`` (ansible-runner's artifacts: its
    stdout holds Ansible's display of host results, job_events the results as JSON). JSON files are
    read as JSON: an escaped control character between a password's letters is a character again there."""
    if not redactor or not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        new = data
        if path.suffix == ".json":
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if doc is not None and redactor.found(strings_of(doc)):
                new = json.dumps(redactor.data(doc), ensure_ascii=False).encode()
        new = redactor.raw(new)
        if new != data:
            path.write_bytes(new)
