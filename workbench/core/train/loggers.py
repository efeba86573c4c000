"""Callbacks that write a run's metrics: CSV and JSON files, and TensorBoard event files."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..events import EpochEnded, Evaluated, Notice, RunStarted, StepEnded
from ..runs import METRIC_FIELDS, STEP_FIELDS, RunStore, open_for_writing, read_csv
from .callbacks import Callback


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class FileLogger(Callback):
    """``metrics.csv`` (one row per epoch), ``steps.csv`` (one row per step) and the evaluation
    reports as JSON. A resumed run keeps the rows of the epochs it keeps and drops the rest."""

    def __init__(self, store: RunStore):
        self.store = store
        self._steps = None

    def on_run_start(self, trainer, event: RunStarted) -> None:
        for path, header in ((self.store.metrics_path, METRIC_FIELDS), (self.store.steps_path, STEP_FIELDS)):
            kept = [r for r in read_csv(path) if r["epoch"] < event.start_epoch] if event.start_epoch > 1 else []
            with open_for_writing(path, "w") as fh:
                writer = csv.writer(fh)
                writer.writerow(header)
                writer.writerows([[_cell(r.get(k)) for k in header] for r in kept])
        self._steps = open_for_writing(self.store.steps_path, "a")

    def on_batch_end(self, trainer, event: StepEnded) -> None:
        csv.writer(self._steps).writerow([_cell(v) for v in (
            event.epoch, event.step, event.global_step, event.loss, event.accuracy, event.lr, event.images_per_sec)])

    def on_epoch_end(self, trainer, event: EpochEnded) -> None:
        self._steps.flush()
        row = {"epoch": event.epoch, "train_loss": event.train_loss, "train_acc": event.train_acc,
               "val_loss": event.val_loss, "val_acc": event.val_acc, "train_top5": event.train_top5,
               "val_top5": event.val_top5, "lr": event.lr, "images_per_sec": event.images_per_sec,
               "train_images": event.train_images,
               "seconds": event.seconds, "best": event.is_best}
        with open_for_writing(self.store.metrics_path, "a") as fh:
            csv.writer(fh).writerow([_cell(row[k]) for k in METRIC_FIELDS])

    def on_evaluated(self, trainer, event: Evaluated) -> None:
        self.store.write_json(Path(event.path).name, event.report)

    def _close(self, trainer, event) -> None:
        if self._steps is not None:
            self._steps.close()
            self._steps = None

    on_run_end = on_exception = _close


class TensorBoardLogger(Callback):
    """Event files under ``RUN_DIR/tensorboard`` through torch's ``SummaryWriter``:
    ``tensorboard --logdir RUNS_ROOT`` shows every run side by side."""

    def __init__(self, log_dir: str | Path):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self.writer = SummaryWriter(str(log_dir))

    @staticmethod
    def available() -> bool:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            return False
        return True

    def on_run_start(self, trainer, event: RunStarted) -> None:
        if event.start_epoch == 1:
            text = "\n".join(f"    {k}: {v}" for k, v in event.config.items())
            self.writer.add_text("config", text)

    def on_batch_end(self, trainer, event: StepEnded) -> None:
        self.writer.add_scalar("step/loss", event.loss, event.global_step)
        self.writer.add_scalar("step/lr", event.lr, event.global_step)
        if event.images_per_sec:
            self.writer.add_scalar("step/images_per_sec", event.images_per_sec, event.global_step)

    def on_epoch_end(self, trainer, event: EpochEnded) -> None:
        for name, value in (("loss/train", event.train_loss), ("loss/val", event.val_loss),
                            ("accuracy/train", event.train_acc), ("accuracy/val", event.val_acc),
                            ("top5/train", event.train_top5), ("top5/val", event.val_top5)):
            if value is not None:
                self.writer.add_scalar(name, value, event.epoch)
        self.writer.flush()

    def on_evaluated(self, trainer, event: Evaluated) -> None:
        self.writer.add_scalar(f"evaluation/{event.split}_accuracy", event.accuracy, trainer.global_step)

    def on_notice(self, trainer, event) -> None:
        if isinstance(event, Notice):
            self.writer.add_text("notices", event.message, trainer.global_step)

    def _close(self, trainer, event) -> None:
        self.writer.close()

    on_run_end = on_exception = _close

