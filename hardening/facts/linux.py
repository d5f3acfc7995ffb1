"""All parsed facts of one Linux host, built from one collector run.

Each registered fact area (:mod:`hardening.facts.areas`) is parsed independently: a parse
failure in one turns only the checks that read it into ``error``.

Example::

    facts = gather(parse_sections(output, nonce))
    facts.firewall            # FirewallFacts, or AreaUnavailable raised
    facts.optional("dns")     # DnsFacts or None
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hardening.facts.areas import AreaFacts, AreaUnavailable, area, parse_all
from hardening.facts.sections import FactError, Sections, parse_uint
from hardening.model import Evidence, Platform, Status, Verdict


@dataclass(frozen=True)
class LinuxFacts(AreaFacts):
    """One Linux host's facts: ``facts.firewall``, ``facts.dns``, ... (one per registered area).

    Reading an area whose parsing failed raises :class:`AreaUnavailable` (see
    :mod:`hardening.facts.areas`); :meth:`unavailable` is the check's verdict then.
    """

    sections: Sections
    uid: int | None
    areas: Mapping[str, Any]

    @property
    def is_root(self) -> bool:
        return self.uid == 0

    def unavailable(self, exc: AreaUnavailable) -> Verdict:
        """The verdict of a check whose fact area could not be read."""
        names = area(Platform.LINUX, exc.area).evidence_sections
        return error_verdict(exc.error, self.sections, *names)


def _uid(sections: Sections) -> int | None:
    if sections.rc("meta.id") != 0:
        return None
    try:
        return parse_uint(sections.text("meta.id"))
    except FactError:  # a huge section that is not decoded: no uid
        return None


def gather(sections: Sections) -> LinuxFacts:
    """Parse every registered Linux fact area from one collector run."""
    return LinuxFacts(sections=sections, uid=_uid(sections), areas=parse_all(Platform.LINUX, sections))


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
