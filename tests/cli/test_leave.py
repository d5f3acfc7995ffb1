"""harden's exit: the exit handlers run and the streams are flushed, the interpreter is not torn down,
and a command that left threads running still waits for them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _main(prelude: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = (
        textwrap.dedent(prelude)
        + f"\nimport sys\nsys.argv = ['harden', *{list(args)!r}]\nfrom hardening import cli\ncli.main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_exit_handlers_run_and_output_is_flushed():
    run = _main(
        """
        import atexit, sys
        sys.stdout.write("buffered, no newline")
        atexit.register(lambda: print(" / handler ran"))
        """,
        "--version",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("buffered, no newline")
    assert "handler ran" in run.stdout and "harden" in run.stdout


def test_exit_codes_are_kept():
    assert _main("", "audit", "/nonexistent/inventory.ini").returncode == 2
    assert _main("", "no-such-command").returncode == 2


def test_a_running_non_daemon_thread_is_waited_for():
    run = _main(
        """
        import threading, time
        def late():
            time.sleep(0.5)
            print("thread finished", flush=True)
        threading.Thread(target=late).start()
        """,
        "--version",
    )
    assert run.returncode == 0 and "thread finished" in run.stdout


def test_the_interpreter_is_not_torn_down():
    """Objects are not freed one by one at exit (what costs the time): a module-level object's
    ``__del__`` never runs, while ``weakref.finalize`` callbacks (run from atexit) do."""
    run = _main(
        """
        import weakref
        class Canary:
            def __del__(self):
                print("freed at teardown", flush=True)
        canary = Canary()
        class Other:
            pass
        other = Other()
        weakref.finalize(other, print, "finalize ran")
        """,
        "--version",
    )
    assert run.returncode == 0
    assert "finalize ran" in run.stdout
    assert "freed at teardown" not in run.stdout
