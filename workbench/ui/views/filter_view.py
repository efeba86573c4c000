"""Filters: a convolution's kernels as images, beside the same kernels at the run's start when it kept them (the first layer of an RGB network in colour, any other one
input channel at a time or as the norm over all of them; a 1×1 convolution as its weight matrix), sorted
by index or by norm, with a histogram of the layer's weights. The kernels come from
``core.inspect.filters``; the view only draws them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from workbench.core.errors import counted
from workbench.core.inspect.filters import filter_page, weight_histogram

from .plotting import colour_bar, pg
from .text import plain, rich

MAX_TILES = 256


class FilterView(QWidget):
    layerChosen = Signal(str)  # a convolution picked in the view's own list

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("filterView")
        self.caption = rich(QLabel("Select a convolution (or a block holding one) to see its kernels", wordWrap=True))
        self.layer_combo = QComboBox(objectName="filterLayerCombo")
        self.layer_combo.setToolTip("Every convolution of the model")
        self.order_combo = QComboBox(objectName="filterOrderCombo")
        self.order_combo.addItem("by index", "index")
        self.order_combo.addItem("largest norm", "norm")
        self.input_spin = QSpinBox(objectName="filterInputSpin", minimum=-1, maximum=0)
        self.input_spin.setSpecialValueText("norm")
        self.input_spin.setPrefix("input ")
        self.input_spin.setToolTip("Which input channel's kernels to draw, or the norm over all of them")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.layer_combo, self.order_combo, self.input_spin):
            bar.addWidget(widget)
        bar.addStretch(1)
        self.graphics = pg.GraphicsLayoutWidget()
        self.initial_title = self.graphics.addLabel("at the start (epoch 0)", row=0, col=0)
        self.title = self.graphics.addLabel("now", row=0, col=1)
        self.initial_view = self.graphics.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMouse=True)
        self.initial_image = pg.ImageItem()
        self.initial_view.addItem(self.initial_image)
        self.view = self.graphics.addViewBox(row=1, col=1, lockAspect=True, invertY=True, enableMouse=True)
        self.image = pg.ImageItem()
        self.view.addItem(self.image)
        self.initial_view.setXLink(self.view)
        self.initial_view.setYLink(self.view)
        self.colorbar = colour_bar(self.graphics, self.image, "CET-D1", (-1, 1), row=1, col=2)
        self.histogram = pg.PlotWidget(objectName="filterHistogram")
        self.histogram.setMaximumHeight(120)
        self.histogram.getAxis("bottom").setLabel("weight")
        self.histogram.getAxis("left").setLabel("count")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.histogram)
        self.note = plain(QLabel(""))
        layout.addWidget(self.note)
        self.filters = None
        self.shown: list[int] = []
        """The filters drawn, in order."""
        self.histogram_counts: np.ndarray | None = None
        self.layer_combo.activated.connect(lambda _: self.layerChosen.emit(self.layer_combo.currentData()))
        self.order_combo.currentIndexChanged.connect(self._draw)
        self.input_spin.valueChanged.connect(self._draw)

    def set_layers(self, names: list[str]) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for name in names:
            self.layer_combo.addItem(name, name)
        self.layer_combo.blockSignals(False)
        self.clear("Select a convolution (or a block holding one) to see its kernels" if names
                   else "This model has no 2-D convolutions")

    def show_filters(self, filters, note: str = "") -> None:
        self.filters = filters
        index = self.layer_combo.findData(filters.layer)
        if index >= 0:
            self.layer_combo.setCurrentIndex(index)
        self.input_spin.blockSignals(True)
        self.input_spin.setMaximum(filters.weight.shape[1] - 1)
        self.input_spin.setValue(0 if filters.weight.shape[1] == 1 else -1)  # one input: its signed kernel
        self.input_spin.blockSignals(False)
        self.input_spin.setVisible(not filters.rgb and not filters.pointwise)
        counts, edges = weight_histogram(filters.weight)
        self.histogram_counts = counts
        self.histogram.clear()
        self.histogram.addItem(pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, brush="#1f77b4"))
        self.note.setText(note or filters.note or ("" if filters.initial is not None else
                                                    "The kernels at the start show for a run trained here."))
        self._draw()
        self.view.autoRange(padding=0.02)

    def _draw(self) -> None:
        f = self.filters
        if f is None:
            return
        self.shown = f.order(self.order_combo.currentData())[:MAX_TILES]
        channel = self.input_spin.value()
        which = None if channel < 0 else channel
        image, grid, scale = filter_page(f, self.shown, which)
        has_start = f.initial is not None
        for item in (self.initial_view, self.initial_title, self.title):
            item.setVisible(has_start)
        if has_start:  # the start on the same scale as now, so growth and change show
            start, _, start_scale = filter_page(f, self.shown, which, initial=True)
            scale = max(scale, start_scale)
            image, _, _ = filter_page(f, self.shown, which, scale=scale)
            start, _, _ = filter_page(f, self.shown, which, initial=True, scale=scale)
        out, cin, kh, kw = f.weight.shape
        more = f" (the first {MAX_TILES} shown)" if out > MAX_TILES else ""
        if f.rgb:
            self.image.setImage(image, levels=(0, 1))
            if has_start:
                self.initial_image.setLookupTable(None)
                self.initial_image.setImage(start, levels=(0, 1))
            self.colorbar.hide()
            what = "in colour: red, green and blue are the kernel's weights on each colour, grey is zero"
        else:
            levels = (0.0, scale) if channel < 0 and not f.pointwise else (-scale, scale)
            self.colorbar.show()
            self.colorbar.setColorMap(pg.colormap.get("viridis" if levels[0] == 0 else "CET-D1"))
            self.image.setImage(image, levels=levels)
            if has_start:
                self.initial_image.setImage(start, levels=levels)
                self.initial_image.setLookupTable(self.colorbar.colorMap().getLookupTable(nPts=256))
            self.colorbar.setLevels(levels)
            what = ("the weight matrix: a row per output, a column per input" if f.pointwise else
                    "the norm over all inputs" if channel < 0 else f"input channel {channel}; blue < 0 < red")
        self.caption.setText(f"<b>{f.layer}</b>: {counted(out, 'filter')} of {cin}×{kh}×{kw}{more}, "
                             f"{self.order_combo.currentText()}; {what}")

    def clear(self, message: str) -> None:
        self.filters, self.shown, self.histogram_counts = None, [], None
        self.image.clear()
        self.initial_image.clear()
        for item in (self.initial_view, self.initial_title, self.title):
            item.setVisible(False)
        self.histogram.clear()
        self.note.setText("")
        self.caption.setText(message)
