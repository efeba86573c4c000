"""Training off the UI thread: a worker object moved to a ``QThread``.

The engine's plain events become Qt signals. Connect them only to slots of QObjects that
live in the UI thread (a lambda or plain function would run in the worker's thread).
Nothing may escape ``run``: an exception leaving a slot on a QThread kills the interpreter.

Step events are coalesced: the UI needs a few updates a second, not one per batch, so the
worker hands over the steps finished since the last hand-over at most every ``STEP_INTERVAL``
seconds (and always before an epoch's end), as one list.

At the run's start the worker hands over a CPU copy of the run's own model (the window shows and
probes it; no second model is built while the run seeds and builds its own) and, for a resumed
run, the epochs and steps it already has (the plots show the whole history).
"""

from __future__ import annotations

import copy
import time
import traceback

import torch
from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.events import DataProgress, EpochEnded, Notice, RunFailed, RunFinished, RunStarted, StepEnded
from workbench.core.runs import RunStore
from workbench.core.train import Trainer, TrainConfig

STEP_INTERVAL = 0.5


class TrainingWorker(QObject):
    runStarted = Signal(object, object, object)  # RunStarted, CPU copy of the run's model, (metrics, steps) or 0
    stepsEnded = Signal(object, float)  # [StepEnded, ...] since the last hand-over, GPU memory in bytes
    epochEnded = Signal(object, object)  # EpochEnded, CPU copy of the weights
    runFinished = Signal(object, object)  # RunFinished, CPU copy of the best weights
    runFailed = Signal(object)  # RunFailed
    dataProgress = Signal(object)  # DataProgress: decoding a folder, downloading weights
    notice = Signal(object)  # Notice: something the user should know that does not stop the run
    done = Signal()  # always the last signal, whatever happened

    def __init__(self, config: TrainConfig | None, runs_root=None, bundle=None, resume=None, epochs=None,
                 accept_data_change: bool = False):
        super().__init__()
        self.trainer = Trainer(config, [self._forward], runs_root=runs_root, bundle=bundle, resume=resume,
                               epochs=epochs, accept_data_change=accept_data_change)
        self._steps: list[StepEnded] = []
        self._sent = 0.0
        self._cuda = False

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

    def _flush(self) -> None:
        if self._steps:
            memory = float(torch.cuda.max_memory_allocated()) if self._cuda else 0.0
            steps, self._steps = self._steps, []
            self.stepsEnded.emit(steps, memory)
        self._sent = time.monotonic()

    def _forward(self, event) -> None:
        if isinstance(event, StepEnded):
            self._steps.append(event)
            if time.monotonic() - self._sent >= STEP_INTERVAL:
                self._flush()
            return
        self._flush()
        if isinstance(event, EpochEnded):
            self.epochEnded.emit(event, self.trainer.snapshot())
        elif isinstance(event, RunStarted):
            self._cuda = event.device.startswith("cuda")
            model = copy.deepcopy(self.trainer.model).to("cpu").eval()
            history = 0
            if event.start_epoch > 1:  # what the run folder holds of the epochs before the resume
                history = (RunStore.read_metrics(event.run_dir), RunStore.read_steps(event.run_dir))
            self.runStarted.emit(event, model, history)
        elif isinstance(event, RunFinished):
            self.runFinished.emit(event, self.trainer.snapshot())
        elif isinstance(event, RunFailed):
            self.runFailed.emit(event)
        elif isinstance(event, DataProgress):
            self.dataProgress.emit(event)
        elif isinstance(event, Notice):
            self.notice.emit(event)
