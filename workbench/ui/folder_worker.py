"""Scanning and decoding an image folder off the UI thread.

A folder of 10,000 photos takes a while to check and decode the first time; the window stays
live and shows the progress. Same rules as the training worker: nothing escapes ``run`` and
the signals go to slots of objects in the UI thread.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.datasets import load_dataset


class FolderCancelled(Exception):
    pass


class FolderWorker(QObject):
    progress = Signal(int, int, str)  # done, total, what
    loaded = Signal(object)  # DataBundle
    failed = Signal(str, str)  # message, details
    done = Signal()

    def __init__(self, path: str, image_size: int | None = None, channels: int = 3):
        super().__init__()
        self.path = path
        self.image_size = image_size
        self.channels = channels
        self._cancel = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int, what: str) -> None:
        if self._cancel.is_set():
            raise FolderCancelled()
        self.progress.emit(done, total, what)

    @Slot()
    def run(self) -> None:
        try:
            bundle = load_dataset(self.path, image_size=self.image_size, channels=self.channels,
                                  progress=self._progress)
            self.loaded.emit(bundle)
        except FolderCancelled:
            self.failed.emit("", "")
        except BaseException as exc:  # noqa: BLE001 - nothing may leave a slot on a QThread
            self.failed.emit(str(exc), traceback.format_exc())
        finally:
            self.done.emit()
