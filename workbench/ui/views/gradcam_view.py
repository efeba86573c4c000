"""The Grad-CAM view: where the network looked, over the photo as dropped. The predicted class's map beside
a chosen class's, the method and layer to choose (the automatic layer says its rule), the opacity, a strip
of maps at every stage, and for the costly methods a progress bar with Cancel and a first preview."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                               QSizePolicy, QSlider, QVBoxLayout, QWidget)

from workbench.core.inspect.attribution import COSTLY, METHODS
from workbench.core.inspect.overlay import overlay, photo_overlay, to_rgb

from .drop_zone import photo_to_pixmap
from .text import plain

AUTOMATIC = "Automatic"


def paint(base, heat, opacity: float, size: int = 320):
    photo, image = base
    return photo_overlay(photo, heat, opacity, size=size) if photo is not None else \
        overlay(to_rgb(image).resize((size, size)), heat, opacity)


class Picture(QLabel):
    """A picture that fills its place at its own aspect ratio, scaled again when the place changes."""

    def __init__(self, name: str):
        super().__init__(objectName=name, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(80, 80)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.source: QPixmap | None = None

    def show_picture(self, pixmap: QPixmap | None) -> None:
        self.source = pixmap
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.source is None or self.source.isNull():
            self.clear()
            return
        self.setPixmap(self.source.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))


class GradCamView(QWidget):
    """Emits ``chosen(method, layer or None, second class or None)``, ``opacityChanged`` and ``cancelRequested``."""

    chosen = Signal(str, object, object)
    opacityChanged = Signal(float)
    cancelRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("gradCamView")
        self.method_combo = QComboBox(objectName="methodCombo")
        for key, label in METHODS.items():
            self.method_combo.addItem(label + (" (slow: a job)" if key in COSTLY else ""), key)
        self.method_combo.setToolTip("Grad-CAM, Grad-CAM++ and LayerCAM weigh a layer's maps by the class's gradient; "
                                     "the others attribute to the input's pixels (Captum)")
        self.layer_combo = QComboBox(objectName="camLayerCombo")
        self.layer_combo.addItem(AUTOMATIC, None)
        self.target_combo = QComboBox(objectName="targetClassCombo")
        self.target_combo.setToolTip("The class compared with the predicted one")
        self.opacity = QSlider(Qt.Orientation.Horizontal, objectName="opacitySlider", minimum=0, maximum=100, value=50)
        self.opacity.setToolTip("How much of the map covers the photo")
        row = QGridLayout()  # two rows: the explorer is often narrow
        for i, (label, widget) in enumerate((("Method", self.method_combo), ("Layer", self.layer_combo),
                                             ("Compare with", self.target_combo), ("Opacity", self.opacity))):
            row.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            row.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        row.setColumnStretch(1, 1)
        row.setColumnStretch(3, 1)
        self.rule = plain(QLabel(objectName="camRule", wordWrap=True))
        self.panes = [Picture(f"camPane{i}") for i in (1, 2)]
        self.captions = [plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)) for _ in (1, 2)]
        pair = QGridLayout()
        for i in range(2):
            pair.addWidget(self.panes[i], 0, i)
            pair.addWidget(self.captions[i], 1, i)
        self.progress = QProgressBar(objectName="camProgress", visible=False)
        self.cancel_button = QPushButton("Cancel", objectName="camCancelButton", visible=False)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        busy = QHBoxLayout()
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        self.strip = QWidget(objectName="camStrip")
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setContentsMargins(0, 0, 0, 0)
        strip_scroll = QScrollArea(widgetResizable=True, objectName="camStripScroll")
        strip_scroll.setWidget(self.strip)
        strip_scroll.setMinimumHeight(150)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.rule)
        layout.addLayout(pair, 1)
        layout.addLayout(busy)
        layout.addWidget(plain(QLabel("Grad-CAM at every stage, for the predicted class:")))
        layout.addWidget(strip_scroll)
        self.result: dict | None = None
        self.base = (None, None)
        self.strip_labels: list[QLabel] = []
        self._quiet = False
        self.method_combo.currentIndexChanged.connect(self._emit)
        self.layer_combo.currentIndexChanged.connect(self._emit)
        self.target_combo.currentIndexChanged.connect(self._emit)
        self.opacity.valueChanged.connect(self._repaint)

    def _emit(self, *_):
        if not self._quiet:
            self.chosen.emit(self.method_combo.currentData(), self.layer_combo.currentData(),
                             self.target_combo.currentData())

    def set_classes(self, classes: list[str]) -> None:
        """Another model: its classes, and the automatic layer (the last one's layers may not exist in it)."""
        self._quiet = True
        self.layer_combo.setCurrentIndex(0)
        self.target_combo.clear()
        self.target_combo.addItem("(the second most likely)", None)
        for i, name in enumerate(classes):
            self.target_combo.addItem(name, i)
        self._quiet = False

    def set_layers(self, layers: list[str], selected: str | None = None) -> None:
        """The stages and the layer selected in the tree, besides the automatic choice."""
        self._quiet = True
        current = self.layer_combo.currentData()
        self.layer_combo.clear()
        self.layer_combo.addItem(AUTOMATIC, None)
        for name in dict.fromkeys([*layers, *([selected] if selected else []), *([current] if current else [])]):
            self.layer_combo.addItem(name, name)
        index = self.layer_combo.findData(current)
        self.layer_combo.setCurrentIndex(max(0, index))
        self._quiet = False

    def set_base(self, photo, image) -> None:
        self.base = (photo, image)

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{what}: %v of %m passes")

    def show_cams(self, result: dict) -> None:
        """``result['maps']``: one or two (Attribution, overlay); ``preview``: a first look of a costly method."""
        self.result = result
        preview = result.get("preview", False)
        self.progress.setVisible(preview)
        self.cancel_button.setVisible(preview)
        maps, classes = result["maps"], result["classes"]
        for i, pane in enumerate(self.panes):
            if i < len(maps):
                a, image = maps[i]
                pane.show_picture(photo_to_pixmap(image, 480))
                wanted = self.target_combo.currentData()
                if len(maps) == 1 and wanted is not None and a.target == wanted:
                    role = "chosen"
                elif i == 0:
                    role = "the predicted class"
                else:
                    role = "chosen" if a.target == wanted else "the second most likely"
                self.captions[i].setText(f"{a.label} for {classes[a.target]} ({a.score:.1%}: {role})"
                                         + (f"\n{a.note}" if a.note else ""))
            else:
                pane.show_picture(None)
                self.captions[i].setText("")
        a = maps[0][0]
        if a.layer:
            self.rule.setText(f"Layer: {a.layer}" + (f", chosen as {a.rule}" if a.rule else ", chosen by you"))
        else:
            self.rule.setText(f"{a.label} attributes to the input's pixels: no layer" + (
                " (a first look; the full map follows)" if preview else ""))

    def show_cancelled(self, method: str) -> None:
        """A costly method stopped: its preview stays, marked as such."""
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.rule.setText(f"{METHODS.get(method, method)} was cancelled" + (
            ": the map shown is its first look" if self.result and self.result.get("preview") else "."))

    def _repaint(self) -> None:
        opacity = self.opacity.value() / 100
        self.opacityChanged.emit(opacity)
        if self.result is None or self.base == (None, None):
            return
        for i, (a, _) in enumerate(self.result["maps"][:2]):
            self.panes[i].show_picture(photo_to_pixmap(paint(self.base, a.map, opacity), 480))

    def show_strip(self, strip: list) -> None:
        """(stage, overlay) pairs, shallow to deep: what each stage's map says about where the class is."""
        for tile in self.strip_labels:
            tile.deleteLater()
        self.strip_labels = []
        for layer, image in strip:
            tile = QWidget(objectName="camStripTile")
            box = QVBoxLayout(tile)
            box.setContentsMargins(0, 0, 0, 0)
            picture = plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter))
            picture.setPixmap(photo_to_pixmap(image, 110))
            box.addWidget(picture)
            box.addWidget(plain(QLabel(layer, alignment=Qt.AlignmentFlag.AlignCenter)))
            self.strip_labels.append(tile)
            self.strip_layout.addWidget(tile)

    def clear(self, message: str = "") -> None:
        self.result = None
        for pane, caption in zip(self.panes, self.captions):
            pane.show_picture(None)
            caption.setText("")
        self.rule.setText(message)
