"""Classifying many files: a job on the model thread runs ``core.predict.predict_files`` with the model on
show, in batches; the rows finished so far reach the view with each progress report, so the table fills
while it runs, and Cancel stops it with what it has."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.predict import predict_files

from ..jobs import JobRunner
from ..state import Session

TOP = 5
THUMBNAIL = 48


class ClassifyController(QObject):
    started = Signal(str, str)  # what, the model's note
    rowsReady = Signal(list)  # Predictions finished since the last
    progress = Signal(int, int, str)
    finished = Signal(bool)  # cancelled
    failed = Signal(str)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session, self.jobs = session, jobs
        self._buffer: list = []
        self._told = 0
        self._generation = 0
        self.running = False

    def classify(self, paths: list[str]) -> bool:
        predictor = self.session.predictor
        if predictor is None or not paths:
            return False
        buffer: list = []  # filled by the job's thread, read here at each progress report
        self._buffer, self._told, self.running = buffer, 0, True
        self._generation += 1
        generation = self._generation
        mine = lambda fn: lambda *args: fn(*args) if generation == self._generation else None  # noqa: E731
        what = (f"{Path(paths[0]).name}/" if len(paths) == 1 else counted_paths(paths))
        self.started.emit(what, self.session.note)

        def work(job):
            return predict_files(predictor, paths, TOP, progress=job.progress, cancelled=lambda: job.cancelled,
                                 finished=buffer.extend, thumbnail=THUMBNAIL)

        self.jobs.submit("classify", work, mine(lambda _: self._end(False)), mine(self._failed),
                         on_progress=mine(self._on_progress), on_cancel=mine(lambda: self._end(True)),
                         what=f"classifying {what}")
        return True

    def cancel(self) -> None:
        self.jobs.cancel("classify")

    def _flush(self) -> None:
        new = self._buffer[self._told:]
        self._told += len(new)
        if new:
            self.rowsReady.emit(new)

    def _on_progress(self, done: int, total: int, name: str) -> None:
        self._flush()
        self.progress.emit(done, total, name)

    def _end(self, cancelled: bool) -> None:
        self._flush()
        self.running = False
        self.finished.emit(cancelled)

    def _failed(self, message: str) -> None:
        self._end(True)
        self.failed.emit(message)


def counted_paths(paths: list[str]) -> str:
    folders = sum(Path(p).is_dir() for p in paths)
    files = len(paths) - folders
    parts = [f"{files} files"] if files else []
    if folders:
        parts.append(f"{folders} folder{'s' if folders > 1 else ''}")
    return " and ".join(parts)
