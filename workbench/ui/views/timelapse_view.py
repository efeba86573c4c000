"""The training time-lapse (``timelapseView``): a slider over the epochs of the run on show, for its probe image —
the maps at a chosen layer, the first convolution's kernels, Grad-CAM for the class predicted at that epoch, and
how sure the network was of the probe's label, epoch by epoch. It renders what it is given
(``core.train.timelapse.Timelapse``); the frames are read off the UI thread."""

from __future__ import annotations

import html

import numpy as np
import torch
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from workbench.core.inspect.filters import FilterSet, filter_page
from workbench.core.inspect.overlay import overlay, to_rgb

from .feature_maps import FeatureMapView
from .plotting import pg
from .text import plain, rich

PLAY_MS = 600
PICTURE = 100


def array_pixmap(rgb: np.ndarray, size: int) -> QPixmap:
    """An ``H×W×3`` uint8 array as a pixmap, enlarged blockily (a kernel's pixels stay pixels)."""
    data = np.ascontiguousarray(rgb)
    image = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation)


def viridis(values: np.ndarray) -> np.ndarray:
    """``H×W`` values in [0, 1] as ``H×W×3`` uint8, on the scale the feature-map view uses."""
    rgba = pg.colormap.get("viridis").map(np.clip(np.asarray(values, dtype=np.float32), 0, 1).ravel(), mode="byte")
    return np.ascontiguousarray(rgba[:, :3].reshape(*np.shape(values), 3))


def kernels_rgb(weight: torch.Tensor, layer: str) -> tuple[np.ndarray, str]:
    """The kernels as one picture: in colour for a layer that sees RGB, else each kernel's norm over its inputs."""
    rgb = weight.shape[1] == 3
    image, _, scale = filter_page(FilterSet(layer, weight.float(), 1, rgb), list(range(weight.shape[0])))
    if rgb:
        return (np.clip(image, 0, 1) * 255).round().astype(np.uint8), "in colour (grey is zero)"
    return viridis(image / (scale or 1.0)), "the norm over the inputs"


class TimelapseView(QWidget):
    epochChosen = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("timelapseView")
        self.lapse = None
        self.caption = rich(QLabel("Train a run, or open one: its probe image is kept at every epoch and plays back "
                                   "here.", objectName="timelapseCaption", wordWrap=True))
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="timelapseSlider", minimum=0, maximum=0)
        self.slider.setToolTip("The epoch on show (0: the network before training)")
        self.epoch_label = plain(QLabel("", objectName="timelapseEpoch"))
        self.play_button = QPushButton("Play", objectName="timelapsePlay", checkable=True)
        self.play_button.setToolTip("Play the epochs, one every 0.6 s")
        self.layer_combo = QComboBox(objectName="timelapseLayerCombo")
        self.layer_combo.setToolTip("The layer whose maps are shown")
        bar = QHBoxLayout()
        bar.addWidget(self.play_button)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.epoch_label)
        bar.addWidget(self.layer_combo)
        self.cam = plain(QLabel(objectName="timelapseCam", alignment=Qt.AlignmentFlag.AlignCenter))
        self.cam.setFixedSize(PICTURE, PICTURE)
        self.prediction = rich(QLabel(objectName="timelapsePrediction", wordWrap=True))
        self.filters = plain(QLabel(objectName="timelapseFilters", alignment=Qt.AlignmentFlag.AlignCenter))
        self.filters.setFixedSize(PICTURE, PICTURE)
        self.filters_caption = plain(QLabel(objectName="timelapseFiltersCaption", wordWrap=True))
        self.confidence = pg.PlotWidget()
        self.confidence.setObjectName("timelapseConfidence")
        self.confidence.setMaximumHeight(110)
        self.confidence.setYRange(0, 1)
        self.confidence.setLabel("left", "p(label)")
        self.confidence.getAxis("left").setTicks([[(0, "0"), (0.5, "0.5"), (1, "1")]])
        self.confidence.setMinimumHeight(90)
        self.confidence.setLabel("bottom", "epoch")
        self.confidence.setMouseEnabled(x=False, y=False)
        self.confidence_curve = self.confidence.plot(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=5)
        self.confidence_mark = pg.InfiniteLine(angle=90, pen=pg.mkPen("#d62728", width=1))
        self.confidence.addItem(self.confidence_mark)
        self.maps = FeatureMapView(name="timelapseMaps", controls=False)
        left = QVBoxLayout()
        self.prediction.setMaximumWidth(PICTURE + 40)
        self.filters_caption.setMaximumWidth(PICTURE + 40)
        for widget in (self.cam, self.prediction, self.filters, self.filters_caption):
            left.addWidget(widget)
        left.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left)
        right = QVBoxLayout()
        right.addWidget(self.maps, 1)
        right.addWidget(self.confidence)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addLayout(bar)
        layout.addLayout(body, 1)
        self.timer = QTimer(self, interval=PLAY_MS)
        self.timer.timeout.connect(self._advance)
        self.play_button.toggled.connect(self._play)
        self.slider.valueChanged.connect(self._draw)
        self.layer_combo.currentIndexChanged.connect(self._draw)

    # -- what it is given ------------------------------------------------------------------------
    def show_timelapse(self, lapse) -> None:
        """A run's frames; a live run's newest frame comes to the front while the slider was at the end."""
        at_end = self.lapse is None or self.slider.value() == self.slider.maximum() or lapse.run_dir != self.lapse.run_dir
        self.lapse = lapse
        name = lapse.run_dir.rstrip("/").rsplit("/", 1)[-1]
        notes = "".join(f"<br><span style='color:#8a5a00'>{html.escape(n)}</span>" for n in lapse.notes)
        if not lapse.frames:
            self._blank("No frame yet")
            self.lapse = lapse
            self.caption.setText(f"<b>{html.escape(name)}</b>: no frame yet.{notes}")
            return
        self.caption.setText(f"<b>{html.escape(name)}</b>: the probe, {html.escape(lapse.caption)}, at "
                             f"{len(lapse.frames)} moments of training.{notes}")
        chosen = self.layer_combo.currentData()
        layers = lapse.layers or list(lapse.frames[-1].maps)
        if [self.layer_combo.itemData(i) for i in range(self.layer_combo.count())] != layers:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for layer in layers:
                self.layer_combo.addItem(layer, layer)
            self.layer_combo.setCurrentIndex(max(0, layers.index(chosen) if chosen in layers else 0))
            self.layer_combo.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setMaximum(len(lapse.frames) - 1)
        if at_end:
            self.slider.setValue(len(lapse.frames) - 1)
        self.slider.blockSignals(False)
        label = lapse.label
        xs = [f.epoch for f in lapse.frames]
        ys = [float(f.probs[label]) if 0 <= label < len(f.probs) else 0.0 for f in lapse.frames]
        self.confidence_curve.setData(xs, ys)
        self.confidence.setXRange(min(xs), max(max(xs), 1), padding=0.05)
        self._draw()

    def clear(self, message: str) -> None:
        self._blank(message)
        self.caption.setText(html.escape(message))

    def _blank(self, message: str) -> None:
        """Nothing of an earlier run stays on show."""
        self.lapse = None
        self.play_button.setChecked(False)
        self.epoch_label.setText("")
        self.filters_caption.setText("")
        self.slider.setMaximum(0)
        self.cam.clear()
        self.filters.clear()
        self.prediction.setText("")
        self.confidence_curve.setData([], [])
        self.maps.clear_maps(message)

    # -- what it reads -------------------------------------------------------------------------------
    @property
    def frame(self):
        if self.lapse is None or not self.lapse.frames:
            return None
        return self.lapse.frames[min(self.slider.value(), len(self.lapse.frames) - 1)]

    @property
    def layer(self) -> str | None:
        return self.layer_combo.currentData()

    def _play(self, on: bool) -> None:
        """Play from where the slider is; from the start when it is at the end."""
        if on and self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self.timer.start() if on else self.timer.stop()

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)
            return
        self.slider.setValue(self.slider.value() + 1)

    def _draw(self) -> None:
        frame, lapse = self.frame, self.lapse
        if frame is None:
            return
        self.epoch_label.setText("start" if frame.epoch == 0 else f"epoch {frame.epoch}")
        classes = lapse.classes
        name = lambda i: classes[i] if 0 <= i < len(classes) else str(i)  # noqa: E731
        sure = float(frame.probs[frame.predicted])
        words = f"Grad-CAM for <b>{html.escape(name(frame.predicted))}</b>, predicted ({sure:.0%})"
        if 0 <= lapse.label < len(frame.probs):
            words += f"; label {html.escape(name(lapse.label))}: {float(frame.probs[lapse.label]):.0%}"
        self.prediction.setText(words)
        if lapse.image is not None:
            base = to_rgb(lapse.image).resize((PICTURE, PICTURE))
            picture = overlay(base, frame.cam, 0.5) if frame.cam is not None else base
            self.cam.setPixmap(array_pixmap(np.asarray(picture), PICTURE))
            self.cam.setToolTip(f"Grad-CAM at {frame.cam_layer} for {name(frame.predicted)}" if frame.cam is not None
                                else "No Grad-CAM: the network has no spatial layer")
        if frame.filters is not None:
            picture, what = kernels_rgb(frame.filters, frame.filters_layer)
            self.filters.setPixmap(array_pixmap(picture, PICTURE))
            self.filters_caption.setText(f"the first kernels ({frame.filters_layer}, {frame.filters.shape[0]}), {what}")
        maps = frame.maps.get(self.layer) if self.layer else None
        if maps is not None:
            self.maps.show_maps(self.layer, maps)
        self.confidence_mark.setPos(frame.epoch)
        self.epochChosen.emit(frame.epoch)
