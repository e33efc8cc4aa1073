"""The lab's progress on stderr: which session runs, how many are done, and an ETA.

Drawn with `rich` (a dependency of livekit-agents through typer): redrawn in place on a
terminal; elsewhere (a pipe, a log) one line per session.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .plan import Trial
from .runner import Progress as ProgressCallback


def describe(trial: Trial) -> str:
    pause = "" if trial.pause_s is None else f" {trial.pause_s:g} s pause"
    return f"{trial.settings.label}: {trial.scenario}{pause}"


@contextlib.contextmanager
def progress_bar(stream: TextIO = sys.stderr) -> Iterator[ProgressCallback]:
    """A callback for `runner.run_all(progress=...)`, live while the context is open."""
    console = Console(file=stream)
    if not console.is_terminal:
        yield _lines(stream)
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("sessions"), TimeElapsedColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=console)
    task = bar.add_task("starting", total=None)

    def show(done: int, total: int, trial: Trial | None) -> None:
        description = describe(trial) if trial is not None else "done"
        bar.update(task, completed=done, total=total, description=description)

    with bar:
        yield show


def _lines(stream: TextIO) -> ProgressCallback:
    """Without a terminal: `session 2/6 (1 done, ETA 40 s): snappy: hesitation 0.6 s pause`."""
    started: list[float] = []

    def show(done: int, total: int, trial: Trial | None) -> None:
        now = time.monotonic()
        if not started:
            started.append(now)
        eta = "" if not done else f", ETA {(now - started[0]) / done * (total - done):.0f} s"
        if trial is None:
            stream.write(f"{done}/{total} sessions done in {now - started[0]:.0f} s\n")
        else:
            stream.write(f"session {done + 1}/{total} ({done} done{eta}): {describe(trial)}\n")
        stream.flush()

    return show
