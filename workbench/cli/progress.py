"""The terminal's progress bar, a training callback like any other, drawn by rich.

On a terminal: one live bar per epoch (``epoch 3/5 ━━━━━━╺━━━ 12/20 loss 0.1234 1,234 img/s 0:00:04``)
with the scans and downloads before it, and the epoch lines, notes and health report printed above
it. In a log (not a terminal): a plain line per epoch, nothing that redraws."""

from __future__ import annotations

import io
import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from workbench.core.errors import counted
from workbench.core.events import DataProgress, Notice
from workbench.core.train import Callback


def console(stream: TextIO | None = None) -> Console:
    """A console for ``stream`` that prints text as it is (no markup, no highlighting: file and class
    names are the user's) and, off a terminal, never wraps a line."""
    stream = stream or sys.stderr or io.StringIO()  # pythonw (a GUI script) has no stderr
    tty = stream.isatty()
    return Console(file=stream, markup=False, highlight=False, emoji=False, width=None if tty else 10_000,
                   force_terminal=tty, soft_wrap=not tty)


class ProgressBar(Callback):
    def __init__(self, stream: TextIO | None = None):
        self.console = console(stream)
        self.tty = self.console.is_terminal
        self.epochs = 0
        self._last_val = ""
        self._progress: Progress | None = None
        self._task = None
        self._data_task = None

    # -- the live display (a terminal only) ------------------------------------------------
    def _live(self) -> Progress | None:
        if self.tty and self._progress is None:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
        return self._progress

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress, self._task, self._data_task = None, None, None

    # -- preparation (scans, downloads) --------------------------------------------------
    def data(self, done: int, total: int, what: str) -> None:
        live = self._live()
        if live is not None:
            if self._data_task is None:
                self._data_task = live.add_task(what[:60], total=max(1, total), info="")
            live.update(self._data_task, completed=done, total=max(1, total), description=what[:60])
        elif done == total or done == 1:
            self._print(f"{what.split(' ', 1)[0]} {done}/{total}")

    def end_data(self) -> None:
        if self._progress is not None and self._data_task is not None:
            self._progress.remove_task(self._data_task)
            self._data_task = None
        if self._task is None:
            self._stop()

    def on_notice(self, trainer, event) -> None:
        if isinstance(event, Notice):
            self._print(f"note: {event.message}")
        elif isinstance(event, DataProgress):
            if event.stage == "download":
                mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
                self.data(event.done, event.total, f"downloading {event.what} {mb(event.done)} of {mb(event.total)}")
            else:
                self.data(event.done, event.total, event.what)

    # -- training ----------------------------------------------------------------------------
    def on_run_start(self, trainer, event) -> None:
        self.end_data()
        self.epochs = event.epochs
        if event.health:
            self._print(event.health)
        cfg = event.config
        resumed = f", resuming at epoch {event.start_epoch}" if event.start_epoch > 1 else ""
        self._print(f"Training {cfg['model']} on {cfg['dataset']} ({event.num_params:,} parameters, input "
                    f"{'x'.join(map(str, event.input_size))}) on {event.device}{resumed}\n"
                    f"{cfg['optimizer']} lr {cfg['lr']:g}, {cfg['schedule']} schedule, batch {cfg['batch_size']}, "
                    f"{counted(cfg['epochs'], 'epoch')}{', recipe ' + cfg['recipe'] if cfg.get('recipe') else ''}\n"
                    f"Run folder: {event.run_dir}")

    def on_epoch_start(self, trainer, event) -> None:
        live = self._live()
        if live is not None:
            if self._task is not None:
                live.remove_task(self._task)
            self._task = live.add_task(f"epoch {event.epoch}/{event.epochs}", total=None, info=self._last_val)

    def on_batch_end(self, trainer, event) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=event.step, total=event.steps_per_epoch,
                                  info=f"loss {event.loss:.4f} {event.images_per_sec:,.0f} img/s {self._last_val}")

    def on_epoch_end(self, trainer, event) -> None:
        self._last_val = f"val_acc {event.val_acc:.4f}"
        top5 = f" val_top5 {event.val_top5:.4f}" if event.val_top5 is not None else ""
        self._print(f"epoch {event.epoch}/{event.epochs} train_loss {event.train_loss:.4f} "
                    f"train_acc {event.train_acc:.4f} val_loss {event.val_loss:.4f} val_acc {event.val_acc:.4f}{top5}"
                    f"{' *' if event.is_best else ''} lr {event.lr:.3g} {event.images_per_sec:,.0f} img/s "
                    f"({event.seconds:.1f}s)")

    def on_run_end(self, trainer, event) -> None:
        self._stop()

    on_exception = on_run_end

    def _print(self, text: str) -> None:
        self.console.print(Text(text), soft_wrap=True)  # above a live bar, which redraws below it
