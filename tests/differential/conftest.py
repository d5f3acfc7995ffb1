"""The differential suite needs root and network namespaces: skipped without them on a
workstation, a failure under CI (CI=true), where it must run (as tests/conftest.py does for the lab)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from netlab import available


@pytest.fixture(scope="session")
def netns_ok() -> None:
    reason = available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the differential suite cannot run under CI: {reason}")
        pytest.skip(reason)
