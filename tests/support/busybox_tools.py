"""A directory of busybox applets to put first on PATH, so that a collector piece's shell code is
also tested with the userland of busybox systems (Alpine and the like): sed, head, grep, sort,
find (no -printf), tr, od, cat, ls, readlink, stat, xargs."""

from __future__ import annotations

import os
import shutil

import pytest

TOOLS = ("sed", "head", "grep", "sort", "find", "tr", "od", "cat", "ls", "readlink", "stat", "xargs")


def use_tools(kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``kind`` "system": PATH as it is; "busybox": busybox's applets first (skip without busybox)."""
    if kind == "system":
        return
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed")
    d = tmp_path_factory.mktemp("busybox-tools")
    for tool in TOOLS:
        (d / tool).symlink_to(busybox)
    monkeypatch.setenv("PATH", f"{d}:{os.environ['PATH']}")
