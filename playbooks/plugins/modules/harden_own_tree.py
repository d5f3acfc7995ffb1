#!/usr/bin/python
# harden_service_privilege: give a web root to root, writable by nobody else, without following
# a symlink its account planted. Runs on the managed host; tested on the controller as root
# (tests/remediation/test_own_tree.py), the whole role by Molecule.
"""Own a directory (and optionally everything below it) by root, mode ``u+rwX,go+rX,go-w``.

The tree is writable by the very account the role takes it from (www-data writes its web
root), so that account may have planted symlinks or hard links in it, or may swap a name for
one while the module runs. Ansible's ``file`` module with ``recurse`` follows symlinks (and
without ``lchmod`` changes a link's target mode for a moment even when told not to follow):
``ln -s /etc /var/www/html/x`` would give /etc/shadow to everyone. This module therefore:

- walks to the directory one component at a time with ``O_NOFOLLOW`` from ``/``: a path with a
  symlinked component (``/srv/app/current/public``) is left as it is, with a warning;
- changes every entry through a descriptor opened with ``O_PATH | O_NOFOLLOW`` on that very
  inode (``fchownat`` / ``chmod`` of ``/proc/self/fd/N``): a name swapped for a symlink is
  seen as one and left alone; symlinks are never followed or changed;
- leaves alone regular files with more than one link (a hard link to a file elsewhere) unless
  they belong to the account the tree is taken from (its owner until now, or ``accounts``), and
  does not cross into other file systems;
- fails when it could not reach every entry (an unreadable directory, more than
  ``max_entries``, deeper than 128 levels, an error): never "ok" for a tree left half done;
- clears set-user-ID and set-group-ID from files it gives to root (the kernel clears them on
  ``chown``; the new mode never sets them again), and keeps a directory's set-group-ID and
  sticky bits.

Idempotent; check mode only counts.
"""

from __future__ import annotations

import errno
import os
import stat

DOCUMENTATION = r"""
module: harden_own_tree
short_description: Own a directory tree by root, writable by nobody else, following no symlink
options:
  path: {description: Absolute path of the directory., type: str, required: true}
  recurse: {description: Also everything below it (same file system)., type: bool, default: false}
  accounts:
    description: The accounts the tree is taken from (their hard-linked files are taken too).
    type: list
    elements: str
    default: []
  max_entries: {description: Stop after this many entries (the rest left as they are)., type: int, default: 1000000}
author: harden
"""

EXAMPLES = r"""
- harden_own_tree: {path: /var/www/html, recurse: false}
"""

RETURN = r"""
changed_entries: {description: Entries whose owner or mode changed., type: int, returned: always}
skipped: {description: Entries left alone, by reason., type: dict, returned: always}
"""

O_PATH = getattr(os, "O_PATH", 0o10000000)


def new_mode(mode: int) -> int:
    """``u+rwX,go+rX,go-w`` of ``mode`` (permission and special bits); files lose set-uid/gid.

    >>> oct(new_mode(stat.S_IFDIR | 0o2777)), oct(new_mode(stat.S_IFREG | 0o4757)), oct(new_mode(stat.S_IFREG | 0o600))
    ('0o2755', '0o755', '0o644')
    """
    perm = stat.S_IMODE(mode)
    is_dir = stat.S_ISDIR(mode)
    x = 0o111 if is_dir or perm & 0o111 else 0
    perm = (perm | 0o644 | x) & ~0o022
    if not is_dir:
        perm &= ~(stat.S_ISUID | stat.S_ISGID)
    return perm


def plain_parts(path: str) -> list[str] | None:
    """The components of a plain absolute path, or None.

    >>> plain_parts("/var/www/html"), plain_parts("/var/../etc"), plain_parts("var/www")
    (['var', 'www', 'html'], None, None)
    """
    if not path.startswith("/") or "\0" in path:
        return None
    parts = path.split("/")[1:]
    if not parts or any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def open_dir(parts: list[str]) -> int:
    """A descriptor on the directory, reached without following any symlink (ELOOP/ENOTDIR if one is on the way)."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for comp in parts:
            nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nfd
    except OSError:
        os.close(fd)
        raise
    return fd


#: Reasons an entry was left that make the run incomplete: the module then fails.
INCOMPLETE = ("unreadable directory", "over max_entries", "deeper than max_depth", "error")
MAX_DEPTH = 128  # open descriptors grow with the depth (about three a level)


class Walk:
    """The counts of one run (entries changed, left alone and why)."""

    def __init__(self, check: bool, max_entries: int, owners: frozenset[int] = frozenset()) -> None:
        self.check = check
        self.left = max_entries
        self.owners = owners  # the accounts the tree is taken from: their hard-linked files are theirs
        self.changed = 0
        self.skipped: dict[str, int] = {}
        self.linked: set[tuple[int, int]] = set()  # files with several names, each seen once

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    @property
    def incomplete(self) -> dict[str, int]:
        return {k: v for k, v in self.skipped.items() if k.startswith(INCOMPLETE)}

    def own(self, fd: int, st: os.stat_result) -> None:
        """Give the inode behind ``fd`` (O_PATH or open, never a symlink) to root with the new mode."""
        proc = f"/proc/self/fd/{fd}"
        change = st.st_uid != 0 or st.st_gid != 0 or stat.S_IMODE(st.st_mode) != new_mode(st.st_mode)
        if not change:
            return
        if self.check:
            self.changed += 1
            return
        try:
            if st.st_uid != 0 or st.st_gid != 0:
                os.chown(proc, 0, 0)  # the magic link names this inode: no path is resolved again
                st = os.stat(proc)
            if stat.S_IMODE(st.st_mode) != new_mode(st.st_mode):
                os.chmod(proc, new_mode(st.st_mode))
        except OSError as exc:  # a read-only bind mount, an immutable file...
            self.skip(f"error: {os.strerror(exc.errno or 0)}")
            return
        self.changed += 1

    def tree(self, dfd: int, dev: int, depth: int = 0) -> None:
        """Everything below the open directory ``dfd``, depth first, one file system. Each
        directory is given to root before its entries are read, so its account can no longer
        rename or swap anything in it while they are."""
        if depth >= MAX_DEPTH:
            self.skip("deeper than max_depth")
            return
        try:
            entries = os.scandir(dfd)  # read lazily: a huge directory is not held in memory
        except OSError:
            self.skip("unreadable directory")
            return
        with entries:
            for entry in entries:
                if self.left <= 0:
                    self.skip("over max_entries")
                    return
                self.left -= 1
                self.entry(dfd, entry.name, dev, depth)

    def open_at(self, dfd: int, name: str, flags: int) -> int | None:
        """``name`` in ``dfd`` opened with ``flags`` and O_NOFOLLOW, or None (counted why)."""
        try:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        except FileNotFoundError:
            self.skip("gone")
        except OSError as exc:
            self.skip(f"error: {os.strerror(exc.errno or 0)}")
        return None

    def entry(self, dfd: int, name: str, dev: int, depth: int) -> None:
        fd = self.open_at(dfd, name, O_PATH)
        if fd is None:
            return
        try:
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                self.skip("symlink (never followed)")
                return
            if st.st_dev != dev:
                self.skip("another file system")
                return
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in self.linked:  # another name of a file already seen
                    return
                self.linked.add((st.st_dev, st.st_ino))
                if st.st_uid not in self.owners:
                    self.skip("file with more than one hard link, not the account's")
                    return
            if not stat.S_ISDIR(st.st_mode):
                self.own(fd, st)
                return
            sub = self.open_at(dfd, name, os.O_RDONLY | os.O_DIRECTORY)
            if sub is None:
                return
            try:
                sst = os.fstat(sub)
                if (sst.st_dev, sst.st_ino) != (st.st_dev, st.st_ino):  # swapped between the two opens
                    self.skip("error: changed while read")
                    return
                self.own(fd, st)
                self.tree(sub, dev, depth + 1)
            finally:
                os.close(sub)
        finally:
            os.close(fd)


def own_tree(
    path: str, recurse: bool, check: bool = False, max_entries: int = 1_000_000, owners: frozenset[int] = frozenset()
) -> tuple[str, Walk]:
    """Do the work; ("", counts), or (why the directory was left as it is, counts)."""
    walk = Walk(check, max_entries, owners)
    parts = plain_parts(path)
    if parts is None:
        return f"not a plain absolute path: {path!r}", walk
    try:
        top = open_dir(parts)
    except FileNotFoundError:
        return "absent", walk
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return "a component of the path is a symlink or not a directory: left as it is", walk
        return f"cannot open it: {exc.strerror}", walk
    try:
        st = os.fstat(top)
        if st.st_uid != 0:
            walk.owners = walk.owners | {st.st_uid}  # who wrote the tree until now
        walk.own(top, st)
        if recurse:
            walk.tree(top, st.st_dev)
    finally:
        os.close(top)
    return "", walk


def account_uids(names: list[str]) -> frozenset[int]:
    """The uids of the named accounts (root and unknown names left out)."""
    import pwd

    uids = set()
    for name in names:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        if uid != 0:
            uids.add(uid)
    return frozenset(uids)


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "required": True},
            "recurse": {"type": "bool", "default": False},
            "accounts": {"type": "list", "elements": "str", "default": []},
            "max_entries": {"type": "int", "default": 1_000_000},
        },
        supports_check_mode=True,
    )
    p = module.params
    owners = account_uids(p["accounts"])
    why, walk = own_tree(p["path"], p["recurse"], module.check_mode, max(1, p["max_entries"]), owners)
    result = {"path": p["path"], "changed": walk.changed > 0, "changed_entries": walk.changed, "skipped": walk.skipped}
    if walk.incomplete:
        module.fail_json(msg=f"{p['path']!r}: not every entry could be given to root: {walk.incomplete}", **result)
    if why and why != "absent":
        module.warn(f"{p['path']!r}: {why}")
    module.exit_json(msg=why or "ok", **result)


if __name__ == "__main__":
    main()
