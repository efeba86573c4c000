"""What a newcomer touches first (issue #21): the form before torch, settings that come back, text that
fits, honest estimates, a question and a quick exit on close, an app that installs like one."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QTabBar, QWidget

from window_helpers import find, settings, settle
from workbench.ui.main_window import MainWindow
from workbench.ui.views.experiment_form import ExperimentForm


def _subprocess_env(tmp_path, **extra):
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path),
                CNN_WORKBENCH_HOME=str(tmp_path / "home"), **extra)


def test_help_and_version_answer_without_importing_torch(tmp_path):
    """``--help`` reads the catalogue, not the registries; in a process of its own, as users run it."""
    probe = ("import sys\nfrom workbench.__main__ import main\n"
             "for argv in (['--version'], ['--help'], ['train', '--help'], ['evaluate', '--help']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print('TORCH', 'torch' in sys.modules, 'PySide6' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env=_subprocess_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "TORCH False False"
    assert "cnn-workbench 0.1.0" in done.stdout and "resnet18" in done.stdout and "--accept-data-change" in done.stdout


def test_the_catalogue_is_the_registries(tmp_path):
    """The torch-free catalogue the form and --help read says what the zoo and the datasets say."""
    from workbench.core import catalog

    assert json.loads(Path(catalog._path()).read_text()) == catalog.build(), \
        "resources/catalog.json is out of date: python -m workbench.core.catalog --write"
    import models

    from workbench.core.data import get_dataset_info, list_datasets

    assert catalog.model_names() == models.list_models() and len(catalog.model_names()) >= 46
    assert catalog.model_card("resnet18").pretrained and not catalog.model_card("lenet5").pretrained
    assert catalog.dataset_names() == list_datasets() == ["digits", "mnist", "fashion_mnist", "cifar10", "cifar100"]
    assert [catalog.dataset_card(n).title for n in list_datasets()] == [get_dataset_info(n).title for n in list_datasets()]
    assert not catalog.is_folder_dataset("cifar10") and catalog.is_folder_dataset("~/pokemon")


def test_the_form_shown_while_torch_loads_moves_into_the_window(qtbot, tmp_path):
    """The start-up window's form, filled in before torch is in, becomes the window's with every choice."""
    form = ExperimentForm()
    form.wait_for_engine()
    assert not form.start_button.isEnabled() and "loading" in form.start_button.text()
    assert [form.device_combo.itemData(i) for i in range(form.device_combo.count())] == ["auto"]
    form.select(form.model_combo, "resnet18")
    form.epochs_spin.setValue(4)
    form.transfer_check.setChecked(True)
    weights = tmp_path / "my-resnet18.pth"
    form.set_weights_file(str(weights))
    window = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path), form=form)
    qtbot.addWidget(window)
    window.show()
    assert window.form is form and form.model_name == "resnet18" and form.epochs_spin.value() == 4
    assert form.transfer_check.isChecked() and window.config().weights == str(weights)
    assert form.start_button.text() == "Start" and form.device_combo.count() >= 2  # auto, then cpu (and GPUs)
    assert form.device_combo.itemData(0) == "auto" and "cpu" in form.device_combo.itemData(1)
    window.close()


def test_settings_bring_back_a_folder_transfer_and_every_field(qtbot, tmp_path, monkeypatch):
    import torchvision

    from fake_folders import write_photo_folder

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "weights" / "resnet18-mine.pth"
    weights.parent.mkdir()
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    root = write_photo_folder(tmp_path / "pokemon", per_class=4, classes=3)

    first = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(first)
    first.show()
    settle(qtbot, first)
    with qtbot.waitSignal(first.folderLoaded, timeout=60_000):
        first.open_folder(str(root))
    first.form.select(first.model_combo, "resnet18")
    settle(qtbot, first)
    first.form.set_weights_file(str(weights))
    with qtbot.waitSignal(first.folderLoaded, timeout=60_000):
        first.transfer_check.setChecked(True)  # decoded again at the weights' 224
    settle(qtbot, first)
    first.form.select(first.form.transfer_mode_combo, "extract")
    first.lr_spin.setValue(0.0042)
    first.epochs_spin.setValue(3)
    first.close()

    second = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(second)
    second.show()
    qtbot.waitUntil(lambda: second.bundle is not None and second.bundle.name == str(root), timeout=60_000)
    settle(qtbot, second)
    assert second.form.dataset_name == str(root) and second.bundle.native_size == (224, 224)
    assert second.transfer_check.isChecked() and second.form.transfer_mode_combo.currentData() == "extract"
    config = second.config()
    assert (config.model, config.lr, config.epochs, config.weights) == ("resnet18", 0.0042, 3, str(weights))
    assert second.session.predictor.model.model_name == "resnet18"
    second.close()

    import shutil

    shutil.rmtree(root)  # the folder is gone: the form says so and shows a built-in set
    third = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(third)
    third.show()
    settle(qtbot, third)
    assert third.form.dataset_name == "digits" and "gone" in third.status.status_label.text()
    assert str(root) in third.status.status_label.text() and third.form.model_name == "resnet18"
    third.close()


def _cut(widget: QWidget) -> str | None:
    """Why ``widget``'s text does not fit it, or ``None``."""
    if isinstance(widget, QLabel):
        if widget.wordWrap() or not widget.text() or widget.pixmap() is not None and not widget.pixmap().isNull():
            return None
        need = widget.sizeHint().width()
    elif isinstance(widget, QComboBox):
        need = widget.fontMetrics().horizontalAdvance(widget.currentText()) + 30  # the arrow and the frame
    elif isinstance(widget, (QPushButton, QCheckBox)):
        if not widget.text():
            return None
        need = widget.sizeHint().width()
    elif isinstance(widget, QTabBar):
        need = sum(widget.tabRect(i).width() for i in range(widget.count()))
    else:
        return None
    text = widget.text() if hasattr(widget, "text") else getattr(widget, "currentText", lambda: "tabs")()
    return f"{type(widget).__name__} {widget.objectName()!r} {text!r}: needs {need}, has {widget.width()}" \
        if need > widget.width() + 1 else None


def test_nothing_is_cut_at_800_by_600_nor_at_the_default_size(window, qtbot):
    """Every label, button, check box, picker and tab bar of every tab shows its whole text, for LeNet-5 and
    for a model with longer layer names; at 800×600 the explorer becomes a tab and Start stays in view."""
    for model in ("lenet5", "resnet20"):
        window.form.select(window.model_combo, model)
        settle(qtbot, window)
        for size in ((1400, 880), (800, 600)):
            window.resize(*size)
            qtbot.waitUntil(lambda: (window.width(), window.height()) == size)
            qtbot.wait(100)  # the workspace rearranges after the resize
            tabs = window.centre_tabs
            for index in range(tabs.count()):
                tabs.setCurrentIndex(index)
                qtbot.wait(30)
                widgets = [w for w in window.findChildren(QWidget) if w.isVisible() and w.window() is window]
                cut = [reason for reason in map(_cut, widgets) if reason]
                assert not cut, f"{model} at {size}, tab {tabs.tabText(index)}: " + "; ".join(cut)
            start = find(window, "startButton")
            top = start.mapTo(window, start.rect().topLeft()).y()
            assert 0 <= top and top + start.height() <= window.height(), size  # in view without scrolling
        assert window.splitter.explorer_in_tabs  # at 800 pixels the explorer is a tab
        window.resize(1400, 880)
        qtbot.waitUntil(lambda: not window.splitter.explorer_in_tabs)


def test_the_matrix_has_axis_titles_whole_names_and_a_selection_of_its_own(qtbot):
    from workbench.ui.views.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    classes = ["astronaut", "chelsea", "coffee", "a class name far too long to show whole"]
    matrix = [[5, 1, 0, 0], [2, 6, 0, 0], [0, 0, 7, 1], [0, 0, 0, 8]]
    cells = [[[i * 10 + j] * n for j, n in enumerate(row)] for i, row in enumerate(matrix)]
    report = {"classes": classes, "matrix": matrix, "cells": cells, "accuracy": 0.87, "images": 30,
              "per_class": [{"class": c, "support": 6, "precision": 0.9, "recall": 0.8} for c in classes]}
    view.show_report(report, "run", images=lambda index: torch.full((3, 8, 8), 0.5))
    qtbot.wait(50)
    assert view.predicted_title.text().startswith("predicted") and view.true_title.text().startswith("true")
    header, metrics = view.matrix.horizontalHeader(), view.matrix.horizontalHeader().fontMetrics()
    assert header.height() >= metrics.horizontalAdvance("astronaut")  # written upwards, whole
    for i, name in enumerate(classes):  # every name whole in its tooltip, even the one elided
        assert name in view.matrix.horizontalHeaderItem(i).toolTip() and name in view.matrix.verticalHeaderItem(i).toolTip()
    # The chosen cell keeps its own colour (the highlight painted a light mistake the diagonal's dark blue).
    def colour(row, column):
        rect = view.matrix.visualItemRect(view.matrix.item(row, column))
        return view.matrix.viewport().grab().toImage().pixelColor(rect.left() + 6, rect.top() + 6)

    before = [colour(1, 0), colour(0, 1)]
    view.matrix.setCurrentCell(1, 0)
    view.show_cell(1, 0)
    qtbot.wait(50)
    after = colour(1, 0)
    assert after.red() > after.blue() + 40, after.name()  # a mistake stays red
    assert max(abs(a - b) for a, b in zip(before[0].getRgb(), after.getRgb())) <= 8, (before[0].name(), after.name())
    view.matrix.setCurrentCell(0, 1)  # a light cell (1 of 6 in its row) too
    qtbot.wait(50)
    assert max(abs(a - b) for a, b in zip(before[1].getRgb(), colour(0, 1).getRgb())) <= 8
    view.show_cell(1, 0)
    opened = []
    view.imageOpened.connect(lambda image, caption: opened.append((image, caption)))
    view.cell_images.itemDoubleClicked.emit(view.cell_images.item(0))
    assert opened and opened[0][1] == "test image 10" and opened[0][0].shape == (3, 8, 8)
    view.show_report(report, "another run")  # no selection carried over to another run's matrix
    assert not view.matrix.selectedItems() and view.matrix.currentRow() == -1


def test_the_exported_curves_carry_their_legend(window, qtbot, tmp_path):
    rv = window.runs_view
    assert rv.compare_plots.isAncestorOf(rv.legend)  # the PNG is a grab of this widget
    path = rv.export_png(str(tmp_path / "curves.png"))
    from PySide6.QtGui import QImage

    assert QImage(path).height() == rv.compare_plots.height()


def test_the_degradation_experiment_asks_with_its_estimated_time(window, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(window.runs_view, "ask_queue", lambda runs, device: asked.append((runs, device)) or False)
    window.runs_view.degradation_button.click()
    qtbot.waitUntil(lambda: bool(asked), timeout=120_000)
    runs, device = asked[0]
    # He et al. 2015, Sec. 4.2: 64k iterations of batch 128 on a 45k/5k split, about 182 epochs.
    assert [(model, epochs) for model, epochs, _ in runs] == [("plain20", 182), ("plain56", 182), ("resnet20", 182),
                                                             ("resnet56", 182)]
    seconds = dict((model, s) for model, _, s in runs)
    assert 0 < seconds["resnet20"] < seconds["resnet56"]  # 41M against 125M multiply-adds a picture
    assert not window.training and not window.training_controller.queue  # refused: nothing queued
    assert "cpu" in device or "cuda" in device


def test_a_handled_error_is_shown_not_printed(window, qtbot, tmp_path, capfd):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")
    capfd.readouterr()
    window.classify_file(str(broken))
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=30_000)
    assert "broken.png" in window.error_banner.text()
    assert "Traceback" not in capfd.readouterr().err


def test_the_best_epoch_label_stays_inside_the_plot(window, qtbot):
    plots = window.plots
    plots.set_epochs(10)
    plots.add_epoch(1, 0.5, 1.0, 0.6, best_epoch=1, best_acc=0.6)
    qtbot.wait(50)
    label, box = plots.best_line.label, plots.accuracy_plot.getViewBox()
    assert label.mapRectToScene(label.boundingRect()).left() >= box.sceneBoundingRect().left() - 1


def test_closing_while_training_asks_and_a_refusal_keeps_training(window, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(window.status, "ask_close", lambda: asked.append(1) or False)
    find(window, "epochsSpin").setValue(30)
    window.start_training()
    qtbot.waitUntil(lambda: window.training, timeout=30_000)
    window.close()
    assert asked and window.isVisible() and window.training  # "Keep training"
    monkeypatch.setattr(window.status, "ask_close", lambda: True)
    window.close()
    assert not window.isVisible()
    qtbot.waitUntil(lambda: not window.training, timeout=10_000)  # the thread ended with the window


def test_the_process_exits_within_a_second_of_the_window_and_leaves_no_empty_run(tmp_path):
    """As users run it: close mid-epoch, answer "Stop and close"; and close an idle window."""
    # ResNet-20's first epoch on the digits takes seconds here: the close comes in its middle.
    env = _subprocess_env(tmp_path, CNN_WORKBENCH_AUTORUN=json.dumps({"model": "resnet20", "epochs": 50,
                                                                      "batch_size": 16, "close_after_steps": 3}))
    process = subprocess.Popen([sys.executable, "-m", "workbench"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    closing, lines = None, []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("closing"):
            closing = time.monotonic()
    process.wait(timeout=60)
    exited = time.monotonic()
    assert closing is not None and process.returncode == 0, (lines, process.stderr.read())
    assert exited - closing < 1.0
    summary = json.loads(next(line for line in lines if line.startswith("autorun "))[len("autorun "):])
    assert summary["status"] == "stopped" and summary.get("discarded") and summary["epochs"] == 0, summary
    runs = tmp_path / "home" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # stopped before its first epoch: nothing kept

    env = _subprocess_env(tmp_path, CNN_WORKBENCH_STARTUP_PROBE="1")
    process = subprocess.Popen([sys.executable, "-m", "workbench"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    ready = None
    for line in process.stdout:
        if line.startswith("ready"):
            ready = time.monotonic()  # the window closes itself at once after this line
    process.wait(timeout=60)
    assert ready is not None and time.monotonic() - ready < 1.0


def test_install_desktop_writes_a_launcher_entry_and_its_icon(tmp_path, monkeypatch, capsys):
    import configparser

    from workbench.cli import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["install-desktop"]) == 0
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / "share" / "applications" / "cnn-workbench.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "CNN Workbench" and desktop["Terminal"] == "false"
    exe = Path(desktop["Exec"].strip('"'))
    assert exe.is_file() and os.access(exe, os.X_OK) and exe.name == "cnn-workbench"
    icon = Path(desktop["Icon"])
    data = icon.read_bytes()
    assert icon.parent.parts[-3:] == ("hicolor", "256x256", "apps") and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == int.from_bytes(data[20:24], "big") == 256  # IHDR: 256×256
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not icon.exists() and not (tmp_path / "share" / "applications" / "cnn-workbench.desktop").exists()


def test_the_terminal_bar_is_rich_and_a_log_gets_a_line_per_epoch(tmp_path):
    import io

    from workbench.cli.progress import ProgressBar
    from workbench.core.train import TrainConfig, Trainer

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, log = Terminal(), io.StringIO()
    config = TrainConfig(model="lenet5", dataset="digits", epochs=2, seed=0)
    Trainer(config, [ProgressBar(terminal), ProgressBar(log)], runs_root=tmp_path / "runs").run()
    assert "━" in terminal.getvalue() and "39/39" in terminal.getvalue()  # rich's bar, batch by batch
    lines = [line for line in log.getvalue().splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/2", "2/2"] and "━" not in log.getvalue()


def test_pyside_reads_no_source_of_the_modules_imported_after_it():
    """PySide6's feature hook read the whole source of each module imported after it (1,769 files, 38 MB of
    text for torch and torchvision), and the window imports torch after PySide6. With ``read_no_sources``
    torch's files are not read; without it they are (the check that this test can fail)."""
    import subprocess
    import sys

    code = ("import linecache, PySide6.QtWidgets; from workbench.ui import read_no_sources; {}; "
            "import torch, torchvision; print(sum(1 for f in linecache.cache if 'torch' in f))")
    fixed = subprocess.run([sys.executable, "-c", code.format("read_no_sources()")], capture_output=True,
                           text=True, check=True)
    plain = subprocess.run([sys.executable, "-c", code.format("None")], capture_output=True, text=True, check=True)
    assert int(fixed.stdout) < 100 and int(plain.stdout) > 1000  # torch reads a few itself (25 here)


def test_the_busy_indicator_never_resizes_the_panes(window, qtbot):
    """Each job shows the status bar's moving bar and hides it after; that once resized the window's panes and
    repainted every plot (10 ms each way), in the middle of every drop."""
    import threading

    settle(qtbot, window)
    before = window.centralWidget().size()
    release = threading.Event()
    window.jobs.submit("hold", lambda: release.wait(10))
    qtbot.waitUntil(lambda: window.findChild(QWidget, "busyIndicator").isVisible(), timeout=5_000)
    during = window.centralWidget().size()
    release.set()
    settle(qtbot, window)
    assert not window.findChild(QWidget, "busyIndicator").isVisible()
    assert before == during == window.centralWidget().size()
