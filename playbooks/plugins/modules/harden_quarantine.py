#!/usr/bin/python
# harden_netcat: move one unpackaged netcat-like (a file, or a link as itself) into quarantine.
# Runs on the managed host; the pure functions are unit tested on the controller
# (tests/remediation/test_netcat_guard.py), the whole module on lab containers.
"""Quarantine a path the audit found, race-free against the user who owns its directory.

The path comes from the audited host, so a user may have changed it since the audit:
swapped a directory above it for a symlink (into /usr/bin, or another user's directory),
replaced the file, turned it into a FIFO. The module therefore:

- walks to the parent directory one component at a time with ``O_NOFOLLOW``, along the path
  exactly as the audit found it, so every later step acts on that very directory (a directory
  now a symlink ends the walk: the path is left in place);
- refuses when the writability of the directories on the way differs from what the audit
  saw (``root_only``): a path the audit saw where users write must not now lead into
  directories only root writes (that is a symlinked directory swapped in);
- for a file: opens it with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO never blocks), requires a
  regular file whose sha256 equals the audit's while copying it; for a link: requires a
  symlink whose target equals the audit's, and copies the link itself;
- removes the name only if it is still the very inode it examined; writes a JSON record
  (original path, owner, mode, sha256 or link target) beside the copy.

Idempotent: a path already gone with its record present is "ok". Check mode only examines.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat

DOCUMENTATION = r"""
module: harden_quarantine
short_description: Move an unpackaged netcat-like or a link into quarantine, race-free
options:
  path: {description: Absolute path from the audit., type: str, required: true}
  sha256: {description: The audit's sha256 of the file (files only)., type: str, default: ""}
  link_target: {description: The audit's link target (links only)., type: str, default: ""}
  kind: {description: file or symlink, type: str, required: true, choices: [file, symlink]}
  root_only: {description: The audit saw only root able to write above the path., type: bool, required: true}
  uid: {description: The file's owner at audit time (files; -1 unknown)., type: int, default: -1}
  dir: {description: Quarantine directory (root's, 0700)., type: str, required: true}
author: harden
"""

EXAMPLES = r"""
- harden_quarantine: {path: /tmp/nc, kind: file, sha256: "...", root_only: false, dir: /var/lib/harden/quarantine}
"""

RETURN = r"""
moved: {description: Where the copy is., type: str, returned: changed}
"""

NETCAT_NAME = re.compile(r"(nc|nc\.traditional|nc\.openbsd|netcat|ncat|socat|busybox.*)")
CHUNK = 1 << 20
MAX_FILE = 256 << 20
RESERVE = 512 << 20  # free space left on the quarantine's filesystem after a copy


def split_path(path: str) -> tuple[list[str], str] | None:
    """(directory components, final name) of a plain absolute path, or None.

    >>> split_path("/tmp/x/nc")
    (['tmp', 'x'], 'nc')
    >>> split_path("/tmp/../etc/nc") is None, split_path("tmp/nc") is None
    (True, True)
    """
    if not path.startswith("/") or "\0" in path:
        return None
    parts = path.split("/")[1:]
    if not parts or any(p in ("", ".", "..") for p in parts):
        return None
    return parts[:-1], parts[-1]


def root_only_dir(st_uid: int, st_mode: int) -> bool:
    """A directory only root can add entries to."""
    return st_uid == 0 and not st_mode & 0o022


def record_key(kind: str, path: str, sha256: str) -> str:
    """The quarantine file name, one per original path: ``<sha256>-<path hash>`` for files,
    ``link-<path hash>`` for links (two copies of one file keep both records)."""
    where = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
    if kind == "symlink":
        return "link-" + where
    return f"{sha256}-{where[:16]}"


def refusal(kind: str, name: str, sha256: str, root_only: bool) -> str:
    """Why the request itself is unacceptable ("" if it is fine)."""
    if not NETCAT_NAME.fullmatch(name):
        return f"{name!r} is not a netcat-like name"
    if kind == "file" and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return "no sha256 from the audit"
    if kind not in ("file", "symlink"):
        return f"unknown kind {kind!r}"
    return ""


def _open_parent(dirs: list[str]) -> tuple[int, bool]:
    """An fd on the parent directory, reached without following any symlink, and whether
    every directory on the way (/ included) is root's alone."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        st = os.fstat(fd)
        only_root = root_only_dir(st.st_uid, st.st_mode)
        for comp in dirs:
            nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
            st = os.fstat(fd)
            only_root = only_root and root_only_dir(st.st_uid, st.st_mode)
    except OSError:
        os.close(fd)
        raise
    return fd, only_root


def _copy_file(dfd: int, name: str, dest: str) -> tuple[os.stat_result, str]:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file any more")
        if st.st_size > MAX_FILE:
            raise ValueError(f"larger than {MAX_FILE} bytes")
        h = hashlib.sha256()
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            while chunk := os.read(src, CHUNK):
                h.update(chunk)
                os.write(out, chunk)
        finally:
            os.close(out)
        return st, h.hexdigest()
    finally:
        os.close(src)


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "required": True},
            "sha256": {"type": "str", "default": ""},
            "link_target": {"type": "str", "default": ""},
            "kind": {"type": "str", "required": True, "choices": ["file", "symlink"]},
            "root_only": {"type": "bool", "required": True},
            "uid": {"type": "int", "default": -1},
            "dir": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    path, kind, sha = p["path"], p["kind"], p["sha256"].lower()
    parts = split_path(path)
    if parts is None:
        module.fail_json(msg=f"REFUSED: not a plain absolute path: {path!r}")
    dirs, name = parts
    why = refusal(kind, name, sha, p["root_only"])
    if why:
        module.fail_json(msg=f"REFUSED: {path!r}: {why}")
    qdir = p["dir"]
    key = record_key(kind, path, sha)
    bin_path, json_path = os.path.join(qdir, key + ".bin"), os.path.join(qdir, key + ".json")
    left = {"changed": False, "path": path}

    try:
        # the path exactly as the audit found it (find never reports a path through a symlinked
        # directory): a directory swapped for a symlink since then ends the walk (ELOOP/ENOTDIR)
        dfd, chain_root_only = _open_parent(dirs)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            module.fail_json(
                msg=(
                    f"REFUSED: {path!r}: a directory above it is now a symlink or not a directory "
                    "(swapped since the audit?): nothing moved; re-audit and look at it by hand"
                )
            )
        if os.path.exists(json_path):
            module.exit_json(**left, msg="already quarantined")
        module.exit_json(**left, msg=f"left in place: its directory is gone ({exc.strerror})")
    try:
        if chain_root_only != p["root_only"]:
            module.fail_json(
                msg=(
                    f"REFUSED: {path!r}: its directory is {'now' if not p['root_only'] else 'no longer'} "
                    "root-only; the path changed since the audit (a symlinked directory?): re-audit"
                )
            )
        try:
            lst = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            if os.path.exists(json_path):
                module.exit_json(**left, msg="already quarantined")
            module.exit_json(**left, msg="left in place: gone since the audit")
        record = {
            "original_path": path,
            "kind": kind,
            "owner_uid": lst.st_uid,
            "group_gid": lst.st_gid,
            "mode": oct(stat.S_IMODE(lst.st_mode)),
            "quarantined_by": "harden (role harden_netcat)",
        }
        if kind == "symlink":
            if not stat.S_ISLNK(lst.st_mode):
                module.exit_json(**left, msg="left in place: no longer a symlink: re-audit and look at it by hand")
            target = os.readlink(name, dir_fd=dfd)
            if target != p["link_target"]:
                module.exit_json(**left, msg=f"left in place: now points at {target!r}, not the audit's target")
            record["link_target"] = target
            if module.check_mode:
                module.exit_json(changed=True, path=path, msg="would quarantine the link")
            os.makedirs(qdir, mode=0o700, exist_ok=True)
            if os.path.lexists(bin_path):
                os.unlink(bin_path)
            os.symlink(target, bin_path)
        else:
            if not stat.S_ISREG(lst.st_mode):
                module.exit_json(**left, msg="left in place: no longer a regular file: re-audit")
            if p["uid"] >= 0 and lst.st_uid != p["uid"]:
                module.exit_json(**left, msg=f"left in place: now owned by uid {lst.st_uid}, not {p['uid']}: re-audit")
            if module.check_mode:
                module.exit_json(changed=True, path=path, msg="would quarantine the file if its sha256 matches")
            os.makedirs(qdir, mode=0o700, exist_ok=True)
            free = os.statvfs(qdir)
            if free.f_bavail * free.f_frsize < lst.st_size + RESERVE:
                module.fail_json(msg=f"REFUSED: {path!r}: too little free space for its copy in {qdir}")
            tmp = bin_path + ".part"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            try:
                fst, digest = _copy_file(dfd, name, tmp)
            except (OSError, ValueError) as exc:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                module.exit_json(**left, msg=f"left in place: {exc}")
            if digest != sha or (fst.st_dev, fst.st_ino) != (lst.st_dev, lst.st_ino):
                os.unlink(tmp)
                module.exit_json(**left, msg="left in place: its sha256 differs from the audit's: look at it by hand")
            os.replace(tmp, bin_path)
            record["sha256"] = digest
        now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        if (now.st_dev, now.st_ino) != (lst.st_dev, lst.st_ino):
            module.fail_json(msg=f"REFUSED: {path!r} changed while being quarantined; the copy is in {bin_path}")
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2)
            fh.write("\n")
        os.chmod(json_path, 0o600)
        os.unlink(name, dir_fd=dfd)
    finally:
        os.close(dfd)
    module.exit_json(changed=True, path=path, moved=bin_path)


if __name__ == "__main__":
    main()
