"""The Qt tests: each gets the real window, offscreen, with runs and settings of its own."""

import gc

import pytest

from window_helpers import settings, settle
from workbench.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    settle(qtbot, win)
    yield win
    win.close()
    gc.collect()  # this test's Qt objects go here, in the UI thread, not in a later run's thread
