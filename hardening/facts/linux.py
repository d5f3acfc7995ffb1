"""All parsed facts of one Linux host, built from one collector run.

Each area is parsed independently: a parse failure in one (a :class:`FactError`) turns
only the checks that need it into ``error``.

Example::

    facts = gather(parse_sections(output, nonce))
    if isinstance(facts.firewall, FactError): ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hardening.facts import appcontrol, audit, binaries, dns, firewall
from hardening.facts.sections import FactError, Sections, parse_uint
from hardening.model import Evidence, Status, Verdict

T = TypeVar("T")


@dataclass(frozen=True)
class LinuxFacts:
    sections: Sections
    uid: int | None
    firewall: firewall.FirewallFacts | FactError
    dns: dns.DnsFacts | FactError
    audit: audit.AuditFacts | FactError
    appcontrol: appcontrol.AppControlFacts | FactError
    binaries: binaries.BinaryFacts | FactError

    @property
    def is_root(self) -> bool:
        return self.uid == 0


# What a parser can raise on input it did not expect. ValueError covers UnicodeError and
# int()'s digit limit; LookupError covers KeyError/IndexError; ArithmeticError covers
# OverflowError; RecursionError: deeply nested text fed to a recursive parser (JSON).
# Not ``Exception``: MemoryError or KeyboardInterrupt must not turn into a host's "error".
PARSER_CRASHES = (ValueError, LookupError, TypeError, ArithmeticError, RecursionError)


def _safe(parse: Callable[[Sections], T], sections: Sections) -> T | FactError:
    """``parse(sections)``, with any parser crash on hostile or broken output as a FactError."""
    try:
        return parse(sections)
    except FactError as exc:
        return exc
    except PARSER_CRASHES as exc:
        # A parser bug or hostile output must never become a pass.
        return FactError(f"could not parse {parse.__module__.rsplit('.', 1)[-1]} facts: {exc!r}")


def _uid(sections: Sections) -> int | None:
    if sections.rc("meta.id") != 0:
        return None
    try:
        return parse_uint(sections.text("meta.id"))
    except FactError:  # a huge section that is not decoded: no uid
        return None


def gather(sections: Sections) -> LinuxFacts:
    return LinuxFacts(
        sections=sections,
        uid=_uid(sections),
        firewall=_safe(firewall.parse, sections),
        dns=_safe(dns.parse, sections),
        audit=_safe(audit.parse, sections),
        appcontrol=_safe(appcontrol.parse, sections),
        binaries=_safe(binaries.parse, sections),
    )


def error_verdict(err: FactError, sections: Sections, *names: str) -> Verdict:
    """The verdict of a check whose facts could not be read."""
    return Verdict(Status.ERROR, str(err), Evidence({"error": str(err)}, sections.excerpt(*names)))


def facts_json(value: Any) -> Any:
    """Helper for evidence: dataclass-free JSON of simple values."""
    if isinstance(value, tuple | list | set | frozenset):
        return [facts_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): facts_json(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
