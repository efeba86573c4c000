"""The real window, driven offscreen with pytest-qt: train, drop an image, look inside."""

import pytest
import torch
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QPushButton, QSpinBox, QTreeWidget, QWidget

from reference import hook_output, predictions_by_hand, preprocess_by_hand, split_tensors
from workbench.core.events import StepEnded
from workbench.ui.main_window import MainWindow

OBJECT_NAMES = {
    "modelCombo": QComboBox, "datasetCombo": QComboBox, "epochsSpin": QSpinBox, "batchSizeSpin": QSpinBox,
    "learningRateSpin": QDoubleSpinBox, "startButton": QPushButton, "stopButton": QPushButton,
    "lossPlot": QWidget, "accuracyPlot": QWidget, "dropZone": QWidget, "predictionView": QWidget,
    "layerTree": QTreeWidget, "featureMapView": QWidget, "pauseButton": QPushButton, "recipeCombo": QComboBox,
    "deviceCombo": QComboBox, "ampCombo": QComboBox, "etaLabel": QWidget, "augmentCombo": QComboBox,
    "transferCheck": QWidget, "probeView": QWidget, "evaluationView": QWidget, "confusionMatrixView": QWidget,
    "runsTable": QWidget, "compareButton": QPushButton, "healthReportView": QWidget, "lrPlot": QWidget,
}


def settings(tmp_path):
    """Each test its own settings file: never the user's, never another test's."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    settle(qtbot, win)
    yield win
    win.close()


def settle(qtbot, win, timeout=60_000):
    """Wait until the window's jobs (model builds, classification, feature maps) are done."""
    qtbot.waitUntil(lambda: win.idle, timeout=timeout)


def find(win, name):
    widget = win.findChild(OBJECT_NAMES[name], name)
    assert widget is not None, f"no {name}"
    return widget


def drop_file(widget, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(drop)


def curve_points(plot):
    return [len(item.getData()[0] if item.getData()[0] is not None else []) for item in plot.getPlotItem().listDataItems()]


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
    assert window.image_caption.startswith("test image 0")
    shown_label = int(digits.test[0][1])
    model = window.classifier.model
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
    assert window.image_caption == "my_digit.png"
    # The window now holds the dropped digit (the dataset's form, up to 8-bit rounding)...
    assert torch.allclose(window.image, sample, atol=1 / 255 + 1e-6)
    predictions = find(window, "predictionView").predictions
    assert len(predictions) == 3
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
    net_input = preprocess_by_hand(window.image[None], (32, 32), digits.mean, digits.std)[0]
    for layer, channels in (("c1", 6), ("c3", 16), ("f6", 84)):
        window.select_layer(layer)
        settle(qtbot, window)
        assert view.layer == layer and view.tile_count == channels
        rows, cols = view.grid
        assert rows * cols >= channels > (rows - 1) * cols
        assert view.image.image is not None
        expected = hook_output(model, layer, net_input)
        torch.testing.assert_close(view.maps, expected.reshape(view.maps.shape))
    tree = find(window, "layerTree")
    assert tree.selected_layer() == "f6"


def test_stop_button_stops_within_a_batch(window, qtbot):
    find(window, "epochsSpin").setValue(500)
    with qtbot.waitSignal(window.stepShown, timeout=30_000):
        window.start_training()
    steps = []  # appended in the training thread, as the engine finishes each batch
    window._worker.trainer.add_listener(lambda e: steps.append(e) if isinstance(e, StepEnded) else None)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=30_000)
    with qtbot.waitSignal(window.trainingEnded, timeout=30_000):
        done_at_click = len(steps)
        qtbot.mouseClick(find(window, "stopButton"), Qt.MouseButton.LeftButton)
    # At most the batch that was under way when Stop was clicked finishes.
    assert len(steps) - done_at_click <= 1
    assert window.last_summary["status"] == "stopped" and window.last_summary["epochs"] == 0


def test_closing_during_training_stops_the_thread_cleanly(qtbot, tmp_path, qtlog):
    win = MainWindow(runs_root=tmp_path / "runs", settings=settings(tmp_path))
    win.show()
    win.epochs_spin.setValue(500)
    with qtbot.waitSignal(win.stepShown, timeout=30_000):
        win.start_training()
    thread = win._thread
    win.close()
    assert thread.isFinished()
    messages = [rec.message for rec in qtlog.records]
    assert not any("Destroyed while thread" in m for m in messages), messages
    win.deleteLater()


def test_bad_drop_shows_a_message_and_keeps_the_image(window, qtbot, tmp_path):
    before = window.image_caption
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    drop_file(find(window, "dropZone"), bad)
    settle(qtbot, window)
    assert window.error_banner.isVisible() and "Cannot read notes.txt" in window.error_banner.text()
    assert window.image_caption == before
    # A decompression bomb is refused with its reason, not an uncaught DecompressionBombError.
    from fake_folders import bomb_png

    (tmp_path / "bomb.png").write_bytes(bomb_png())
    drop_file(find(window, "dropZone"), tmp_path / "bomb.png")
    settle(qtbot, window)
    assert "decompression bomb" in window.error_banner.text() and window.image_caption == before


def test_a_16_bit_drop_is_not_black(window, qtbot, tmp_path):
    """A 16-bit grey PNG (values 1,000-60,000) is stretched from its own range, not clipped."""
    import numpy as np

    values = np.linspace(1000, 60000, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    drop_file(find(window, "dropZone"), tmp_path / "deep.png")
    settle(qtbot, window)
    assert window.image_caption == "deep.png" and not window.error_banner.isVisible()
    assert float(window.image.min()) < 0.1 and float(window.image.max()) > 0.9


def test_switching_model_rebuilds_the_layer_tree(window, qtbot):
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData("resnet18"))
    settle(qtbot, window)
    assert window.classifier.model.model_name == "resnet18"
    assert window.layer_tree.item_for("layer4.1.conv2") is not None
    window.select_layer("layer2")
    settle(qtbot, window)
    assert window.feature_map_view.tile_count == 128
    assert "ResNet" in window.model_card.text() and "11,1" in window.model_card.text()


def test_model_picker_groups_every_model_by_family(window, qtbot):
    import models

    combo = find(window, "modelCombo")
    names = [combo.itemData(i) for i in range(combo.count()) if combo.itemData(i)]
    assert sorted(names) == models.list_models()
    headers = [combo.itemText(i) for i in range(combo.count()) if combo.itemData(i) is None]
    assert {"LeNet", "AlexNet", "VGG", "NIN", "GoogLeNet/Inception", "ResNet", "DenseNet", "ResNeXt", "SENet",
            "WideResNet", "DPN", "FractalNet"} == set(headers)
    assert not any(combo.model().item(i).isEnabled() for i in range(combo.count()) if combo.itemData(i) is None)
    combo.setCurrentIndex(combo.findData("alexnet2012"))
    settle(qtbot, window)
    card = window.model_card.text()
    params = sum(p.numel() for p in window.classifier.model.parameters())
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
    assert window.classifier.input_shape == (3, 32, 32) and len(window.classifier.classes) == 10
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
    assert window.bundle is not None and window.image.shape == (3, 32, 32)
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    assert window.last_summary["status"] == "completed" and window.last_summary["dataset"] == "cifar10"
    settle(qtbot, window)
    window.select_layer("layer3")
    settle(qtbot, window)
    assert window.feature_map_view.tile_count == 64


@pytest.mark.parametrize("name", __import__("models").list_models())
def test_every_model_can_be_explored_in_the_window(window, qtbot, name):
    """Layer tree, card, prediction and feature maps of each stage, for every family."""
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData(name))
    settle(qtbot, window)
    assert not window.error_banner.isVisible(), window.error_banner.text()
    model = window.classifier.model
    assert model.model_name == name and window.layer_tree.topLevelItemCount() > 0
    assert len(window.prediction_view.predictions) == 3
    spec = window.data_spec
    net_input = preprocess_by_hand(window.image[None], window.classifier.input_shape[1:], spec.mean, spec.std)[0]
    for stage in model.feature_info:
        window.select_layer(stage["module"])
        settle(qtbot, window)
        assert window.feature_map_view.tile_count == stage["num_chs"], stage
        expected = hook_output(model, stage["module"], net_input)
        torch.testing.assert_close(window.feature_map_view.maps, expected.reshape(window.feature_map_view.maps.shape))


# --- image folders and transfer learning ------------------------------------------------------------

def test_an_image_folder_chosen_in_the_picker_shows_its_health_and_trains(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from fake_folders import write_hostile_folder

    root = tmp_path / "hostile"
    expected = write_hostile_folder(root)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(root))
    combo = find(window, "datasetCombo")
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000) as loaded:
        combo.setCurrentIndex(combo.findData("__image_folder__"))
        # The scan runs in a worker thread: the window is back in its event loop at once.
        assert window._folder_thread is not None and not find(window, "startButton").isEnabled()
    settle(qtbot, window)
    bundle = loaded.args[0]
    assert bundle != 0 and bundle.classes == ["cats", "dogs"] and combo.currentText() == "Folder: hostile"
    view = window.findChild(QWidget, "healthReportView")
    text = view.toPlainText()
    for path in expected["skipped"]:
        assert path in text
    assert "5 file(s) skipped" in window.status_label.text() and view.isVisible()
    assert find(window, "startButton").isEnabled()

    find(window, "epochsSpin").setValue(2)
    find(window, "batchSizeSpin").setValue(8)
    window.findChild(QComboBox, "augmentCombo").setCurrentIndex(
        window.findChild(QComboBox, "augmentCombo").findData("flip_crop"))
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    assert window.last_summary["status"] == "completed", window.last_summary
    config = __import__("json").loads((__import__("pathlib").Path(window.last_summary["run_dir"]) / "config.json").read_text())
    assert config["augment"] == "flip_crop" and config["dataset"] == str(root.resolve())
    # A photo dropped on the drop zone is classified with the folder's classes.
    settle(qtbot, window)
    drop_file(find(window, "dropZone"), root / "dogs" / "plain1.png")
    settle(qtbot, window)
    assert {c for c, _ in find(window, "predictionView").predictions} <= {"cats", "dogs"}


def test_a_folder_dropped_on_the_window_becomes_the_dataset(window, qtbot, tmp_path):
    from fake_folders import write_photo_folder

    root = write_photo_folder(tmp_path / "pokemon", per_class=4, classes=3)
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000) as loaded:
        drop_file(window, root)
    assert loaded.args[0].classes == ["bulbasaur", "charmander", "mewtwo"]
    settle(qtbot, window)
    assert window.classifier.classes == ["bulbasaur", "charmander", "mewtwo"]
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000) as loaded:
        drop_file(find(window, "dropZone"), tmp_path)  # a folder without class folders of images
    assert loaded.args[0] == 0 and "at least two classes" in window.error_banner.text()
    assert window.bundle.classes == ["bulbasaur", "charmander", "mewtwo"]  # the previous set is kept


def test_transfer_learning_from_the_window(window, qtbot, tmp_path, monkeypatch):
    import torchvision

    from fake_folders import write_photo_folder

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    weights.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    check = window.findChild(QWidget, "transferCheck")
    assert not check.isEnabled()  # lenet5 has no ImageNet weights
    root = write_photo_folder(tmp_path / "pokemon", per_class=5, classes=5)
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000):
        window.open_folder(str(root))
    assert window.bundle.native_size == (64, 64)
    find(window, "modelCombo").setCurrentIndex(find(window, "modelCombo").findData("resnet18"))
    settle(qtbot, window)
    assert check.isEnabled()
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000):
        check.setChecked(True)  # the folder is decoded again at the weights' 224×224
    settle(qtbot, window)
    assert window.bundle.native_size == (224, 224) and window.classifier.input_shape == (3, 224, 224)
    mode = window.findChild(QComboBox, "transferModeCombo")
    mode.setCurrentIndex(mode.findData("extract"))
    find(window, "epochsSpin").setValue(1)
    find(window, "batchSizeSpin").setValue(15)
    with qtbot.waitSignal(window.trainingEnded, timeout=180_000):
        window.start_training()
    assert window.last_summary["status"] == "completed", window.last_summary
    assert window.last_summary["input_size"] == [3, 224, 224]
    assert window.config().pretrained and window.config().transfer == "extract"


def test_pause_holds_the_run_and_resume_lets_it_go_on(window, qtbot):
    find(window, "epochsSpin").setValue(500)
    with qtbot.waitSignal(window.stepShown, timeout=30_000):
        window.start_training()
    steps = []  # appended in the training thread
    window._worker.trainer.add_listener(lambda e: steps.append(e) if isinstance(e, StepEnded) else None)
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


# --- the workbench: evaluation, runs, comparison ----------------------------------------------------

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
    best = MainWindow_best_model(first["run_dir"])
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
    assert window.classifier.model.model_name == "lenet5"
    for (a, b) in zip(window.classifier.model.state_dict().values(), best.state_dict().values()):
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
    window.export_csv([first["run_dir"], second["run_dir"]], str(tmp_path / "metrics.csv"))
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("run,epoch,train_loss") and len(rows) == 1 + 2 + 1
    window.export_png(str(tmp_path / "curves.png"))
    assert Image.open(tmp_path / "curves.png").size[0] > 100


def MainWindow_best_model(run_dir):
    from workbench.core.predict import load_classifier

    return load_classifier(run_dir).model.eval()


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
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    qtbot.mouseClick(window.findChild(QPushButton, "deleteRunButton"), Qt.MouseButton.LeftButton)
    assert renamed.is_dir()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.runsShown, timeout=30_000):
        qtbot.mouseClick(window.findChild(QPushButton, "deleteRunButton"), Qt.MouseButton.LeftButton)
    assert not renamed.exists() and table.rowCount() == 0


def test_opening_a_damaged_run_says_why_and_keeps_the_model(window, qtbot, tmp_path):
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=120_000):
        window.start_training()
    settle(qtbot, window)
    run_dir = window.last_summary["run_dir"]
    before = window.classifier
    best = tmp_path / "runs" / run_dir.rsplit("/", 1)[-1] / "best.pt"
    data = bytearray(best.read_bytes())
    data[len(data) // 2] ^= 0xFF
    best.write_bytes(bytes(data))
    window.open_run(run_dir)
    settle(qtbot, window)
    assert window.error_banner.isVisible() and "best.pt" in window.error_banner.text()
    assert window.classifier is before


def test_the_degradation_experiment_queues_the_four_runs_of_figure_6(window, qtbot, monkeypatch, workbench_home):
    from fake_datasets import write_cifar10

    write_cifar10(workbench_home / "data", monkeypatch, n_train=120, n_test=20)
    ended, start_enabled = [], []

    def on_ended(summary):  # the window's own signal: runs in the UI thread
        ended.append(summary)
        start_enabled.append(find(window, "startButton").isEnabled())
    window.trainingEnded.connect(on_ended)
    window.start_degradation(epochs=1, batch_size=32)
    assert window.training and window.centre_tabs.currentWidget() is window.runs_view
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
    assert second.model_name == "resnet20" and second.epochs_spin.value() == 7
    assert second.centre_tabs.currentIndex() == 3 and (second.width(), second.height()) == (780, 560)
    assert second.classifier.model.model_name == "resnet20"
    second.close()


def test_cost_and_impossible_settings_are_shown_before_start(window, qtbot):
    cost = window.findChild(QWidget, "costLabel")
    problem = window.findChild(QWidget, "validationLabel")
    model = find(window, "modelCombo")
    model.setCurrentIndex(model.findData("resnet20"))
    settle(qtbot, window)
    qtbot.waitUntil(lambda: "per epoch" in cost.text(), timeout=30_000)
    from workbench.core.inspection import human_count

    assert human_count(window.inspection.summary.total_macs) in cost.text() and "1,248 images" in cost.text()
    # fp16 needs CUDA: on a CPU-only machine the reason shows and Start waits.
    if not torch.cuda.is_available():
        find(window, "ampCombo").setCurrentIndex(find(window, "ampCombo").findData("fp16"))
        assert problem.isVisible() and "CUDA" in problem.text() and not find(window, "startButton").isEnabled()
        find(window, "ampCombo").setCurrentIndex(find(window, "ampCombo").findData("off"))
    assert not problem.isVisible() and find(window, "startButton").isEnabled()
    # A big model on 224×224 inputs on this CPU: the estimate warns.
    window.findChild(QSpinBox, "inputSizeSpin").setValue(224)
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
    assert float(lines[0][1]) < float(lines[1][1])


def test_a_slow_model_builds_off_the_ui_thread_with_a_busy_state(window, qtbot):
    """Switching to GoogLeNet returns at once: the build and summary run in a job, the status bar
    says what is running, and the model appears when it is ready."""
    combo = find(window, "modelCombo")
    before = window.classifier
    combo.setCurrentIndex(combo.findData("googlenet"))
    # Back in the event loop before the model exists: the old one is still on show, and the busy state says why.
    assert window.classifier is before and not window.idle
    assert window.findChild(QWidget, "busyIndicator").isVisibleTo(window)
    assert "building googlenet" in window.findChild(QWidget, "busyLabel").text()
    with qtbot.waitSignal(window.modelShown, timeout=120_000) as shown:
        pass
    assert shown.args[0].model == "googlenet" and window.classifier.model.model_name == "googlenet"
    settle(qtbot, window)
    assert not window.findChild(QWidget, "busyIndicator").isVisibleTo(window)
    assert window.findChild(QWidget, "busyLabel").text() == ""
