"""The Qt tests: each gets the real window, offscreen, with runs and settings of its own."""

import gc

import pytest

from window_helpers import settings, settle
from workbench.ui.main_window import MainWindow
from workbench.ui.views.run_status import RunStatusView


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


@pytest.fixture(autouse=True)
def stop_and_close_when_asked(monkeypatch):
    """A window closed while it trains asks first, in a modal box; in a test nobody would answer it, so
    the answer is "Stop and close" unless the test sets ``ask_close`` itself."""
    monkeypatch.setattr(RunStatusView, "ask_close", lambda self: True)
