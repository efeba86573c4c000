"""Start the window, or say clearly why it cannot open.

The form is on screen before torch loads: a start-up window (Qt only) shows the real experiment
form at once, filled from the catalogue and the saved settings, while the workbench's modules
(torch, torchvision, pyqtgraph, the zoo) are imported on a background thread; the full window
then takes its place, adopting the form with whatever was chosen in it, and Start is enabled."""

from __future__ import annotations

import ctypes.util
import importlib
import json
import os
import sys
import threading
import time

X11_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 "
                "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0")
PROBE = "CNN_WORKBENCH_STARTUP_PROBE"
"""Set to 1, the app prints ``shown <s> torch-loaded=<bool>`` and ``ready <s>`` (seconds since the
process started) and quits: what ``python -m workbench.ui.benchmark startup`` measures."""
AUTORUN = "CNN_WORKBENCH_AUTORUN"
"""Set to a JSON object of form fields (``{"model": "resnet20", "epochs": 3, "batch_size": 32}``),
the app does what a user would: picks them once the window is ready, presses Start, and when the
run ends prints ``autorun <summary as JSON>`` and quits. ``python -m workbench.ui.benchmark
processes`` drives the installed entry point this way."""


def display_problem(environ=os.environ, platform: str = sys.platform, find_library=ctypes.util.find_library) -> str | None:
    """Why Qt could not open a window here, or ``None``. Qt aborts the process (SIGABRT) when its
    platform plugin cannot start, so the likely causes are checked before it is asked."""
    if environ.get("QT_QPA_PLATFORM") or not platform.startswith("linux"):
        return None
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return ("There is no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
                "Train headless instead, e.g.:  cnn-workbench train --model lenet5 --dataset digits --epochs 5\n"
                "(cnn-workbench --help lists every command), or run the window under a virtual screen: "
                "xvfb-run cnn-workbench")
    if not environ.get("WAYLAND_DISPLAY") and find_library("xcb-cursor") is None:
        return ("Qt's X11 plugin needs libraries this system lacks (libxcb-cursor0 and friends). On Debian or "
                f"Ubuntu:\n  sudo apt-get install {X11_PACKAGES}\nMeanwhile the command line works: "
                "cnn-workbench train --help")
    return None


def _since_start() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere from this module's import)."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()


class _Loader:
    """Imports the heavy modules on a plain thread; the UI thread polls ``done``."""

    def __init__(self, module: str):
        self.module, self.error, self.result = module, "", None
        self.thread = threading.Thread(target=self._run, name="startup-import", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = importlib.import_module(self.module)
        except BaseException as exc:  # noqa: BLE001 - reported in the start-up window
            self.error = f"{type(exc).__name__}: {exc}"

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()


def startup_window(form, saved):
    """The window shown while torch loads: the real experiment form (restored from ``saved``) on the
    left, where the workbench's set-up pane will be, and what is loading on the right."""
    from PySide6.QtCore import QByteArray, Qt
    from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QSplitter, QVBoxLayout, QWidget

    from .views.setup_pane import form_pane

    startup = QMainWindow()
    startup.setWindowTitle("CNN Workbench")
    startup.resize(1400, 880)
    geometry = saved.value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        startup.restoreGeometry(geometry)
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.addStretch(1)
    startup.message = QLabel("<h2>CNN Workbench</h2><p>Loading PyTorch and the model zoo… Choose a model and a "
                             "dataset meanwhile: Start is ready when it is in.</p>", objectName="startupMessage")
    startup.message.setWordWrap(True)
    startup.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
    startup.bar = QProgressBar(maximumWidth=300)
    startup.bar.setRange(0, 0)
    layout.addWidget(startup.message)
    layout.addWidget(startup.bar, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(2)
    split = QSplitter()
    split.addWidget(form_pane(form))
    split.addWidget(body)
    split.setSizes([340, 1060])
    startup.setCentralWidget(split)
    return startup


def run_app(argv: list[str] | None = None) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr or sys.__stderr__)
        return 1
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from . import read_no_sources

    read_no_sources()  # before torch loads behind the form: see workbench/ui/__init__.py
    probe = os.environ.get(PROBE) == "1"
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("CNN Workbench")
    app.setOrganizationName("CNN Workbench")
    app.setDesktopFileName("cnn-workbench")  # the launcher entry of ``cnn-workbench install-desktop``
    loader = _Loader("workbench.ui.main_window")  # torch, torchvision, pyqtgraph and the zoo, meanwhile
    _Loader("workbench.ui.views.plotting")  # pyqtgraph beside torch: a second core is often free

    from . import icon, settings as remembered
    from .views.experiment_form import ExperimentForm

    app.setWindowIcon(icon.app_icon())
    saved = remembered.default_settings()
    form = ExperimentForm()  # the real form, from data that needs no torch: it can be filled in at once
    form.wait_for_engine()
    remembered.restore_form(form, saved)
    startup = startup_window(form, saved)
    message, bar = startup.message, startup.bar
    startup.show()
    state = {"window": None}
    if probe:
        QTimer.singleShot(0, lambda: print(f"shown {_since_start():.3f} torch-loaded={'torch' in sys.modules} "
                                           f"models={form.model_combo.count()} "
                                           f"start-enabled={form.start_button.isEnabled()}", flush=True))

    def poll() -> None:
        if not loader.done:
            return
        timer.stop()
        if loader.error:
            bar.hide()
            message.setTextFormat(Qt.TextFormat.PlainText)
            message.setText(f"CNN Workbench could not start\n\n{loader.error}\n\nReinstall with the README's "
                            "command, or run  cnn-workbench --help  to see the command line's view of the problem.")
            return
        window = loader.result.MainWindow(form=form)  # the form moves over with what was chosen in it
        window.setGeometry(startup.geometry())
        window.show()
        startup.close()
        state["window"] = window
        if os.environ.get(AUTORUN):
            _autorun(app, window, json.loads(os.environ[AUTORUN]))
        if probe:
            print(f"ready {_since_start():.3f} start-enabled={form.start_button.isEnabled()}", flush=True)
            QTimer.singleShot(0, window.close)
            QTimer.singleShot(0, app.quit)

    timer = QTimer()
    timer.setInterval(30)
    timer.timeout.connect(poll)
    timer.start()
    code = app.exec()
    # The window has saved its settings and joined the training thread (every run file is closed);
    # what may still run is a job that only reads, and torch's own teardown, which take seconds.
    # Leave now, so the process ends within a second of the window.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)


def _autorun(app, window, fields: dict) -> None:
    """Pick ``fields`` in the form once the window is idle, press Start, print the summary at the end.
    With ``"close_after_steps": N`` it closes the window as a user would after N steps instead, answers
    the question with "Stop and close" and prints ``closing <s>`` just before the answer."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    form = window.form
    state = {"step": "pick"}

    def tick() -> None:
        if not window.idle:
            return
        if state["step"] == "pick":
            for combo, key in ((form.model_combo, "model"), (form.dataset_combo, "dataset")):
                if key in fields:
                    form.select(combo, fields[key])
            state["step"] = "set"
        elif state["step"] == "set":
            for spin, key in ((form.epochs_spin, "epochs"), (form.batch_spin, "batch_size"), (form.seed_spin, "seed")):
                if key in fields:
                    spin.setValue(int(fields[key]))
            window.trainingEnded.connect(done)
            if "close_after_steps" in fields:
                window.stepShown.connect(close_soon)
            state["step"] = "train"
            form.start_button.click()

    def close_soon(step) -> None:
        if step.global_step >= int(fields["close_after_steps"]) and state["step"] == "train":
            state["step"] = "closing"
            QTimer.singleShot(300, answer)
            window.close()  # asks: the question's event loop runs ``answer``

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            print(f"closing {_since_start():.3f}", flush=True)
            next(b for b in box.buttons() if b.text() == "Stop and close").click()
        else:
            QTimer.singleShot(100, answer)

    def done(summary: dict) -> None:
        print("autorun " + json.dumps(summary), flush=True)
        if state["step"] == "closing":
            return  # the window is closing already
        timer.stop()
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)
    timer = QTimer(window)
    timer.setInterval(50)
    timer.timeout.connect(tick)
    timer.start()
