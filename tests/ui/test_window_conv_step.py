"""A convolution step by step in the window (issue #19, part 1): a pixel clicked in LeNet-5's enlarged C1 channel
is computed by hand — its 25 products, their sum, the bias and the scaled tanh — and ends at the value the map
shows there; ▶ moves to the next output value; the unit's receptive field is drawn."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from window_helpers import settle


def _click_pixel(qtbot, channel_view, row: int, col: int) -> None:
    """A real mouse click on the enlarged map, at the centre of output value (row, col)."""
    scene_point = channel_view.image.mapToScene(QPointF(col + 0.5, row + 0.5))
    widget_point = channel_view.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(channel_view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)


def test_click_an_output_pixel_and_read_its_sum(window, qtbot):
    explorer, step = window.explorer, window.explorer.conv_step_view
    assert window.session.image is not None  # the digits' first test image is on show
    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000):
        explorer.select_layer("c1")
    qtbot.waitUntil(lambda: window.feature_map_view.layer == "c1")
    window.feature_map_view.channelClicked.emit(2)  # as a click on the third tile
    settle(qtbot, window)
    channel = explorer.channel_view
    assert channel.isVisible() and channel.channel == 2 and tuple(channel.values.shape) == (28, 28)
    with qtbot.waitSignal(window.conv_step.stepReady, timeout=30_000) as ready:
        _click_pixel(qtbot, channel, 12, 9)
    settle(qtbot, window)
    result = ready.args[0]
    s = result["step"]
    assert (s.layer, s.channel, s.row, s.col) == ("c1.conv", 2, 12, 9)
    assert step.isVisible() and channel.isVisible()  # the step below the channel, to click the next pixel
    text = step.sums.text()
    assert "Σ of the 25 products over 1 map" in text and "then c1.act" in text and "✓" in text
    assert abs(s.final - float(channel.values[12, 9])) < 1e-5  # what the map shows there, reached by hand
    assert step.patch.rowCount() == 5 and step.kernel.columnCount() == 5
    assert float(step.products.item(0, 0).text()) == float(f"{float(s.products[0, 0, 0]):.3g}")
    assert "Theoretical receptive field 5×5 px" in step.field_label.text()

    with qtbot.waitSignal(window.conv_step.stepReady, timeout=30_000) as moved:
        qtbot.mouseClick(step.next_button, Qt.MouseButton.LeftButton)
    assert (moved.args[0]["step"].row, moved.args[0]["step"].col) == (12, 10)

    with qtbot.waitSignal(window.inspection.mapsReady, timeout=30_000):  # a pooling layer: the same way
        explorer.select_layer("s2")
    qtbot.waitUntil(lambda: window.feature_map_view.layer == "s2")
    window.feature_map_view.channelClicked.emit(4)
    settle(qtbot, window)
    with qtbot.waitSignal(window.conv_step.stepReady, timeout=30_000) as pooled:
        _click_pixel(qtbot, channel, 3, 3)
    p = pooled.args[0]["step"]
    assert p.kind == "subsampling" and (p.row, p.col) == (3, 3), (p.row, p.col, channel.values.shape)
    assert p.rows == [6, 7] and abs(p.final - float(channel.values[3, 3])) < 1e-5
    assert "Theoretical receptive field 6×6 px, stride 2" in step.field_label.text()
