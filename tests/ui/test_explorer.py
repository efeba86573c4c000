"""The explorer follows the dataflow (issue #16, part 1): merges between the layers, in the order they ran."""

import torch
from PySide6.QtCore import Qt

from reference import hook_output, preprocess_by_hand
from window_helpers import find, settle


def _rows(tree):
    out, stack = [], [tree.topLevelItem(i) for i in reversed(range(tree.topLevelItemCount()))]
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(item.child(i) for i in reversed(range(item.childCount())))
    return out


def test_the_layer_tree_shows_the_merges_of_resnet_and_googlenet(window, qtbot):
    combo, tree = find(window, "modelCombo"), find(window, "layerTree")
    combo.setCurrentIndex(combo.findData("resnet18"))
    settle(qtbot, window)
    adds = [r for r in _rows(tree) if r.text(0) == "⊕ add"]
    assert len(adds) == 8  # a shortcut addition per basic block (He et al. 2015)
    assert [a.parent().data(0, Qt.ItemDataRole.UserRole) for a in adds] == [
        f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    first = adds[0]
    siblings = [first.parent().child(i).text(0) for i in range(first.parent().childCount())]
    assert siblings.index("⊕ add") == siblings.index("bn2") + 1  # after the branch it closes, as it ran
    assert "layer1.0.bn2" in first.toolTip(0) and "maxpool" in first.toolTip(0)  # the two branches it joins
    # Selected, the addition shows its own output: the residual branch plus the shortcut, before the ReLU.
    assert first.flags() & Qt.ItemFlag.ItemIsSelectable
    model = window.session.predictor.model
    spec = window.session.dataset
    net_input = preprocess_by_hand(window.session.image[None], window.session.predictor.input_shape[1:], spec.mean,
                                   spec.std)[0]
    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000) as shown:
        window.explorer.select_layer("layer1.0:add")
    expected = hook_output(model, "layer1.0.bn2", net_input) + hook_output(model, "maxpool", net_input)
    assert shown.args[0] == "layer1.0:add"
    torch.testing.assert_close(window.feature_map_view.maps, expected)
    assert window.feature_map_view.maps.min() < 0  # a sum, not yet through the ReLU
    window.explorer.detail_tabs.setCurrentWidget(find(window, "sourceView"))
    assert "BasicBlock" in find(window, "sourceView").header.text()  # the block whose forward adds
    window.explorer.detail_tabs.setCurrentIndex(0)
    combo.setCurrentIndex(combo.findData("googlenet"))
    settle(qtbot, window)
    rows = _rows(tree)
    cats = [r for r in rows if r.text(0) == "⧉ cat"]
    assert len(cats) == 9 and all(c.text(1) == "cat of 4" for c in cats)  # nine inception modules, four branches
    aux = next(r for r in rows if r.text(0) == "aux1")
    assert "auxiliary" in aux.toolTip(0) and aux.foreground(0).color().name() == "#888888"
    assert rows.index(aux) > rows.index(cats[-1])  # not run in evaluation: after everything that ran


def test_a_one_by_one_layer_is_a_bar_chart_and_the_last_one_names_the_classes(window, qtbot):
    """LeNet-5's C5 is 120 maps of 1×1: tiles of one pixel would each be a flat square (every tile is
    scaled on its own); its values as bars differ. The output layer's bars are the ten class scores."""
    view = window.feature_map_view
    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000):
        window.explorer.select_layer("c5")
    qtbot.waitUntil(lambda: view.layer == "c5")
    assert view.bars.isVisible() and not view.graphics.isVisible()
    assert len(view.bar_values) == 120 and len(set(round(v, 6) for v in view.bar_values)) > 100
    assert view.bar_labels == []
    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000):
        window.explorer.select_layer("output")
    qtbot.waitUntil(lambda: view.layer == "output")
    assert view.bar_labels == [str(d) for d in range(10)] and len(view.bar_values) == 10
    assert "class scores" in view.caption.text()
    from test_window_newcomer import _cut

    assert _cut(view.caption) is None  # the caption wraps rather than being cut
    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000):
        window.explorer.select_layer("c1")  # 6 maps of 28×28: tiles again
    qtbot.waitUntil(lambda: view.layer == "c1")
    assert view.graphics.isVisible() and not view.bars.isVisible() and view.tile_count == 6


def test_choosing_another_layer_costs_no_forward_pass(window, qtbot):
    """The image on show was recorded at every layer in one pass; switching layers reads that recording."""
    model = window.session.predictor.model
    passes = []
    handle = model.register_forward_hook(lambda *_: passes.append(1))
    try:
        for layer in ("c1", "s2", "c3", "c5", "f6", "c1"):
            with qtbot.waitSignal(window.inspection.mapsReady, timeout=10_000) as shown:
                window.explorer.select_layer(layer)
            assert shown.args[0] == layer and window.feature_map_view.layer == layer
    finally:
        handle.remove()
    assert passes == [] and not window.jobs.busy



def test_the_source_view_shows_the_selected_blocks_class(window, qtbot):
    """A learner reads the very class the network is built from: LeNet-5's C3 connection table, then a
    ResNet's BasicBlock and its paper."""
    window.explorer.select_layer("c3.conv")
    window.explorer.detail_tabs.setCurrentWidget(window.explorer.source_view)
    view = window.explorer.source_view
    assert view.isVisible() and view.code.toPlainText().startswith("class PartialConv2d(")
    assert "models/lenet.py:" in view.header.text() and "Gradient-Based Learning" in view.header.text()
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData("resnet18"))
    settle(qtbot, window)
    assert view.source is None  # a new model: nothing selected yet
    window.explorer.select_layer("layer1.0")
    assert view.code.toPlainText().startswith("class BasicBlock(") and "out += identity" in view.code.toPlainText()
    assert "torchvision/models/resnet.py:" in view.header.text() and "Deep Residual Learning" in view.header.text()
    window.explorer.select_layer("layer1.0.conv1")
    assert view.source.class_name == "Conv2d" and "torch/nn/modules/conv.py" in view.source.where


def test_a_new_recording_reuses_the_memory_no_view_holds(window, qtbot, tmp_path, digits):
    """A second image's recording is copied into the first one's tensors (no fresh pages to fault in), but
    never into one a view still shows: the maps on screen keep the first image's values."""
    from PIL import Image

    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData("resnet20"))
    settle(qtbot, window)
    window.explorer.select_layer("layer2")
    settle(qtbot, window)
    first = window.inspection.recording[2]
    on_screen = window.feature_map_view.maps
    kept = on_screen.clone()
    old = {t.data_ptr() for t in first.values() if isinstance(t, torch.Tensor)}
    picture = Image.fromarray(((1 - digits.test[5][0][0]) * 255).byte().numpy(), "L").resize((64, 64))
    picture.save(tmp_path / "five.png")
    window.classify_file(str(tmp_path / "five.png"))
    qtbot.waitUntil(lambda: window.inspection.recording[1] is window.session.image and window.idle, timeout=30_000)
    second = window.inspection.recording[2]
    reused = [name for name, t in second.items() if isinstance(t, torch.Tensor) and t.data_ptr() in old]
    assert len(reused) > len(second) // 2  # most of the memory came back
    torch.testing.assert_close(on_screen, kept)  # the maps the view held were not written over
    assert second["layer2"].data_ptr() != on_screen.data_ptr()
    model, predictor, spec = window.session.predictor.model, window.session.predictor, window.session.dataset
    net_input = preprocess_by_hand(window.session.image[None], predictor.input_shape[1:], spec.mean, spec.std)[0]
    for name in ("stem.conv", "layer1.0.bn1", "layer3"):
        torch.testing.assert_close(second[name], hook_output(model, name, net_input))
