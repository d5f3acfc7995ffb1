"""Privilege facts (Linux): sudo rights, supplementary groups, file ownership and modes of running
programs and web roots.

Parses the ``privilege.*`` sections of ``privilege.sh``. Sources: sudoers(5) (``/etc/sudoers``,
``@includedir``/``#includedir`` ``/etc/sudoers.d``; user specifications ``WHO HOST = (RUNAS) TAG:
COMMANDS``; ``%group``; ``User_Alias``), ``sudo -l -U USER`` (sudo's own evaluation, every
source included: "User X may run the following commands on H:" then one rule per line, or "User X
is not allowed to run sudo on H."), ``/proc/PID/status`` ``Groups:`` (supplementary groups),
``/etc/group``, ``stat -c '%u %g %f %n'`` (owner, group, raw st_mode in hex, path).

Example::

    >>> sudo_rules("User www-data may run the following commands on web1:\\n    (ALL : ALL) NOPASSWD: ALL\\n")
    (SudoRule(text='(ALL : ALL) NOPASSWD: ALL', nopasswd=True, everything=True),)
"""

from __future__ import annotations

import re
import stat as st
from collections.abc import Mapping
from dataclasses import dataclass

from hardening.facts.areas import FactArea
from hardening.facts.sections import RC_NOT_FOUND, Sections, iter_lines, parse_uint, require_sections
from hardening.facts.sensors import file_blocks
from hardening.model import Platform

SECTIONS = ("privilege.sudoers", "privilege.group", "privilege.groups", "privilege.webroots", "privilege.stat")
_GROUPS = re.compile(r"^/proc/(\d{1,10})/status:Groups:[ \t]*([0-9 \t]*)$", re.MULTILINE)


@dataclass(frozen=True)
class SudoRule:
    text: str
    nopasswd: bool
    everything: bool  # runs any command (ALL)


@dataclass(frozen=True)
class FileMode:
    uid: int
    gid: int
    mode: int  # st_mode

    @property
    def is_dir(self) -> bool:
        return st.S_ISDIR(self.mode)

    def writable_by(self, uid: int, gids: frozenset[int]) -> bool:
        """Whether ``uid`` (with groups ``gids``) may write it (root may write anything)."""
        if uid == 0 or self.uid == uid:
            return uid == 0 or bool(self.mode & st.S_IWUSR)
        if self.gid in gids:
            return bool(self.mode & st.S_IWGRP)
        return bool(self.mode & st.S_IWOTH)


def sudo_rules(text: str) -> tuple[SudoRule, ...]:
    """The rules ``sudo -l -U USER`` lists (after "may run the following commands")."""
    out: list[SudoRule] = []
    on = False
    for line in iter_lines(text):
        if re.match(r"User \S+ may run the following commands", line):
            on = True
            continue
        if on and line.startswith((" ", "\t")) and line.strip():
            rule = line.strip()
            out.append(SudoRule(rule, "NOPASSWD" in rule, bool(re.search(r"(?:^|[:)\s,])ALL\s*$", rule))))
        elif on and line.strip():
            on = False
    return tuple(out)


def sudo_lists(text: str) -> dict[str, tuple[SudoRule, ...]]:
    """``== NAME`` blocks of ``privilege.sudo_list`` -> the rules of each account."""
    out: dict[str, tuple[SudoRule, ...]] = {}
    for m in re.finditer(r"^== (\S+)\n(.*?)^== rc (\d+)$", text, re.MULTILINE | re.DOTALL):
        out[m.group(1)] = sudo_rules(m.group(2))
    return out


@dataclass(frozen=True)
class SudoersSpec:
    """One user specification of a sudoers file, as written."""

    who: tuple[str, ...]  # user names, %group, +netgroup, aliases
    nopasswd: bool
    everything: bool
    text: str


def sudoers_specs(blocks: list[tuple[str, str]]) -> tuple[tuple[SudoersSpec, ...], dict[str, tuple[str, ...]]]:
    """User specifications and User_Alias definitions of sudoers files (continuations joined,
    comments dropped; ``#include``/``@include`` lines are directives, not comments)."""
    specs: list[SudoersSpec] = []
    aliases: dict[str, tuple[str, ...]] = {}
    for _path, text in blocks:
        joined = re.sub(r"\\\n", " ", text)
        for raw in iter_lines(joined):
            line = raw.strip()
            if not line or line.startswith(("#include", "@include")) or line.startswith("Defaults"):
                continue
            if line.startswith("#"):
                continue
            line = line.split("#", 1)[0].strip() if " #" in line else line
            m = re.match(r"User_Alias\s+([A-Z][A-Z0-9_]*)\s*=\s*(.+)", line)
            if m:
                aliases[m.group(1)] = tuple(x.strip() for x in m.group(2).split(","))
                continue
            if re.match(r"(Host|Runas|Cmnd|Cmd)_Alias\b", line):
                continue
            m = re.match(r"([^=]+?)\s+(\S+)\s*=\s*(.+)", line)
            if not m:
                continue
            who = tuple(x.strip() for x in m.group(1).split(","))
            cmds = m.group(3)
            specs.append(
                SudoersSpec(who, "NOPASSWD" in cmds, bool(re.search(r"(?:^|[:)\s,])ALL\s*(,|$)", cmds)), line[:300])
            )
    return tuple(specs), aliases


def _group_file(text: str) -> dict[str, tuple[int, tuple[str, ...]]]:
    out: dict[str, tuple[int, tuple[str, ...]]] = {}
    for line in iter_lines(text):
        parts = line.split(":")
        if len(parts) == 4 and (gid := parse_uint(parts[2])) is not None:
            out.setdefault(parts[0], (gid, tuple(m for m in parts[3].split(",") if m)))
    return out


def _stats(text: str) -> dict[str, FileMode]:
    out: dict[str, FileMode] = {}
    for line in iter_lines(text):
        parts = line.split(" ", 3)
        if len(parts) != 4 or not parts[3].startswith("/"):
            continue
        uid, gid = parse_uint(parts[0]), parse_uint(parts[1])
        try:
            mode = int(parts[2], 16)
        except ValueError:
            continue
        if uid is not None and gid is not None:
            out[parts[3]] = FileMode(uid, gid, mode)
    return out


@dataclass(frozen=True)
class PrivilegeFacts:
    sudo_listed: Mapping[str, tuple[SudoRule, ...]] | None  # None: sudo -l -U not run (not root / no sudo)
    sudoers: tuple[SudoersSpec, ...]
    sudoers_aliases: Mapping[str, tuple[str, ...]]
    sudoers_readable: bool
    groups: Mapping[str, tuple[int, tuple[str, ...]]]  # /etc/group: name -> (gid, members)
    proc_groups: Mapping[int, frozenset[int]]  # pid -> supplementary gids
    webroots: tuple[str, ...]
    files: Mapping[str, FileMode]

    def sudo_for(self, user: str, gids: frozenset[int]) -> tuple[str, ...]:
        """What sudo grants ``user``: sudo's own listing when it ran, else the sudoers specs naming it."""
        if self.sudo_listed is not None and user in self.sudo_listed:
            return tuple(r.text for r in self.sudo_listed[user])
        names = {user} | {g for g, (gid, members) in self.groups.items() if gid in gids or user in members}
        out = []
        for s in self.sudoers:
            who: set[str] = set()
            for w in s.who:
                who |= set(self.sudoers_aliases.get(w, (w,)))
            if user in who or any(f"%{g}" in who for g in names) or "ALL" in who:
                out.append(s.text)
        return tuple(out)


def parse(sections: Sections) -> PrivilegeFacts:
    require_sections(sections, "privilege", SECTIONS)
    blocks = file_blocks(sections.text("privilege.sudoers"))
    specs, aliases = sudoers_specs(blocks)
    listed = None
    if "privilege.sudo_list" in sections and sections.rc("privilege.sudo_list") not in (None, RC_NOT_FOUND):
        listed = sudo_lists(sections.text("privilege.sudo_list"))
    proc_groups = {
        int(m.group(1)): frozenset(int(g) for g in m.group(2).split() if g.isdigit() and len(g) < 11)
        for m in _GROUPS.finditer(sections.text("privilege.groups"))
    }
    roots = tuple(
        dict.fromkeys(r.strip() for r in iter_lines(sections.text("privilege.webroots")) if r.strip().startswith("/"))
    )
    return PrivilegeFacts(
        sudo_listed=listed,
        sudoers=specs,
        sudoers_aliases=aliases,
        sudoers_readable=sections.rc("privilege.sudoers") == 0 and bool(blocks),
        groups=_group_file(sections.text("privilege.group")),
        proc_groups=proc_groups,
        webroots=roots[:64],
        files=_stats(sections.text("privilege.stat")),
    )


AREAS = (FactArea("privilege", Platform.LINUX, parse, SECTIONS, order=85, piece="privilege"),)
