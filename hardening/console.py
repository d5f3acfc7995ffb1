"""Terminal output: a progress bar on a TTY, plain lines otherwise, and the final summary.

Host data (names, messages) is printed through rich's ``Text`` (never as markup) and
with control characters escaped, so a hostile host cannot inject terminal escapes or
rich markup.

Example::

    ui = Console.for_stream(sys.stderr)
    with ui.progress(total=3) as p:
        p.host_done(result)
    ui.summary(results, results_path)
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console as RichConsole
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from hardening.model import HostResult, HostStatus, Status

_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.ERROR: "yellow",
    Status.NOT_APPLICABLE: "dim",
    Status.WAIVED: "cyan",
}
_HOST_STYLE = {HostStatus.OK: "green"}


# C0/C1 controls, and the invisible format characters that reorder or hide text on a terminal
# (bidirectional overrides and isolates, zero-width characters, the BOM): a host-chosen file name
# cannot make "/etc/cron.d/x<RLO>hs.kcab" read as something else.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch == "\n":
        return "\\n"
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def safe(text: str, limit: int = 300) -> str:
    """Escape control characters (ANSI escapes included) and bound the length.

    A newline becomes ``\\n``, any other C0/C1 control ``\\xNN``; ESC loses its power that way.
    """
    return _CONTROLS.sub(_escape, text[:limit]) + ("…" if len(text) > limit else "")


def _host_line(result: HostResult) -> Text:
    counts = Counter(c.status for c in result.checks)
    line = Text()
    line.append(safe(result.name, 60), style="bold")
    line.append(f" {result.status.value}", style=_HOST_STYLE.get(result.status, "bold yellow"))
    if result.status is HostStatus.OK:
        line.append(f"  pass {counts[Status.PASS]}  fail {counts[Status.FAIL]}  error {counts[Status.ERROR]}")
    else:
        line.append("  " + safe(result.message, 200))
    return line


class _Progress:
    def __init__(self, ui: Console, total: int) -> None:
        self.ui = ui
        self.total = total
        self.done = 0
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> _Progress:
        if self.ui.interactive:
            self._progress = Progress(
                TextColumn("[bold]auditing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=self.ui.rich,
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def host_started(self, name: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=safe(name, 40))

    def host_done(self, result: HostResult) -> None:
        self.done += 1
        if self._progress is not None and self._task is not None:
            self._progress.console.print(_host_line(result))
            self._progress.advance(self._task)
        else:
            self.ui.line(Text(f"[{self.done}/{self.total}] ") + _host_line(result))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)


class Console:
    def __init__(self, rich: RichConsole, interactive: bool) -> None:
        self.rich = rich
        self.interactive = interactive

    def line(self, text: Text) -> None:
        """One line: styled through rich on a terminal; elsewhere (logs, CI, pipes) the plain text,
        written directly (rich's layout costs about a millisecond a line: seconds on a large fleet)."""
        if self.interactive:
            self.rich.print(text)
        else:
            self.rich.file.write(text.plain + "\n")

    @classmethod
    def for_stream(cls, stream: TextIO | None = None) -> Console:
        stream = stream or sys.stderr
        interactive = stream.isatty()
        rich = RichConsole(file=stream, highlight=False, soft_wrap=not interactive, emoji=False)
        return cls(rich, interactive and rich.is_terminal)

    def progress(self, total: int) -> _Progress:
        return _Progress(self, total)

    def error(self, message: str) -> None:
        self.line(Text("harden: error: ", style="bold red") + Text(safe(message, 2000)))

    def info(self, message: str) -> None:
        self.line(Text(message))

    def summary(self, hosts: Iterable[HostResult], results_path: Path | None) -> None:
        hosts = list(hosts)
        ids: list[str] = []
        for h in hosts:
            for c in h.checks:
                if c.id not in ids:
                    ids.append(c.id)
        table = Table(title="harden audit", show_lines=False)
        table.add_column("host", no_wrap=True)
        table.add_column("status")
        for check_id in ids:
            table.add_column(check_id, justify="center")
        for h in sorted(hosts, key=lambda h: h.name):
            by_id = {c.id: c for c in h.checks}
            cells = [Text(safe(h.name, 40)), Text(h.status.value, style=_HOST_STYLE.get(h.status, "yellow"))]
            for check_id in ids:
                c = by_id.get(check_id)
                cells.append(Text(c.status.value, style=_STATUS_STYLE[c.status]) if c else Text("-"))
            table.add_row(*cells)
        if self.interactive:
            self.rich.print(table)
        else:
            for h in sorted(hosts, key=lambda h: h.name):
                for c in h.checks:
                    self.line(
                        Text(f"{safe(h.name, 60)}\t{c.id}\t{c.status.value}\t{c.severity.value}\t")
                        + Text(safe(c.message, 300))
                    )
        failing = [(h, c) for h in hosts for c in h.checks if c.status is Status.FAIL]
        if failing and self.interactive:
            self.rich.print(Text("Failing checks (details and evidence in results.json):", style="bold"))
            for h, c in sorted(failing, key=lambda hc: (-hc[1].severity.rank, hc[0].name)):
                line = (
                    Text(f"  [{c.severity.value}] ", style="red")
                    + Text(f"{safe(h.name, 40)} {c.id}: ", style="bold")
                    + Text(safe(c.message, 300))
                )
                self.rich.print(line, overflow="ellipsis", no_wrap=True, crop=True)
        not_ok = [h for h in hosts if h.status is not HostStatus.OK]
        for h in not_ok:
            self.line(
                Text(f"{safe(h.name, 60)}: not fully audited ({h.status.value}): ", style="yellow")
                + Text(safe(h.message, 400))
            )
        if results_path is not None:
            self.line(Text(f"results: {results_path}"))
