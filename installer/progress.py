"""Live progress: one row per stage (status, elapsed), refreshed while a run goes.

On a terminal it is a live table; elsewhere (CI logs, pipes) one line per change, so a
log reads as a history. With `--json` the progress goes to standard error and standard
output keeps one JSON object as its last line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from installer.operations import RunReader, RunView

STYLES = {
    "COMPLETE": "green",
    "FAILED": "red",
    "ROLLBACK": "yellow",
    "IN_PROGRESS": "cyan",
    "PENDING": "dim",
    "SKIPPED": "dim",
}


def _style(status: str) -> str:
    for key, style in STYLES.items():
        if key in status:
            return "red" if "ROLLBACK" in status and "FAILED" in status else style
    return ""


def _elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def failure_line(view: RunView) -> str:
    """Why the run did not succeed: the stage at fault when there is one."""
    error = view.error or {}
    word = "refused" if view.status == "REFUSED" else "failed"
    stage = error.get("stage")
    return f"{word}: stage {stage}: {error.get('reason')}" if stage else f"{word}: {error.get('reason')}"


def approval_line(view: RunView) -> str:
    """How to answer a run waiting at its approval gate."""
    waiting = view.awaiting_approval or {}
    since = f" since {waiting['requested']}" if waiting.get("requested") else ""
    return f"waiting for approval{since}: {waiting.get('approve')}, or {waiting.get('reject')}"


def render(view: RunView) -> Group:
    table = Table(title=f"{view.action} {view.version}  ·  {view.run}", title_justify="left", expand=False)
    table.add_column("stage")
    table.add_column("stack status")
    table.add_column("this run")
    table.add_column("step")
    table.add_column("elapsed", justify="right")
    for stage in view.stages:
        table.add_row(
            stage.name,
            Text(stage.status, style=_style(stage.status)),
            stage.outcome,
            stage.phase,
            _elapsed(stage.elapsed),
        )
    status = Text(f"run: {view.status}", style=_style(view.status.replace("SUCCEEDED", "COMPLETE")))
    parts: list[Any] = [table, status]
    if view.awaiting_approval:
        parts.append(Text(approval_line(view), style="yellow"))
    if view.error:
        parts.append(Text(failure_line(view), style="red"))
    return Group(*parts)


class Progress:
    """Shows a run until it ends; returns its last view."""

    def __init__(self, *, json_mode: bool, interval: float = 0.5) -> None:
        self.console = Console(file=sys.stderr if json_mode else sys.stdout)
        self.interval = interval

    def note(self, message: str) -> None:
        self.console.print(message)

    def follow(self, reader: RunReader, execution_arn: str, timeout: float = 6 * 3600) -> RunView:
        deadline = time.monotonic() + timeout
        look: Callable[[], RunView] = lambda: reader.view(execution_arn)  # noqa: E731
        if self.console.is_terminal:
            with Live(console=self.console, refresh_per_second=4, transient=False) as live:
                while True:
                    view = look()
                    live.update(render(view))
                    if view.finished or time.monotonic() > deadline:
                        return view
                    time.sleep(self.interval)
        seen: dict[str, str] = {}
        asked = False
        while True:
            view = look()
            if view.awaiting_approval and not asked:
                asked = True
                self.console.print(approval_line(view), highlight=False)
            for stage in view.stages:
                line = f"{stage.status} {stage.phase}".strip()
                if seen.get(stage.name) != line:
                    seen[stage.name] = line
                    self.console.print(f"  {stage.name:<12} {line:<40} {_elapsed(stage.elapsed):>6}", highlight=False)
            if view.finished or time.monotonic() > deadline:
                self.console.print(f"run {view.run}: {view.status}", highlight=False)
                if view.error:
                    self.console.print(failure_line(view), highlight=False)
                return view
            time.sleep(self.interval)
