"""The window's one way to run slow work off the UI thread."""

import threading
import time

from PySide6.QtCore import QObject, Slot

from workbench.ui.jobs import JobRunner


class Sink(QObject):
    """Results land in a UI-thread object; each records the thread it ran in."""

    def __init__(self):
        super().__init__()
        self.done, self.errors, self.threads = [], [], []

    @Slot(object)
    def ok(self, value):
        self.done.append(value)
        self.threads.append(threading.current_thread())

    @Slot(str)
    def bad(self, message):
        self.errors.append(message)


def test_work_runs_off_the_ui_thread_and_results_come_back_on_it(qtbot):
    runner, sink = JobRunner(), Sink()
    ran_in = []
    busy = []
    runner.busyChanged.connect(busy.append)
    runner.submit("a", lambda: ran_in.append(threading.current_thread()) or 42, sink.ok, sink.bad)
    assert runner.busy
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert sink.done == [42] and sink.threads == [threading.main_thread()]
    assert ran_in[0] is not threading.main_thread()
    assert busy == [True, False]
    runner.shutdown()


def test_a_newer_job_with_the_same_key_supersedes_the_older(qtbot):
    runner, sink = JobRunner(), Sink()
    started = []
    gate = threading.Event()

    def slow(n):
        started.append(n)
        gate.wait(5)
        return n
    runner.submit("model", lambda: slow(1), sink.ok)  # starts, then is superseded while running
    qtbot.waitUntil(lambda: started == [1], timeout=5_000)
    runner.submit("model", lambda: slow(2), sink.ok)  # queued, superseded before it starts
    runner.submit("model", lambda: slow(3), sink.ok)
    runner.submit("other", lambda: "kept", sink.ok)
    gate.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert started == [1, 3]  # job 2 never ran
    assert sink.done == [3, "kept"]  # job 1's result was dropped
    runner.shutdown()


def test_a_failing_job_becomes_a_message_and_the_runner_goes_on(qtbot):
    runner, sink = JobRunner(), Sink()

    def boom():
        raise ValueError("cannot read this image")
    runner.submit("a", boom, sink.ok, sink.bad)
    runner.submit("b", lambda: time.sleep(0.01) or "after", sink.ok, sink.bad)
    qtbot.waitUntil(lambda: not runner.busy, timeout=10_000)
    assert sink.errors == ["cannot read this image"] and sink.done == ["after"]
    runner.shutdown()
