"""The window and what is on disk (issue #20): user strings shown as text, a damaged run one bad
row of the runs table, a damaged report a message."""

import json

from PySide6.QtGui import Qt, QTextDocument  # QtGui's Qt has mightBeRichText
from PySide6.QtWidgets import QLabel

from fake_folders import photo
from window_helpers import drop_file, find, settle
from workbench.core.train import TrainConfig, Trainer

HOSTILE = ["<b>bold", "<img src=x.png>", "a &amp; b"]  # a folder name cannot hold "/"


def shown_text(label: QLabel) -> str:
    """What the label shows on screen, whatever its format."""
    fmt = label.textFormat()
    assert fmt != Qt.TextFormat.AutoText or not Qt.mightBeRichText(label.text()), \
        f"{label.objectName() or label.text()!r} lets Qt guess the format of a user string"
    if fmt == Qt.TextFormat.RichText or (fmt == Qt.TextFormat.AutoText and Qt.mightBeRichText(label.text())):
        doc = QTextDocument()
        doc.setHtml(label.text())
        return doc.toPlainText()
    return label.text()


def test_class_names_holding_html_are_shown_as_text(window, qtbot, tmp_path):
    root = tmp_path / "hostile"
    for label, name in enumerate(HOSTILE):
        (root / name).mkdir(parents=True)
        for i in range(8):
            photo(label, (60, 60), label * 100 + i).save(root / name / f"{i}.png")
    run_dir = tmp_path / "runs" / "html-run"
    summary = Trainer(TrainConfig(model="lenet5", dataset=str(root), epochs=1, image_size=32, tensorboard=False),
                      [], run_dir=run_dir).run()
    assert summary["status"] == "completed"
    window.open_run(str(run_dir))
    settle(qtbot, window)
    drop_file(find(window, "dropZone"), root / HOSTILE[1] / "0.png")
    settle(qtbot, window)
    labels = find(window, "predictionView").findChildren(QLabel)
    shown = [shown_text(label) for label in labels]
    assert sorted(s for s in shown if s in HOSTILE) == sorted(HOSTILE), shown  # every class, literally
    for label in window.findChildren(QLabel):  # nowhere in the window is a class name rendered
        if any(name in label.text() or name.replace("&", "&amp;").replace("<", "&lt;") in label.text()
               for name in HOSTILE):
            text = shown_text(label)
            assert any(name in text for name in HOSTILE), (label.objectName(), label.text())


def test_damaged_runs_are_one_row_each_and_every_other_run_shows(window, qtbot, tmp_path, small_digits):
    root = tmp_path / "runs"
    for name in ("a", "b", "c", "d", "e"):
        Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=root / name, bundle=small_digits).run()
    with open(root / "b" / "metrics.csv", "ab") as fh:  # a NUL-filled tail
        fh.write(b"\0" * 4096)
    summary = json.loads((root / "c" / "summary.json").read_text())
    summary["params"] = "many"  # a wrong type
    (root / "c" / "summary.json").write_text(json.dumps(summary))
    (root / "d" / "summary.json").write_text('"a string"')
    with qtbot.waitSignal(window.runsShown, timeout=30_000) as shown:
        window.runs.refresh()
    rows = {r["name"]: r for r in shown.args[0]}
    assert set(rows) == {"a", "b", "c", "d", "e"}
    table = find(window, "runsTable")
    assert table.rowCount() == 5
    status = {table.item(r, 0).text(): table.item(r, 3).text() for r in range(5)}
    why = {table.item(r, 0).text(): table.item(r, 3).toolTip() for r in range(5)}
    assert status["a"] == status["e"] == "completed"
    assert status["b"].startswith("damaged (metrics.csv)") and "metrics.csv is damaged at line 3" in why["b"]
    assert status["c"].startswith("damaged (summary.json)") and "params is str" in why["c"]
    assert status["d"].startswith("damaged (summary.json)") and "it holds a str" in why["d"]
    assert table.item([table.item(r, 0).text() for r in range(5)].index("b"), 4).text().startswith("1")


def test_a_garbage_test_report_says_which_file_and_the_window_goes_on(window, qtbot, tmp_path, small_digits):
    run_dir = tmp_path / "runs" / "r"
    Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=run_dir, bundle=small_digits).run()
    (run_dir / "test_eval.json").write_text('{"classes": "not a list", "images": 3')
    window.open_run(str(run_dir))
    settle(qtbot, window)
    assert window.error_banner.isVisible() and "test_eval.json" in window.error_banner.text()
    assert "damaged" in window.error_banner.text()
    assert window.session.run is not None and window.session.run.dir == str(run_dir)  # the run itself opened


def test_a_resume_on_changed_data_asks_and_goes_on_only_when_told(window, qtbot, tmp_path, monkeypatch):
    from fake_folders import write_photo_folder

    root = write_photo_folder(tmp_path / "pokemon", per_class=14, classes=3)
    run_dir = tmp_path / "runs" / "folder-run"
    Trainer(TrainConfig(model="lenet5", dataset=str(root), epochs=1, image_size=32, tensorboard=False), [],
            run_dir=run_dir).run()
    (root / "mewtwo").rename(root / "zubat")
    asked = []
    monkeypatch.setattr(window.runs_view, "ask_go_on", lambda text: asked.append(text) or len(asked) > 1)
    find(window, "epochsSpin").setValue(2)
    with qtbot.waitSignal(window.trainingEnded, timeout=60_000) as refused:
        window.training_controller.resume(str(run_dir), 2)
    assert refused.args[0]["status"] == "failed" and "mewtwo is gone" in asked[0]
    assert window.error_banner.isVisible() and "zubat is new" in window.error_banner.text()
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 1  # nothing written
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):  # refused again, and asked: this time yes
        window.training_controller.resume(str(run_dir), 2)
    qtbot.waitUntil(lambda: window.last_summary is not None and window.last_summary.get("status") == "completed",
                    timeout=120_000)
    settle(qtbot, window)
    assert len(asked) == 2
    assert json.loads((run_dir / "dataset.json").read_text())["classes"] == ["bulbasaur", "charmander", "zubat"]
    assert window.last_summary["epochs"] == 2 and window.last_summary["classes"][2] == "zubat"


def test_a_stopped_run_is_evaluated_from_the_runs_view(window, qtbot, tmp_path, small_digits, digits):
    """Issue #21: a stopped run has best.pt but no test; Evaluate tests it and shows the report."""
    from PySide6.QtWidgets import QPushButton

    from reference import accuracy_by_hand
    from workbench.core.events import EpochEnded
    from workbench.core.predict import load_predictor
    from workbench.core.train.checkpointing import load_checkpoint

    run_dir = tmp_path / "runs" / "stopped"
    trainer = Trainer(TrainConfig(epochs=3, tensorboard=False), [], run_dir=run_dir, bundle=small_digits)
    trainer.add_listener(lambda event: trainer.request_stop() if isinstance(event, EpochEnded) else None)
    assert trainer.run()["status"] == "stopped" and not (run_dir / "test_eval.json").exists()
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        window.runs.refresh()
    window.runs_view.table.selectRow(0)
    with qtbot.waitSignal(window.evaluationShown, timeout=60_000) as shown:
        qtbot.mouseClick(window.findChild(QPushButton, "evaluateRunButton"), Qt.MouseButton.LeftButton)
    payload = load_checkpoint(run_dir / "best.pt")
    by_hand = accuracy_by_hand(load_predictor(run_dir).model, digits.test, payload["input_size"][1:], payload["mean"],
                               payload["std"])
    n = len(digits.test)
    assert shown.args[0]["images"] == n and round(shown.args[0]["accuracy"] * n) == round(by_hand * n)
    assert f"{round(by_hand * n) / n:.4f}" in window.evaluation_view.header.text()
    settle(qtbot, window)
    table = window.runs_view.table
    assert table.item(0, 9).text() == f"{shown.args[0]['accuracy']:.4f}"  # the test column filled in


def test_confusion_cell_thumbnails_are_named_by_their_files(window, qtbot, tmp_path):
    """Issue #21: a folder run's cell thumbnails carry their file, not "test image 1"."""
    from fake_folders import write_photo_folder

    root = write_photo_folder(tmp_path / "pokemon", per_class=14, classes=3)
    run_dir = tmp_path / "runs" / "folder-run"
    Trainer(TrainConfig(model="lenet5", dataset=str(root), epochs=1, image_size=32, tensorboard=False), [],
            run_dir=run_dir).run()
    with qtbot.waitSignal(window.evaluationShown, timeout=60_000):
        window.open_run(str(run_dir))
    settle(qtbot, window)
    test_files = json.loads((run_dir / "split.json").read_text())["test"]  # the run's own record
    view = window.evaluation_view
    t, p = next((t, p) for t, row in enumerate(view.report["matrix"]) for p, n in enumerate(row) if n)
    view.show_cell(t, p)
    items = [view.cell_images.item(i) for i in range(view.cell_images.count())]
    assert items and all(i.toolTip().startswith("<qt>") for i in items)
    for item in items:
        file = test_files[item.data(Qt.ItemDataRole.UserRole)]
        assert item.text() == file.rsplit("/", 1)[-1] and file in item.toolTip()
    assert "with the best checkpoint (epoch 1)" in view.header.text()


def test_the_runs_table_fits_at_1280_pixels_and_tells_how_each_run_started(window, qtbot, tmp_path, small_digits):
    """Issue #21: best val and test were off-screen; nothing told a transfer run from a new one."""
    from workbench.ui.views.runs_view import COLUMNS

    root = tmp_path / "runs"
    for name, pretrained, transfer in (("a", False, "finetune"), ("b", True, "finetune"), ("c", True, "extract")):
        Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=root / name, bundle=small_digits).run()
        config = json.loads((root / name / "config.json").read_text())
        config.update(pretrained=pretrained, transfer=transfer)  # as a transfer run records itself
        (root / name / "config.json").write_text(json.dumps(config))
    window.resize(1280, 800)
    window.centre_tabs.setCurrentWidget(window.runs_view)
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        window.runs.refresh()
    table, view = window.runs_view.table, window.runs_view
    qtbot.waitUntil(lambda: table.viewport().width() > 300)
    header = table.horizontalHeader()
    shown = view.visible_columns()
    assert {"name", "model", "status", "best val", "test", "start"} <= set(shown)
    for c, name in enumerate(COLUMNS):
        if name in shown:
            assert header.sectionViewportPosition(c) + header.sectionSize(c) <= table.viewport().width(), name
    start = {table.item(r, 0).text(): table.item(r, COLUMNS.index("start")).text() for r in range(3)}
    assert start == {"a": "scratch", "b": "fine-tuned", "c": "features"}
    view.set_column_visible("params", True)  # what the header's menu does
    assert "params" in view.visible_columns() and table.columnWidth(COLUMNS.index("params")) > 0
