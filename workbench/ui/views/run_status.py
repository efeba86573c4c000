"""What the run (or the folder being read) is doing: a progress bar that moves batch by batch,
images/s, elapsed time, time left and GPU memory, a status line and the error banner.

Every text here that holds a user's string (a file name, a run folder, a class) is escaped: the
labels render rich text."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QProgressBar, QVBoxLayout, QWidget

from workbench.core.errors import counted

from .text import plain, rich


def clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class RunStatusView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.progress = QProgressBar(objectName="epochProgress", textVisible=True)
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.progress.setMinimumHeight(self.progress.minimumSizeHint().height())
        self.eta_label = plain(QLabel(objectName="etaLabel"))
        self.status_label = rich(QLabel(objectName="runStatus", wordWrap=True))
        self.error_banner = QLabel(objectName="errorBanner", wordWrap=True, visible=False)
        self.error_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.error_banner.setStyleSheet("QLabel { background: #fdecea; color: #8a1c13; border: 1px solid #f5c2bd; "
                                        "border-radius: 4px; padding: 6px; }")
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.progress, self.eta_label, self.status_label, self.error_banner):
            layout.addWidget(widget)
        self.epochs, self.started_at, self.first_step = 1, time.monotonic(), 1

    def follow(self, training) -> None:
        """Report the runs of a ``TrainingController``."""
        training.runStarted.connect(lambda event, model, history: self.started(event, len(training.queue)))
        training.stepsEnded.connect(lambda steps, memory: self.steps(steps[-1], memory))
        training.epochEnded.connect(lambda event, weights: self.epoch(event))
        training.runFinished.connect(lambda event, weights: self.finished(event.summary, event.run_dir))
        training.runFailed.connect(lambda event: self.failed(event.message))
        training.dataProgress.connect(self.data_progress)

    # -- messages ---------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(bool(message))

    def clear(self) -> None:
        self.show_error("")
        self.status_label.setText("")

    def say(self, text: str) -> None:
        """A plain sentence in the status line (escaped)."""
        self.status_label.setText(html.escape(text))

    def idle(self, text: str = "idle") -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)

    # -- a run --------------------------------------------------------------------------------------
    def begin(self, text: str, epochs: int) -> None:
        self.show_error("")
        self.epochs = epochs
        self.progress.setRange(0, max(1, epochs))
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.say(text)

    def started(self, event, queued: int) -> None:
        self.epochs = event.epochs or event.config.get("epochs") or 1
        self.started_at = time.monotonic()
        self.first_step = (event.start_epoch - 1) * event.steps_per_epoch + 1
        more = f" ({queued} more queued)" if queued else ""
        self.status_label.setText(f"Training {html.escape(event.config['model'])} ({event.num_params:,} parameters) "
                                  f"on {html.escape(event.device)}{more}.<br>Run folder: {html.escape(event.run_dir)}")

    def steps(self, event, gpu_memory: float) -> None:
        """The last step of a coalesced batch of steps."""
        total = self.epochs * event.steps_per_epoch
        done = (event.epoch - 1) * event.steps_per_epoch + event.step
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"epoch {event.epoch}/{self.epochs}: batch {event.step}/{event.steps_per_epoch}")
        elapsed = time.monotonic() - self.started_at
        fresh = done - self.first_step + 1
        remaining = elapsed / fresh * (total - done) if fresh > 0 else 0.0
        memory = f" · GPU memory {gpu_memory / 2**30:.2f} GiB" if gpu_memory else ""
        self.eta_label.setText(f"{event.images_per_sec:,.0f} img/s · elapsed {clock(elapsed)} · "
                               f"about {clock(remaining)} left{memory}")

    def epoch(self, event) -> None:
        self.progress.setFormat(f"epoch {event.epoch}/{event.epochs} · val acc {event.val_acc:.3f}")

    def finished(self, summary: dict, run_dir: str) -> None:
        if summary["status"] == "completed":
            text = (f"Done in {summary['seconds']:.1f} s: best val acc <b>{summary['best_val_acc']:.3f}</b> "
                    f"(epoch {summary['best_epoch']}), test acc <b>{summary['test_acc']:.3f}</b>.")
        elif summary.get("discarded"):
            self.status_label.setText("Stopped before the first epoch ended: nothing was kept.")
            self.progress.setFormat("stopped")
            return
        else:
            text = f"Stopped after {counted(summary['epochs'], 'epoch')}; Runs → Resume continues it."
        self.status_label.setText(f"{text}<br>Run folder: {html.escape(run_dir)}")
        self.progress.setFormat(summary["status"])
        self.eta_label.setText(f"{summary.get('images_per_sec') or 0:,.0f} img/s on average · "
                               f"{clock(summary['seconds'])} in all")

    def failed(self, message: str) -> None:
        self.show_error(message)
        self.status_label.setText("Training failed.")
        self.progress.setFormat("failed")

    def ask_close(self) -> bool:
        """The window is closing while a run trains: stop it (keeping what it has) and close, or go on."""
        box = QMessageBox(QMessageBox.Icon.Question, "A run is training",
                          "Stop the run and close CNN Workbench?", parent=self.window())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("The run keeps its last finished epoch, and Runs → Resume continues it later. A run "
                               "stopped before its first epoch ends is not kept.")
        stop = box.addButton("Stop and close", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        return box.clickedButton() is stop

    def stopping(self) -> None:
        self.status_label.setText("Stopping after this batch…")

    def paused(self, paused: bool) -> None:
        self.status_label.setText("Paused (the run waits before its next batch)." if paused else "Training…")

    # -- data ---------------------------------------------------------------------------------------
    def data_progress(self, event) -> None:
        if event.stage == "download":
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress.setFormat(f"downloading {event.what}: {event.done / 1e6:.1f} of {event.total / 1e6:.1f} MB")
        else:
            self.folder_progress(event.done, event.total, event.what)

    def folder_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{what.split(' ', 1)[0]} {done}/{total}")

    def reading(self, path: str) -> None:
        self.show_error("")
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"scanning {path.rsplit('/', 1)[-1]}…")  # plain text, not rich
        self.status_label.setText(f"Reading {html.escape(path)}…")

    def folder_loaded(self, health) -> None:
        self.idle()
        self.status_label.setText(
            f"{health.usable} images in {len(health.classes)} classes"
            + (f"; {counted(len(health.skipped), 'file')} skipped (see Dataset health)" if health.skipped else "")
            + (f"<br>{html.escape(health.changes)}" if health.changes else ""))
