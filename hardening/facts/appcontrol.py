"""Application-control facts (Linux): SELinux and AppArmor, running state first, config second.

Parses the ``appcontrol.*`` sections of ``appcontrol.sh``. Sources, all documented kernel
interfaces: ``/sys/fs/selinux/enforce`` (selinuxfs: "1" enforcing, "0" permissive; absent when
SELinux is not running), ``/etc/selinux/config`` (``SELINUX=``, read at boot),
``/sys/module/apparmor/parameters/enabled`` ("Y"/"N"), ``/sys/kernel/security/apparmor/profiles``
(one ``name (mode)`` line per loaded profile; root only), ``/sys/kernel/security/lsm`` (active
LSMs, comma separated) and the kernel command line (``selinux=``, ``enforcing=``, ``apparmor=``,
``security=``, ``lsm=``).

Example::

    >>> parse_profiles("/usr/sbin/cupsd (enforce)\\nnvidia_modprobe (complain)\\n")
    (('/usr/sbin/cupsd', 'enforce'), ('nvidia_modprobe', 'complain'))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hardening.facts.areas import FactArea
from hardening.facts.sections import RC_NOT_FOUND, FactError, Sections, iter_lines, parse_uint, require_sections
from hardening.model import Platform

CMDLINE_KEYS = ("selinux", "enforcing", "apparmor", "security", "lsm")
_PROFILE_RE = re.compile(r"^(.+) \(([a-z_]+)\)$")
ENFORCING_MODES = frozenset({"enforce", "kill"})  # kill: enforce, and kill the offending task
# Every section appcontrol.sh prints, whatever the host has (appcontrol.aa_status is optional).
SECTIONS = (
    "appcontrol.cmdline",
    "appcontrol.lsm",
    "appcontrol.mounts",
    "appcontrol.attr_current",
    "appcontrol.selinux_enforce",
    "appcontrol.selinux_config",
    "appcontrol.getenforce",
    "appcontrol.apparmor_enabled",
    "appcontrol.apparmor_profiles",
)


@dataclass(frozen=True)
class SELinuxFacts:
    enforce: int | None  # running mode from selinuxfs: 1 enforcing, 0 permissive, None not running
    enforce_error: str  # why /sys/fs/selinux/enforce could not be read (when it exists)
    config_mode: str | None  # SELINUX= in /etc/selinux/config, lower case; None: no file
    config_type: str
    getenforce: str | None  # getenforce's answer; None: tool absent

    @property
    def running(self) -> bool:
        return self.enforce is not None


@dataclass(frozen=True)
class AppArmorFacts:
    module_enabled: bool | None  # /sys/module/apparmor/parameters/enabled; None: not built/loaded
    profiles: tuple[tuple[str, str], ...] | None  # (name, mode); None: could not be read
    profiles_error: str

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, mode in self.profiles or ():
            out[mode] = out.get(mode, 0) + 1
        return out

    @property
    def enforced(self) -> int:
        return sum(1 for _, mode in self.profiles or () if mode in ENFORCING_MODES)


@dataclass(frozen=True)
class AppControlFacts:
    uid: int | None
    cmdline: Mapping[str, str]  # the CMDLINE_KEYS present on the kernel command line
    lsm: tuple[str, ...] | None  # active LSMs; None when securityfs is not readable
    securityfs_mounted: bool
    process_label: str | None  # /proc/self/attr/current; None when no major LSM answers
    selinux: SELinuxFacts
    apparmor: AppArmorFacts


def parse_cmdline(text: str) -> dict[str, str]:
    """The LSM-related ``key=value`` parameters of a kernel command line (last one wins).

    Words after a lone ``--`` belong to init, not the kernel, and are ignored.

    >>> parse_cmdline("ro quiet selinux=0 lsm=landlock,yama -- selinux=1")
    {'selinux': '0', 'lsm': 'landlock,yama'}
    """
    out: dict[str, str] = {}
    for word in text.split():
        if word == "--":
            break
        key, eq, value = word.partition("=")
        if eq and key in CMDLINE_KEYS:
            out[key] = value
    return out


def parse_profiles(text: str) -> tuple[tuple[str, str], ...]:
    """AppArmor's ``profiles`` file: ``name (mode)`` lines. Raises FactError on other lines."""
    out = []
    for line in iter_lines(text):
        if not line.strip():
            continue
        m = _PROFILE_RE.match(line.strip())
        if not m:
            raise FactError(f"unexpected line in /sys/kernel/security/apparmor/profiles: {line[:120]!r}")
        out.append((m.group(1), m.group(2)))
    return tuple(out)


def parse_selinux_config(text: str) -> tuple[str | None, str]:
    """``SELINUX=`` and ``SELINUXTYPE=`` of /etc/selinux/config (shell-like, last one wins)."""
    mode: str | None = None
    kind = ""
    for raw in iter_lines(text):
        line = raw.strip()
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip().strip("\"'").lower()
        if key.strip() == "SELINUX":
            mode = value
        elif key.strip() == "SELINUXTYPE":
            kind = value
    return mode, kind


def _reason(sections: Sections, name: str) -> str:
    err = sections.stderr(name).strip()
    return err or f"rc={sections.rc(name)}"


def _selinux(sections: Sections) -> SELinuxFacts:
    enforce: int | None = None
    enforce_error = ""
    rc = sections.rc("appcontrol.selinux_enforce")
    if rc == 0:
        value = sections.text("appcontrol.selinux_enforce").strip()
        if value not in ("0", "1"):
            raise FactError(f"/sys/fs/selinux/enforce holds {value[:40]!r}, expected 0 or 1")
        enforce = int(value)
    elif rc not in (RC_NOT_FOUND, None):
        enforce_error = _reason(sections, "appcontrol.selinux_enforce")
    config_mode: str | None = None
    config_type = ""
    if sections.rc("appcontrol.selinux_config") == 0:
        config_mode, config_type = parse_selinux_config(sections.text("appcontrol.selinux_config"))
        config_mode = config_mode or ""
    getenforce = None
    if sections.rc("appcontrol.getenforce") not in (RC_NOT_FOUND, None):
        getenforce = sections.text("appcontrol.getenforce").strip()
    return SELinuxFacts(enforce, enforce_error, config_mode, config_type, getenforce)


def _apparmor(sections: Sections) -> AppArmorFacts:
    enabled: bool | None = None
    rc = sections.rc("appcontrol.apparmor_enabled")
    if rc not in (0, RC_NOT_FOUND):
        raise FactError(
            "/sys/module/apparmor/parameters/enabled exists but could not be read: "
            + _reason(sections, "appcontrol.apparmor_enabled")
        )
    if rc == 0:
        value = sections.text("appcontrol.apparmor_enabled").strip()
        if value not in ("Y", "N"):
            raise FactError(f"/sys/module/apparmor/parameters/enabled holds {value[:40]!r}, expected Y or N")
        enabled = value == "Y"
    profiles = None
    error = ""
    rc = sections.rc("appcontrol.apparmor_profiles")
    if rc == 0:
        profiles = parse_profiles(sections.text("appcontrol.apparmor_profiles"))
    elif rc == RC_NOT_FOUND:
        error = "/sys/kernel/security/apparmor/profiles does not exist"
    elif rc is not None:
        error = "/sys/kernel/security/apparmor/profiles is unreadable: " + _reason(
            sections, "appcontrol.apparmor_profiles"
        )
    return AppArmorFacts(enabled, profiles, error)


def parse(sections: Sections) -> AppControlFacts:
    """Parse the ``appcontrol.*`` sections; :class:`FactError` when missing or garbled."""
    if "appcontrol.cmdline" not in sections or "appcontrol.selinux_enforce" not in sections:
        raise FactError("the collector output has no appcontrol sections (output cut short?): rerun the audit")
    require_sections(sections, "appcontrol", SECTIONS)
    for name in ("appcontrol.cmdline", "appcontrol.mounts"):
        # /proc/cmdline is world-readable and the mounts step ends in ":": a failure means the
        # host could hide selinux=0 or enforcing=0, so it is an error.
        if sections.rc(name) != 0:
            raise FactError(f"reading {name} failed: {_reason(sections, name)}")
    lsm = None
    if sections.rc("appcontrol.lsm") == 0:
        lsm = tuple(x for x in sections.text("appcontrol.lsm").strip().split(",") if x)
    mounts = sections.text("appcontrol.mounts").split()
    label = None
    if sections.rc("appcontrol.attr_current") == 0:
        label = sections.text("appcontrol.attr_current").replace("\x00", "").strip() or None
    return AppControlFacts(
        uid=parse_uint(sections.text("meta.id")) if sections.rc("meta.id") == 0 else None,
        cmdline=parse_cmdline(sections.text("appcontrol.cmdline")),
        lsm=lsm,
        securityfs_mounted="securityfs" in mounts,
        process_label=label,
        selinux=_selinux(sections),
        apparmor=_apparmor(sections),
    )


AREAS = (FactArea("appcontrol", Platform.LINUX, parse, SECTIONS, order=40, piece="appcontrol"),)
