"""The terminal's progress bar: a training callback like any other."""

from __future__ import annotations

import io
import shutil
import sys
from typing import TextIO

from workbench.core.errors import counted
from workbench.core.events import DataProgress, Notice
from workbench.core.train import Callback


class ProgressBar(Callback):
    """``epoch 3/5 [######----] 12/20 loss 0.1234 1,234 img/s`` on one line of a terminal; a line
    per epoch in a log."""

    def __init__(self, stream: TextIO | None = None, width: int = 24):
        self.stream = stream or sys.stderr or io.StringIO()  # pythonw (a GUI script) has no stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.epochs = 0
        self._last_val = ""

    # -- preparation (scans, downloads) --------------------------------------------------
    def data(self, done: int, total: int, what: str) -> None:
        if self.tty:
            self.stream.write(f"\r{what[:60]:<60} {done}/{total}")
            self.stream.flush()
        elif done == total or done == 1:
            self._print(f"{what.split(' ', 1)[0]} {done}/{total}")

    def end_data(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()

    def on_notice(self, trainer, event) -> None:
        if isinstance(event, Notice):
            self._clear_line()
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

    def on_batch_end(self, trainer, event) -> None:
        if self.tty:
            done = int(self.width * event.step / event.steps_per_epoch)
            bar = "#" * done + "-" * (self.width - done)
            self.stream.write(f"\repoch {event.epoch}/{self.epochs} [{bar}] {event.step}/{event.steps_per_epoch} "
                              f"loss {event.loss:.4f} {event.images_per_sec:,.0f} img/s {self._last_val}")
            self.stream.flush()

    def on_epoch_end(self, trainer, event) -> None:
        self._last_val = f"val_acc {event.val_acc:.4f}"
        top5 = f" val_top5 {event.val_top5:.4f}" if event.val_top5 is not None else ""
        line = (f"epoch {event.epoch}/{event.epochs} train_loss {event.train_loss:.4f} "
                f"train_acc {event.train_acc:.4f} val_loss {event.val_loss:.4f} val_acc {event.val_acc:.4f}{top5}"
                f"{' *' if event.is_best else ''} lr {event.lr:.3g} {event.images_per_sec:,.0f} img/s "
                f"({event.seconds:.1f}s)")
        self._clear_line()
        self._print(line)

    def _clear_line(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
