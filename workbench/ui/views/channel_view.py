"""One channel enlarged: its map on a colour scale with its statistics, optionally laid over the
network's input image (the map resized to it), so a learner sees where in the image the channel fires."""

from __future__ import annotations

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.core.inspect.activations import channel_stats, upsample_to

from .feature_maps import SEQUENTIAL
from .plotting import colour_bar, pg
from .text import plain, rich


class ChannelView(QWidget):
    pixelClicked = Signal(str, int, int, int, float)  # layer, channel, row, column, the map's value there

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("channelView")
        self.caption = rich(QLabel("Click a tile to enlarge its channel", wordWrap=True))
        self.overlay_check = QCheckBox("over the input image", objectName="channelOverlayCheck")
        self.overlay_check.setToolTip("The map resized to the network's input and laid over it, half transparent")
        self.overlay_check.toggled.connect(self._draw)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.overlay_check)
        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=True)
        self.background = pg.ImageItem()
        self.image = pg.ImageItem()
        self.view.addItem(self.background)
        self.view.addItem(self.image)
        self.colorbar = colour_bar(self.graphics, self.image, SEQUENTIAL)
        self.stats = plain(QLabel(objectName="channelStats", wordWrap=True))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.stats)
        self.graphics.scene().sigMouseClicked.connect(self._clicked)
        self.layer: str | None = None
        self.channel: int | None = None
        self.values: torch.Tensor | None = None
        self.input_image: torch.Tensor | None = None

    def show_channel(self, layer: str, maps: torch.Tensor, channel: int, input_image: torch.Tensor | None) -> None:
        self.layer, self.channel = layer, channel
        self.values = maps[channel].float()
        self.input_image = input_image
        self._draw()
        self.view.autoRange(padding=0.02)
        s = channel_stats(maps[channel:channel + 1])
        h, w = self.values.shape
        dead = " — dead: zero everywhere for this image" if bool(s.dead[0]) else ""
        self.caption.setText(f"<b>{layer}</b>, channel <b>{channel}</b> of {maps.shape[0]} ({h}×{w}){dead}")
        self.stats.setText(f"mean {float(s.mean[0]):.3g}, min {float(s.min[0]):.3g}, max {float(s.max[0]):.3g}, "
                           f"{float(s.zeros[0]):.0%} zeros, strength (mean |value|) {float(s.strength[0]):.3g}")

    def _draw(self) -> None:
        if self.values is None:
            return
        lo, hi = float(self.values.min()), float(self.values.max())
        levels = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
        overlay = self.overlay_check.isChecked() and self.input_image is not None
        if overlay:
            picture = self.input_image.clamp(0, 1)
            size = tuple(picture.shape[1:])
            grey = picture.mean(0) if picture.shape[0] != 3 else None
            self.background.setImage((picture.permute(1, 2, 0) if grey is None else grey).numpy(), levels=(0, 1))
            self.background.show()
            shown = upsample_to(self.values[None], size)[0]
            self.image.setOpacity(0.55)
        else:
            self.background.hide()
            shown = self.values
            self.image.setOpacity(1.0)
        self.image.setImage(shown.numpy(), levels=levels)
        self.colorbar.setLevels(levels)

    def _clicked(self, event) -> None:
        """A click on the map: the output value under it (in the map's own pixels, also when laid over the input)."""
        if self.values is None or self.layer is None or self.channel is None or not self.isVisible():
            return
        point = self.image.mapFromScene(event.scenePos())
        h, w = self.values.shape
        ih, iw = (self.image.image.shape[:2] if self.image.image is not None else (h, w))
        row, col = int(point.y() * h / ih), int(point.x() * w / iw)
        if 0 <= row < h and 0 <= col < w:
            self.pixelClicked.emit(self.layer, self.channel, row, col, float(self.values[row, col]))

    def clear(self) -> None:
        self.values, self.layer, self.channel = None, None, None
        self.image.clear()
        self.background.clear()
        self.caption.setText("Click a tile to enlarge its channel")
        self.stats.setText("")
