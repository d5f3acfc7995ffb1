"""Binary facts: netcat-likes (nc, ncat, netcat, socat, busybox) present on the host.

Parses ``binaries.found`` (13 NUL-terminated fields per path, see ``binaries.sh``) and
``binaries.dpkg`` (``dpkg-query -S`` over every path, real path and merged-/usr
spelling). Paths that resolve to the same file become one :class:`Binary` with all its
names, so ``/usr/bin/nc -> /etc/alternatives/nc -> /bin/nc.openbsd`` is one finding.

Package ownership is per path, never borrowed from what a link points at: a user's
``ln -s /usr/sbin/sshd /tmp/x/nc`` is an unpackaged link (a :class:`NamedPath` with no
packages), not a finding of openssh-server. A package is proposed for removal
(:attr:`Binary.removable_packages`) only when a path found is itself owned by it, sits where
only root can write (every directory above it, as written and physically), is root's, and
the package is a netcat-like by its own name (:data:`NETCAT_PACKAGES`).

Pure: no I/O. Hostile names (newlines, tabs) survive because fields are NUL-framed.

Example::

    facts = parse(parse_sections(output, nonce))
    [(b.real_path, b.flavor, b.exec_support) for b in facts.binaries]
    # [('/usr/bin/nc.openbsd', 'openbsd-nc', 'no'), ...]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hardening.facts.areas import FactArea
from hardening.facts.sections import RC_NOT_FOUND, FactError, Sections, parse_uint, require_sections
from hardening.model import Platform

FIELDS = 13
SECTIONS = ("binaries.found", "binaries.dpkg")  # every section binaries.sh prints
MERGED_USR = (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/usr/lib/", "/lib/"))
DROP_DIRS = ("/tmp/", "/var/tmp/", "/dev/shm/", "/home/", "/root/")
LOCAL_DIRS = ("/usr/local/", "/opt/")
#: Packages that are netcat-likes by their own identity (Debian, Ubuntu, RHEL/Fedora, SUSE,
#: Arch, Alpine). Only these are ever proposed for removal; any other owner (nmap, coreutils,
#: openssh-server...) is reported for a person.
NETCAT_PACKAGES = frozenset(
    {
        "netcat",
        "netcat-openbsd",
        "netcat-traditional",
        "ncat",
        "nmap-ncat",
        "socat",
        "busybox",
        "busybox-static",
        "busybox-extras",
        "openbsd-netcat",
        "gnu-netcat",
    }
)
_S_IFMT, _S_IFDIR, _S_IFLNK = 0o170000, 0o040000, 0o120000


@dataclass(frozen=True)
class FoundPath:
    """One path the collector found, as reported."""

    path: str
    kind: str  # file | symlink | other
    link_target: str
    real_path: str
    size: int | None
    uid: int | None
    mode: str
    sha256: str
    magic: str  # first 4 bytes, hex ("7f454c46" = ELF)
    markers: tuple[str, ...]  # strings found in the file (never executed to find them)
    executed: bool
    not_run_reason: str
    help_text: str
    rpm: str
    dirs: str = ""  # "L uid:hexmode ... P uid:hexmode ..." (see binaries.sh)

    @property
    def root_only(self) -> bool:
        """Nobody but root could have put this path there (see :func:`root_only_dirs`)."""
        return root_only_dirs(self.path, self.dirs)


@dataclass(frozen=True)
class NamedPath:
    """One name a binary was found under, judged as itself (never by what it points at)."""

    path: str
    kind: str  # file | symlink | other
    link_target: str
    packages: tuple[str, ...]  # owners of this very path (either merged-/usr spelling)
    root_only: bool  # every directory above it, as written and physically, is root's alone
    uid: int | None  # owner of the file it resolves to

    @property
    def managed_link(self) -> bool:
        """An alternatives link root keeps (``/usr/bin/nc -> /etc/alternatives/nc``): the
        package manager removes it with the package."""
        return managed_link(self.kind, self.root_only, self.link_target)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "kind": self.kind,
            "link_target": self.link_target,
            "packages": list(self.packages),
            "root_only": self.root_only,
            "uid": self.uid,
        }


@dataclass(frozen=True)
class Binary:
    """One real file and every name it was found under."""

    real_path: str
    names: tuple[str, ...]
    flavor: str  # openbsd-nc | traditional-nc | ncat | socat | busybox | unknown
    exec_support: str  # yes | no | unknown
    exec_how: str  # for a person: "-e/-c", "EXEC:/SYSTEM: addresses", ...
    busybox_nc: bool | None  # busybox only: has an nc applet (None: not examined)
    packages: tuple[str, ...]  # owners of the paths found themselves (empty: none is packaged)
    owner_known: bool  # a package database answered for this file
    sha256: str
    size: int | None
    magic: str
    location: str  # system | local | dropped
    paths: tuple[NamedPath, ...] = ()  # each name as itself
    target_packages: tuple[str, ...] = ()  # owners of the real path (information only)
    removable_packages: tuple[str, ...] = ()  # see the module docstring

    @property
    def is_netcat(self) -> bool:
        """A netcat-like: everything but a busybox proven to lack an nc applet."""
        return not (self.flavor == "busybox" and self.busybox_nc is False)


@dataclass(frozen=True)
class BinaryFacts:
    binaries: tuple[Binary, ...]
    paths: tuple[FoundPath, ...]
    package_db: str  # dpkg | rpm | none
    incomplete: str  # why the search may have missed files ("" when complete)


def managed_link(kind: str, root_only: bool, link_target: str) -> bool:
    """A symlink in root-only directories into ``/etc/alternatives/`` (update-alternatives')."""
    return kind == "symlink" and root_only and link_target.startswith("/etc/alternatives/")


def _dir_ok(token: str) -> bool:
    """``uid:hexmode`` of one directory above a path: root's, and nobody else can add entries."""
    uid, sep, mode_hex = token.partition(":")
    if not sep or uid != "0":
        return False
    try:
        mode = int(mode_hex, 16)
    except ValueError:
        return False
    if mode & _S_IFMT == _S_IFLNK:  # a root symlink: where it leads is in the physical chain
        return True
    return mode & _S_IFMT == _S_IFDIR and not mode & 0o022


def root_only_dirs(path: str, dirs: str) -> bool:
    """Every directory above ``path`` (as written, and its physical parent's chain) is root's alone.

    ``dirs`` is the collector's field: ``L tok... P tok...``. Anything missing, unreadable
    ("!") or short counts as "someone else could have put it there".

    >>> root_only_dirs("/usr/bin/nc", "L 0:41ed 0:41ed 0:41ed P 0:41ed 0:41ed 0:41ed ")
    True
    >>> root_only_dirs("/tmp/x/nc", "L 0:41ed 0:43ff 0:41ed P 0:41ed 0:43ff 0:41ed ")
    False
    """
    words = dirs.split()
    if words[:1] != ["L"] or words.count("P") != 1 or "!" in words:
        return False
    cut = words.index("P")
    logical, physical = words[1:cut], words[cut + 1 :]
    if len(logical) != path.count("/") or not physical:
        return False
    return all(_dir_ok(t) for t in (*logical, *physical))


def _strip_nl(text: str) -> str:
    """readlink prints one newline after the name; the name itself may end in newlines."""
    return text[:-1] if text.endswith("\n") else text


def parse_found(text: str) -> tuple[tuple[FoundPath, ...], bool]:
    """Records of ``binaries.found``; the flag says the collector truncated a batch."""
    if not text:
        return (), False
    if not text.endswith("\0"):
        raise FactError("binaries.found: output does not end with a field terminator (cut short?)")
    fields = text[:-1].split("\0")
    if len(fields) % FIELDS:
        raise FactError(f"binaries.found: {len(fields)} fields is not a multiple of {FIELDS}")
    out: list[FoundPath] = []
    truncated = False
    for i in range(0, len(fields), FIELDS):
        f = fields[i : i + FIELDS]
        if f[0] == "@trunc":
            truncated = True
            continue
        if f[0] != "@bin":
            raise FactError(f"binaries.found: record {i // FIELDS} starts with {f[0][:20]!r}, not @bin")
        st = f[5].split()
        size = parse_uint(st[0]) if len(st) == 3 else None
        uid = parse_uint(st[1]) if len(st) == 3 else None
        out.append(
            FoundPath(
                path=f[1],
                kind=f[2],
                link_target=_strip_nl(f[3]),
                real_path=_strip_nl(f[4]),
                size=size,
                uid=uid,
                mode=st[2] if len(st) == 3 else "",
                sha256=f[6] if re.fullmatch(r"[0-9a-f]{64}", f[6]) else "",
                magic=f[7],
                # one per line (collectors before this one joined them with ";")
                markers=tuple(sorted({m for m in re.split(r"[;\n]", f[8]) if m})),
                executed=f[9] == "run",
                not_run_reason=f[9].removeprefix("norun:") if f[9] != "run" else "",
                help_text=f[10],
                rpm=f[11],
                dirs=f[12],
            )
        )
    return tuple(out), truncated


def parse_dpkg_search(text: str) -> dict[str, tuple[str, ...]]:
    """``dpkg-query -S`` lines into {path: packages}; diversion lines are skipped.

    >>> parse_dpkg_search("busybox: /bin/busybox\\n")
    {'/bin/busybox': ('busybox',)}
    """
    out: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if line.startswith("diversion by ") or ": " not in line:
            continue
        pkgs, _, path = line.partition(": ")
        out[path] = tuple(p.strip() for p in pkgs.split(",") if p.strip())
    return out


def spellings(path: str) -> tuple[str, ...]:
    """A path and its merged-/usr twin: ``/usr/bin/x`` <-> ``/bin/x``."""
    out = [path]
    for usr, root in MERGED_USR:
        if path.startswith(usr):
            out.append(root + path[len(usr) :])
        elif path.startswith(root):
            out.append(usr + path[len(root) :])
    return tuple(out)


def _rpm_owner(text: str) -> tuple[str, ...]:
    """``rpm -qf PATH`` output: the owning package name-version-release, or ()."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if not line or "not owned" in line or "No such file" in line or " " in line:
        return ()
    return (line,)


def package_name(owner: str) -> str:
    """The bare package name of an owner as dpkg prints it (``busybox:amd64`` -> ``busybox``)."""
    return owner.split(":", 1)[0]


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _classify(paths: list[FoundPath]) -> tuple[str, str, str, bool | None]:
    """(flavor, exec_support, exec_how, busybox_nc) from names, markers and help output."""
    names = {_basename(p.path) for p in paths} | {_basename(p.real_path) for p in paths if p.real_path}
    markers = {m for p in paths for m in p.markers}
    helps = "\n".join(p.help_text for p in paths if p.executed)
    if any(n.startswith("busybox") for n in names) or "BusyBox v" in markers:
        m = re.search(r"--- --list\n(.*?)(?:\n--- |\Z)", helps, re.DOTALL)
        if m is None:
            return "busybox", "unknown", "applets not examined (binary not run here)", None
        has_nc = "nc" in m.group(1).split()
        if not has_nc:
            return "busybox", "no", "no nc applet", False
        if re.search(r"-e PROG", helps):
            return "busybox", "yes", "busybox nc -e PROG", True
        return "busybox", "no", "busybox nc without -e, but can still be piped to a shell", True
    if "--sh-exec" in markers or "Ncat " in helps or "ncat" in names:
        return "ncat", "yes", "ncat -e/--exec and -c/--sh-exec", None
    if any(n.startswith("socat") for n in names):
        return "socat", "yes", "socat EXEC:/SYSTEM: addresses", None
    if "program to exec after connect" in markers or re.search(r"^\s*-e filename", helps, re.MULTILINE):
        return "traditional-nc", "yes", "nc -e/-c (netcat-traditional)", None
    if "OpenBSD netcat" in markers or "OpenBSD netcat" in helps:
        return "openbsd-nc", "no", "OpenBSD netcat has no -e, but can still be piped to a shell", None
    if re.search(r"^\s*-e\b", helps, re.MULTILINE):
        return "unknown", "yes", "-e in its help output", None
    return "unknown", "unknown", "unknown build (not examined)", None


def removable(named: tuple[NamedPath, ...]) -> tuple[str, ...]:
    """Packages that may be removed for these names: see the module docstring.

    >>> ok = NamedPath("/usr/bin/nc.openbsd", "file", "", ("netcat-openbsd",), True, 0)
    >>> link = NamedPath("/tmp/nc", "symlink", "/usr/sbin/sshd", ("openssh-server",), False, 0)
    >>> removable((ok, link))
    ('netcat-openbsd',)
    """
    out: list[str] = []
    for n in named:
        if not n.root_only or n.uid != 0 or n.kind not in ("file", "symlink"):
            continue
        for owner in n.packages:
            name = package_name(owner)
            if name in NETCAT_PACKAGES and name not in out:
                out.append(name)
    return tuple(out)


def _location(names: tuple[str, ...], real: str) -> str:
    every = (*names, real)
    if any(n.startswith(DROP_DIRS) for n in every):
        return "dropped"
    if any(n.startswith(LOCAL_DIRS) for n in every):
        return "local"
    return "system"


def parse(sections: Sections) -> BinaryFacts:
    """All netcat-like binaries of one collector run (see module docstring)."""
    if "binaries.found" not in sections:
        raise FactError("the collector output has no binaries.found section: output cut short?")
    if sections.rc("binaries.found") is None:
        raise FactError("the netcat search output was cut short (binaries.found never closed)")
    require_sections(sections, "binaries", SECTIONS)
    paths, truncated = parse_found(sections.text("binaries.found"))
    err = sections.stderr("binaries.found")
    denied = [ln for ln in err.splitlines() if "Permission denied" in ln]
    incomplete = []
    if denied:
        incomplete.append(f"find could not read {len(denied)} places ({denied[0].strip()[:120]})")
    found_rc = sections.rc("binaries.found")
    if found_rc != 0 and not denied:
        first = (err.strip().splitlines() or [""])[0][:120]
        incomplete.append(f"the search exited {found_rc}{f' ({first})' if first else ''}")
    if truncated:
        incomplete.append("more than 64 candidates in one directory batch: the list was cut")
    dpkg_rc = sections.rc("binaries.dpkg")
    dpkg = parse_dpkg_search(sections.text("binaries.dpkg")) if dpkg_rc in (0, 1) else None
    if dpkg is not None:
        db = "dpkg"
    elif any(p.rpm for p in paths):
        db = "rpm"
    else:
        db = "none"
    if dpkg_rc not in (0, 1, RC_NOT_FOUND, None) and paths:
        incomplete.append(f"dpkg-query -S failed (exit {dpkg_rc}): package owners unknown")

    def owners(path: str, rpm: str) -> tuple[str, ...]:
        if dpkg is not None:
            return next((dpkg[c] for c in spellings(path) if dpkg.get(c)), ())
        return _rpm_owner(rpm) if db == "rpm" else ()

    groups: dict[str, list[FoundPath]] = {}
    for p in paths:
        groups.setdefault(p.real_path or p.path, []).append(p)
    binaries = []
    for real, group in groups.items():
        names = tuple(dict.fromkeys(p.path for p in group))
        flavor, support, how, bb_nc = _classify(group)
        named = tuple(
            NamedPath(p.path, p.kind, p.link_target, owners(p.path, p.rpm), p.root_only, p.uid)
            for p in {p.path: p for p in group}.values()
        )
        packages = tuple(dict.fromkeys(pkg for n in named for pkg in n.packages))
        target_packages = owners(real, "") if dpkg is not None else ()
        target = next((p for p in group if p.kind == "file"), group[0])
        binaries.append(
            Binary(
                real_path=real,
                names=names,
                flavor=flavor,
                exec_support=support,
                exec_how=how,
                busybox_nc=bb_nc,
                packages=packages,
                owner_known=db != "none",
                sha256=target.sha256,
                size=target.size,
                magic=target.magic,
                location=_location(names, real),
                paths=named,
                target_packages=target_packages,
                removable_packages=removable(named),
            )
        )
    return BinaryFacts(tuple(binaries), paths, db, "; ".join(incomplete))


AREAS = (FactArea("binaries", Platform.LINUX, parse, SECTIONS, order=50, piece="binaries"),)
