"""Training off the UI thread: a worker object moved to a ``QThread``.

The engine's plain events become Qt signals. Connect them only to slots of QObjects that
live in the UI thread (a lambda or plain function would run in the worker's thread).
Nothing may escape ``run``: an exception leaving a slot on a QThread kills the interpreter.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.train import Trainer, TrainConfig
from workbench.core.events import DataProgress, EpochEnded, Notice, RunFailed, RunFinished, RunStarted, StepEnded


class TrainingWorker(QObject):
    runStarted = Signal(object)  # RunStarted
    stepEnded = Signal(object)  # StepEnded
    epochEnded = Signal(object, object)  # EpochEnded, CPU copy of the weights
    runFinished = Signal(object, object)  # RunFinished, CPU copy of the best weights
    runFailed = Signal(object)  # RunFailed
    dataProgress = Signal(object)  # DataProgress: decoding a folder, downloading weights
    notice = Signal(object)  # Notice: something the user should know that does not stop the run
    done = Signal()  # always the last signal, whatever happened

    def __init__(self, config: TrainConfig, runs_root=None, bundle=None):
        super().__init__()
        self.trainer = Trainer(config, [self._forward], runs_root=runs_root, bundle=bundle)

    @Slot()
    def run(self) -> None:
        try:
            self.trainer.run()
        except BaseException as exc:  # noqa: BLE001 - nothing may leave a slot on a QThread
            self.runFailed.emit(RunFailed("", f"Training crashed: {exc}", traceback.format_exc()))
        finally:
            self.done.emit()

    def stop(self) -> None:
        """Thread-safe: call it directly from the UI thread; the run stops within a batch."""
        self.trainer.request_stop()

    def _forward(self, event) -> None:
        if isinstance(event, StepEnded):
            self.stepEnded.emit(event)
        elif isinstance(event, EpochEnded):
            self.epochEnded.emit(event, self.trainer.snapshot())
        elif isinstance(event, RunStarted):
            self.runStarted.emit(event)
        elif isinstance(event, RunFinished):
            self.runFinished.emit(event, self.trainer.snapshot())
        elif isinstance(event, RunFailed):
            self.runFailed.emit(event)
        elif isinstance(event, DataProgress):
            self.dataProgress.emit(event)
        elif isinstance(event, Notice):
            self.notice.emit(event)
