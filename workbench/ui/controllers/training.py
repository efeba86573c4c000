"""Runs training on a worker thread, one run at a time, and a queue of runs (an experiment).

The worker's signals arrive here, in the UI thread, and go on to the views as this object's
signals; nothing in here does more than bookkeeping, so the UI thread stays free."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from workbench.core.errors import counted
from workbench.core.train import TrainConfig

from ..worker import TrainingWorker

DEGRADATION_MODELS = ("plain20", "plain56", "resnet20", "resnet56")
"""He et al. 2015, Figure 6: deeper plain nets train worse; residual ones better."""


def degradation_runs(device: str, amp: str, bundle=None, epochs: int | None = None,
                     batch_size: int | None = None) -> list[tuple[TrainConfig, object]]:
    """The four runs of Figure 6 on CIFAR-10 with the paper's recipe, the same split and seed
    (``bundle``: CIFAR-10 if it is already loaded)."""
    bundle = bundle if bundle is not None and bundle.name == "cifar10" else None
    return [(TrainConfig(model=m, dataset="cifar10", recipe="he2015-cifar", seed=0, epochs=epochs,
                         batch_size=batch_size, device=device, amp=amp), bundle) for m in DEGRADATION_MODELS]


class TrainingController(QObject):
    runStarted = Signal(object, object, object)  # RunStarted, the run's model (CPU copy), history or 0
    stepsEnded = Signal(object, float)  # [StepEnded], GPU memory in bytes (0 off CUDA)
    epochEnded = Signal(object, object)  # EpochEnded, weights
    runFinished = Signal(object, object)  # RunFinished, best weights
    runFailed = Signal(object)  # RunFailed
    dataProgress = Signal(object)
    notice = Signal(object)
    ended = Signal(object)  # summary dict (status completed/stopped/failed), once the thread is gone
    starting = Signal(str, int)  # what starts (for the status line), the epochs the plots span
    refused = Signal(str)  # why a resume cannot start
    dataChanged = Signal(str, str)  # run folder, what changed: a resume refused until the user accepts the new data

    def __init__(self, runs_root: Path, parent=None):
        super().__init__(parent)
        self.runs_root = Path(runs_root)
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.last_summary: dict | None = None
        self.queue: list[tuple[TrainConfig, object]] = []
        self.experiment_runs: list[str] = []  # run folders started by the current queue
        self._stopped_by_user = False
        self._data_changed: tuple[str, str] | None = None  # a resume refused on changed data, asked about at its end

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

    def train(self, config: TrainConfig, bundle, text: str) -> None:
        """A new run of ``config`` (``bundle``: its dataset if loaded, else the run loads it)."""
        if not self.running:
            self.starting.emit(text, config.epochs)
            self.start(config, bundle)

    def resume(self, run_dir: str, epochs_asked: int, accept_data_change: bool = False) -> None:
        """Continue a run from its ``last.pt``; a finished run goes on to ``epochs_asked``. On data
        that changed since the run started only with ``accept_data_change`` (else ``dataChanged``)."""
        if self.running:
            return
        plan, problem = self.resume_plan(run_dir, epochs_asked)
        if problem:
            self.refused.emit(problem)
            return
        self.starting.emit(f"Resuming {Path(run_dir).name}…", plan["epochs"])
        self.start(None, None, resume=run_dir, epochs=plan["extend"], accept_data_change=accept_data_change)

    def start_degradation(self, device: str, amp: str, bundle=None, epochs: int | None = None,
                          batch_size: int | None = None) -> None:
        """He et al. 2015, Figure 6, queued and overlaid as the four runs train."""
        if not self.running:
            self.starting.emit("Degradation experiment: plain20, plain56, resnet20, resnet56 on CIFAR-10 (He et al. "
                               "2015)…", epochs or 1)
            self.start_queue(degradation_runs(device, amp, bundle, epochs, batch_size))

    def start(self, config: TrainConfig | None, bundle=None, resume: str | None = None,
              epochs: int | None = None, queued: bool = False, accept_data_change: bool = False) -> None:
        if self.running:
            return
        if not queued:
            self.experiment_runs = []
        self.last_summary = None
        self._stopped_by_user = False
        self.thread = QThread(self)
        self.worker = TrainingWorker(config, runs_root=self.runs_root, bundle=bundle, resume=resume, epochs=epochs,
                                     accept_data_change=accept_data_change)
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

    @staticmethod
    def resume_plan(run_dir: str, epochs_asked: int) -> tuple[dict, str]:
        """How a resume of ``run_dir`` goes on: ``({"epochs": planned, "extend": epochs or None}, "")``,
        or why it cannot (a finished run needs more epochs than it planned)."""
        from workbench.core.runs import Run

        run = Run(Path(run_dir))
        planned, metrics = run.config.get("epochs") or 0, run.metrics
        done = metrics[-1]["epoch"] if metrics else 0
        extend = epochs_asked if epochs_asked > planned else None
        if done >= planned and extend is None:
            return {}, f"{run.name} finished its {counted(planned, 'epoch')}: set Epochs above {planned} to train it further."
        return {"epochs": extend or planned, "extend": extend}, ""

    def start_queue(self, runs: list[tuple[TrainConfig, object]]) -> None:
        """Train ``(config, bundle)`` pairs one after another (Stop ends the whole queue)."""
        if self.running or not runs:
            return
        self.experiment_runs = []
        self.queue = list(runs[1:])
        self.start(*runs[0], queued=True)

    def stop(self) -> None:
        self._stopped_by_user = True
        self.queue.clear()
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

    @Slot(object, object, object)
    def _on_run_started(self, event, model, history) -> None:
        self.experiment_runs.append(event.run_dir)
        self.runStarted.emit(event, model, history)

    @Slot(object, object)
    def _on_finished(self, event, weights) -> None:
        self.last_summary = dict(event.summary, run_dir=event.run_dir)
        self.runFinished.emit(event, weights)

    @Slot(object)
    def _on_failed(self, event) -> None:
        self.last_summary = {"status": "failed", "error": event.message, "run_dir": event.run_dir}
        self.runFailed.emit(event)
        self._data_changed = (event.run_dir, event.message) if event.kind == "DataChangedError" else None

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
            self.start(config, bundle, queued=True)
        else:
            self.queue.clear()
        self.ended.emit(summary)
        changed, self._data_changed = self._data_changed, None
        if changed:  # asked once the refused run is over, so a yes can resume at once
            self.dataChanged.emit(*changed)
