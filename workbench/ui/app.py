"""Start the window, or say clearly why it cannot open."""

from __future__ import annotations

import ctypes.util
import os
import sys

X11_PACKAGES = ("libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 "
                "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0")


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


def run_app(argv: list[str] | None = None) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr or sys.__stderr__)
        return 1
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("CNN Workbench")
    app.setOrganizationName("CNN Workbench")
    window = MainWindow()
    window.show()
    return app.exec()
