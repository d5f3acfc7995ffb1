"""Ansible's own YAML, parsed once per version: the inventory child's start-up without 0.1 s of PyYAML.

Every ansible-core process parses two large files of its own before it reads an inventory:
``ansible/config/ansible_builtin_runtime.yml`` (plugin routing, 370 KB: ≈ 80 ms with libyaml) and
``ansible/config/base.yml`` (the configuration definitions, 90 KB: ≈ 25 ms). They change only
when ansible-core is upgraded, and harden reads the inventory on the critical path of every run.
ansible-core provides the hook: ``_meta_yml_to_dict(data, content_id)`` "may be monkeypatched to
another implementation by some tools ... to allow other implementations to cache the output"
(ansible/utils/collection_loader/_collection_meta.py); ``base.yml`` goes through the module-level
``yaml_load`` of ``ansible.config.manager``.

:func:`install` wraps both: the result is kept as JSON in ``$XDG_CACHE_HOME/harden/ansible-yaml``
(``~/.cache/harden/ansible-yaml``), keyed by the SHA-256 of the YAML text, the loader and PyYAML's
version, so any change to the file is a miss. A value is cached only when JSON gives it back
exactly (the routing data is all strings, lists and mappings; base.yml too), the directory must be
the user's own and not writable by others, files are written atomically, and anything unexpected
(unreadable, corrupt, too large, no home) falls back to parsing, as without the cache. JSON holds
no code: a cache file can at worst say what the YAML would have said, and only someone who can
write the user's own cache directory can write one.

Example::

    install()          # in the inventory child, before ansible.constants is imported
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_BYTES = 8 * 1024 * 1024  # a cache file larger than this is not read


def cache_dir(env: dict[str, str] | os._Environ[str] | None = None) -> Path | None:
    """Where the parsed files are kept; None when there is no usable home."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or (str(Path(env["HOME"]) / ".cache") if env.get("HOME") else "")
    if not base or not os.path.isabs(base):
        return None
    return Path(base) / "harden" / "ansible-yaml"


def _usable(folder: Path) -> bool:
    """``folder`` exists (created 0700 if not), is a real directory of this user, and only they can write it."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700, parents=True)
    info = os.lstat(folder)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _exact(value: Any) -> bool:
    """JSON gives ``value`` back as it is (no int keys, tuples, dates...)."""
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


def cached(parse: Callable[[bytes], Any], kind: str, folder: Path | None) -> Callable[[bytes], Any]:
    """``parse`` with its results kept in ``folder`` (see the module docstring)."""
    import yaml

    salt = f"{kind}\0{yaml.__version__}\0".encode()

    def load(data: bytes) -> Any:
        if folder is None:
            return parse(data)
        path = folder / (hashlib.sha256(salt + data).hexdigest() + ".json")
        with contextlib.suppress(OSError, ValueError, RecursionError):
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_size <= MAX_BYTES:
                with open(path, "rb") as f:
                    return json.loads(f.read(MAX_BYTES + 1))
        value = parse(data)
        with contextlib.suppress(OSError, ValueError):
            if _exact(value) and _usable(folder):
                _write(path, json.dumps(value, separators=(",", ":")).encode())
        return value

    return load


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_all(data: Any) -> bytes:
    text = data.read() if hasattr(data, "read") else data
    return text.encode() if isinstance(text, str) else bytes(text)


def install(folder: Path | None = None) -> bool:
    """Route ansible-core's two start-up YAML parses through the cache; False (nothing changed)
    when ansible.constants is already loaded or ansible-core lacks the hooks."""
    import sys

    if "ansible.constants" in sys.modules:
        return False
    try:
        import ansible.config.manager as manager
        import ansible.utils.collection_loader._collection_finder as finder
    except ImportError:
        return False
    meta, base = getattr(finder, "_meta_yml_to_dict", None), getattr(manager, "yaml_load", None)
    if getattr(meta, "__module__", None) != "ansible.utils.collection_loader._collection_meta" or not callable(base):
        return False  # not ansible-core's own (another tool's replacement may use content_id)
    folder = folder or cache_dir()
    routing = cached(lambda data: meta(data, None), "runtime", folder)
    definitions = cached(base, "base", folder)
    finder._meta_yml_to_dict = lambda data, content_id: routing(_read_all(data))
    manager.yaml_load = lambda stream: definitions(_read_all(stream))
    return True
