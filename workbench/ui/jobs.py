"""One way to run slow work off the UI thread.

``JobRunner.submit(key, fn, on_done)`` runs ``fn()`` in a worker thread and calls
``on_done(result)`` back in the UI thread. A newer job with the same key supersedes an older
one: a job that has not started yet is skipped, and the result of one that has is dropped, so
clicking through ten models builds at most two and shows only the last. While anything is
queued or running the runner is busy, and says so through ``busyChanged`` and ``describe()``.

Same rules as the training worker: nothing escapes a job (a failure becomes ``on_error(text)``
in the UI thread), and results come back through a signal of this object, which lives in the
UI thread, never through a lambda called in the worker's thread.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot


@dataclass
class _Job:
    id: int
    key: str
    what: str
    fn: Callable[[], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None


class JobRunner(QObject):
    busyChanged = Signal(bool)
    jobFinished = Signal(str)  # the key, after its callback ran (for automation and tests)
    _delivered = Signal(int, bool, object)  # job id, ok, result or message (never None: see pyproject)

    def __init__(self, parent=None, workers: int = 1, name: str = "jobs"):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name, initializer=_lower_priority)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._pending: dict[int, _Job] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._delivered.connect(self._deliver)

    # -- UI thread -------------------------------------------------------------------------
    def submit(self, key: str, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None, what: str = "") -> int:
        if self._closed:
            return 0
        job = _Job(next(self._ids), key, what or key, fn, on_done, on_error)
        was_busy = self.busy
        with self._lock:
            self._latest[key] = job.id
            self._pending[job.id] = job
        self._pool.submit(self._run, job)
        if not was_busy:
            self.busyChanged.emit(True)
        return job.id

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def describe(self) -> str:
        """What the runner is doing, for a busy indicator ("building googlenet…")."""
        with self._lock:
            latest = [j.what for j in self._pending.values() if self._latest.get(j.key) == j.id]
        return ", ".join(dict.fromkeys(latest))

    def is_current(self, key: str, job_id: int) -> bool:
        return self._latest.get(key) == job_id

    def shutdown(self) -> None:
        """Drop queued jobs and wait for the running one (called when the window closes)."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, value: object) -> None:
        with self._lock:
            job = self._pending.pop(job_id, None)
        if job is not None and not self._closed and self._latest.get(job.key) == job_id:
            try:
                if ok and job.on_done is not None:
                    job.on_done(value)
                elif not ok and job.on_error is not None:
                    job.on_error(str(value))
            finally:
                self.jobFinished.emit(job.key)
        if not self._pending:
            self.busyChanged.emit(False)

    # -- worker thread ---------------------------------------------------------------------
    def _run(self, job: _Job) -> None:
        if self._latest.get(job.key) != job.id or self._closed:
            self._delivered.emit(job.id, True, 0)  # superseded before it started: skip the work
            return
        try:
            result = job.fn()
            ok = True
        except BaseException as exc:  # noqa: BLE001 - nothing may escape a worker thread
            ok, result = False, _message(exc)
            traceback.print_exc()
        self._delivered.emit(job.id, ok, 0 if result is None else result)


def _lower_priority() -> None:
    """Jobs yield the CPU to training (and to the UI): on Linux a thread has its own nice value,
    inherited by the threads it starts (torch's intra-op pool for this thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: jobs run at normal priority
        pass


def _message(exc: BaseException) -> str:
    from workbench.core.train.loop import user_message  # out-of-memory gets its advice here too

    try:
        return user_message(exc, None)
    except Exception:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
