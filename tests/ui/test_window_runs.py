"""The window's evaluation, runs, comparison, experiments, settings and cost line."""

import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QSpinBox, QWidget

from reference import predictions_by_hand, split_tensors
from window_helpers import best_model, find, settings, settle
from workbench.ui.main_window import MainWindow


def test_walk_setup_train_evaluate_open_an_earlier_run_and_compare(window, qtbot, tmp_path, digits):
    """Set-up → train 2 epochs → evaluation → open an earlier run → compare two runs."""
    model, epochs = find(window, "modelCombo"), find(window, "epochsSpin")
    model.setCurrentIndex(model.findData("lenet5"))
    settle(qtbot, window)
    assert "multiply-adds per image" in window.findChild(QWidget, "costLabel").text()
    epochs.setValue(2)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        qtbot.mouseClick(find(window, "startButton"), Qt.MouseButton.LeftButton)
    first = window.last_summary
    assert first["status"] == "completed"
    qtbot.waitUntil(lambda: window.evaluation_view.report != {}, timeout=30_000)
    settle(qtbot, window)

    # Training view: a point per batch (raw and smoothed loss, learning rate), per epoch for the rest.
    steps = 2 * -(-len(digits.train) // window.batch_spin.value())
    counts = window.plots.point_counts()
    assert counts == {"step_loss": steps, "smooth_loss": steps, "val_loss": 2, "train_acc": 2, "val_acc": 2,
                      "lr": steps}
    assert window.plots.best_epoch == first["best_epoch"]

    # Evaluation view: the confusion matrix counts every test image once, and its diagonal is the accuracy.
    view = window.findChild(QWidget, "evaluationView")
    matrix = window.findChild(QWidget, "confusionMatrixView")
    assert view is window.evaluation_view and matrix.total() == len(digits.test)
    diagonal = sum(matrix.matrix[i][i] for i in range(10))
    assert diagonal / len(digits.test) == pytest.approx(first["test_acc"])
    # A clicked cell lists exactly the test images of that true class predicted as that class.
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p and matrix.matrix[t][p]),
               key=lambda tp: matrix.matrix[tp[0]][tp[1]], default=(0, 0))
    rect = matrix.visualRect(matrix.model().index(t, p))
    qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    listed = view.cell_indices()
    assert len(listed) == matrix.matrix[t][p] > 0
    best = best_model(first["run_dir"])
    images, labels = split_tensors(digits.test)
    by_hand = predictions_by_hand(best, images, (32, 32), digits.mean, digits.std)
    assert {i for i in range(len(labels)) if labels[i] == t and by_hand[i] == p} == set(listed)

    # A second run with another model, then open the first again and compare the two.
    model.setCurrentIndex(model.findData("resnet20"))
    settle(qtbot, window)
    epochs.setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=180_000):
        window.start_training()
    second = window.last_summary
    assert second["status"] == "completed"
    window.centre_tabs.setCurrentWidget(window.runs_view)
    table = window.findChild(QWidget, "runsTable")
    qtbot.waitUntil(lambda: table.rowCount() == 2, timeout=30_000)
    settle(qtbot, window)
    names = {table.item(r, 0).text(): r for r in range(2)}
    row_first = names[first["run_dir"].rsplit("/", 1)[-1]]
    assert table.item(row_first, 1).text() == "lenet5" and table.item(row_first, 9).text() == f"{first['test_acc']:.4f}"
    table.selectRow(row_first)
    with qtbot.waitSignal(window.modelShown, timeout=60_000):
        qtbot.mouseClick(window.findChild(QPushButton, "openRunButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert window.session.predictor.model.model_name == "lenet5"
    for (a, b) in zip(window.session.predictor.model.state_dict().values(), best.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert window.plots.point_counts()["val_acc"] == 2 and window.evaluation_view.matrix.total() == len(digits.test)

    window.runs_view.select_dirs([first["run_dir"], second["run_dir"]])
    with qtbot.waitSignal(window.comparisonShown, timeout=30_000) as compared:
        qtbot.mouseClick(find(window, "compareButton"), Qt.MouseButton.LeftButton)
    assert sorted(r["config"]["model"] for r in compared.args[0]) == ["lenet5", "resnet20"]
    assert sorted(window.runs_view.curve_counts()) == [1, 2]  # val accuracy per epoch of each run
    compare = window.findChild(QWidget, "compareTable")
    assert compare.rowCount() == 2
    assert {compare.item(r, 1).text() for r in range(2)} == {"lenet5", "resnet20"}
    assert all(compare.item(r, 3).text() != "–" for r in range(2))  # multiply-adds recorded by the engine
    window.runs_view.export_csv([first["run_dir"], second["run_dir"]], str(tmp_path / "metrics.csv"))
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("run,epoch,train_loss") and len(rows) == 1 + 2 + 1
    window.runs_view.export_png(str(tmp_path / "curves.png"))
    assert Image.open(tmp_path / "curves.png").size[0] > 100


def test_runs_can_be_renamed_deleted_and_resumed(window, qtbot, tmp_path, monkeypatch):
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    run_dir = window.last_summary["run_dir"]
    table = find(window, "runsTable")
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=30_000)
    settle(qtbot, window)
    # Rename by editing the name cell: the folder moves, the table follows.
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        table.item(0, 0).setText("my lenet")
    assert not (tmp_path / "runs" / run_dir.rsplit("/", 1)[-1]).exists()
    renamed = tmp_path / "runs" / "my lenet"
    assert (renamed / "best.pt").is_file() and table.item(0, 0).text() == "my lenet"
    # A name that is not a folder name is refused with a message, and nothing moves.
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        table.item(0, 0).setText("../escape")
    assert renamed.is_dir() and "was not used" in window.error_banner.text()

    # Resume a finished run to more epochs: the same folder gains an epoch.
    find(window, "epochsSpin").setValue(2)
    table.selectRow(0)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        qtbot.mouseClick(window.findChild(QPushButton, "resumeRunButton"), Qt.MouseButton.LeftButton)
    assert window.last_summary["status"] == "completed" and window.last_summary["epochs"] == 2
    assert window.last_summary["resumed_at_epoch"] == 2
    assert len((renamed / "metrics.csv").read_text().splitlines()) == 1 + 2

    # Delete asks first; "No" keeps the run, "Yes" removes its folder.
    from PySide6.QtWidgets import QMessageBox

    settle(qtbot, window)
    table.selectRow(0)
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.No)
    qtbot.mouseClick(window.findChild(QPushButton, "deleteRunButton"), Qt.MouseButton.LeftButton)
    assert renamed.is_dir()
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        qtbot.mouseClick(window.findChild(QPushButton, "deleteRunButton"), Qt.MouseButton.LeftButton)
    assert not renamed.exists() and table.rowCount() == 0


def test_opening_a_damaged_run_says_why_and_keeps_the_model(window, qtbot, tmp_path):
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    settle(qtbot, window)
    run_dir = window.last_summary["run_dir"]
    before = window.session.predictor
    best = tmp_path / "runs" / run_dir.rsplit("/", 1)[-1] / "best.pt"
    data = bytearray(best.read_bytes())
    data[len(data) // 2] ^= 0xFF
    best.write_bytes(bytes(data))
    window.open_run(run_dir)
    settle(qtbot, window)
    assert window.error_banner.isVisible() and "best.pt" in window.error_banner.text()
    assert window.session.predictor is before


def test_the_degradation_experiment_queues_the_four_runs_of_figure_6(window, qtbot, monkeypatch, workbench_home):
    from fake_datasets import write_cifar10

    write_cifar10(workbench_home / "data", monkeypatch, n_train=120, n_test=20)
    ended, start_enabled = [], []

    def on_ended(summary):  # the window's own signal: runs in the UI thread
        ended.append(summary)
        start_enabled.append(find(window, "startButton").isEnabled())
    window.trainingEnded.connect(on_ended)
    window.start_degradation(epochs=1, batch_size=32)
    assert window.training and window.centre_tabs.current_view() is window.runs_view
    assert len(window.training_controller.queue) == 3
    qtbot.waitUntil(lambda: len(ended) == 4, timeout=600_000)
    settle(qtbot, window)
    configs = [__import__("json").loads((__import__("pathlib").Path(d) / "config.json").read_text())
               for d in window.training_controller.experiment_runs]
    assert [c["model"] for c in configs] == ["plain20", "plain56", "resnet20", "resnet56"]
    assert {(c["recipe"], c["dataset"], c["seed"], c["split_seed"], c["optimizer"], c["lr"], c["momentum"],
             c["weight_decay"]) for c in configs} == {("he2015-cifar", "cifar10", 0, 0, "sgd", 0.1, 0.9, 1e-4)}
    assert all(s["status"] == "completed" for s in ended)
    assert start_enabled == [False, False, False, True]  # the form stays locked until the queue is done
    assert window.plots.point_counts()["val_acc"] == 1  # the last run's curves, not the four stacked
    qtbot.waitUntil(lambda: len(window.runs_view.compared) == 4, timeout=30_000)
    assert window.runs_view.curve_counts() == [1, 1, 1, 1]
    # Issue #19, part 5: the papers on these runs. Figure 6 labels the overlay, with Table 6's numbers...
    legend = window.runs_view.legend.text()
    assert "Figure 6" in legend and "plain-110 is higher than 60%" in legend and "6.97" in legend
    # ...ResNet-56 (the run on show) has He et al.'s 6.97 % error as a dotted line on its accuracy curve...
    line = window.plots.paper_line
    assert line.isVisible() and line.value() == pytest.approx(1 - 0.0697)
    assert "Table 6" in line.label.format and "93.03 %" in line.label.format
    # ...in the runs table (the paper's accuracy, then the gap) and in the evaluation view, with the recipe.
    from workbench.ui.views.runs_view import COLUMNS

    table = window.runs_view.table
    cells = {table.item(r, COLUMNS.index("model")).text(): table.item(r, COLUMNS.index("paper")).text()
             for r in range(table.rowCount())}
    assert cells["resnet20"].startswith("91.25 % (−") and cells["resnet56"].startswith("93.03 % (−")
    assert cells["plain20"] == "–"  # Table 6 prints no plain net
    qtbot.waitUntil(lambda: window.evaluation_view.paper.isVisibleTo(window.evaluation_view), timeout=30_000)
    words = window.evaluation_view.paper.text()
    test_acc = ended[-1]["test_acc"]
    assert "6.97 % test error" in words and f"{abs(100 * test_acc - 93.03):.2f} points below" in words
    assert "32k and 48k iterations" in words and "Table 6" in words


def test_settings_are_remembered_between_sessions(qtbot, tmp_path):
    first = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(first)
    first.show()
    settle(qtbot, first)
    first.model_combo.setCurrentIndex(first.model_combo.findData("resnet20"))
    first.epochs_spin.setValue(7)
    first.centre_tabs.setCurrentIndex(3)
    first.resize(780, 560)  # within the offscreen screen (800×600): restoreGeometry clamps to the screen
    settle(qtbot, first)
    first.close()
    second = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(second)
    second.show()
    settle(qtbot, second)
    assert second.form.model_name == "resnet20" and second.epochs_spin.value() == 7
    assert second.centre_tabs.currentIndex() == 3 and (second.width(), second.height()) == (780, 560)
    assert second.session.predictor.model.model_name == "resnet20"
    second.close()


def test_cost_and_impossible_settings_are_shown_before_start(window, qtbot):
    cost = window.findChild(QWidget, "costLabel")
    problem = window.findChild(QWidget, "validationLabel")
    model = find(window, "modelCombo")
    model.setCurrentIndex(model.findData("resnet20"))
    settle(qtbot, window)
    qtbot.waitUntil(lambda: "per epoch" in cost.text(), timeout=30_000)
    from workbench.core.inspect import human_count

    assert human_count(window.session.summary.total_macs) in cost.text() and "1,248 images" in cost.text()
    # fp16 needs CUDA: on a CPU-only machine the reason shows and Start waits.
    if not torch.cuda.is_available():
        find(window, "ampCombo").setCurrentIndex(find(window, "ampCombo").findData("fp16"))
        assert problem.isVisible() and "CUDA" in problem.text() and not find(window, "startButton").isEnabled()
        find(window, "ampCombo").setCurrentIndex(find(window, "ampCombo").findData("off"))
    assert not problem.isVisible() and find(window, "startButton").isEnabled()
    # A big model on 448×448 inputs on this CPU (about 35 min an epoch by the estimate): it warns.
    window.findChild(QSpinBox, "inputSizeSpin").setValue(448)
    model.setCurrentIndex(model.findData("vgg16"))
    settle(qtbot, window)
    qtbot.waitUntil(lambda: "per epoch" in cost.text(), timeout=30_000)
    if not torch.cuda.is_available():
        assert "slow" in cost.text()


def test_steps_are_coalesced_and_the_probe_refreshes_each_epoch(window, qtbot):
    shown = []
    window.stepShown.connect(lambda e: shown.append(e))
    probe = find(window, "probeView")
    updates = probe.updates
    find(window, "epochsSpin").setValue(3)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    settle(qtbot, window)
    steps = window.plots.point_counts()["step_loss"]
    assert steps == 3 * 39 and len(shown) < steps / 2  # every step plotted, far fewer UI updates
    assert probe.updates - updates >= 3  # one per epoch at least (plus the best weights at the end)
    assert probe.maps.tile_count == 6 and probe.layer == "c1"
    lines = probe.prediction.text().split("<br>")
    assert any(line.startswith("epoch 1") for line in lines) and any(line.startswith("epoch 3") for line in lines)
