"""The model the window classifies and looks inside, and every slow thing done with it.

Building a model and its summary, loading weights (an epoch's snapshot, an earlier run's
best checkpoint), decoding a dropped image, classifying it and computing feature maps all run
on one worker thread (one at a time, so no two touch the model at once); the views get the
results through this controller's signals, in the UI thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

import models
from workbench.core import pretrained
from workbench.core.datasets import DatasetError, Preprocess, get_dataset_info, image_to_tensor, load_dataset
from workbench.core.inspection import Classifier, ModelSummary, summarize
from workbench.core.train import resolve_input_size

from ..jobs import JobRunner


@dataclass
class Prepared:
    """Everything the window shows for a model on a dataset, made off the UI thread."""

    classifier: Classifier
    summary: ModelSummary
    bundle: object  # DataBundle, or None while the set is still to download
    message: str = ""
    image: torch.Tensor | None = None
    caption: str = ""
    predictions: list = field(default_factory=list)
    note: str = "(untrained)"
    run_dir: str = ""


def _first_image(bundle) -> tuple[torch.Tensor | None, str]:
    split = bundle.test if len(bundle.test) else bundle.train
    if not len(split):
        return None, ""
    sample, label = split[0]
    sample = sample.float() / 255 if sample.dtype == torch.uint8 else sample
    kind = "test" if split is bundle.test else "training"
    return sample, f"{kind} image 0 (label {bundle.classes[int(label)]})"


def _classified(classifier: Classifier, bundle, image, caption: str):
    """The image to show with a new model (the current one if the model takes its channels, else
    the dataset's first test image) and its top-3 predictions."""
    if image is not None and image.shape[0] != classifier.input_shape[0]:
        image, caption = None, ""
    if image is None and bundle is not None:
        image, caption = _first_image(bundle)
    return image, caption, classifier.top_k(image, 3) if image is not None else []


def input_shape_for(model: str, spec, transfer: bool, input_size: int | None = None) -> tuple[int, int, int]:
    if transfer and pretrained.has_weights(model) and not input_size:
        crop = pretrained.weights_for(model).crop_size
        return (spec.in_channels, crop, crop)
    return resolve_input_size(model, spec, input_size)


def prepare(model_name: str, dataset: str, bundle, transfer: bool, image, caption: str,
            input_size: int | None = None) -> Prepared:
    """Load the dataset if it is on disk (a set still to download is only described), build the
    model for it, summarise it and classify the current image (or the first test image)."""
    message = ""
    if bundle is None or bundle.name != dataset:
        info = get_dataset_info(dataset)
        try:
            bundle = load_dataset(info.name, download=False)
            image = None
        except DatasetError:
            if not info.needs_download:
                raise
            bundle = None
            message = f"{info.title} is not downloaded yet: it downloads when you press Start. {info.description}"
    spec = bundle if bundle is not None else get_dataset_info(dataset)
    classes = list(spec.classes) if hasattr(spec, "classes") else [str(i) for i in range(spec.num_classes)]
    shape = input_shape_for(model_name, spec, transfer, input_size)
    model = models.create_model(model_name, num_classes=len(classes), in_channels=shape[0], input_size=shape)
    classifier = Classifier(model, classes, shape, spec.native_size, spec.mean, spec.std, spec.dark_background,
                            getattr(spec, "crop", False))
    summary = summarize(model, shape)
    image, caption, predictions = _classified(classifier, bundle, image, caption)
    return Prepared(classifier, summary, bundle, message, image, caption, predictions)


def open_run(run_dir: str, bundle) -> Prepared:
    """An earlier run's best weights as the window's model (``weights_only`` loading, checked)."""
    from workbench.core.predict import checkpoint_of, load_classifier

    path = checkpoint_of(run_dir, "best")
    classifier = load_classifier(path)
    summary = summarize(classifier.model, classifier.input_shape)
    same_classes = bundle is not None and list(bundle.classes) == classifier.classes
    image, caption, predictions = _classified(classifier, bundle if same_classes else None, None, "")
    name = Path(run_dir).name
    return Prepared(classifier, summary, bundle, "", image, caption, predictions,
                    f"(run {name}, best epoch)", str(run_dir))


class InspectionController(QObject):
    modelReady = Signal(object)  # Prepared
    predictionsReady = Signal(object, str)  # [(class, probability)], note
    imageChanged = Signal(object, str)  # image tensor, caption
    mapsReady = Signal(str, object)  # layer, maps (C×H×W), for the layer explorer
    probeReady = Signal(object)  # dict: note, predictions, layer, maps
    failed = Signal(str)  # a message for the error banner
    cleared = Signal()

    def __init__(self, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.jobs = jobs
        self.classifier: Classifier | None = None
        self.summary: ModelSummary | None = None
        self.image: torch.Tensor | None = None
        self.caption = ""
        self.note = "(untrained)"
        self.layer: str | None = None  # chosen in the layer explorer
        self.probe_layer: str | None = None  # chosen in the probe view

    # -- model -----------------------------------------------------------------------------------------
    def build(self, model_name: str, dataset: str, bundle, transfer: bool, input_size: int | None = None) -> None:
        image, caption = self.image, self.caption
        self.jobs.submit("model", lambda: prepare(model_name, dataset, bundle, transfer, image, caption, input_size),
                         self._on_prepared, self.failed.emit, what=f"building {model_name}")

    def open_run(self, run_dir: str, bundle) -> None:
        self.jobs.submit("model", lambda: open_run(run_dir, bundle), self._on_prepared, self.failed.emit,
                         what=f"loading {Path(run_dir).name}")

    def adopt(self, event, dataset: str, bundle) -> None:
        """A fresh model for the run that just started (its classes, input size and normalisation);
        a set the run has just downloaded is loaded here too."""
        model_name, classes, shape = event.config["model"], list(event.classes), tuple(event.input_size)
        pretrained_input = bool(event.config.get("pretrained"))
        current = self.classifier
        if (bundle is not None and current is not None and getattr(current.model, "model_name", "") == model_name
                and current.classes == classes and current.input_shape == shape and not pretrained_input):
            # The model on show is the run's model already: no rebuild competing with the run's first steps.
            if event.mean:
                current.preprocess = Preprocess(shape[1:], tuple(event.mean), tuple(event.std))
            self.note = "(training…)"
            return

        def make():
            data = bundle
            if data is None:
                try:
                    data = load_dataset(dataset, download=False)
                except DatasetError:
                    data = None
            spec = data if data is not None else get_dataset_info(dataset)
            model = models.create_model(model_name, num_classes=len(classes), in_channels=shape[0], input_size=shape)
            if pretrained_input and hasattr(model, "transform_input"):
                model.transform_input = True
            mean, std = (event.mean, event.std) if event.mean else (spec.mean, spec.std)
            classifier = Classifier(model, classes, shape, spec.native_size, mean, std, spec.dark_background,
                                    getattr(spec, "crop", False))
            image, caption, predictions = _classified(classifier, data, self.image, self.caption)
            return Prepared(classifier, summarize(model, shape), data, "", image, caption, predictions,
                            "(training…)")
        self.jobs.submit("model", make, self._on_prepared, self.failed.emit, what=f"building {model_name}")

    def _on_prepared(self, prepared: Prepared) -> None:
        self.classifier, self.summary, self.note = prepared.classifier, prepared.summary, prepared.note
        self.image, self.caption = prepared.image, prepared.caption
        self.layer = None
        self.modelReady.emit(prepared)
        if self.image is not None:
            self.imageChanged.emit(self.image, self.caption)
            self.predictionsReady.emit(prepared.predictions, self.note)
        else:
            self.cleared.emit()
        self.refresh_probe()

    def load_weights(self, weights: dict, note: str) -> None:
        """New weights (an epoch's snapshot): load them, then classify the image and refresh the
        chosen layer's maps and the probe, all in the worker."""
        classifier = self.classifier
        if classifier is None:
            return
        image, layer, probe_layer = self.image, self.layer, self.probe_layer

        def work():
            classifier.model.load_state_dict(weights)
            return self._look(classifier, image, layer, probe_layer)
        self.jobs.submit("weights", work, lambda result: self._on_looked(result, note), self.failed.emit,
                         what="loading the epoch's weights")

    # -- images --------------------------------------------------------------------------------------
    def classify_file(self, path: str) -> None:
        """Decode a file the way the model on show was trained (channels, size, background, crop:
        an opened run may come from another dataset than the one picked), then classify it."""
        classifier = self.classifier
        if classifier is None:
            return
        layer, probe_layer = self.layer, self.probe_layer

        def work():
            image = image_to_tensor(path, classifier.input_shape[0], classifier.native_size,
                                    classifier.dark_background, classifier.crop)
            return image, self._look(classifier, image, layer, probe_layer)

        def done(result):
            image, looked = result
            self.image, self.caption = image, Path(path).name
            self.imageChanged.emit(image, self.caption)
            self._on_looked(looked, self.note)
        self.jobs.submit("image", work, done, self.failed.emit, what=f"classifying {Path(path).name}")

    def set_image(self, image: torch.Tensor, caption: str) -> None:
        self.image, self.caption = image, caption
        self.imageChanged.emit(image, caption)
        self.refresh()

    def refresh(self) -> None:
        classifier, image, layer, probe_layer = self.classifier, self.image, self.layer, self.probe_layer
        if classifier is None or image is None:
            return
        self.jobs.submit("look", lambda: self._look(classifier, image, layer, probe_layer),
                         lambda result: self._on_looked(result, self.note), self.failed.emit, what="classifying")

    def show_layer(self, layer: str | None) -> None:
        self.layer = layer
        classifier, image = self.classifier, self.image
        if layer is None or classifier is None or image is None:
            return
        self.jobs.submit("maps", lambda: self._maps(classifier, image, layer),
                         lambda maps: self.mapsReady.emit(layer, maps), self.failed.emit,
                         what=f"feature maps of {layer}")

    def set_probe_layer(self, layer: str | None) -> None:
        self.probe_layer = layer
        self.refresh_probe()

    def refresh_probe(self) -> None:
        classifier, image, layer = self.classifier, self.image, self.probe_layer
        if classifier is None or image is None:
            return
        self.jobs.submit("probe", lambda: self._look(classifier, image, None, layer),
                         lambda result: self._on_looked(result, self.note, probe_only=True), self.failed.emit,
                         what="probe image")

    # -- worker side ---------------------------------------------------------------------------------
    @staticmethod
    def _maps(classifier, image, layer):
        try:
            return classifier.feature_maps(image, layer)
        except (ValueError, RuntimeError, KeyError) as exc:
            return f"{layer}: {exc}"

    def _look(self, classifier, image, layer, probe_layer) -> dict:
        if image is None:
            return {}
        result = {"predictions": classifier.top_k(image, 3)}
        if layer:
            result["layer"], result["maps"] = layer, self._maps(classifier, image, layer)
        if probe_layer:
            result["probe_layer"] = probe_layer
            result["probe_maps"] = result["maps"] if probe_layer == layer else self._maps(classifier, image, probe_layer)
        return result

    def _on_looked(self, result: dict, note: str, probe_only: bool = False) -> None:
        if not result:
            return
        self.note = note
        if not probe_only:
            self.predictionsReady.emit(result["predictions"], note)
            if "layer" in result:
                self.mapsReady.emit(result["layer"], result["maps"])
        self.probeReady.emit({"note": note, "predictions": result["predictions"],
                              "layer": result.get("probe_layer"), "maps": result.get("probe_maps")})
