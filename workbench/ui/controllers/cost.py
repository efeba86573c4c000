"""The cost line and the settings check next to Start, for the model on show and the form's
settings: multiply-adds from the session's summary, this device's measured rate (measured once
per device, in a job), the dataset's training images (``core.cost``)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from workbench.core import cost, devices

from ..jobs import JobRunner
from ..state import Session


class CostController(QObject):
    costShown = Signal(object, object, object, str, int)  # macs, training images, s per epoch or None, device, passes
    problemShown = Signal(str)  # why the settings cannot run ("" when they can)
    queueEstimated = Signal(object, str)  # [(model, epochs, seconds)] of a queued experiment, the device
    failed = Signal(str)  # an estimate that could not be made, for the error banner

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.rates: dict[str, tuple[float, float]] = {}  # device → (multiply-adds/s, seconds a step)
        self.measuring: set[str] = set()  # devices being measured (once each)
        self.pending: tuple = ()  # the settings to show the cost of once the rate is in
        self.problem = ""
        self.last_estimate: float | None = None  # seconds per epoch last shown

    @staticmethod
    def train_images(bundle, dataset: str | None) -> int | None:
        if bundle is not None and bundle.name == dataset:
            return len(bundle.train)
        return cost.KNOWN_TRAIN_IMAGES.get(dataset or "")

    def update(self, config, bundle) -> None:
        images = self.train_images(bundle, config.dataset)
        self.problem = cost.config_problem(config, images)
        self.problemShown.emit(self.problem)
        summary = self.session.summary
        if summary is None or self.problem:
            return
        device = devices.pick_device(config.device)
        key = str(device)
        if key not in self.rates:
            self.costShown.emit(summary.total_macs, images, None, key, cost.passes(config))
            if key not in self.measuring:
                self.measuring.add(key)
                self.jobs.submit(f"rate:{key}", lambda: cost.measure_rate(device),
                                 lambda rate: self._measured(key, rate), what=f"measuring {key}")
            self.pending = (config, bundle)  # shown when the rate is in
            return
        rate, overhead = self.rates[key]
        passes = cost.passes(config)
        seconds = cost.epoch_seconds(summary.total_macs, images, config.batch_size, rate, overhead, passes) \
            if images else None
        self.last_estimate = seconds
        self.costShown.emit(summary.total_macs, images, seconds, devices.describe(device), passes)

    def estimate_degradation(self, form_config) -> None:
        """The degradation experiment's four runs on the form's device and precision, estimated in a job
        (the device's rate measured first if need be)."""
        from .training import degradation_runs

        device = devices.pick_device(form_config.device)
        known = self.rates.get(str(device))
        configs = [config for config, _ in degradation_runs(form_config.device, form_config.amp)]
        self.jobs.submit("queue", lambda: cost.queue_seconds(configs, *(known or cost.measure_rate(device))),
                         lambda runs: self.queueEstimated.emit(runs, devices.describe(device)), self.failed.emit,
                         what="estimating the experiment")

    def _measured(self, key: str, rate) -> None:
        self.rates[key] = rate
        self.measuring.discard(key)
        self.update(*self.pending)
