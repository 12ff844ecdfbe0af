"""What a person watching training sees: a rich progress bar on a terminal, log lines elsewhere.

The bar goes to stderr and shows the epoch, the live training loss and the monitored metric; the
trainer feeds it at most ``REFRESH_PER_S`` times a second, so it costs the hot loop one clock
read per step. Off a terminal (CI, a log file) each epoch is one ``logging`` INFO line instead.
This module is the only place in the library that writes to the terminal directly.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

from traincraft.errors import RecipeError

__all__ = ["ProgressDisplay", "resolve_progress", "format_logs", "REFRESH_PER_S"]

log = logging.getLogger(__name__)

REFRESH_PER_S = 10.0  # bar updates per second; faster is unreadable and costs a loss.item() each
_MODES = ("auto", "bar", "log")


def resolve_progress(progress: bool | str | None, *, isatty: bool | None = None) -> str | None:
    """``"bar"``, ``"log"`` or None (no display) for the trainer's ``progress`` argument.

    False/None: nothing. True or "auto": a bar when stderr is a terminal, log lines otherwise.
    "bar" and "log" force one of them.
    """
    if progress is None or progress is False:
        return None
    if progress is True:
        progress = "auto"
    if progress not in _MODES:
        raise RecipeError(f"progress is {progress!r}; allowed: False, True, {', '.join(repr(m) for m in _MODES)}.")
    if progress == "auto":
        tty = sys.stderr.isatty() if isatty is None else isatty
        return "bar" if tty else "log"
    return progress


def _fmt(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return f"{key} {value}"
    if key == "perf/samples_per_s":
        return f"{value:,.0f} samples/s"
    if key == "perf/epoch_s":
        return f"{value:.2f} s"
    if key == "lr":
        return f"lr {value:.3g}"
    if isinstance(value, float) and math.isfinite(value):
        return f"{key} {value:.4f}"
    return f"{key} {value}"


def format_logs(epoch: int, epochs: int, logs: dict[str, Any]) -> str:
    """``epoch 3/40  train/loss 0.4123  val/loss 0.3912  lr 0.0019  52,000 samples/s  0.21 s``."""
    parts = [f"epoch {epoch}/{epochs}"]
    parts += [_fmt(k, v) for k, v in logs.items() if k not in ("epoch", "step")]
    return "  ".join(parts)


class ProgressDisplay:
    """The display for one ``fit``: ``mode`` is ``"bar"`` or ``"log"`` (see :func:`resolve_progress`)."""

    def __init__(
        self,
        mode: str,
        *,
        epochs: int,
        steps_per_epoch: int,
        monitor: str | None = None,
        console: Any = None,
    ) -> None:
        if mode not in ("bar", "log"):
            raise RecipeError(f"A progress display is 'bar' or 'log', got {mode!r}.")
        self.mode = mode
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.monitor = monitor
        self._progress: Any = None
        self._task: Any = None
        self._last_monitor = ""
        if mode == "bar":
            self._open(console)

    @property
    def wants_live_loss(self) -> bool:
        """Whether :meth:`update` uses the loss (the bar does; log lines only report epochs)."""
        return self.mode == "bar"

    def _open(self, console: Any) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[monitor]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console if console is not None else Console(stderr=True),
            refresh_per_second=REFRESH_PER_S,
        )
        self._progress.start()
        self._task = self._progress.add_task(
            "train",
            total=self.epochs * self.steps_per_epoch,
            epoch=1,
            epochs=self.epochs,
            loss="-",
            monitor="",
        )

    def start_epoch(self, epoch: int, global_step: int) -> None:
        """Epoch ``epoch`` (1-based) begins with ``global_step`` steps done (more than 0 on resume)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=global_step, epoch=epoch)

    def update(self, global_step: int, loss: float) -> None:
        """The latest step count and batch loss; call at most ``REFRESH_PER_S`` times a second."""
        if self._progress is not None:
            self._progress.update(self._task, completed=global_step, loss=f"{loss:.4f}")

    def end_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """Show the epoch's summary: a line above the bar, or a log record."""
        line = format_logs(epoch, self.epochs, logs)
        if self._progress is None:
            log.info("%s", line)
            return
        if self.monitor is not None and self.monitor in logs:
            self._last_monitor = _fmt(self.monitor, logs[self.monitor])
        loss = logs.get("train/loss")
        self._progress.update(
            self._task,
            completed=int(logs.get("step", 0)),
            loss=f"{loss:.4f}" if isinstance(loss, float) else "-",
            monitor=self._last_monitor,
        )
        self._progress.console.print(line, highlight=False)

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
