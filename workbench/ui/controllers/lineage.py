"""One image through several architectures: the networks chosen (zoo models for the dataset on show, untrained
from the workbench's fixed seed, or saved runs at their best epoch) are built and the session's image goes
through each, in one job on the model thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner
from ..state import Session


def _network_input(predictor, image, photo):
    """The image as ``predictor``'s input: the session's tensor where it is already in the network's form, else
    the photo (or the tensor as a picture) decoded the way this network's dataset is."""
    from workbench.core.inspect.overlay import to_rgb

    if image is not None and image.shape[0] == predictor.input_shape[0] and \
            tuple(image.shape[1:]) == tuple(predictor.native_size):
        return predictor.prepare(image)[None]
    return predictor.prepare(photo if photo is not None else to_rgb(image))[None]


class LineageController(QObject):
    ready = Signal(object, str)  # [LineageColumn], caption
    progress = Signal(str)
    failed = Signal(str)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session, self.jobs = session, jobs

    def compare(self, choices: list) -> None:
        s = self.session
        if not 1 <= len(choices) <= 4:
            self.failed.emit("Choose one to four networks or runs to compare.")
            return
        if s.image is None and s.photo is None:
            self.failed.emit("Drop an image first (or choose a dataset): it is the image that goes through each.")
            return
        image, photo, dataset, caption = s.image, s.photo, s.dataset, s.caption or "the image on show"

        def work(job):
            from workbench.core.inspect.lineage import LineageColumn, lineage_column
            from workbench.core.predict import Predictor

            columns = []
            for i, (kind, value) in enumerate(choices):
                job.check()  # a newer comparison asked for: this one stops
                job.progress(i, len(choices), f"{value}")
                title = value if kind == "model" else f"run {Path(value).name}"
                try:
                    predictor = Predictor.from_checkpoint(value) if kind == "run" else \
                        Predictor.for_dataset(value, dataset)
                    x = _network_input(predictor, image, photo)
                    column = lineage_column(predictor.model, x, title, predictor.classes)
                    if kind == "model":
                        column.note = (column.note + "; " if column.note else "") + "untrained"
                    columns.append(column)
                except Exception as exc:  # noqa: BLE001 - one network that cannot be built leaves the others
                    columns.append(LineageColumn(title, str(value), (0, 0, 0), 0, 0, note=str(exc)))
            return columns
        self.jobs.submit("lineage", work, lambda columns: self.ready.emit(columns, f"{caption} through each network"),
                         self.failed.emit, what="comparing architectures", on_progress=self._progress,
                         cancellable=True)

    def _progress(self, done: int, total: int, what: str) -> None:
        self.progress.emit(f"Putting the image through {what} ({done + 1} of {total})…")
