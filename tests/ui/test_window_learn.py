"""Learn by looking in the window (issue #19, parts 3 and 4): a run trained here plays back as a time-lapse whose
slider moves through frames that differ, and an opened run shows its own; the lineage view puts the image on show
through LeNet-5, VGG-11 and ResNet-18, stage by stage."""

from __future__ import annotations

import torch
from PySide6.QtCore import Qt

from window_helpers import settle


def test_the_time_lapse_slider_moves_through_the_run_s_epochs(window, qtbot):
    window.model_combo.setCurrentIndex(window.model_combo.findData("lenet5"))
    window.epochs_spin.setValue(3)
    settle(qtbot, window)
    with qtbot.waitSignal(window.trainingEnded, timeout=300_000):
        window.start_training()
    settle(qtbot, window)
    run_dir = window.last_summary["run_dir"]
    view = window.timelapse_view
    window.centre_tabs.setCurrentWidget(view)
    assert window.centre_tabs.training_tabs.currentWidget() is view
    qtbot.waitUntil(lambda: view.lapse is not None and len(view.lapse.frames) == 4, timeout=30_000)
    assert [f.epoch for f in view.lapse.frames] == [0, 1, 2, 3] and view.lapse.run_dir == run_dir
    assert view.slider.value() == view.slider.maximum() == 3  # the newest epoch at the front
    view.layer_combo.setCurrentIndex(view.layer_combo.findData("c3"))
    seen = {}
    for position in (1, 3):
        view.slider.setValue(position)  # what dragging the slider does
        settle(qtbot, window)
        seen[position] = (view.epoch_label.text(), view.maps.maps.clone(), view.prediction.text(),
                          view.cam.pixmap().toImage(), view.filters.pixmap().toImage())
    (label1, maps1, words1, cam1, kernels1), (label3, maps3, _, cam3, kernels3) = seen[1], seen[3]
    assert (label1, label3) == ("epoch 1", "epoch 3") and view.maps.layer == "c3"
    assert maps1.shape == maps3.shape == (16, 10, 10) and not torch.allclose(maps1, maps3)
    assert torch.allclose(maps3, view.lapse.frame(3).maps["c3"])  # the frame the run kept for epoch 3
    assert not cam1.isNull() and cam1 != cam3 and kernels1 != kernels3
    assert "predicted" in words1 and "label" in words1
    view.slider.setValue(3)
    qtbot.mouseClick(view.play_button, Qt.MouseButton.LeftButton)  # Play at the end starts again
    assert view.slider.value() == 0 and view.play_button.isChecked()
    qtbot.waitUntil(lambda: view.slider.value() == 3 and not view.play_button.isChecked(), timeout=10_000)

    # Another run trained, then the first opened again: each shows its own time-lapse.
    with qtbot.waitSignal(window.trainingEnded, timeout=300_000):
        window.start_training()
    settle(qtbot, window)
    qtbot.waitUntil(lambda: view.lapse is not None and view.lapse.run_dir == window.last_summary["run_dir"],
                    timeout=30_000)
    window.open_run(run_dir)
    qtbot.waitUntil(lambda: view.lapse is not None and view.lapse.run_dir == run_dir, timeout=60_000)
    assert len(view.lapse.frames) == 4


def test_the_lineage_view_fills_for_lenet5_vgg11_and_resnet18(window, qtbot):
    view = window.lineage_view
    window.centre_tabs.setCurrentWidget(view)
    assert window.centre_tabs.current_view() is view
    view.choose(("model", "lenet5"), ("model", "vgg11"), ("model", "resnet18"))
    assert view.choices() == [("model", "lenet5"), ("model", "vgg11"), ("model", "resnet18")]
    with qtbot.waitSignal(window.lineage.ready, timeout=120_000):
        qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    # The digits (1×8×8) at each network's input, 32×32: LeCun et al. 1998 Fig. 2; Simonyan & Zisserman Table 1
    # (A), halved at each pool; He et al. 2016 Table 1's channels, CIFAR-style stride-1 stem for a small input.
    assert view.stage_texts() == [
        ["c1 6×28×28", "s2 6×14×14", "c3 16×10×10", "s4 16×5×5", "c5 120×1×1"],
        ["features.1 64×32×32", "features.4 128×16×16", "features.9 256×8×8", "features.14 512×4×4",
         "features.19 512×2×2"],
        ["relu 64×32×32", "layer1 64×32×32", "layer2 128×16×16", "layer3 256×8×8", "layer4 512×4×4"]]
    lenet = view.columns[0]
    assert [s.params for s in lenet.stages] == [156, 168, 1684, 1716, 49836]  # LeCun et al. 1998, Sec. II.B
    head = view.findChild(type(view.caption), "lineageHead0").text()
    assert "lenet5" in head and "60.85K params" in head and "untrained" in head
    for column in view.columns:
        assert column.stages[-1].params < column.params and column.stages[-1].macs <= column.macs
