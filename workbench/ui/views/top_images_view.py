"""The top-images view: for a channel of the selected layer, the nine test images that excite it most,
each cropped to the channel's receptive field (the Deep Visualization Toolbox's "top 9")."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from .drop_zone import photo_to_pixmap
from .text import plain


class TopImagesView(QWidget):
    topRequested = Signal(str, int)  # layer, channel
    cancelRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("topImagesView")
        self.caption = plain(QLabel("Select a layer in the tree, then a channel.", wordWrap=True,
                                    objectName="topImagesCaption"))
        self.channel_spin = QSpinBox(objectName="topChannelSpin", minimum=0, maximum=0)
        self.find_button = QPushButton("Find its top 9 test images", objectName="topImagesButton")
        self.cancel_button = QPushButton("Cancel", objectName="topCancelButton", visible=False)
        self.progress = QProgressBar(objectName="topProgress", visible=False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Channel"))
        row.addWidget(self.channel_spin)
        row.addWidget(self.find_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        grid = QGridLayout()
        self.tiles, self.labels = [], []
        for i in range(9):
            tile = plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter))
            tile.setMinimumSize(72, 72)
            label = plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter))
            grid.addWidget(tile, (i // 3) * 2, i % 3)
            grid.addWidget(label, (i // 3) * 2 + 1, i % 3)
            self.tiles.append(tile)
            self.labels.append(label)
        self.note = plain(QLabel(wordWrap=True, objectName="topImagesNote"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(row)
        layout.addLayout(grid)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.layer: str | None = None
        self.find_button.clicked.connect(self._find)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.find_button.setEnabled(False)

    def _find(self) -> None:
        if self.layer:
            self.topRequested.emit(self.layer, self.channel_spin.value())

    def show_layer(self, layer: str | None, channels: int) -> None:
        self.layer = layer if channels > 0 else None
        self.channel_spin.setMaximum(max(0, channels - 1))
        self.find_button.setEnabled(self.layer is not None)
        self.caption.setText(f"{layer}: {channels} channels. Choose one (or click a tile of the feature maps)."
                             if self.layer else "Select a layer with channels in the tree.")

    def set_channel(self, channel: int) -> None:
        self.channel_spin.setValue(channel)

    def show_progress(self, done: int, total: int, what: str) -> None:
        busy = done < total
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def show_top(self, result: dict) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        crops = result["crops"]
        for i, (tile, label) in enumerate(zip(self.tiles, self.labels)):
            if i < len(crops):
                tile.setPixmap(photo_to_pixmap(crops[i][0], 96))
                label.setText(crops[i][1])
            else:
                tile.clear()
                label.setText("")
        h, w = result["field"]
        self.note.setText(f"Channel {result['channel']} of {result['layer']}: the {len(crops)} strongest of "
                          f"{result['images']} test images, each cut to the channel's {h}×{w}-pixel receptive field"
                          + (" (from the run's cache)." if result["cached"] else "."))
