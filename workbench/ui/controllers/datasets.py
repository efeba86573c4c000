"""The dataset the window trains on: a named set (loaded with the model on show) or an image
folder, scanned, split and decoded in a job with progress and cancel; the window stays live."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.data import load_dataset

from ..jobs import JobRunner


class DatasetController(QObject):
    reading = Signal(str)  # the folder now read
    progress = Signal(int, int, str)  # done, total, what
    loaded = Signal(object)  # the DataBundle of a folder
    failed = Signal(str)  # why a folder could not be used ("" when cancelled)
    busyChanged = Signal(bool)

    def __init__(self, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.bundle = None  # the loaded DataBundle (None while a set is still to download)
        self.loading: str | None = None  # the folder being read

    def for_config(self, dataset: str):
        """The loaded bundle if it is the one a run of ``dataset`` needs (else the run loads it)."""
        return self.bundle if self.bundle is not None and self.bundle.name == dataset else None

    def open_folder(self, path: str, image_size: int, channels: int = 3) -> bool:
        """Read a class-per-folder set; returns False while another folder is being read."""
        if self.loading is not None:
            return False
        self.loading = path
        self.reading.emit(path)

        def work(job):
            return load_dataset(path, image_size=image_size, channels=channels, progress=job.progress)
        self.busyChanged.emit(True)
        self.jobs.submit("folder", work, self._on_loaded, self._on_failed, what=f"reading {Path(path).name}",
                         on_progress=self.progress.emit, on_cancel=lambda: self._on_failed(""))
        return True

    def cancel(self) -> None:
        self.jobs.cancel("folder")

    def _on_loaded(self, bundle) -> None:
        self.bundle, self.loading = bundle, None
        self.busyChanged.emit(False)
        self.loaded.emit(bundle)

    def _on_failed(self, message: str) -> None:
        self.loading = None
        self.busyChanged.emit(False)
        self.failed.emit(message)
