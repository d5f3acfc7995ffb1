"""The differential suite's own hygiene, no root needed: which namespaces count as stale."""

from __future__ import annotations

import os

import netlab


def test_stale_namespaces_are_ours_and_of_a_dead_run():
    dead = 2**22 + 12345  # above pid_max's default: no such process
    names = [f"hd{os.getpid()}x0c", f"hd{dead}x3p", f"hd{dead}x12c", "hdfoo", f"hd{dead}x", "other", f"xhd{dead}x1c"]
    assert netlab.stale(names) == [f"hd{dead}x3p", f"hd{dead}x12c"]


def test_prefix_carries_the_whole_pid():
    assert netlab.prefix_for(4194303) == "hd4194303x"
