"""Real photographs dropped on the explorer of ResNet-18, GoogLeNet and DenseNet-121 (issue #16): the
prediction says how the photo became the input and what makes the answer doubtful; one tile per channel,
ordered and paged, dead channels marked, a tile enlarged; bars for a 1×1 layer; the first convolution's
filters; the block's source; a folder classified into the table and exported as CSV."""

from __future__ import annotations

import csv

import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from fake_folders import write_photo_folder
from reference import hook_output, preprocess_by_hand
from resources import resource_path
from window_helpers import drop_file, find, settle

PHOTOS = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]
# (model, a stage to look at, a block whose class the source view names, its repeated blocks per the paper)
MODELS = [
    ("resnet18", "layer2", "layer1.0", "BasicBlock", ["BasicBlock ×2"] * 4),  # He et al. 2015, table 1: 2-2-2-2
    # Szegedy et al. 2015, table 1: 4a, 4b and 4c all give 14×14×512; every other module a shape of its own.
    ("googlenet", "inception4a", "inception3a", "Inception", ["Inception ×3"]),
    ("densenet121", "features.denseblock1", "features.denseblock1.denselayer1", "_DenseLayer",
     ["_DenseLayer ×6", "_DenseLayer ×12", "_DenseLayer ×24", "_DenseLayer ×16"]),  # Huang et al. 2017, table 1
]


def _show(window, qtbot, name):
    combo = find(window, "modelCombo")
    combo.setCurrentIndex(combo.findData(name))
    settle(qtbot, window)
    assert window.session.model_name == name and not window.error_banner.isVisible()


def _click_tile(view, qtbot, position):
    """Click the middle of the ``position``-th tile of the page on show, as the user would."""
    x, y = view.mosaic.origin(position)
    h, w = view.mosaic.tile
    scene = view.image.mapToScene(QPointF(x + w / 2, y + h / 2))
    point = view.graphics.mapFromScene(scene)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=point)


@pytest.mark.parametrize("name, stage, block, block_class, repeats", MODELS)
def test_photographs_through_the_explorer(window, qtbot, tmp_path, name, stage, block, block_class, repeats):
    _show(window, qtbot, name)
    tree, maps_view = find(window, "layerTree"), find(window, "featureMapView")
    assert sorted(g.text(0) for g in tree.groups() if "×" in g.text(0) and g.text(0).split(" ×")[0] == block_class) \
        == sorted(repeats)
    model = window.session.predictor.model

    # A colour photo on the grey 8×8 digits: shown as dropped, and what the network is given beside it.
    drop_file(find(window, "dropZone"), resource_path("photos", "astronaut.jpg"))
    settle(qtbot, window)
    prediction = find(window, "predictionView")
    assert len(prediction.predictions) == 5
    assert window.session.photo is not None and window.session.photo.source_size == (512, 512)
    steps = prediction.steps.text()
    assert "512×512 colour image" in steps and "made grey (luminance)" in steps and "to 8×8" in steps
    said = " ".join(prediction.warning_lines)
    assert "colour photo on a model of grey images" in said and "untrained" in said
    assert find(window, "dropZone").pixmap().width() > 100  # the photo itself, not the 8×8 input

    # The selected stage: one tile per channel, each the module's own output for this input.
    spec, predictor = window.session.dataset, window.session.predictor
    net_input = preprocess_by_hand(window.session.image[None], predictor.input_shape[1:], spec.mean, spec.std)[0]
    window.explorer.select_layer(stage)
    settle(qtbot, window)
    expected = hook_output(model, stage, net_input)
    channels = expected.shape[0]
    assert maps_view.layer == stage and maps_view.tile_count == channels
    torch.testing.assert_close(maps_view.maps, expected.reshape(maps_view.maps.shape))
    assert maps_view.page_channels == list(range(min(64, channels)))
    assert find(window, "mapPageSpin").maximum() == -(-channels // 64)
    dead = [c for c in range(channels) if bool((expected[c] == 0).all())]
    assert maps_view.dead_marked == [c for c in maps_view.page_channels if c in dead]
    find(window, "mapOrderCombo").setCurrentIndex(1)  # by strength
    strength = expected.abs().flatten(1).mean(1)
    assert maps_view.page_channels[0] == int(strength.argmax())
    assert strength[maps_view.page_channels].tolist() == sorted(strength[maps_view.page_channels].tolist(), reverse=True)
    find(window, "mapScaleCombo").setCurrentIndex(1)  # one scale for the page
    assert maps_view.mosaic.shared and maps_view.mosaic.levels[1] >= float(expected[maps_view.page_channels].max())
    _click_tile(maps_view, qtbot, 2)
    channel_view = find(window, "channelView")
    assert channel_view.isVisible() and channel_view.channel == maps_view.page_channels[2]
    torch.testing.assert_close(channel_view.values, expected[channel_view.channel])
    find(window, "mapOrderCombo").setCurrentIndex(0)
    find(window, "mapScaleCombo").setCurrentIndex(0)

    # A 1×1 layer (the global pool; DenseNet pools in its forward, so its classifier): bars, and they differ.
    graph = window.session.summary.graph
    pooled = [n.module for n in graph.nodes if n.kind == "module" and n.shape and tuple(n.shape[1:]) == (1, 1)]
    pool = pooled[-1] if pooled else graph.nodes[graph.output].module
    window.explorer.select_layer(pool)
    settle(qtbot, window)
    expected = hook_output(model, pool, net_input).flatten()
    assert maps_view.bars.isVisible() and maps_view.bar_values == pytest.approx(expected.tolist(), abs=1e-5)
    assert len(set(maps_view.bar_values)) > min(9, len(expected) // 2)  # untrained GoogLeNet: values near 1e-12

    # The first convolution's filters, read from the model on show.
    first_conv = next(n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d))
    window.explorer.select_layer(first_conv)
    window.explorer.detail_tabs.setCurrentWidget(find(window, "filterView"))
    settle(qtbot, window)
    filters = find(window, "filterView")
    assert filters.filters.layer == first_conv
    torch.testing.assert_close(filters.filters.weight, dict(model.named_modules())[first_conv].weight.detach())
    assert filters.histogram_counts.sum() == dict(model.named_modules())[first_conv].weight.numel()

    # The block's source names its class.
    window.explorer.select_layer(block)
    window.explorer.detail_tabs.setCurrentWidget(find(window, "sourceView"))
    settle(qtbot, window)
    assert f"class {block_class}" in find(window, "sourceView").code.toPlainText()
    window.explorer.detail_tabs.setCurrentIndex(0)

    # A folder (a sub-folder per class, a broken file) and three photos dropped at once: the classify table.
    root = write_photo_folder(tmp_path / "set", per_class=3, classes=2)
    for folder, digit in ((root / "bulbasaur", "3"), (root / "charmander", "7")):
        folder.rename(root / digit)
    (root / "3" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    drop_file(find(window, "dropZone"), root)
    qtbot.waitUntil(lambda: not window.classify.running, timeout=60_000)
    table = find(window, "classifyTable")
    rows = window.classify_view.model.rows
    assert table.model().rowCount() == 7 and len(rows) == 7
    assert {r.truth for r in rows if r.top} == {"3", "7"} and len([r for r in rows if r.top]) == 6
    broken = [r for r in rows if r.path.endswith("broken.jpg")][0]
    assert broken.error and not broken.top
    for r in rows:
        if r.top:
            alone = predictor.top_k(r.path, 5)  # one image at a time, the path checked by hand elsewhere
            assert [c for c, _ in r.top] == [c for c, _ in alone]
            assert [p for _, p in r.top] == pytest.approx([p for _, p in alone], abs=1e-5)
    table.sortByColumn(2, Qt.SortOrder.DescendingOrder)  # by confidence, as a header click does
    shown = [r.top[0][1] if r.top else -1.0 for r in window.classify_view.model.rows]
    assert shown == sorted(shown, reverse=True) and shown[-1] == -1.0  # the unusable file last
    out = tmp_path / "predictions.csv"
    window.classify_view.export_csv(str(out))
    with open(out, newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 7 and {w["path"] for w in written} == {r.path for r in rows}
    drop_file(find(window, "dropZone"), *[resource_path("photos", p) for p in PHOTOS[1:]])
    qtbot.waitUntil(lambda: not window.classify.running, timeout=60_000)
    assert [r.path.rsplit("/", 1)[-1] for r in window.classify_view.model.rows] == PHOTOS[1:]


def test_the_preparation_controls_change_what_the_network_is_given(window, qtbot, tmp_path):
    _show(window, qtbot, "lenet5")
    drop_file(find(window, "dropZone"), resource_path("photos", "rocket.jpg"))
    settle(qtbot, window)
    guessed = window.session.image.clone()
    photo = window.session.photo
    assert photo.guess is not None and photo.inverted == photo.guess
    assert any("Stretched from 300×200" in line for line in find(window, "predictionView").warning_lines)
    invert = find(window, "invertCombo")
    invert.setCurrentIndex(invert.findData(not photo.guess))
    settle(qtbot, window)
    torch.testing.assert_close(window.session.image, 1.0 - guessed)
    fit = find(window, "fitCombo")
    fit.setCurrentIndex(fit.findData("pad"))
    settle(qtbot, window)
    assert "padded to a square" in window.session.photo.steps
    assert not any("Stretched" in line for line in find(window, "predictionView").warning_lines)


def test_a_dropped_photo_is_prepared_again_for_the_next_model(window, qtbot):
    """A photo dropped on LeNet-5 is prepared again from its file when another model is shown (each model is
    given the file as it was trained: channels, size, background), not carried over from the last one."""
    _show(window, qtbot, "lenet5")
    drop_file(find(window, "dropZone"), resource_path("photos", "coffee.jpg"))
    settle(qtbot, window)
    first = window.session.photo
    assert first is not None and window.session.image.shape == (1, 8, 8)
    _show(window, qtbot, "resnet20")
    assert window.session.photo is not None and window.session.photo is not first
    assert window.session.caption == "coffee.jpg"
    torch.testing.assert_close(window.session.image, window.session.predictor.decode(resource_path("photos", "coffee.jpg")))


def test_a_csv_that_cannot_be_written_is_one_message(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    drop_file(find(window, "dropZone"), *[resource_path("photos", p) for p in PHOTOS[:2]])
    qtbot.waitUntil(lambda: not window.classify.running, timeout=60_000)
    target = tmp_path / "no such folder" / "out.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "CSV (*.csv)"))
    window.classify_view.export_button.click()
    assert window.error_banner.isVisible() and "Could not write" in window.error_banner.text()
    assert not target.exists() and len(window.classify_view.model.rows) == 2
