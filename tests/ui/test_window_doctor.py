"""The dataset doctor in the window (issue #18): train on a folder with labels swapped on purpose, open the
doctor, fix a suspect in one click, undo it, and see the embedding map drawn."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt

from window_helpers import find, settle

sys.path.append(str(Path(__file__).resolve().parents[1] / "core"))
from fake_folders import write_photo_folder  # noqa: E402
from test_doctor import plant, snapshot  # noqa: E402


def test_train_examine_fix_a_suspect_in_one_click_and_undo_it(window, qtbot, tmp_path, monkeypatch):
    root = write_photo_folder(tmp_path / "pokemon", per_class=30)
    planted = plant(root)
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000):
        window.open_folder(str(root))
    settle(qtbot, window)
    view = find(window, "doctorView")
    window.centre_tabs.setCurrentWidget(view)
    assert find(window, "doctorExamineButton").isEnabled()
    with qtbot.waitSignal(window.doctor.reportReady, timeout=60_000):  # no run yet: what needs no network
        qtbot.mouseClick(find(window, "doctorExamineButton"), Qt.MouseButton.LeftButton)
    assert "No run of this folder" in find(window, "doctorNotes").text()
    assert {f.file for f in view.report.findings} == planted["conflict"]

    find(window, "epochsSpin").setValue(6)
    with qtbot.waitSignal(window.trainingEnded, timeout=300_000):
        qtbot.mouseClick(find(window, "startButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    window.centre_tabs.setCurrentWidget(view)
    with qtbot.waitSignal(window.doctor.reportReady, timeout=120_000):
        qtbot.mouseClick(find(window, "doctorExamineButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    report = view.report
    table = find(window, "doctorTable")
    assert table.rowCount() == len(report.findings) > 0
    labels = report.of_kind("label")
    assert {f.file for f in labels[:len(planted["swapped"])]} <= set(planted["swapped"]) | planted["conflict"]
    assert find(window, "embeddingMap").shown == len(report.files)  # the map is drawn, a point an image
    assert len(view.map.suspects.data) == len(report.suspects) > 0

    before = snapshot(root)
    suspect = labels[0]
    row = report.findings.index(suspect)
    table.selectRow(row)
    assert table.item(row, 1).text() == suspect.file and table.item(row, 4).text() == suspect.suggested
    with qtbot.waitSignal(window.doctor.reportReady, timeout=120_000):  # the fix, then the examination again
        with qtbot.waitSignal(window.folderLoaded, timeout=60_000):  # and the folder read again
            qtbot.mouseClick(find(window, "doctorFixButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    moved_to = Path(root) / suspect.suggested / Path(suspect.file).name
    assert not (root / suspect.file).exists() and moved_to.read_bytes() == before[suspect.file]
    assert "moved 1 file" in find(window, "doctorStatus").text()
    assert window.centre_tabs.current_view() is view  # the doctor stays in front while the folder is read
    assert any("changed since" in n for n in view.report.notices)
    counts = dict(zip(window.bundle.classes, window.bundle.health.counts))  # the folder as read again
    assert counts[suspect.suggested] == report.labels.count(report.classes.index(suspect.suggested)) + 1
    assert find(window, "doctorUndoButton").isEnabled()
    with qtbot.waitSignal(window.doctor.reportReady, timeout=120_000):
        with qtbot.waitSignal(window.folderLoaded, timeout=60_000):
            qtbot.mouseClick(find(window, "doctorUndoButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert snapshot(root) == before
    assert "Put back" in find(window, "doctorStatus").text()
    assert not find(window, "doctorUndoButton").isEnabled()

    # a point of the map opens its image in the explorer
    index = report.findings[0].index
    view.map.pointClicked.emit(index)
    settle(qtbot, window)
    assert window.session.image is not None and window.session.caption == Path(report.files[index]).name
    qtbot.waitUntil(lambda: not view.preview.pixmap().isNull(), timeout=10_000)  # beside the map, decoded in a job

    # without cleanlab the doctor says how to get it, and the window goes on
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cleanlab" else real(name, *a))
    with qtbot.waitSignal(window.doctor.failed, timeout=60_000):
        qtbot.mouseClick(find(window, "doctorExamineButton"), Qt.MouseButton.LeftButton)
    assert 'pip install "cnn-workbench[doctor]"' in find(window, "doctorNotes").text()
    assert find(window, "doctorExamineButton").isEnabled() and window.doctor.method == "features"

    # another folder on show: the last folder's findings are not left to be fixed
    view.set_folder(str(tmp_path / "another"))
    assert table.rowCount() == 0 and view.map.shown == 0 and view.report is None
    assert not find(window, "doctorFixButton").isEnabled()
