"""The session: what the window is working with (model, dataset, run, image), as one evented
object that controllers update and views observe."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Session(QObject):
    changed = Signal(str)  # the name of what changed: "model", "dataset", "run" or "image"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model_name: str | None = None
        self.dataset: str | None = None
        self.bundle = None  # the loaded DataBundle, or None before a download
        self.run_dir: str | None = None  # the run shown in the evaluation view (trained or opened)

    def set(self, **values) -> None:
        for name, value in values.items():
            if getattr(self, name) is not value:
                setattr(self, name, value)
                self.changed.emit({"model_name": "model", "bundle": "dataset"}.get(name, name))
