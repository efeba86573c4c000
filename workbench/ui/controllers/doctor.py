"""The dataset doctor in the window: an examination of the folder on show, through the run on show when it
is of that folder (else the newest run of it), in a job with progress and cancel; fixes and their undo as
jobs too. What it finds goes to the doctor view with a thumbnail of every finding; a fix is followed by the
examination again (the features are remembered) and the folder read again, so a new run trains on the
cleaned set."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.runs import Run

from ..jobs import JobRunner
from ..state import Session

THUMBNAIL = 56


class DoctorController(QObject):
    reportReady = Signal(object, object)  # DoctorReport, {finding index: PIL thumbnail}
    progress = Signal(int, int, str)
    fixed = Signal(object, str)  # the Batch made or put back, what was done in words
    failed = Signal(str)  # why ("" when cancelled)
    busyChanged = Signal(bool)

    def __init__(self, session: Session, jobs: JobRunner, runs_root: str | Path, parent=None):
        super().__init__(parent)
        self.session, self.jobs, self.runs_root = session, jobs, Path(runs_root)
        self.report = None
        self.busy = False
        self.method = "features"

    def run_for(self, root: str) -> str | None:
        """The run on show when it trained on ``root``; ``None`` lets the doctor pick the newest run of it."""
        run = self.session.run
        if run is not None and Run(Path(run.dir)).config.get("dataset") == root:
            return run.dir
        return None

    def examine(self, root: str, method: str | None = None) -> None:
        """``method``: ``features`` or ``network`` (``core.doctor.METHODS``); by default the last one asked for."""
        run = self.run_for(root)
        self.method = method = method or self.method

        def work(job):
            from workbench.core.doctor import examine

            report = examine(root, run, progress=job.progress, should_stop=lambda: job.cancelled,
                             runs_root=self.runs_root, method=method)
            return report, _thumbnails(report)
        self._submit("doctor", work, self._on_report, "examining the folder")

    def cancel(self) -> None:
        self.jobs.cancel("doctor")

    def fix(self, findings: list, action: str) -> None:
        """Make the one-click fix ``action`` (``move``, ``exclude``, ``keep``, or ``suggested``: each finding's own)."""
        report = self.report
        if report is None or not findings:
            return

        def work(job):
            from workbench.core.doctor import Fix, apply_fixes

            fixes = [Fix(f.file, f.action if action == "suggested" else action, f.suggested, f.kind, f.sha1)
                     for f in findings]
            return apply_fixes(report.root, fixes, report.classes)
        self._submit("doctor-fix", work, lambda batch: self._on_fixed(batch, report.root), "fixing")

    def undo(self) -> None:
        if self.report is None:
            return
        root = self.report.root

        def work(job):
            from workbench.core.doctor import undo

            return undo(root)
        self._submit("doctor-fix", work, lambda batch: self._on_fixed(batch, root, undone=True), "undoing the last fix")

    def _submit(self, key, work, done, what) -> None:
        self.busy = True
        self.busyChanged.emit(True)
        self.jobs.submit(key, work, done, self._on_failed, what=what, on_progress=self.progress.emit,
                         on_cancel=lambda: self._on_failed(""))

    def _on_report(self, result) -> None:
        self.report, thumbs = result
        self.busy = False
        self.busyChanged.emit(False)
        self.reportReady.emit(self.report, thumbs)

    def _on_fixed(self, batch, root: str, undone: bool = False) -> None:
        self.busy = False
        self.busyChanged.emit(False)
        words = (f"Put back: {batch.describe()}" if undone else f"Done: {batch.describe()}") + (
            " — " + "; ".join(batch.problems) if batch.problems else "")
        self.fixed.emit(batch, words)
        self.examine(root)

    def _on_failed(self, message: str) -> None:
        self.busy = False
        self.busyChanged.emit(False)
        self.failed.emit(message)


def _thumbnails(report) -> dict:
    """A small picture of each finding's image (read in the job, never on the UI thread)."""
    from workbench.core.data.decode import DecodeError, decode

    out = {}
    for f in report.findings:
        try:
            image = decode(Path(report.root) / f.file)
            image.thumbnail((THUMBNAIL, THUMBNAIL))
            out[f.index] = image.convert("RGB")
        except (DecodeError, OSError):
            pass
    return out
