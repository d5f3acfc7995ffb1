"""Compliance frameworks as data: one YAML file per framework, its requirements (id, title).

Which checks give evidence for a requirement is not written here: each check names its
requirements in its own ``checks/<id>/check.yaml`` (``references``), and the framework
views are built from those (:mod:`hardening.report.frameworks`). A reference to a
requirement a framework file does not declare is refused when the check registry loads.

Example::

    >>> requirement_index()[("nist-800-53", "SC-7(5)")].framework
    'nist'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hardening.model import Platform, Reference


class FrameworkError(Exception):
    """Unknown framework name or a broken framework file (exit 2)."""


@dataclass(frozen=True)
class FrameworkFile:
    name: str  # the file name without .yaml, and the key checks use in their references
    title: str
    aliases: tuple[str, ...]  # the first is the short name results carry (Reference.framework)
    platforms: frozenset[Platform]
    requirements: tuple[tuple[str, str], ...]  # (id, title), in the file's order

    @property
    def short(self) -> str:
        return self.aliases[0] if self.aliases else self.name


def _framework_file(name: str, data: Any) -> FrameworkFile:
    try:
        reqs = tuple((str(r["id"]), str(r["title"])) for r in data["requirements"])
        return FrameworkFile(
            name=str(data["name"]),
            title=str(data["title"]),
            aliases=tuple(str(a) for a in data.get("aliases", ())),
            platforms=frozenset(Platform(p) for p in data.get("platforms", [p.value for p in Platform])),
            requirements=reqs,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FrameworkError(f"{name}: bad framework file: {exc!r}") from exc


@cache
def framework_files() -> tuple[FrameworkFile, ...]:
    """Every framework shipped in this package, by file name."""
    from hardening import shipped_yaml

    root = resources.files(__name__)
    out = []
    for entry in sorted(p.name for p in root.iterdir() if p.name.endswith(".yaml")):
        data = shipped_yaml.load(root.joinpath(entry).read_text(encoding="utf-8"))
        fw = _framework_file(entry, data)
        if fw.name != entry.removesuffix(".yaml"):
            raise FrameworkError(f"{entry}: name {fw.name!r} must be the file name")
        out.append(fw)
    return tuple(out)


@cache
def requirement_index() -> dict[tuple[str, str], Reference]:
    """``(framework name, requirement id) -> Reference`` for every declared requirement."""
    return {(f.name, rid): Reference(f.short, rid, title) for f in framework_files() for rid, title in f.requirements}
