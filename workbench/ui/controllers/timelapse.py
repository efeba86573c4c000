"""The time-lapse of the run on show: its frames read off the UI thread when a run is opened or starts, and its
newest frame at each epoch's end while it trains (one file an epoch, the rest kept)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner


class TimelapseController(QObject):
    ready = Signal(object)  # core.train.timelapse.Timelapse
    failed = Signal(str)

    def __init__(self, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.run_dir: str | None = None
        self.lapse = None

    def show_run(self, run_dir: str | None) -> None:
        """Read the run's frames (every one, for a run newly on show; the new ones, for the same run)."""
        if not run_dir:
            self.run_dir, self.lapse = None, None
            return
        known = self.lapse if run_dir == self.run_dir else None
        self.run_dir = run_dir

        def work():
            from workbench.core.train.timelapse import read_timelapse
            return read_timelapse(run_dir, known)
        self.jobs.submit("timelapse", work, self._on_read, self.failed.emit, what="reading the time-lapse")

    def _on_read(self, lapse) -> None:
        if lapse.run_dir != self.run_dir:  # another run came on show meanwhile
            return
        self.lapse = lapse
        self.ready.emit(lapse)
