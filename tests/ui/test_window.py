"""The real window, driven offscreen with pytest-qt: train, drop an image, look inside."""

from pathlib import Path

import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget

from reference import hook_output, predictions_by_hand, preprocess_by_hand, split_tensors
from window_helpers import OBJECT_NAMES, curve_points, drop_file, find, settings, settle
from workbench.core.events import StepEnded
from workbench.ui.main_window import MainWindow


def test_qt_calls_keep_none_alive(window):
    """PySide6 6.12.0 takes a reference from None on every call of a Qt method that returns nothing
    (setText, setEnabled, ...). A long training session makes thousands of them; when None's count
    reaches zero Python aborts ('none_dealloc'). pyproject.toml excludes that version."""
    import gc
    import sys

    label = window.status_label
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.setEnabled(True)
    gc.collect()
    assert sys.getrefcount(None) - before > -50


def test_all_controls_are_named(window):
    for name in OBJECT_NAMES:
        find(window, name)


def test_train_live_drop_an_image_and_see_feature_maps(window, qtbot, tmp_path, digits):
    find(window, "modelCombo").setCurrentIndex(find(window, "modelCombo").findData("lenet5"))
    find(window, "datasetCombo").setCurrentIndex(find(window, "datasetCombo").findData("digits"))
    find(window, "epochsSpin").setValue(4)
    find(window, "batchSizeSpin").setValue(32)
    find(window, "learningRateSpin").setValue(0.002)
    assert window.config().lr == pytest.approx(0.002)

    # Signals of the window itself: a worker's signal would call qtbot's slot in the worker thread.
    with qtbot.waitSignal(window.epochShown, timeout=60_000) as first:
        qtbot.mouseClick(find(window, "startButton"), Qt.MouseButton.LeftButton)
        assert window.training and not find(window, "startButton").isEnabled()
        assert find(window, "stopButton").isEnabled()
    assert first.args[0].epoch == 1
    assert curve_points(find(window, "lossPlot"))[0] > 0  # points appear while training runs
    qtbot.waitUntil(lambda: not window.training, timeout=120_000)
    settle(qtbot, window)
    assert window.last_summary["status"] == "completed" and window.last_summary["epochs"] == 4
    assert window.last_summary["test_acc"] > 0.9

    loss_points = curve_points(find(window, "lossPlot"))
    acc_points = curve_points(find(window, "accuracyPlot"))
    steps = 4 * -(-len(digits.train) // 32)
    assert loss_points == [steps, steps, 4]  # train loss per batch, raw and smoothed; val loss per epoch
    assert acc_points == [4, 4]  # train and val accuracy per epoch
    assert find(window, "startButton").isEnabled() and not find(window, "stopButton").isEnabled()

    # Drop a digit drawn dark-on-light, the way a user would save one: a digit of another class than
    # the test image shown at start-up, so keeping the old image would show the wrong answer.
    assert window.session.caption.startswith("test image 0")
    shown_label = int(digits.test[0][1])
    model = window.session.predictor.model
    images, labels = split_tensors(digits.test)
    by_hand = predictions_by_hand(model, images, (32, 32), digits.mean, digits.std)
    index = next(i for i in range(len(labels)) if labels[i] != shown_label and by_hand[i] == labels[i]
                 and by_hand[i] != by_hand[0])
    sample, label = digits.test[index]
    image = Image.fromarray(((1 - sample[0]) * 255).byte().numpy(), "L").resize((96, 96), Image.Resampling.NEAREST)
    path = tmp_path / "my_digit.png"
    image.save(path)
    drop_file(find(window, "dropZone"), path)
    settle(qtbot, window)
    assert window.session.caption == "my_digit.png"
    # The window now holds the dropped digit (the dataset's form, up to 8-bit rounding)...
    assert torch.allclose(window.session.image, sample, atol=1 / 255 + 1e-6)
    predictions = find(window, "predictionView").predictions
    assert len(predictions) == 5  # the top five (issue #16)
    probs = [p for _, p in predictions]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    # ...and classifies it: the top class is the one found by hand for that digit.
    assert predictions[0][0] == digits.classes[int(label)] != digits.classes[int(by_hand[0])]
    with torch.no_grad():
        expected = torch.softmax(model.eval()(preprocess_by_hand(sample[None], (32, 32), digits.mean, digits.std))[0], 0)
    assert probs[0] == pytest.approx(float(expected.max()), abs=2e-3)

    # Selecting a layer shows one tile per channel of that layer's output: that module's output for
    # the dropped image, as a forward hook on the module itself sees it.
    view = find(window, "featureMapView")
    net_input = preprocess_by_hand(window.session.image[None], (32, 32), digits.mean, digits.std)[0]
    for layer, channels in (("c1", 6), ("c3", 16), ("f6", 84)):
        window.explorer.select_layer(layer)
        settle(qtbot, window)
        assert view.layer == layer and view.tile_count == channels
        expected = hook_output(model, layer, net_input)
        torch.testing.assert_close(view.maps, expected.reshape(view.maps.shape))
        if layer == "f6":  # 84 values of 1×1: a bar each (issue #16), not 84 flat tiles
            assert view.bars.isVisible() and view.bar_values == pytest.approx(expected.flatten().tolist(), abs=1e-6)
            continue
        rows, cols = view.grid
        assert rows * cols >= channels > (rows - 1) * cols
        assert view.image.image is not None
    tree = find(window, "layerTree")
    assert tree.selected_layer() == "f6"

    # The first convolution's kernels after training, beside the ones the run started from (its init_filters.pt).
    window.explorer.select_layer("c1.conv")
    window.explorer.detail_tabs.setCurrentWidget(find(window, "filterView"))
    settle(qtbot, window)
    filters = find(window, "filterView").filters
    started = torch.load(Path(window.last_summary["run_dir"]) / "init_filters.pt", weights_only=True)["filters"]
    torch.testing.assert_close(filters.initial, started["c1.conv"])
    torch.testing.assert_close(filters.weight, model.c1.conv.weight.detach())
    assert not torch.allclose(filters.initial, filters.weight)  # training moved them
    assert find(window, "filterView").initial_view.isVisible()


def test_stop_button_stops_within_a_batch(window, qtbot):
    find(window, "epochsSpin").setValue(500)
    with qtbot.waitSignal(window.stepShown, timeout=30_000):
        window.start_training()
    steps = []  # appended in the training thread, as the engine finishes each batch
    window.training_controller.worker.trainer.add_listener(lambda e: steps.append(e) if isinstance(e, StepEnded) else None)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=30_000)
    with qtbot.waitSignal(window.trainingEnded, timeout=30_000):
        done_at_click = len(steps)
        qtbot.mouseClick(find(window, "stopButton"), Qt.MouseButton.LeftButton)
    # At most the batch that was under way when Stop was clicked finishes.
    assert len(steps) - done_at_click <= 1
    assert window.last_summary["status"] == "stopped" and window.last_summary["epochs"] == 0


def test_closing_during_training_stops_the_thread_cleanly(qtbot, tmp_path, qtlog, monkeypatch):
    """Closing asks (the real question, answered "Stop and close" as a user would), then stops the run."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from window_helpers import ASK_CLOSE
    from workbench.ui.views.run_status import RunStatusView

    monkeypatch.setattr(RunStatusView, "ask_close", ASK_CLOSE)
    win = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    win.show()
    win.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.stepShown, timeout=30_000):
        win.start_training()
    thread = win.training_controller.thread
    asked = []

    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, answer)
            return
        asked.append(box.text())
        next(b for b in box.buttons() if b.text() == "Stop and close").click()
    QTimer.singleShot(100, answer)
    win.close()
    assert asked == ["Stop the run and close CNN Workbench?"] and not win.isVisible()
    assert thread.isFinished()
    messages = [rec.message for rec in qtlog.records]
    assert not any("Destroyed while thread" in m for m in messages), messages
    win.deleteLater()


def test_bad_drop_shows_a_message_and_keeps_the_image(window, qtbot, tmp_path):
    before = window.session.caption
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    drop_file(find(window, "dropZone"), bad)
    settle(qtbot, window)
    assert window.error_banner.isVisible() and "Cannot read notes.txt" in window.error_banner.text()
    assert window.session.caption == before
    # A decompression bomb is refused with its reason, not an uncaught DecompressionBombError.
    from fake_folders import bomb_png

    (tmp_path / "bomb.png").write_bytes(bomb_png())
    drop_file(find(window, "dropZone"), tmp_path / "bomb.png")
    settle(qtbot, window)
    assert "decompression bomb" in window.error_banner.text() and window.session.caption == before


def test_a_16_bit_drop_is_not_black(window, qtbot, tmp_path):
    """A 16-bit grey PNG (values 1,000-60,000) is stretched from its own range, not clipped."""
    import numpy as np

    values = np.linspace(1000, 60000, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    drop_file(find(window, "dropZone"), tmp_path / "deep.png")
    settle(qtbot, window)
    assert window.session.caption == "deep.png" and not window.error_banner.isVisible()
    assert float(window.session.image.min()) < 0.1 and float(window.session.image.max()) > 0.9


def test_switching_model_rebuilds_the_layer_tree(window, qtbot):
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData("resnet18"))
    settle(qtbot, window)
    assert window.session.predictor.model.model_name == "resnet18"
    assert window.layer_tree.item_for("layer4.1.conv2") is not None
    window.explorer.select_layer("layer2")
    settle(qtbot, window)
    assert window.feature_map_view.tile_count == 128
    assert "ResNet" in window.model_card.text() and "11,1" in window.model_card.text()


def test_model_picker_groups_every_model_by_family(window, qtbot):
    import models

    combo = find(window, "modelCombo")
    names = [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i)]
    assert sorted(names) == sorted(models.list_models()) and len(names) == len(set(names))
    # natural order (issue #21): the ImageNet ResNets by depth, as the paper's Table 1 lists them
    assert [n for n in names if n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")] == \
        ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    assert models.list_models("resnet1*") == ["resnet18", "resnet101", "resnet110", "resnet152"]
    combo.setFocus()
    QTest.keyClicks(combo, "resnet5")  # typing a name selects it
    assert combo.currentData() in ("resnet50", "resnet56")
    headers = [combo.itemText(i) for i in range(combo.count()) if combo.itemData(i) is None]
    assert {"LeNet", "AlexNet", "VGG", "NIN", "GoogLeNet/Inception", "ResNet", "DenseNet", "ResNeXt", "SENet",
            "WideResNet", "DPN", "FractalNet"} == set(headers)
    assert not any(combo.model().item(i).isEnabled() for i in range(combo.count()) if combo.itemData(i) is None)
    combo.setCurrentIndex(combo.findData("alexnet2012"))
    settle(qtbot, window)
    card = window.model_card.text()
    params = sum(p.numel() for p in window.session.predictor.model.parameters())
    assert "2012" in card and f"{params:,}</b> parameters" in card and "at 1×227×227" in card


def test_a_dataset_not_yet_downloaded_fails_cleanly_offline(window, qtbot, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    combo = find(window, "datasetCombo")
    combo.setCurrentIndex(combo.findData("cifar10"))
    settle(qtbot, window)
    assert "not downloaded yet" in window.status_label.text()
    assert window.session.predictor.input_shape == (3, 32, 32) and len(window.session.predictor.classes) == 10
    with qtbot.waitSignal(window.trainingEnded, timeout=60_000):
        window.start_training()
    assert window.last_summary["status"] == "failed"
    assert window.error_banner.isVisible() and "Connect to the internet once" in window.error_banner.text()
    assert find(window, "startButton").isEnabled()


def test_a_downloaded_dataset_trains_in_the_window(window, qtbot, monkeypatch, workbench_home):
    from fake_datasets import write_cifar10

    write_cifar10(workbench_home / "data", monkeypatch, n_train=200, n_test=40)
    find(window, "datasetCombo").setCurrentIndex(find(window, "datasetCombo").findData("cifar10"))
    find(window, "modelCombo").setCurrentIndex(find(window, "modelCombo").findData("resnet20"))
    settle(qtbot, window)
    assert window.bundle is not None and window.session.image.shape == (3, 32, 32)
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    assert window.last_summary["status"] == "completed" and window.last_summary["dataset"] == "cifar10"
    settle(qtbot, window)
    window.explorer.select_layer("layer3")
    settle(qtbot, window)
    assert window.feature_map_view.tile_count == 64


@pytest.mark.parametrize("name", __import__("models").list_models())
def test_every_model_can_be_explored_in_the_window(window, qtbot, name):
    """Layer tree, card, prediction and feature maps of each stage, for every family."""
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData(name))
    settle(qtbot, window)
    assert not window.error_banner.isVisible(), window.error_banner.text()
    model = window.session.predictor.model
    assert model.model_name == name and window.layer_tree.topLevelItemCount() > 0
    assert len(window.prediction_view.predictions) == 5
    spec = window.session.dataset
    net_input = preprocess_by_hand(window.session.image[None], window.session.predictor.input_shape[1:], spec.mean, spec.std)[0]
    for stage in model.feature_info:
        window.explorer.select_layer(stage["module"])
        settle(qtbot, window)
        assert window.feature_map_view.tile_count == stage["num_chs"], stage
        expected = hook_output(model, stage["module"], net_input)
        torch.testing.assert_close(window.feature_map_view.maps, expected.reshape(window.feature_map_view.maps.shape))


def test_pause_holds_the_run_and_resume_lets_it_go_on(window, qtbot):
    find(window, "epochsSpin").setValue(500)
    with qtbot.waitSignal(window.stepShown, timeout=30_000):
        window.start_training()
    steps = []  # appended in the training thread
    window.training_controller.worker.trainer.add_listener(lambda e: steps.append(e) if isinstance(e, StepEnded) else None)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=30_000)
    pause = find(window, "pauseButton")
    assert pause.isEnabled() and pause.text() == "Pause"
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    at_click = len(steps)
    qtbot.wait(800)
    assert len(steps) - at_click <= 1 and pause.text() == "Resume"  # the batch under way, then nothing
    held = len(steps)
    qtbot.mouseClick(pause, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(steps) >= held + 3, timeout=30_000)
    # The progress bar counts batches across the run, and the ETA line reads out the speed.
    assert window.progress.maximum() == 500 * steps[-1].steps_per_epoch and window.progress.value() >= 3
    assert "img/s" in find(window, "etaLabel").text() and "left" in find(window, "etaLabel").text()
    with qtbot.waitSignal(window.trainingEnded, timeout=30_000):
        qtbot.mouseClick(find(window, "stopButton"), Qt.MouseButton.LeftButton)
    assert window.last_summary["status"] == "stopped" and not pause.isEnabled()


def test_recipes_and_family_defaults_fill_the_form(window, qtbot):
    """The form takes its numbers from the engine's resolver: VGG gets the plain nets' learning
    rate, and the He et al. recipe SGD at 0.1 with batch 128 and its augmentation."""
    from workbench.core.train import TrainConfig, resolve

    model = find(window, "modelCombo")
    model.setCurrentIndex(model.findData("vgg11"))
    expected = resolve(TrainConfig(model="vgg11"))
    assert window.lr_spin.value() == pytest.approx(expected.lr) and window.optimizer_combo.currentData() == \
        expected.optimizer
    recipe = find(window, "recipeCombo")
    model.setCurrentIndex(model.findData("resnet20"))
    recipe.setCurrentIndex(recipe.findData("he2015-cifar"))
    assert (window.optimizer_combo.currentData(), window.lr_spin.value(), window.batch_spin.value()) == ("sgd", 0.1, 128)
    assert window.augment_combo.currentData() == "cifar"
    config = window.config()
    assert config.recipe == "he2015-cifar" and config.device == find(window, "deviceCombo").currentData() == "auto"
    resolved = resolve(config, train_size=1248)
    assert resolved.weight_decay == 1e-4 and resolved.momentum == 0.9 and resolved.schedule == "multistep"


def test_without_a_display_the_command_says_so_instead_of_aborting(tmp_path):
    """Qt aborts (SIGABRT) when its platform plugin cannot start; the command checks first."""
    import os
    import subprocess
    import sys

    from workbench.ui.app import display_problem

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "workbench"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no display" in done.stderr and "cnn-workbench train" in done.stderr
    missing = display_problem({"DISPLAY": ":0"}, "linux", lambda name: None)
    assert "libxcb-cursor0" in missing and "apt-get install" in missing
    assert display_problem({"DISPLAY": ":0"}, "linux", lambda name: "libxcb-cursor.so.0") is None
    assert display_problem({}, "win32") is None and display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_the_form_scrolls_rather_than_squeezing_at_800_by_600(window, qtbot):
    window.resize(800, 600)
    qtbot.wait(50)
    assert (window.width(), window.height()) == (800, 600)  # the window fits the screen
    fields = ["modelCombo", "datasetCombo", "epochsSpin", "batchSizeSpin", "recipeCombo", "learningRateSpin",
              "deviceCombo", "ampCombo", "startButton"]
    boxes = []
    for name in fields:
        widget = find(window, name)
        assert widget.height() >= widget.minimumSizeHint().height(), name  # not squeezed
        top = widget.mapTo(window, widget.rect().topLeft()).y()
        boxes.append((top, top + widget.height(), name))
    boxes.sort()
    for (_, bottom, above), (top, _, below) in zip(boxes, boxes[1:]):
        assert bottom <= top, f"{above} overlaps {below}"


def test_the_window_is_on_screen_before_torch_loads(tmp_path):
    """``cnn-workbench`` shows a start-up window first and imports torch behind it; the workbench
    replaces it once torch is in. (How much sooner is a benchmark: python -m workbench.ui.benchmark startup.)"""
    import os
    import subprocess
    import sys

    env = dict(os.environ, CNN_WORKBENCH_STARTUP_PROBE="1", QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path),
               CNN_WORKBENCH_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "workbench"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert [line[0] for line in lines] == ["shown", "ready"]
    assert lines[0][2] == "torch-loaded=False"  # on screen while torch is still to come
    models_listed = int(lines[0][3].split("=")[1])
    assert models_listed >= 46 + 11  # the real form: the whole zoo (46 models, 11+ family headers) before torch
    assert lines[0][4] == "start-enabled=False" and lines[1][2] == "start-enabled=True"  # Start waits for torch
    assert float(lines[0][1]) < float(lines[1][1])


def test_a_slow_model_builds_off_the_ui_thread_with_a_busy_state(window, qtbot):
    """Switching to GoogLeNet returns at once: the build and summary run in a job, the status bar
    says what is running, and the model appears when it is ready."""
    combo = find(window, "modelCombo")
    before = window.session.predictor
    combo.setCurrentIndex(combo.findData("googlenet"))
    # Back in the event loop before the model exists: the old one is still on show, and the busy state says why.
    assert window.session.predictor is before and not window.idle
    assert window.findChild(QWidget, "busyIndicator").isVisibleTo(window)
    assert "building googlenet" in window.findChild(QWidget, "busyLabel").text()
    with qtbot.waitSignal(window.modelShown, timeout=120_000) as shown:
        pass
    assert shown.args[0].model == "googlenet" and window.session.predictor.model.model_name == "googlenet"
    settle(qtbot, window)
    assert not window.findChild(QWidget, "busyIndicator").isVisibleTo(window)
    assert window.findChild(QWidget, "busyLabel").text() == ""
