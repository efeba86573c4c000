"""Why the network decided, in the window (issue #17): a photo dropped on a trained ResNet-20 gets its
Grad-CAM for two classes and a strip at every stage; a confusion-matrix cell shows each image with its maps;
a residual branch switched off changes the prediction; the top-images view fills for one channel."""

from __future__ import annotations

import torch
from PySide6.QtCore import Qt

from reference import preprocess_by_hand, split_tensors
from resources import resource_path
from window_helpers import drop_file, find, settle


def _tab(window, qtbot, view):
    tabs = window.explorer.detail_tabs
    tabs.setCurrentWidget(view)
    settle(qtbot, window)


def test_why_grad_cam_knock_out_and_top_images(window, qtbot, digits):
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData("resnet20"))
    settle(qtbot, window)
    find(window, "epochsSpin").setValue(1)
    with qtbot.waitSignal(window.trainingEnded, timeout=300_000):
        qtbot.mouseClick(find(window, "startButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.evaluation_view.report != {}, timeout=60_000)
    settle(qtbot, window)
    predictor = window.session.predictor
    assert window.session.note != "(untrained)"

    # A photo dropped, the Why tab: the predicted class's map and the second's, over the photo as dropped.
    drop_file(find(window, "dropZone"), resource_path("photos", "chelsea.jpg"))
    settle(qtbot, window)
    cam = find(window, "gradCamView")
    _tab(window, qtbot, cam)
    result = cam.result
    assert result is not None and len(result["maps"]) == 2
    first, runner_up = result["maps"][0][0], result["maps"][1][0]
    shown = window.explorer.prediction_view.predictions
    assert [predictor.classes[first.target], predictor.classes[runner_up.target]] == [shown[0][0], shown[1][0]]
    assert "the predicted class" in cam.captions[0].text() and "second most likely" in cam.captions[1].text()
    assert tuple(first.raw.shape) == (8, 8)  # ResNet-20's last maps are 8×8 (He et al. 2015, §4.2: 32, 16, 8)
    assert "chosen as the last layer whose output is spatial" in cam.rule.text()
    assert result["maps"][0][1].size == window.session.photo.photo.size or max(result["maps"][0][1].size) == 320
    target = find(window, "targetClassCombo")
    other = (first.target + 3) % 10
    target.setCurrentIndex(target.findData(other))
    settle(qtbot, window)
    maps = cam.result["maps"]
    assert [a.target for a, _ in maps] == [first.target, other]
    assert predictor.classes[other] in cam.captions[1].text()
    assert not torch.equal(maps[0][0].map, maps[1][0].map)
    assert len(cam.strip_labels) == 3  # ResNet-20's three stages (He et al. 2015, §4.2)
    before = cam.panes[0].source.toImage()
    find(window, "opacitySlider").setValue(90)  # the map blended again, over the same photo
    assert cam.panes[0].source.toImage() != before
    # A costly method: a job with a first look and the map, or stopped by Cancel with nothing left running.
    method = find(window, "methodCombo")
    with qtbot.waitSignal(window.attribution.camsReady, timeout=60_000) as done:
        method.setCurrentIndex(method.findData("integrated_gradients"))
    ig = done.args[0]["maps"][0][0]
    assert ig.method == "integrated_gradients" and ig.layer is None and ig.map.shape == (32, 32)
    assert "no layer" in cam.rule.text() and not cam.progress.isVisible()
    with qtbot.waitSignal(window.attribution.camCancelled, timeout=60_000):
        method.setCurrentIndex(method.findData("occlusion"))
        qtbot.mouseClick(cam.cancel_button, Qt.MouseButton.LeftButton) if cam.cancel_button.isVisible() \
            else window.attribution.cancel()
    settle(qtbot, window)
    assert "Occlusion was cancelled" in cam.rule.text() and not window.error_banner.isVisible()
    method.setCurrentIndex(method.findData("gradcam"))
    settle(qtbot, window)

    # A confusion-matrix cell: each image with its Grad-CAM for the predicted and the true class.
    view, matrix = window.evaluation_view, window.evaluation_view.matrix
    t, p = max(((t, p) for t in range(10) for p in range(10) if t != p and matrix.matrix[t][p]),
               key=lambda tp: matrix.matrix[tp[0]][tp[1]])
    with qtbot.waitSignal(window.attribution.galleryReady, timeout=60_000):
        qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton,
                         pos=matrix.visualRect(matrix.model().index(t, p)).center())
    assert view.cell_images.iconSize().width() == 196
    icon = view.cell_images.item(0).icon().availableSizes()
    assert icon and icon[0].width() > 3 * icon[0].height() * 0.9  # the image and two maps side by side
    assert "Grad-CAM for the predicted class" in view.cell_caption.text()

    # Knock-out: the residual branch of the first block switched off changes the prediction's probabilities.
    knock = find(window, "ablationView")
    window.explorer.select_layer("layer1.0:add")
    settle(qtbot, window)
    assert window.session.layer == "layer1.0:add"
    _tab(window, qtbot, knock)
    assert knock.branch_list.count() == 2 and "residual branch" in knock.branch_list.item(0).text()
    assert knock.shares.rowCount() == 2  # the merge's branch shares, as the tab opens
    knock.branch_list.setCurrentRow(0)
    with qtbot.waitSignal(window.attribution.knockReady, timeout=30_000) as shown:
        qtbot.mouseClick(find(window, "knockButton"), Qt.MouseButton.LeftButton)
    before, after = dict(shown.args[0]["before"]), dict(shown.args[0]["after"])
    assert max(abs(before[c] - after.get(c, 0.0)) for c in before) > 1e-3
    assert "residual branch" in knock.result.text()
    # The same by hand: the block computed with its residual branch replaced by zeros.
    model = predictor.model
    x = predictor.prepare(window.session.image).unsqueeze(0)
    block = model.layer1[0]
    with torch.no_grad():
        handle = block.bn2.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        by_hand = torch.softmax(model(x), 1)[0]
        handle.remove()
    top = max(after, key=after.get)
    assert after[top] == pytest_approx(float(by_hand[predictor.classes.index(top)]))
    settle(qtbot, window)
    assert knock.shares.rowCount() == 2  # each branch's share of the output and of the evidence
    # Then the skip connection (its "as it is" now remembered): the block without its shortcut, by hand.
    knock.branch_list.setCurrentRow(1)
    with qtbot.waitSignal(window.attribution.knockReady, timeout=30_000) as shown:
        qtbot.mouseClick(find(window, "knockButton"), Qt.MouseButton.LeftButton)
    assert dict(shown.args[0]["before"]) == before and "skip connection" in knock.result.text()
    with torch.no_grad():
        handle = block.shortcut.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        by_hand = torch.softmax(model(x), 1)[0]
        handle.remove()
    after = dict(shown.args[0]["after"])
    assert all(after[c] == pytest_approx(float(by_hand[predictor.classes.index(c)])) for c in after)

    # Top images: the nine test images whose channel 3 of layer1 responds most, found by hand too.
    top_view = find(window, "topImagesView")
    window.explorer.select_layer("layer1")
    settle(qtbot, window)
    _tab(window, qtbot, top_view)
    find(window, "topChannelSpin").setValue(3)
    with qtbot.waitSignal(window.attribution.topReady, timeout=120_000) as found:
        qtbot.mouseClick(find(window, "topImagesButton"), Qt.MouseButton.LeftButton)
    crops = found.args[0]["crops"]
    assert len(crops) == 9 and all(not tile.pixmap().isNull() for tile in top_view.tiles)
    images, _ = split_tensors(digits.test)
    inputs = preprocess_by_hand(images, predictor.input_shape[1:], digits.mean, digits.std)
    caught = []
    handle = model.layer1.register_forward_hook(lambda m, a, out: caught.append(out[:, 3].amax((1, 2)).clone()))
    with torch.no_grad():
        for i in range(0, len(inputs), 128):
            model(inputs[i:i + 128])
    handle.remove()
    strongest = torch.cat(caught)
    expected = strongest.topk(9).indices.tolist()
    assert [int(c[1].split()[0][1:]) for c in crops] == expected
    assert "receptive field" in top_view.note.text()
    assert not cam.progress.isVisibleTo(cam) and not knock.progress.isVisibleTo(knock)  # each job's bar its own


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-4, abs=1e-5)
