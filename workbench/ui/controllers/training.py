"""Runs training on a worker thread, one run at a time, and a queue of runs (an experiment).

The worker's signals arrive here, in the UI thread, and go on to the views as this object's
signals; nothing in here does more than bookkeeping, so the UI thread stays free."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from workbench.core.train import TrainConfig

from ..worker import TrainingWorker


class TrainingController(QObject):
    runStarted = Signal(object)  # RunStarted
    stepsEnded = Signal(object, float)  # [StepEnded], GPU memory in bytes (0 off CUDA)
    epochEnded = Signal(object, object)  # EpochEnded, weights
    runFinished = Signal(object, object)  # RunFinished, best weights
    runFailed = Signal(object)  # RunFailed
    dataProgress = Signal(object)
    notice = Signal(object)
    ended = Signal(object)  # summary dict (status completed/stopped/failed), once the thread is gone
    queueChanged = Signal(int)  # runs still waiting in the queue

    def __init__(self, runs_root: Path, parent=None):
        super().__init__(parent)
        self.runs_root = Path(runs_root)
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.last_summary: dict | None = None
        self.queue: list[tuple[TrainConfig, object]] = []
        self.experiment_runs: list[str] = []  # run folders started by the current queue
        self._stopped_by_user = False

    @property
    def running(self) -> bool:
        return self.thread is not None

    @property
    def current_run(self) -> str | None:
        """The folder of the run under way (once it has started)."""
        return self.experiment_runs[-1] if self.running and self.experiment_runs else None

    @property
    def in_experiment(self) -> bool:
        """The runs under way belong to a queue of several (their curves are overlaid)."""
        return len(self.experiment_runs) + len(self.queue) > 1

    def start(self, config: TrainConfig | None, bundle=None, resume: str | None = None,
              epochs: int | None = None, queued: bool = False) -> None:
        if self.running:
            return
        if not queued:
            self.experiment_runs = []
        self.last_summary = None
        self._stopped_by_user = False
        self.thread = QThread(self)
        self.worker = TrainingWorker(config, runs_root=self.runs_root, bundle=bundle, resume=resume, epochs=epochs)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.runStarted.connect(self._on_run_started)
        self.worker.stepsEnded.connect(self.stepsEnded)
        self.worker.epochEnded.connect(self.epochEnded)
        self.worker.runFinished.connect(self._on_finished)
        self.worker.runFailed.connect(self._on_failed)
        self.worker.dataProgress.connect(self.dataProgress)
        self.worker.notice.connect(self.notice)
        self.worker.done.connect(self.thread.quit)
        self.thread.finished.connect(self._on_thread_finished)
        self.thread.start()

    def start_queue(self, runs: list[tuple[TrainConfig, object]]) -> None:
        """Train ``(config, bundle)`` pairs one after another (Stop ends the whole queue)."""
        if self.running or not runs:
            return
        self.experiment_runs = []
        self.queue = list(runs[1:])
        self.queueChanged.emit(len(self.queue))
        self.start(*runs[0], queued=True)

    def stop(self) -> None:
        self._stopped_by_user = True
        if self.queue:
            self.queue.clear()
            self.queueChanged.emit(0)
        if self.worker is not None:
            self.worker.stop()  # also releases a pause

    def pause(self, paused: bool) -> None:
        if self.worker is not None:
            (self.worker.trainer.request_pause if paused else self.worker.trainer.request_resume)()

    def close(self) -> None:
        """Stop a run cleanly: ask the worker to stop, then wait for its thread to end."""
        self.queue.clear()
        if self.worker is not None:
            self.worker.stop()
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()

    @Slot(object)
    def _on_run_started(self, event) -> None:
        self.experiment_runs.append(event.run_dir)
        self.runStarted.emit(event)

    @Slot(object, object)
    def _on_finished(self, event, weights) -> None:
        self.last_summary = dict(event.summary, run_dir=event.run_dir)
        self.runFinished.emit(event, weights)

    @Slot(object)
    def _on_failed(self, event) -> None:
        self.last_summary = {"status": "failed", "error": event.message, "run_dir": event.run_dir}
        self.runFailed.emit(event)

    @Slot()
    def _on_thread_finished(self) -> None:
        for obj in (self.worker, self.thread):
            if obj is not None:
                obj.deleteLater()
        self.worker = self.thread = None
        summary = self.last_summary or {}
        # The next queued run starts before ``ended`` goes out, so the views see a run still under way.
        if self.queue and not self._stopped_by_user and summary.get("status") == "completed":
            config, bundle = self.queue.pop(0)
            self.queueChanged.emit(len(self.queue))
            self.start(config, bundle, queued=True)
        elif self.queue:
            self.queue.clear()
            self.queueChanged.emit(0)
        self.ended.emit(summary)
