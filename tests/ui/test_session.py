"""One session that every view reads: after Open, Resume, a new run or a model switch the title,
the form, the card, the plots, the probe and the cost line all describe the same thing; the
window's runs are the command line's runs."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget

import models
from reference import hook_output, preprocess_by_hand
from window_helpers import find, settle
from workbench.core.events import EpochEnded


def train(window, qtbot, model: str, epochs: int, timeout=180_000) -> dict:
    window.form.select(window.model_combo, model)
    settle(qtbot, window)
    window.epochs_spin.setValue(epochs)
    with qtbot.waitSignal(window.trainingEnded, timeout=timeout):
        qtbot.mouseClick(find(window, "startButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert window.last_summary["status"] in ("completed", "stopped"), window.last_summary
    return window.last_summary


def runs_row(window, qtbot, run_dir: str) -> int:
    table = find(window, "runsTable")
    qtbot.waitUntil(lambda: any(table.item(r, 0).data(Qt.ItemDataRole.UserRole) == run_dir
                                for r in range(table.rowCount())), timeout=30_000)
    return next(r for r in range(table.rowCount()) if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == run_dir)


def test_opening_a_run_makes_every_view_describe_it(window, qtbot):
    """Train LeNet-5, then ResNet-20, then open the LeNet-5 run: the model combo, the card, the
    title, the best-epoch label and the cost line all describe LeNet-5, and Start would train it."""
    lenet = train(window, qtbot, "lenet5", 3)
    resnet = train(window, qtbot, "resnet20", 1)
    assert "resnet20" in window.windowTitle() and window.plots.best_epoch == 1

    window.centre_tabs.setCurrentWidget(window.runs_view)
    find(window, "runsTable").selectRow(runs_row(window, qtbot, lenet["run_dir"]))
    with qtbot.waitSignal(window.modelShown, timeout=60_000):
        qtbot.mouseClick(window.findChild(QPushButton, "openRunButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)

    # What the engine wrote for that run, read from its files, not from the window.
    run = Path(lenet["run_dir"])
    summary = json.loads((run / "summary.json").read_text())
    with (run / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    best = [int(r["epoch"]) for r in rows if r["best"] == "1"][-1]
    assert best == summary["best_epoch"]
    best_acc = float(next(r["val_acc"] for r in rows if int(r["epoch"]) == best))

    assert window.model_combo.currentData() == "lenet5"
    assert window.windowTitle() == f"CNN Workbench · lenet5 · run {run.name}"
    card = window.model_card.text()
    assert "lenet5" in card and f"{summary['params']:,}</b> parameters" in card and run.name in card
    assert window.plots.best_epoch == best and window.plots.best_line.isVisible()
    assert window.plots.best_line.label.format == f"best: epoch {best} ({best_acc:.3f})"
    assert window.plots.point_counts()["val_acc"] == 3  # LeNet-5's three epochs, not ResNet-20's one
    from workbench.core.inspect import human_count

    cost = window.findChild(QWidget, "costLabel").text()
    assert human_count(summary["macs"]) in cost and human_count(resnet["macs"]) not in cost
    assert all(line.startswith(f"run {run.name}") for line in window.probe_view.history), window.probe_view.history
    status = window.status_label.text()
    assert run.name in status and f"{summary['test_acc']:.3f}" in status and Path(resnet["run_dir"]).name not in status
    config = window.config()  # what Start would train
    assert (config.model, config.dataset, config.epochs) == ("lenet5", "digits", 3)
    assert window.session.predictor.model.model_name == "lenet5" and window.session.run.dir == lenet["run_dir"]


def test_a_resumed_run_shows_its_whole_history(window, qtbot, digits):
    """Stop a run at epoch 2 of 4, resume it: the plots hold all four epochs and every step."""
    window.form.select(window.model_combo, "lenet5")
    settle(qtbot, window)
    window.epochs_spin.setValue(4)
    with qtbot.waitSignal(window.stepShown, timeout=30_000):
        window.start_training()
    trainer = window.training_controller.worker.trainer
    # Stop as the Stop button does, from the training thread right after epoch 2, before any batch of epoch 3.
    trainer.add_listener(lambda e: trainer.request_stop() if isinstance(e, EpochEnded) and e.epoch == 2 else None)
    qtbot.waitUntil(lambda: not window.training, timeout=60_000)
    settle(qtbot, window)
    stopped = window.last_summary
    assert stopped["status"] == "stopped" and stopped["epochs"] == 2

    window.centre_tabs.setCurrentWidget(window.runs_view)
    find(window, "runsTable").selectRow(runs_row(window, qtbot, stopped["run_dir"]))
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        qtbot.mouseClick(window.findChild(QPushButton, "resumeRunButton"), Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert window.last_summary["status"] == "completed" and window.last_summary["resumed_at_epoch"] == 3
    steps = 4 * -(-len(digits.train) // window.batch_spin.value())
    counts = window.plots.point_counts()
    assert counts == {"step_loss": steps, "smooth_loss": steps, "val_loss": 4, "train_acc": 4, "val_acc": 4,
                      "lr": steps}
    x, y = window.plots.curves["val_acc"].getData()
    with (Path(stopped["run_dir"]) / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(x) == [1, 2, 3, 4] and [round(v, 5) for v in y] == [round(float(r["val_acc"]), 5) for r in rows]
    assert window.plots.epochs == 4


def test_the_probe_follows_the_weights_at_each_epoch_end(window, qtbot, digits):
    """At every epoch's end the probe's maps are that epoch's weights' maps of the probe image."""
    weights = {}

    def keep(event, state):  # the training controller's signal, delivered in the UI thread
        weights[event.epoch] = {k: v.clone() for k, v in state.items()}
    window.training_controller.epochEnded.connect(keep)
    train(window, qtbot, "lenet5", 3)
    layer = window.probe_view.layer
    image = window.session.image
    shown = dict(window.probe_view.results)  # note → the maps shown with it
    assert set(weights) == {1, 2, 3}
    net_input = preprocess_by_hand(image[None], (32, 32), digits.mean, digits.std)[0]
    previous = None
    for epoch, state in weights.items():
        model = models.create_model("lenet5", num_classes=10, in_channels=1, input_size=(1, 32, 32))
        model.load_state_dict(state)
        expected = hook_output(model, layer, net_input)
        maps = shown[f"(epoch {epoch})"]
        torch.testing.assert_close(maps, expected.reshape(maps.shape))
        if previous is not None:
            assert not torch.allclose(maps, previous)  # the weights moved, and so did the maps
        previous = maps


def test_the_window_and_the_command_line_write_the_same_metrics(window, qtbot, tmp_path):
    """The same configuration and seed give the same run in the window (Start pressed while the
    window is still measuring the device and building the model) and on the command line."""
    window.form.select(window.model_combo, "resnet20")
    window.epochs_spin.setValue(2)
    window.batch_spin.setValue(32)
    with qtbot.waitSignal(window.trainingEnded, timeout=180_000):
        window.start_training()  # no settle: the jobs of the window's start-up run meanwhile
    summary = window.last_summary
    assert summary["status"] == "completed"
    config = json.loads((Path(summary["run_dir"]) / "config.json").read_text())
    out = tmp_path / "cli-run"
    from workbench.core.threads import in_fresh_thread

    threads = in_fresh_thread(torch.get_num_threads)  # a training thread's team (the UI thread's own is 1)
    env = dict(os.environ, CNN_WORKBENCH_HOME=str(tmp_path / "cli-home"), OMP_NUM_THREADS=str(threads))
    args = ["train", "--model", "resnet20", "--dataset", "digits", "--epochs", "2", "--batch-size", "32",
            "--seed", str(config["seed"]), "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr

    def metrics(run_dir):
        with (Path(run_dir) / "metrics.csv").open() as fh:
            return [{k: v for k, v in row.items() if k not in ("images_per_sec", "seconds")} for row in csv.DictReader(fh)]
    assert metrics(summary["run_dir"]) == metrics(out) and len(metrics(out)) == 2
    cli = json.loads((out / "config.json").read_text())
    same = ("optimizer", "lr", "batch_size", "weight_decay", "schedule", "augment", "seed", "input_size", "split")
    assert {k: config[k] for k in same} == {k: cli[k] for k in same}
