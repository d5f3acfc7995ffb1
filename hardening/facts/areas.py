"""Fact areas: each one is a collector piece, the sections it prints and its parser, registered once.

A fact module declares its areas in a module-level ``AREAS`` tuple::

    AREAS = (FactArea("dns", Platform.LINUX, parse, SECTIONS, order=20),)

and :func:`areas` finds them (every module of :mod:`hardening.facts`). The Linux collector
is built from the Linux areas' pieces (``<piece>.sh`` beside the parser, in ``order``);
:func:`parse_all` parses each area on its own, a failure (a :class:`FactError`, or a parser
crash on hostile output) kept in place of that area's facts. A check reading a failed area
gets :class:`AreaUnavailable`, which the runner turns into an ``error`` verdict with the
area's own sections as evidence: checks carry no error boilerplate.

Example::

    >>> [a.name for a in areas(Platform.LINUX)]
    ['firewall', 'dns', 'audit', 'appcontrol', 'binaries']
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from hardening.facts.sections import FactError
from hardening.model import Platform

# What a parser can raise on input it did not expect. ValueError covers UnicodeError and
# int()'s digit limit; LookupError covers KeyError/IndexError; ArithmeticError covers
# OverflowError; RecursionError: deeply nested text fed to a recursive parser (JSON).
# Not ``Exception``: MemoryError or KeyboardInterrupt must not turn into a host's "error".
PARSER_CRASHES = (ValueError, LookupError, TypeError, ArithmeticError, RecursionError)


@dataclass(frozen=True)
class FactArea:
    """One area of host facts on one platform.

    ``sections``: every section the piece prints (Linux), or the collector JSON keys the
    parser reads (Windows); ``excerpt``: the ones shown as evidence when parsing fails
    (default: all); ``piece``: the collector piece (``hardening/facts/<piece>.sh``, Linux).
    """

    name: str
    platform: Platform
    parse: Callable[[Any], Any]
    sections: tuple[str, ...]
    order: int = 0
    piece: str = ""
    excerpt: tuple[str, ...] = ()

    @property
    def evidence_sections(self) -> tuple[str, ...]:
        return self.excerpt or self.sections


class AreaUnavailable(FactError):
    """Raised when a check reads a fact area whose parsing failed; the message is the area's error."""

    def __init__(self, area: str, error: FactError) -> None:
        super().__init__(str(error))
        self.area = area
        self.error = error


def _declares(module: str, platform: Platform) -> bool:
    """Whether fact module ``module`` (a name in :mod:`hardening.facts`) may declare ``platform``'s
    areas: the Windows ones live in ``windows*`` modules, the Linux ones in the others. So a run
    with Linux hosts only never imports the Windows parsers (nor their models: ~25 ms of start-up).
    A test holds every module to it."""
    return module.startswith("windows") == (platform is Platform.WINDOWS)


@cache
def _registered(platform: Platform) -> tuple[FactArea, ...]:
    import hardening.facts as package

    found: list[FactArea] = []
    for info in pkgutil.iter_modules(package.__path__):
        if not _declares(info.name, platform):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found += [a for a in getattr(module, "AREAS", ()) if a.platform is platform]
    names = [a.name for a in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"fact areas declared twice: {sorted(n for n in names if names.count(n) > 1)}")
    return tuple(sorted(found, key=lambda a: (a.order, a.name)))


def areas(platform: Platform) -> tuple[FactArea, ...]:
    """The platform's fact areas, in collector order."""
    return _registered(platform)


def area(platform: Platform, name: str) -> FactArea:
    for a in areas(platform):
        if a.name == name:
            return a
    raise KeyError(f"no {platform.value} fact area {name!r}")


def parse_area(a: FactArea, source: Any) -> Any:
    """``a.parse(source)``; a parser failure or crash on hostile output comes back as a FactError."""
    try:
        return a.parse(source)
    except FactError as exc:
        return exc
    except PARSER_CRASHES as exc:
        # A parser bug or hostile output must never become a pass.
        return FactError(f"could not parse {a.name} facts: {exc!r}")


def parse_all(platform: Platform, source: Any) -> dict[str, Any]:
    """Every area of ``platform`` parsed from ``source`` (Sections or the Windows JSON)."""
    return {a.name: parse_area(a, source) for a in areas(platform)}


class AreaFacts:
    """Parsed areas read as attributes (``facts.firewall``); a failed area raises :class:`AreaUnavailable`."""

    areas: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "areas":
            raise AttributeError(name)
        try:
            value = self.areas[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no fact area {name!r}") from None
        if isinstance(value, FactError):
            raise AreaUnavailable(name, value)
        return value

    def optional(self, name: str) -> Any | None:
        """The area's facts, or None when it could not be parsed (for a check that can do without)."""
        value = self.areas.get(name)
        return None if isinstance(value, FactError) else value

    def error(self, name: str) -> FactError | None:
        value = self.areas.get(name)
        return value if isinstance(value, FactError) else None
