"""The probe: one image (the one in the drop zone: the first test image, or one the user
dropped) whose prediction and feature maps at a chosen layer refresh at the end of every
epoch, so the user watches the filters form while the network trains."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .drop_zone import tensor_to_pixmap
from .feature_maps import FeatureMapView
from .text import plain, rich, tip


class ProbeView(QWidget):
    layerChosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("probeView")
        self.thumbnail = plain(QLabel(objectName="probeImage", alignment=Qt.AlignmentFlag.AlignCenter))
        self.thumbnail.setFixedSize(96, 96)
        self.thumbnail.setStyleSheet("QLabel { border: 1px solid #ccc; background: #fafafa; }")
        self.layer_combo = QComboBox(objectName="probeLayerCombo")
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "layer1 (16 ch)" whole
        self.layer_combo.setToolTip("The layer whose feature maps refresh at each epoch's end")
        self.prediction = rich(QLabel(objectName="probePrediction", wordWrap=True))
        self.history: list[str] = []
        self.results: list[tuple[str, object]] = []  # (note, maps) of every refresh, for automation and tests
        self.maps = FeatureMapView(name="probeMaps", controls=False)
        self.maps.per_page_combo.setCurrentIndex(self.maps.per_page_combo.count() - 1)  # an overview: 256 a page
        left = QVBoxLayout()
        left.addWidget(rich(QLabel("<b>Probe image</b>")))
        left.addWidget(self.thumbnail)
        left.addWidget(plain(QLabel("Layer")))
        left.addWidget(self.layer_combo)
        left.addWidget(self.prediction, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(left)
        layout.addWidget(self.maps, 1)
        self.layer_combo.currentIndexChanged.connect(self._on_layer)
        self.updates = 0

    def follow(self, session) -> None:
        """Show the session's model's stages and its image."""
        def changed(names):
            if "summary" in names and session.predictor is not None:
                self.set_layers(getattr(session.predictor.model, "feature_info", []))
            if {"image", "predictor"} & names and session.image is not None:
                self.set_image(session.image, session.caption)
        session.subscribe(changed)

    def set_layers(self, stages: list[dict]) -> None:
        """The model's stages (``feature_info``); the first one is where edges and blobs form."""
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for stage in stages:
            self.layer_combo.addItem(f"{stage['module']} ({stage['num_chs']} ch)", stage["module"])
        self.layer_combo.blockSignals(False)
        self.history = []
        self.maps.clear_maps("The maps refresh at each epoch's end")
        if stages:
            self.layerChosen.emit(stages[0]["module"])

    @property
    def layer(self) -> str | None:
        return self.layer_combo.currentData()

    def _on_layer(self) -> None:
        if self.layer:
            self.layerChosen.emit(self.layer)

    def set_image(self, image, caption: str) -> None:
        self.thumbnail.setPixmap(tensor_to_pixmap(image, 94))
        self.thumbnail.setToolTip(tip(caption))
        self.history = []

    def show_result(self, result: dict) -> None:
        predictions = result.get("predictions") or []
        note = result.get("note", "")
        if predictions:
            name, p = predictions[0]
            line = f"{html.escape(note.strip('()'))}: <b>{html.escape(str(name))}</b> {p:.0%}"
            if not self.history or self.history[-1] != line:
                self.history.append(line)
            self.prediction.setText("<br>".join(self.history[-6:]))
        maps = result.get("maps")
        layer = result.get("layer")
        if layer and maps is not None and not isinstance(maps, str):
            self.maps.show_maps(layer, maps)
            self.results.append((note, maps))
        elif isinstance(maps, str):
            self.maps.clear_maps(maps)
        self.updates += 1
