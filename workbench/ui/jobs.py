"""One way to run slow work off the UI thread, with progress and cancel.

``JobRunner.submit(key, fn, on_done)`` runs ``fn()`` in a worker thread and calls
``on_done(result)`` back in the UI thread. A newer job with the same key supersedes an older
one: a job that has not started yet is skipped, one that has is asked to stop (its token says
cancelled) and its result is dropped, so clicking through ten models builds at most two and
shows only the last. While anything is queued or running the runner is busy, and says so
through ``busyChanged`` and ``describe()``.

Long jobs take a ``Job`` (``submit(..., on_progress=...)`` or ``cancellable=True``): ``fn(job)``
reports with ``job.progress(done, total, what)`` (delivered to ``on_progress`` in the UI thread,
at most every 50 ms) and stops when ``job.cancelled`` (``job.check()`` raises ``JobCancelled``).
``cancel(key)`` asks the running job of that key to stop; a cancelled job calls neither
``on_done`` nor ``on_error`` but ``on_cancel``.

Same rules as the training worker: nothing escapes a job (a failure becomes ``on_error(text)``
in the UI thread), and results come back through a signal of this object, which lives in the
UI thread, never through a lambda called in the worker's thread. Job threads run niced and with
a one-thread OpenMP team (``core.threads``), so a run training meanwhile keeps the cores.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

__all__ = ["Job", "JobCancelled", "JobRunner"]


class JobCancelled(Exception):
    """Raised by ``Job.check()`` once the job was cancelled or superseded."""


@dataclass
class Job:
    id: int
    key: str
    what: str
    fn: Callable
    on_done: Callable[[Any], None] | None = None
    on_error: Callable[[str], None] | None = None
    on_progress: Callable[[int, int, str], None] | None = None
    on_cancel: Callable[[], None] | None = None
    takes_job: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _report: Callable[[int, int, int, str], None] | None = field(default=None, repr=False)
    _last: float = field(default=0.0, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled()

    def progress(self, done: int, total: int, what: str = "") -> None:
        """From the worker thread: how far the job is (delivered to ``on_progress``). Raises
        ``JobCancelled`` once the job is cancelled, so a loop that reports also stops."""
        self.check()
        now = time.monotonic()
        if self._report is not None and (now - self._last >= 0.05 or done >= total):
            self._last = now
            self._report(self.id, int(done), int(total), str(what))


class JobRunner(QObject):
    busyChanged = Signal(bool)
    jobFinished = Signal(str)  # the key, after its callback ran (for automation and tests)
    _delivered = Signal(int, int, object)  # job id, outcome (0 done, 1 failed, 2 cancelled), result or message
    _progressed = Signal(int, int, int, str)  # job id, done, total, what

    DONE, FAILED, CANCELLED = 0, 1, 2

    def __init__(self, parent=None, workers: int = 1, name: str = "jobs"):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name, initializer=_job_thread)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._pending: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._delivered.connect(self._deliver)
        self._progressed.connect(self._on_progress)

    # -- UI thread -------------------------------------------------------------------------
    def submit(self, key: str, fn: Callable, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None, what: str = "",
               on_progress: Callable[[int, int, str], None] | None = None, cancellable: bool = False,
               on_cancel: Callable[[], None] | None = None) -> int:
        """Run ``fn()`` (or ``fn(job)`` for a job with progress or cancel) off the UI thread."""
        if self._closed:
            return 0
        job = Job(next(self._ids), key, what or key, fn, on_done, on_error, on_progress, on_cancel,
                  takes_job=on_progress is not None or cancellable)
        job._report = self._progressed.emit
        was_busy = self.busy
        with self._lock:
            older = self._pending.get(self._latest.get(key, 0))
            self._latest[key] = job.id
            self._pending[job.id] = job
        if older is not None:
            older.cancel()  # a running job that reports or checks stops early; its result is dropped anyway
        self._pool.submit(self._run, job)
        if not was_busy:
            self.busyChanged.emit(True)
        return job.id

    def cancel(self, key: str) -> bool:
        """Ask the newest job of ``key`` to stop; returns whether one was queued or running."""
        with self._lock:
            job = self._pending.get(self._latest.get(key, 0))
        if job is None:
            return False
        job.cancel()
        return True

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def describe(self) -> str:
        """What the runner is doing, for a busy indicator ("building googlenet…")."""
        with self._lock:
            latest = [j.what for j in self._pending.values() if self._latest.get(j.key) == j.id]
        return ", ".join(dict.fromkeys(latest))

    def shutdown(self, wait: bool = True) -> None:
        """Cancel and drop queued jobs, and wait for the running one unless ``wait`` is false (the window
        closing: its result would be dropped anyway)."""
        self._closed = True
        with self._lock:
            for job in self._pending.values():
                job.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self._pending.clear()

    @Slot(int, int, int, str)
    def _on_progress(self, job_id: int, done: int, total: int, what: str) -> None:
        job = self._pending.get(job_id)
        if job is not None and job.on_progress is not None and not job.cancelled and not self._closed:
            job.on_progress(done, total, what)

    @Slot(int, int, object)
    def _deliver(self, job_id: int, outcome: int, value: object) -> None:
        with self._lock:
            job = self._pending.pop(job_id, None)
        if job is not None and not self._closed and self._latest.get(job.key) == job_id:
            try:
                if outcome == self.CANCELLED or job.cancelled:
                    if job.on_cancel is not None:
                        job.on_cancel()
                elif outcome == self.DONE and job.on_done is not None:
                    job.on_done(value)
                elif outcome == self.FAILED and job.on_error is not None:
                    job.on_error(str(value))
            finally:
                self.jobFinished.emit(job.key)
        if not self._pending:
            self.busyChanged.emit(False)

    # -- worker thread ---------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        if self._latest.get(job.key) != job.id or self._closed or job.cancelled:
            self._delivered.emit(job.id, self.CANCELLED, 0)  # superseded before it started: skip the work
            return
        try:
            result = job.fn(job) if job.takes_job else job.fn()
            outcome = self.CANCELLED if job.cancelled else self.DONE
        except JobCancelled:
            outcome, result = self.CANCELLED, 0
        except BaseException as exc:  # noqa: BLE001 - nothing may escape a worker thread
            outcome, result = self.FAILED, _message(exc)
            if not _handled(exc):  # a bug: its traceback goes to the terminal; a user's error is shown, not printed
                traceback.print_exc()
        self._delivered.emit(job.id, outcome, 0 if result is None else result)


def _job_thread() -> None:
    """Jobs yield the CPU to training (and to the UI): niced on Linux (a thread has its own nice
    value, inherited by the threads it starts), and their OpenMP team is this thread alone, so
    the training thread's team is the only one that uses the cores (see ``core.threads``)."""
    from workbench.core.threads import limit_this_thread

    limit_this_thread(1)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: jobs run at normal priority
        pass


def _handled(exc: BaseException) -> bool:
    """An error the app expects and explains (a bad image, a missing dataset, out of memory)."""
    from workbench.core.errors import OOM_TEXT, UserError

    return isinstance(exc, (UserError, MemoryError)) or any(text in str(exc) for text in OOM_TEXT)


def _message(exc: BaseException) -> str:
    from workbench.core.errors import user_message  # out-of-memory gets its advice here too

    try:
        return user_message(exc)
    except Exception:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
