"""The window with image folders and transfer learning."""

import torch
from PySide6.QtWidgets import QComboBox, QWidget

from window_helpers import drop_file, find, settle


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
        assert window.datasets.loading is not None and not find(window, "startButton").isEnabled()
    settle(qtbot, window)
    bundle = loaded.args[0]
    assert bundle != 0 and bundle.classes == ["cats", "dogs"] and combo.currentText() == "Folder: hostile"
    view = window.findChild(QWidget, "healthReportView")
    text = view.toPlainText()
    for path in expected["skipped"]:
        assert path in text
    assert "5 files skipped" in window.status_label.text() and view.isVisible()
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
    assert window.session.predictor.classes == ["bulbasaur", "charmander", "mewtwo"]
    with qtbot.waitSignal(window.folderLoaded, timeout=60_000) as loaded:
        drop_file(window, tmp_path)  # a folder without class folders of images (on the drop zone: classified)
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
    assert window.bundle.native_size == (224, 224) and window.session.predictor.input_shape == (3, 224, 224)
    mode = window.findChild(QComboBox, "transferModeCombo")
    mode.setCurrentIndex(mode.findData("extract"))
    find(window, "epochsSpin").setValue(3)
    find(window, "batchSizeSpin").setValue(15)
    cost = window.findChild(QWidget, "costLabel")
    qtbot.waitUntil(lambda: "per epoch" in cost.text(), timeout=60_000)
    assert "× 1 (the frozen backbone's forward only)" in cost.text()
    estimate = window.cost.last_estimate
    epochs = []
    window.epochShown.connect(epochs.append)
    with qtbot.waitSignal(window.trainingEnded, timeout=180_000):
        window.start_training()
    assert window.last_summary["status"] == "completed", window.last_summary
    assert window.last_summary["input_size"] == [3, 224, 224]
    assert window.config().pretrained and window.config().transfer == "extract"
    # The estimate is of a training pass; measured: the training images over the epoch's training rate, after
    # the first epoch (which also pays for the first calls into oneDNN).
    measured = min(e.train_images / e.images_per_sec for e in epochs[1:])
    assert 0.5 <= estimate / measured <= 2.0, (estimate, measured)
