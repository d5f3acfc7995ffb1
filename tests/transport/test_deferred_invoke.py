"""paramiko imports invoke only for ssh_config's ``Match exec``: harden defers it until then."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_the_ssh_transport_does_not_import_invoke():
    out = _run(
        """
        import sys
        import hardening.transport.ssh
        print(sorted(m for m in ("invoke.collection", "invoke.tasks", "asyncio", "unittest.mock") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_match_exec_in_ssh_config_still_runs_through_invoke():
    out = _run(
        """
        import sys
        import hardening.transport.ssh
        import paramiko
        text = 'Match exec "exit 0"\\n  Port 2201\\nMatch exec "exit 1"\\n  User nobody\\n'
        config = paramiko.SSHConfig.from_text(text)
        found = config.lookup("example")
        print(found.get("port"), found.get("user", "-"), "invoke.collection" in sys.modules)
        """
    )
    assert out == "2201 - True"
