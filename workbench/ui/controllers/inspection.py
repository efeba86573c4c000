"""What the window shows of the model on show for the current image: its top-3, the selected
layer's feature maps and the probe's (prediction history and maps at the probe's layer).

It follows the session: a new model, image or weights refresh everything in one job: one forward
pass records every layer (within ``RECORDING_BUDGET``), so choosing another layer afterwards shows
its maps at once, with no forward pass; a layer past the budget is recorded again on its own. A
dropped file is decoded the way the model on show was trained (channels, size, background,
crop), then becomes the session's image. Jobs run on the window's model thread."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner
from ..state import Session


def look(predictor, image: torch.Tensor, layers: list, k: int = 3, every_layer: bool = False) -> dict:
    """Top-``k`` and the maps of ``layers`` (or why a layer has none), from one forward pass; with
    ``every_layer`` the maps of every module (within the recording budget) too."""
    predictions, maps = predictor.look(image, layers, k, every_layer=every_layer)
    return {"predictions": predictions, "maps": maps}


class InspectionController(QObject):
    predictionsReady = Signal(object, str)  # [(class, probability)], note
    mapsReady = Signal(str, object)  # layer, maps (C×H×W) or a message
    probeReady = Signal(object)  # dict: note, predictions, layer, maps
    failed = Signal(str)  # a message for the error banner

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.probe_layer: str | None = None  # chosen in the probe view
        self.recording: tuple = (None, None, {})  # (predictor, image, every layer's maps) of the last look
        session.subscribe(self._on_session)

    def _on_session(self, changed: set[str]) -> None:
        if {"predictor", "image"} & changed:
            self.refresh()
        elif "layer" in changed:
            self.show_layer()

    def refresh_weights(self) -> None:
        """New weights of the run under way (each epoch's end): the layers on show only, not every layer,
        so the look takes as little as it can from the training beside it."""
        self.refresh(every_layer=False)

    def refresh(self, every_layer: bool = True) -> None:
        """Predictions, the selected layer's maps and the probe, for the model and image on show (and, for a
        new model or image, every layer's maps, so that choosing another layer needs no forward pass)."""
        s = self.session
        predictor, image, layer, probe_layer, note = s.predictor, s.image, s.layer, self.probe_layer, s.note
        self.recording = (None, None, {})  # new weights or a new image: the old maps are not these
        if predictor is None or image is None:
            return
        self.jobs.submit("look", lambda: look(predictor, image, [layer, probe_layer], every_layer=every_layer),
                         lambda result: self._on_looked(result, note, layer, probe_layer, recorded=(predictor, image)),
                         self.failed.emit, what="classifying")

    def _recorded(self, layer: str | None):
        """The maps of ``layer`` from the last look at the image on show, if it holds them."""
        predictor, image, maps = self.recording
        s = self.session
        if layer and predictor is s.predictor and image is s.image and maps.get(layer) is not None:
            return maps[layer]
        return None

    def show_layer(self) -> None:
        s = self.session
        predictor, image, layer = s.predictor, s.image, s.layer
        if layer is None or predictor is None or image is None:
            return
        held = self._recorded(layer)
        if held is not None:  # recorded with the image: no forward pass
            self.mapsReady.emit(layer, held)
            return
        self.jobs.submit("maps", lambda: look(predictor, image, [layer])["maps"][layer],
                         lambda maps: self.mapsReady.emit(layer, maps), self.failed.emit,
                         what=f"feature maps of {layer}")

    def set_probe_layer(self, layer: str | None) -> None:
        self.probe_layer = layer
        s = self.session
        predictor, image, note = s.predictor, s.image, s.note
        if predictor is None or image is None or not layer:
            return
        self.jobs.submit("probe", lambda: look(predictor, image, [layer]),
                         lambda result: self._on_looked(result, note, None, layer, probe_only=True),
                         self.failed.emit, what="probe image")

    def show_image(self, image, caption: str) -> None:
        """An image already decoded as the model's data (a test image from the evaluation view)."""
        self.session.set(image=image, caption=caption)

    def classify_file(self, path: str) -> None:
        """Decode a dropped file as the model on show was trained (an opened run may come from
        another dataset than the one picked); it becomes the session's image."""
        predictor = self.session.predictor
        if predictor is None:
            return
        self.jobs.submit("image", lambda: predictor.decode(path),
                         lambda image: self.session.set(image=image, caption=Path(path).name), self.failed.emit,
                         what=f"classifying {Path(path).name}")

    def _on_looked(self, result: dict, note: str, layer: str | None, probe_layer: str | None,
                   probe_only: bool = False, recorded: tuple | None = None) -> None:
        if recorded is not None:
            self.recording = (*recorded, result["maps"])
        maps = result["maps"]
        if not probe_only:
            self.predictionsReady.emit(result["predictions"], note)
            if layer and maps.get(layer) is None and layer in maps:  # past the recording budget: again, alone
                self.show_layer()
            elif layer:
                self.mapsReady.emit(layer, maps[layer])
        self.probeReady.emit({"note": note, "predictions": result["predictions"], "layer": probe_layer,
                              "maps": maps.get(probe_layer) if probe_layer else None})
