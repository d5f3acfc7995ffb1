"""Suppressions: known-benign patterns a site accepts, each with a justification.

A YAML file (``harden hunt --suppress FILE``, read with ``yaml.safe_load``)::

    suppressions:
      - process: "python3"                 # regex, full match on the process name (comm)
        exe: "/usr/bin/python3\\.11"        # regex, full match on the executable path
        parent: "systemd"                  # regex, full match on the parent's name
        user: "backup"                     # regex, full match on the user name
        cmdline: "/opt/backup/agent\\.py"   # regex, searched in the command line
        remote: ["10.20.0.0/16"]           # the detection's peer must be inside one of these
        hosts: "db-*"                      # fnmatch pattern(s) on the inventory host name
        container: "backup-.*"             # regex, full match on the container's name (or id)
        image: "registry\\.corp/backup:.*"   # regex, full match on the container's image
        namespace: "ops"                   # regex, full match on the Kubernetes namespace
        max_severity: medium               # never hides a detection above this (default: high)
        justification: "nightly backup agent keeps a connection to the vault"

Every given field must match; at least one of process/exe/parent/cmdline/user/remote is
required, and a justification always is. ``hosts``, ``container``, ``image`` and ``namespace``
only narrow where a rule applies: a rule with ``container``, ``image`` or ``namespace`` never
matches a process outside a container (nor one whose runtime did not name it). A suppressed
detection is not dropped: it moves to ``suppressed[]`` in hunt.json with its justification, and
does not count for the exit code.

Example::

    rules = load_suppressions(Path("suppress.yaml"))
    kept, hidden = apply_suppressions(detections, "web1", rules)
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from hardening.hunt.model import Detection, Tier
from hardening.hunt.score import Network, parse_networks

_FIELDS = {
    "process", "exe", "parent", "user", "cmdline", "remote", "hosts", "container", "image", "namespace",
    "max_severity", "justification",
}  # fmt: skip
_MATCHERS = ("process", "exe", "parent", "user", "cmdline", "remote")


class SuppressionError(Exception):
    """The suppression file cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class Suppression:
    justification: str
    process: re.Pattern[str] | None = None
    exe: re.Pattern[str] | None = None
    parent: re.Pattern[str] | None = None
    user: re.Pattern[str] | None = None
    cmdline: re.Pattern[str] | None = None
    remote: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()
    max_severity: Tier = Tier.HIGH
    container: re.Pattern[str] | None = None
    image: re.Pattern[str] | None = None
    namespace: re.Pattern[str] | None = None

    def in_scope(self, d: Detection) -> bool:
        """The container, image and Kubernetes namespace, when the rule names them."""
        if self.container is None and self.image is None and self.namespace is None:
            return True
        c = d.container
        if c is None:
            return False
        names = [n for n in (c.name, c.id) if n]
        return (
            (self.container is None or any(self.container.fullmatch(n) for n in names))
            and (self.image is None or (bool(c.image) and bool(self.image.fullmatch(c.image))))
            and (self.namespace is None or (bool(c.namespace) and bool(self.namespace.fullmatch(c.namespace))))
        )

    def matches(self, d: Detection, host: str) -> bool:
        if self.hosts and not any(fnmatch.fnmatchcase(host, h) for h in self.hosts):
            return False
        if d.severity.rank > self.max_severity.rank or not self.in_scope(d):
            return False
        parent = d.parents[0].rsplit("(", 1)[0] if d.parents else ""
        for pattern, value in (
            (self.process, d.process),
            (self.exe, d.exe),
            (self.parent, parent),
            (self.user, d.user),
        ):
            if pattern is not None and not pattern.fullmatch(value):
                return False
        if self.cmdline is not None and not self.cmdline.search(d.cmdline):
            return False
        if self.remote:
            address = d.remote.rpartition(":")[0].strip("[]")
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            if not any(ip.version == n.version and ip in n for n in self.remote):
                return False
        return True


def _regex(entry: int, key: str, value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise SuppressionError(f"suppression #{entry}: {key} must be a non-empty regex string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise SuppressionError(f"suppression #{entry}: {key} {value!r} is not a valid regex: {exc}") from None


def parse_suppressions(doc: Any, source: str = "suppressions") -> tuple[Suppression, ...]:
    """Validate a loaded YAML document into suppressions (raises :class:`SuppressionError`)."""
    if doc is None:
        return ()
    if not isinstance(doc, dict) or not isinstance(doc.get("suppressions"), list):
        raise SuppressionError(f"{source}: expected a mapping with a 'suppressions' list")
    out = []
    for i, raw in enumerate(doc["suppressions"], start=1):
        if not isinstance(raw, dict):
            raise SuppressionError(f"{source}: suppression #{i} is not a mapping")
        unknown = set(map(str, raw)) - _FIELDS
        if unknown:
            raise SuppressionError(f"{source}: suppression #{i}: unknown field(s) {', '.join(sorted(unknown))}")
        why = raw.get("justification")
        if not isinstance(why, str) or not why.strip():
            raise SuppressionError(f"{source}: suppression #{i} needs a justification")
        if not any(raw.get(k) not in (None, "", []) for k in _MATCHERS):
            raise SuppressionError(
                f"{source}: suppression #{i} matches everything: give process, exe, parent, user, cmdline or remote"
            )
        try:
            remote = parse_networks(raw.get("remote"), f"suppression #{i} remote")
        except ValueError as exc:
            raise SuppressionError(f"{source}: {exc}") from None
        hosts = raw.get("hosts") or ()
        hosts = (hosts,) if isinstance(hosts, str) else tuple(str(h) for h in hosts)
        try:
            max_sev = Tier(str(raw.get("max_severity") or "high").lower())
        except ValueError:
            raise SuppressionError(f"{source}: suppression #{i}: max_severity must be high, medium or low") from None
        out.append(
            Suppression(
                justification=why.strip(),
                process=_regex(i, "process", raw.get("process")),
                exe=_regex(i, "exe", raw.get("exe")),
                parent=_regex(i, "parent", raw.get("parent")),
                user=_regex(i, "user", raw.get("user")),
                cmdline=_regex(i, "cmdline", raw.get("cmdline")),
                remote=remote,
                hosts=hosts,
                max_severity=max_sev,
                container=_regex(i, "container", raw.get("container")),
                image=_regex(i, "image", raw.get("image")),
                namespace=_regex(i, "namespace", raw.get("namespace")),
            )
        )
    return tuple(out)


def load_suppressions(path: Path) -> tuple[Suppression, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuppressionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SuppressionError(f"{path}: not valid YAML: {exc}") from None
    return parse_suppressions(doc, str(path))


def apply_suppressions(
    detections: Iterable[Detection], host: str, rules: Iterable[Suppression]
) -> tuple[tuple[Detection, ...], tuple[Detection, ...]]:
    """(kept, suppressed); a suppressed detection carries the justification that hid it."""
    rules = tuple(rules)
    kept: list[Detection] = []
    hidden: list[Detection] = []
    for d in detections:
        rule = next((r for r in rules if r.matches(d, host)), None)
        if rule is None:
            kept.append(d)
        else:
            hidden.append(replace(d, suppressed_by=rule.justification))
    return tuple(kept), tuple(hidden)
