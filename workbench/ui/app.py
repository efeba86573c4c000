"""Start the window, or say clearly why it cannot open.

The window is on screen before torch loads: a light start-up window (Qt only) shows at once,
the workbench's modules (torch, torchvision, pyqtgraph, the zoo) are imported on a background
thread while it paints, and the full window takes its place when they are in."""

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


def run_app(argv: list[str] | None = None) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr or sys.__stderr__)
        return 1
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QProgressBar, QVBoxLayout, QWidget

    probe = os.environ.get(PROBE) == "1"
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("CNN Workbench")
    app.setOrganizationName("CNN Workbench")
    loader = _Loader("workbench.ui.main_window")

    startup = QMainWindow()
    startup.setWindowTitle("CNN Workbench")
    startup.resize(1400, 880)
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.addStretch(1)
    message = QLabel("<h2>CNN Workbench</h2><p>Loading PyTorch and the model zoo…</p>")
    message.setObjectName("startupMessage")
    message.setWordWrap(True)
    message.setAlignment(Qt.AlignmentFlag.AlignCenter)
    bar = QProgressBar(maximumWidth=300)
    bar.setRange(0, 0)
    layout.addWidget(message)
    layout.addWidget(bar, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(2)
    startup.setCentralWidget(body)
    startup.show()
    state = {"window": None}
    if probe:
        QTimer.singleShot(0, lambda: print(f"shown {_since_start():.3f} torch-loaded={'torch' in sys.modules}",
                                           flush=True))

    def poll() -> None:
        if not loader.done:
            return
        timer.stop()
        if loader.error:
            bar.hide()
            message.setText(f"<h2>CNN Workbench could not start</h2><p>{loader.error}</p>"
                            "<p>Reinstall with the README's command, or run <code>cnn-workbench --help</code> "
                            "to see the command line's view of the problem.</p>")
            return
        window = loader.result.MainWindow()
        window.setGeometry(startup.geometry())
        window.show()
        startup.close()
        state["window"] = window
        if os.environ.get(AUTORUN):
            _autorun(app, window, json.loads(os.environ[AUTORUN]))
        if probe:
            print(f"ready {_since_start():.3f}", flush=True)
            QTimer.singleShot(0, window.close)
            QTimer.singleShot(0, app.quit)

    timer = QTimer()
    timer.setInterval(30)
    timer.timeout.connect(poll)
    timer.start()
    return app.exec()


def _autorun(app, window, fields: dict) -> None:
    """Pick ``fields`` in the form once the window is idle, press Start, print the summary at the end."""
    from PySide6.QtCore import QTimer

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
            state["step"] = "train"
            form.start_button.click()

    def done(summary: dict) -> None:
        print("autorun " + json.dumps(summary), flush=True)
        timer.stop()
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)
    timer = QTimer(window)
    timer.setInterval(50)
    timer.timeout.connect(tick)
    timer.start()
