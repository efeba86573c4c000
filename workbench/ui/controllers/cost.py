"""The cost line and the settings check next to Start, for the model on show and the form's
settings: multiply-adds from the session's summary, this device's measured rate (measured once
per device, in a job), the dataset's training images (``core.cost``)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from workbench.core import cost, devices

from ..jobs import JobRunner
from ..state import Session


class CostController(QObject):
    costShown = Signal(object, object, object, str)  # macs, training images, seconds per epoch or None, device
    problemShown = Signal(str)  # why the settings cannot run ("" when they can)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.rates: dict[str, tuple[float, float]] = {}  # device → (multiply-adds/s, seconds a step)
        self.problem = ""

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
            self.costShown.emit(summary.total_macs, images, None, key)
            self.jobs.submit(f"rate:{key}", lambda: cost.measure_rate(device),
                             lambda rate: self._measured(key, rate, config, bundle), what=f"measuring {key}")
            return
        rate, overhead = self.rates[key]
        seconds = cost.epoch_seconds(summary.total_macs, images, config.batch_size, rate, overhead) if images else None
        self.costShown.emit(summary.total_macs, images, seconds, devices.describe(device))

    def _measured(self, key: str, rate, config, bundle) -> None:
        self.rates[key] = rate
        self.update(config, bundle)
