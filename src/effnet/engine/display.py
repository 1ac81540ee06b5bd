"""The progress of a study on stderr: trials done / running / left and an ETA (a bar on a terminal, a line per
change otherwise)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..outputs import format_duration
from .plan import Plan


class Watched(Protocol):
    """What the display reads: the plan and the current counts."""

    plan: Plan

    def counts(self) -> dict[str, int]: ...

class Display:
    """Trials done / running / left with an ETA, on stderr (a bar on a terminal, a line per change otherwise)."""

    def __init__(self, engine: Watched, enabled: bool) -> None:
        self.engine, self.enabled = engine, enabled
        self.started, self.last_line = time.time(), ""
        self.stop = threading.Event()
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task = 0

    def __enter__(self) -> Display:
        if self.enabled and self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=self.console)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.engine.plan.kind, total=len(self.engine.plan.trials), info="")
        self.first = self.engine.counts()["done"]
        self.update()
        return self

    def follow(self) -> None:
        while not self.stop.wait(2.0):
            with contextlib.suppress(Exception):
                self.update()

    def update(self) -> None:
        if not self.enabled:
            return
        counts = self.engine.counts()
        finished_here = counts["done"] - self.first
        elapsed = time.time() - self.started
        unfinished = counts["waiting"] + counts["running"] + counts.get("interrupted", 0)
        eta = "?" if finished_here <= 0 else format_duration(elapsed / finished_here * unfinished)
        # done + running + left = the planned trials
        state = (f"{counts['done']} done, {counts['running']} running, {counts['waiting']} left"
                 f"{', ' + str(counts['failed']) + ' failed' if counts['failed'] else ''}"
                 f"{', ' + str(counts['interrupted']) + ' interrupted' if counts.get('interrupted') else ''}")
        if self.bar is not None:
            self.bar.update(self.task, completed=counts["done"], info=f"{state}, ETA {eta}")
        elif state != self.last_line:  # without a terminal: a line when the counts change, not when the ETA ticks
            print(f"{self.engine.plan.kind}: {state}, ETA {eta}", file=sys.stderr, flush=True)
            self.last_line = state

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self.update()
        if self.bar is not None:
            self.bar.__exit__(*exc)
