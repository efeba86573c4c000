"""What the window shows of the model on show for the current image: its top-5 with the warnings that
go with it, the selected layer's feature maps and filters, and the probe's (prediction history and maps
at the probe's layer).

It follows the session: a new model, image or weights refresh everything in one job: one forward
pass records every layer (within ``RECORDING_BUDGET``), so choosing another layer afterwards shows
its maps at once, with no forward pass; a layer past the budget is recorded again on its own. A
dropped file is decoded the way the model on show was trained (channels, size, background,
crop, or as the user chose: stretch, pad or crop, invert or not), then becomes the session's image
with its ``photo`` (how it was made). Jobs run on the window's model thread."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal
from torch import nn

from workbench.core.errors import UserError
from workbench.core.inspect.filters import filters_of, is_convolution
from workbench.core.predict import UNTRAINED, input_warnings, is_merge
from workbench.core.train.checkpointing import load_initial_filters

from ..jobs import JobRunner
from ..state import Session

TOP = 5


def filters_for(model: nn.Module, layer: str, run_dir: str | None = None):
    """The kernels of ``layer``, or of the first convolution inside it (a block), or why there are none; with
    the kernels the run ``run_dir`` started from, when it kept them."""
    if is_merge(layer):
        return f"{layer} joins branches and has no kernels: select the convolutions of its branches"
    module = dict(model.named_modules()).get(layer)
    if module is None:
        return f"{layer} is not a layer of this model"
    for name, inner in module.named_modules():
        if is_convolution(inner):
            initial, why = {}, ""
            try:
                initial = load_initial_filters(run_dir) if run_dir else {}
            except UserError as exc:  # a damaged file: the trained kernels all the same
                why = f"The kernels at the start cannot be shown: {exc}"
            found = filters_of(model, f"{layer}.{name}" if name else layer, initial=initial)
            return dataclasses.replace(found, note=why) if why else found
    return f"{layer} holds no convolution: choose one in the list, or a block that has one"


def look(predictor, image: torch.Tensor, layers: list, k: int = TOP, every_layer: bool = False, reuse=()) -> dict:
    """Top-``k`` and the maps of ``layers`` (or why a layer has none), from one forward pass; with
    ``every_layer`` the maps of every module (within the recording budget) too, in ``reuse``'s memory."""
    predictions, maps = predictor.look(image, layers, k, every_layer=every_layer, reuse=reuse)
    return {"predictions": predictions, "maps": maps}


class InspectionController(QObject):
    predictionsReady = Signal(object, str)  # [(class, probability)], note
    warningsReady = Signal(list)  # plain sentences: what makes this answer doubtful
    filtersReady = Signal(object)  # a FilterSet, or why there is none
    mapsReady = Signal(str, object)  # layer, maps (C×H×W) or a message
    probeReady = Signal(object)  # dict: note, predictions, layer, maps
    failed = Signal(str)  # a message for the error banner

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.probe_layer: str | None = None  # chosen in the probe view
        self.recording: tuple = (None, None, {})  # (predictor, image, every layer's maps) of the last look
        self.handed: list = []  # tensors of the recording given to views (``_hand``): not to be reused
        self.path: str | None = None  # the file dropped last, prepared again when the preparation changes
        self.fit: str | None = None
        self.invert: bool | None = None
        session.subscribe(self._on_session)

    def _on_session(self, changed: set[str]) -> None:
        s = self.session
        if "predictor" in changed and "image" not in changed and s.photo is not None and self.path is not None \
                and s.predictor is not None:
            self.classify_file(self.path)  # the dropped file again, prepared as the new model was trained
        elif {"predictor", "image"} & changed:
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
        unheld = self._unheld()  # and the views' old tensors are forgotten: a new recording starts
        reuse = unheld if every_layer else []
        self.recording = (None, None, {})  # new weights or a new image: the old maps are not these
        if predictor is None or image is None:
            return
        self.jobs.submit("look", lambda: look(predictor, image, [layer, probe_layer], every_layer=every_layer,
                                              reuse=reuse),
                         lambda result: self._on_looked(result, note, layer, probe_layer, recorded=(predictor, image)),
                         self.failed.emit, what="classifying")

    def _unheld(self) -> list:
        """The last recording's tensors that were never handed to a view (nor share memory with one that was):
        the next recording copies into them instead of into fresh memory."""
        held = {t.data_ptr() for t in self.handed if isinstance(t, torch.Tensor)}
        maps = self.recording[2]
        self.handed = []
        return [t for t in maps.values() if isinstance(t, torch.Tensor) and t.data_ptr() not in held]

    def _hand(self, maps):
        """``maps`` go to a view: never reused for a later recording."""
        if isinstance(maps, torch.Tensor):
            self.handed.append(maps)
        return maps

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
            self.mapsReady.emit(layer, self._hand(held))
            return
        if is_merge(layer):  # a merge is not a module: one pass of the graph capture gives its output
            self.jobs.submit("maps", lambda: predictor.merge_maps(image, layer),
                             lambda maps: self._on_merge(layer, maps, predictor, image), self.failed.emit,
                             what=f"the maps of {layer}")
            return
        self.jobs.submit("maps", lambda: look(predictor, image, [layer])["maps"][layer],
                         lambda maps: self.mapsReady.emit(layer, maps), self.failed.emit,
                         what=f"feature maps of {layer}")

    def _on_merge(self, layer: str, maps, predictor, image) -> None:
        held_by, shown, recorded = self.recording
        if held_by is predictor and shown is image and not isinstance(maps, str):
            recorded[layer] = maps  # asked again: no second pass
        self.mapsReady.emit(layer, self._hand(maps))

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
        another dataset than the one picked), or as the user chose; it becomes the session's image."""
        predictor = self.session.predictor
        if predictor is None:
            return
        self.path = path
        fit, invert = self.fit, self.invert
        self.jobs.submit("image", lambda: predictor.decode_photo(path, fit, invert),
                         lambda done: self.session.set(image=done.tensor, caption=Path(path).name, photo=done),
                         self.failed.emit, what=f"classifying {Path(path).name}")

    def set_preparation(self, fit: str | None, invert: bool | None) -> None:
        """How dropped files are brought to the input; the file on show is prepared again."""
        self.fit, self.invert = fit, invert
        if self.path is not None and self.session.photo is not None:
            self.classify_file(self.path)

    def show_filters(self, layer: str) -> None:
        predictor = self.session.predictor
        if predictor is None or not layer:
            return
        run = self.session.run
        run_dir = run.dir if run is not None and self.session.note != "(untrained)" else None
        self.jobs.submit("filters", lambda: filters_for(predictor.model, layer, run_dir), self.filtersReady.emit,
                         self.failed.emit, what=f"filters of {layer}")

    def warnings(self, predictions: list, note: str) -> list[str]:
        s = self.session
        trained = note != "(untrained)"
        if s.photo is None or s.predictor is None:
            return [] if trained else [UNTRAINED]
        return input_warnings(s.predictor, s.photo, predictions, trained)

    def _on_looked(self, result: dict, note: str, layer: str | None, probe_layer: str | None,
                   probe_only: bool = False, recorded: tuple | None = None) -> None:
        if recorded is not None:
            self.recording = (*recorded, result["maps"])
        maps = result["maps"]
        if not probe_only:
            self.predictionsReady.emit(result["predictions"], note)
            self.warningsReady.emit(self.warnings(result["predictions"], note))
            if layer and ((maps.get(layer) is None and layer in maps) or is_merge(layer)):
                self.show_layer()  # past the recording budget, or a merge: on its own
            elif layer:
                self.mapsReady.emit(layer, self._hand(maps[layer]))
        self.probeReady.emit({"note": note, "predictions": result["predictions"], "layer": probe_layer,
                              "maps": self._hand(maps.get(probe_layer)) if probe_layer else None})
