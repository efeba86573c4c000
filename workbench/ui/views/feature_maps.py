"""Feature maps you can read: one tile a channel with its number, a colour map with its scale (each
channel its own min → max, or one scale shared by the layer), ordered by index or by strength, a page
at a time with tiles large enough to see, dead channels marked, the layer's statistics, and a click on a
tile to enlarge it in the channel view. A 1×1 or flat output is a bar chart of its values instead (the
last layer's bars are the class scores, named by class). Tiles come from ``core.inspect.activations``."""

from __future__ import annotations

import torch
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from workbench.core.errors import counted
from workbench.core.inspect.activations import channel_order, channel_stats, page_count, tile_page

from .plotting import colour_bar, pg
from .text import plain, rich

PER_PAGE = (16, 36, 64, 144, 256)
SEQUENTIAL, DIVERGING = "viridis", "CET-D1"


def colour_map(levels: tuple[float, float], shared: bool):
    """Viridis for a scale from 0 (or each channel's own one); a blue–white–red map centred on zero for a
    shared scale over negative and positive values (a BatchNorm's output)."""
    return pg.colormap.get(DIVERGING if shared and levels[0] < 0 < levels[1] else SEQUENTIAL)


class FeatureMapView(QWidget):
    channelClicked = Signal(int)

    def __init__(self, parent=None, name: str = "featureMapView", controls: bool = True):
        super().__init__(parent)
        self.setObjectName(name)
        self.caption = rich(QLabel("Select a layer to see its feature maps", wordWrap=True))
        self.order_combo = QComboBox(objectName="mapOrderCombo")
        self.order_combo.addItem("by index", "index")
        self.order_combo.addItem("strongest", "strength")
        self.order_combo.setToolTip("Order the channels by number, or strongest first (a channel's mean absolute "
                                    "activation for this image)")
        self.scale_combo = QComboBox(objectName="mapScaleCombo")
        self.scale_combo.addItem("own scale", False)
        self.scale_combo.addItem("shared scale", True)
        self.scale_combo.setToolTip("Each channel from its own lowest to highest value, or every tile on one scale")
        self.per_page_combo = QComboBox(objectName="mapPerPageCombo")
        for n in PER_PAGE:
            self.per_page_combo.addItem(f"{n}/page", n)
        self.per_page_combo.setCurrentIndex(PER_PAGE.index(64))
        self.page_spin = QSpinBox(objectName="mapPageSpin", minimum=1, maximum=1)
        self.page_spin.setToolTip("The page of channels on show")
        self.pages_label = plain(QLabel(""))
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.order_combo, self.scale_combo, self.per_page_combo, self.page_spin, self.pages_label):
            bar.addWidget(widget)
        bar.addStretch(1)
        self.controls = QWidget()
        self.controls.setLayout(bar)
        self.controls.setVisible(controls)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setToolTip("Click a tile to enlarge it; the wheel zooms, dragging pans")
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=True)
        self.image = pg.ImageItem()
        self.view.addItem(self.image)
        self.colorbar = colour_bar(self.graphics, self.image, SEQUENTIAL)
        self.stats = plain(QLabel(objectName="mapStats", wordWrap=True))
        self.stats.setStyleSheet("color: #555;")
        self.bars = pg.PlotWidget(objectName="featureBars")
        self.bars.setMouseEnabled(x=True, y=False)
        self.bars.getAxis("left").setLabel("value")
        self.bars.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.bars, 1)
        layout.addWidget(self.stats)
        self.bar_values: list[float] = []
        self.bar_labels: list[str] = []
        self.layer: str | None = None
        self.maps: torch.Tensor | None = None
        """The activations shown (``channels×h×w``), before tiling and scaling."""
        self.channel_stats = None
        self.mosaic = None
        self.page_channels: list[int] = []
        """The channels of the page on show, in reading order."""
        self.dead_marked: list[int] = []
        self._marks: list = []  # the dead channels' veils and tags
        self._numbers: list = []  # one channel-number label per tile position, reused
        self._shown_numbers = 0
        self.tile_count = 0
        self.grid: tuple[int, int] = (0, 0)
        self.tile_size: tuple[int, int] = (0, 0)
        for combo in (self.order_combo, self.scale_combo):
            combo.currentIndexChanged.connect(self._draw)
        self.per_page_combo.currentIndexChanged.connect(self._on_per_page)
        self.page_spin.valueChanged.connect(self._draw)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)
        self.view.sigRangeChanged.connect(lambda *_: self._label_visibility())
        self._label_font = QFont()
        self._label_font.setPointSize(7)
        self.labels_shown = False
        """Whether the channel numbers are drawn: only while a tile is at least ``LABEL_PIXELS`` wide on screen."""

    # -- what it is given ------------------------------------------------------------------------
    def show_maps(self, layer: str, maps: torch.Tensor, labels: list[str] | None = None) -> None:
        if maps.shape[1:] == (1, 1):
            self._show_bars(layer, maps, labels)
            return
        new_layer = layer != self.layer
        self.bars.hide()
        self.graphics.show()
        self.controls.setEnabled(True)
        self.bar_values, self.bar_labels = [], []
        self.layer, self.maps = layer, maps
        self.channel_stats = channel_stats(maps)
        self.tile_count = int(maps.shape[0])
        self.tile_size = (int(maps.shape[1]), int(maps.shape[2]))
        self._set_pages(reset=new_layer)
        self._draw()
        if new_layer:
            self.view.autoRange(padding=0.02)

    @property
    def per_page(self) -> int:
        return int(self.per_page_combo.currentData())

    def _set_pages(self, reset: bool) -> None:
        pages = page_count(self.tile_count, self.per_page)
        self.page_spin.blockSignals(True)
        self.page_spin.setMaximum(pages)
        if reset:
            self.page_spin.setValue(1)
        self.page_spin.blockSignals(False)
        self.page_spin.setVisible(pages > 1)
        self.pages_label.setText(f"of {pages}" if pages > 1 else "")

    def _on_per_page(self) -> None:
        if self.maps is not None and self.channel_stats is not None:
            self._set_pages(reset=True)
            self._draw()
            self.view.autoRange(padding=0.02)

    def _draw(self) -> None:
        if self.maps is None or self.channel_stats is None:
            return
        order = channel_order(self.channel_stats, self.order_combo.currentData())
        start = (self.page_spin.value() - 1) * self.per_page
        self.page_channels = order[start:start + self.per_page]
        shared = bool(self.scale_combo.currentData())
        mosaic = tile_page(self.maps, self.page_channels, shared)
        self.mosaic, self.grid = mosaic, mosaic.grid
        self.colorbar.setColorMap(colour_map(mosaic.levels, shared))
        self.image.setImage(mosaic.image.numpy(), levels=mosaic.levels)
        self.colorbar.setLevels(mosaic.levels)
        self._mark(mosaic)
        self._label_visibility()
        h, w = self.tile_size
        pages = page_count(self.tile_count, self.per_page)
        shown = (f"channels {', '.join(map(str, self.page_channels[:3]))}… (page {self.page_spin.value()} of {pages})"
                 if pages > 1 else f"{mosaic.grid[0]}×{mosaic.grid[1]} grid")
        scale = "one scale shared by the page" if shared else "each tile from its own lowest (dark) to highest value"
        self.caption.setText(f"<b>{self.layer}</b>: {counted(self.tile_count, 'channel')} of {h}×{w}, "
                             f"{shown}; {scale}")
        s = self.channel_stats.layer()
        self.stats.setText(f"Layer: mean {s['mean']:.3g}, min {s['min']:.3g}, max {s['max']:.3g}, "
                           f"{s['zeros']:.0%} zeros, {counted(s['dead'], 'dead channel')} (zero everywhere, greyed and "
                           f"marked dead). Click a tile to enlarge it; zoom in to read channel numbers.")

    def _mark(self, mosaic) -> None:
        """Each tile's channel number, and a grey veil marked "dead" over the dead ones. The number labels are
        kept and reused from page to page (making a text item costs more than moving one)."""
        for item in self._marks:
            self.view.removeItem(item)
        self._marks, self.dead_marked = [], []
        dead = self.channel_stats.dead
        h, w = mosaic.tile
        while len(self._numbers) < len(mosaic.channels):
            label = pg.TextItem("", color=(255, 255, 255), anchor=(0, 0), fill=pg.mkBrush(0, 0, 0, 110))
            label.setFont(self._label_font)
            self.view.addItem(label)
            self._numbers.append(label)
        for position, label in enumerate(self._numbers):
            if position >= len(mosaic.channels):
                label.hide()
                continue
            channel = mosaic.channels[position]
            x, y = mosaic.origin(position)
            label.setText(str(channel))
            label.setPos(x, y)
            label.show()
            if bool(dead[channel]):
                self.dead_marked.append(channel)
                veil = QGraphicsRectItem(QRectF(x, y, w, h))
                veil.setPen(QPen(QColor("#d62728"), 0))
                veil.setBrush(QColor(120, 120, 120, 150))
                self.view.addItem(veil)
                tag = pg.TextItem("dead", color="#ffdddd", anchor=(0.5, 0.5))
                tag.setPos(x + w / 2, y + h / 2)
                self.view.addItem(tag)
                self._marks += [veil, tag]
        self._shown_numbers = len(mosaic.channels)

    LABEL_PIXELS = 22

    def _label_visibility(self) -> None:
        if self.mosaic is None:
            return
        pixel = self.view.viewPixelSize()[0] or 1.0
        shown = self.mosaic.tile[1] / pixel >= self.LABEL_PIXELS
        for position, label in enumerate(self._numbers):
            label.setVisible(shown and position < self._shown_numbers)
        self.labels_shown = shown

    def _on_click(self, event) -> None:
        if self.mosaic is None or not self.graphics.isVisible():
            return
        point = self.image.mapFromScene(event.scenePos())
        channel = self.mosaic.channel_at(point.x(), point.y())
        if channel is not None:
            self.channelClicked.emit(channel)

    def _show_bars(self, layer: str, maps: torch.Tensor, labels: list[str] | None) -> None:
        values = maps.flatten().tolist()
        self.layer, self.maps, self.tile_count, self.grid = layer, maps, len(values), (0, 0)
        self.channel_stats, self.mosaic, self.page_channels = None, None, []
        self.bar_values = values
        self.bar_labels = list(labels) if labels and len(labels) == len(values) else []
        self.graphics.hide()
        self.controls.setEnabled(False)
        self.bars.show()
        self.bars.clear()
        brushes = [pg.mkBrush("#1f77b4" if v >= 0 else "#d62728") for v in values]
        self.bars.addItem(pg.BarGraphItem(x=list(range(len(values))), height=values, width=0.8, brushes=brushes))
        axis = self.bars.getAxis("bottom")
        if self.bar_labels and len(values) <= 40:
            axis.setTicks([list(enumerate(self.bar_labels))])
            axis.setLabel("class")
        else:
            axis.setTicks(None)
            axis.setLabel("channel")
        self.bars.autoRange()
        what = "the class scores (logits)" if self.bar_labels else f"{counted(len(values), 'value')} of 1×1"
        self.caption.setText(f"<b>{layer}</b>: {what}; blue ≥ 0, red < 0")
        top = max(range(len(values)), key=values.__getitem__) if values else 0
        name = self.bar_labels[top] if self.bar_labels else f"channel {top}"
        self.stats.setText(f"Highest: {name} ({values[top]:.3g}); lowest {min(values):.3g}" if values else "")

    def clear_maps(self, message: str) -> None:
        self.bars.hide()
        self.graphics.show()
        self.bar_values, self.bar_labels = [], []
        self.image.clear()
        for item in self._marks:
            self.view.removeItem(item)
        for label in self._numbers:
            label.hide()
        self._marks, self.dead_marked, self.page_channels, self._shown_numbers = [], [], [], 0
        self.layer, self.maps, self.tile_count, self.grid = None, None, 0, (0, 0)
        self.channel_stats, self.mosaic = None, None
        self.stats.setText("")
        self.caption.setText(message)
