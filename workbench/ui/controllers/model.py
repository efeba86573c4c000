"""The model on show: built for the form's choice, an earlier run's best weights (Open), or the
run under way's own model (a copy handed over at its start), and its weights at each epoch's end.

Everything slow runs on the window's model job thread (one at a time, in order, so no two jobs
touch the model at once); the results go into the session, which every view follows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

from workbench.core.data import DatasetError, DatasetInfo, get_dataset_info, is_folder_dataset, load_dataset
from workbench.core.inspect import ModelSummary, summarize
from workbench.core import papers
from workbench.core.predict import Predictor, checkpoint_of
from workbench.core.runs import Run
from workbench.core.train import resolve_input_size

from ..jobs import JobRunner
from ..state import RunOnShow, Session


@dataclass
class Shown:
    """A model ready to show, made off the UI thread."""

    predictor: Predictor
    summary: ModelSummary
    dataset: DatasetInfo
    note: str
    image: torch.Tensor | None = None
    caption: str = ""
    run: RunOnShow | None = None
    bundle: object = None  # the dataset loaded for it (or None: a set still to download)
    message: str = ""
    curves: tuple | None = None  # an opened run's (metrics, steps, epochs)


def first_image(bundle) -> tuple[torch.Tensor | None, str]:
    """The probe's default: the dataset's first test image (or first training image)."""
    split = bundle.test if len(bundle.test) else bundle.train
    if not len(split):
        return None, ""
    sample, label = split[0]
    sample = sample.float() / 255 if sample.dtype == torch.uint8 else sample
    kind = "test" if split is bundle.test else "training"
    return sample, f"{kind} image 0 (label {bundle.classes[int(label)]})"


def _image_for(predictor: Predictor, bundle, image, caption: str):
    """The current image if the model takes its channels, else the dataset's first one."""
    if image is not None and image.shape[0] != predictor.input_shape[0]:
        image, caption = None, ""
    if image is None and bundle is not None and list(bundle.classes) == predictor.classes:
        image, caption = first_image(bundle)
    return image, caption


def for_selection(model_name: str, dataset: str, bundle, transfer: bool, input_size: int | None,
                  image, caption: str) -> Shown:
    """The form's model, untrained, for its dataset: the set is loaded if it is on disk (one to
    download is only described); the current image stays if the model takes it."""
    message = ""
    if bundle is None or bundle.name != dataset:
        info = get_dataset_info(dataset)
        image = None
        try:
            bundle = load_dataset(info.name, download=False)
        except DatasetError:
            if not info.needs_download:
                raise
            bundle = None
            message = f"{info.title} is not downloaded yet: it downloads when you press Start. {info.description}"
    info = bundle.info() if bundle is not None else get_dataset_info(dataset)
    predictor = Predictor.for_dataset(model_name, info, input_size, pretrained=transfer)
    image, caption = _image_for(predictor, bundle, image, caption)
    return Shown(predictor, summarize(predictor.model, predictor.input_shape), info, "(untrained)", image, caption,
                 bundle=bundle, message=message)


def _run_dataset(config: dict, predictor: Predictor) -> DatasetInfo:
    name = config.get("dataset") or ""
    if name and not is_folder_dataset(name):
        try:
            return get_dataset_info(name)
        except DatasetError:
            pass
    c = predictor.input_shape[0]
    return DatasetInfo(name, f"Folder {Path(name).name}", name, c, predictor.native_size, len(predictor.classes),
                       tuple(predictor.preprocess.mean.flatten().tolist()),
                       tuple(predictor.preprocess.std.flatten().tolist()), False, None,
                       predictor.dark_background, tuple(predictor.classes), predictor.crop)


def opened(run_dir: str, bundle) -> Shown:
    """An earlier run: its best weights, its configuration and its curves."""
    from workbench.core.runs import read_csv

    predictor = Predictor.from_checkpoint(checkpoint_of(run_dir, "best"))
    run = Run(Path(run_dir))
    config, metrics = dict(run.config), run.metrics
    dataset = _run_dataset(config, predictor)
    # config.json records the input the run used; the form asks for a size only when it was not the model's own.
    natural = resolve_input_size(config.get("model") or predictor.model.model_name, dataset, None,
                                 bool(config.get("pretrained")))
    config["input_size"] = None if tuple(natural) == predictor.input_shape else predictor.input_shape[-1]
    epochs = max([config.get("epochs") or 1, *(m["epoch"] for m in metrics)])
    image, caption = _image_for(predictor, bundle if bundle is not None and bundle.name == config.get("dataset")
                                else None, None, "")
    summary = run.summary
    scores = [f"best val acc {summary['best_val_acc']:.3f} (epoch {summary.get('best_epoch')})"
              if isinstance(summary.get("best_val_acc"), float) else "",
              f"test acc {summary['test_acc']:.3f}" if isinstance(summary.get("test_acc"), float) else ""]
    message = f"Opened {run.name}: its best weights are the model on show. " + ", ".join(filter(None, scores))
    return Shown(predictor, summarize(predictor.model, predictor.input_shape), dataset,
                 f"(run {run.name}, best epoch)", image, caption, RunOnShow(str(run_dir), config, "opened", epochs),
                 message=message.strip(), curves=(metrics, read_csv(Path(run_dir) / "steps.csv"), epochs,
                         papers.figure_for(str(config.get("model", "")), str(config.get("dataset", "")))))


class ModelController(QObject):
    shown = Signal(object)  # Shown, after the session took it
    weightsChanged = Signal()  # the model on show has new weights (its predictions and maps are stale)
    failed = Signal(str)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs

    def follow(self, training, datasets) -> None:
        """The run under way's model is the model on show, with its weights at each epoch's end
        and its best (or last) weights when it ends."""
        training.runStarted.connect(lambda event, model, history: self.adopt(
            event, model, datasets.for_config(event.config["dataset"]), "resumed" if event.start_epoch > 1 else
            "training"))
        training.epochEnded.connect(lambda event, weights: self.load_weights(weights, f"(epoch {event.epoch})"))
        training.runFinished.connect(lambda event, weights: self.load_weights(weights, (
            f"(best epoch {event.summary['best_epoch']})" if event.summary["status"] == "completed"
            else f"(stopped after epoch {event.summary['epochs']})")))

    def show_selection(self, model_name: str, dataset: str, bundle, transfer: bool, input_size: int | None) -> None:
        image, caption = self.session.image, self.session.caption
        self.jobs.submit("model", lambda: for_selection(model_name, dataset, bundle, transfer, input_size, image,
                                                        caption),
                         self._take, self.failed.emit, what=f"building {model_name}")

    def open_run(self, run_dir: str, bundle) -> None:
        self.jobs.submit("model", lambda: opened(run_dir, bundle), self._take, self.failed.emit,
                         what=f"loading {Path(run_dir).name}")

    def adopt(self, event, model: torch.nn.Module, bundle, how: str) -> None:
        """The run under way's own model (a CPU copy) becomes the model on show."""
        info = bundle.info() if bundle is not None and bundle.name == event.config["dataset"] else \
            self.session.dataset
        native = info.native_size if info is not None else tuple(event.input_size[1:])
        predictor = Predictor(model, list(event.classes), tuple(event.input_size), native, event.mean, event.std,
                              bool(info and info.dark_background), bool(info and info.crop))
        run = RunOnShow(event.run_dir, dict(event.config), how, event.epochs or event.config.get("epochs") or 1)
        image, caption = self.session.image, self.session.caption

        def work():
            shown_image, shown_caption = _image_for(predictor, bundle, image, caption)
            return Shown(predictor, summarize(model, predictor.input_shape), info, "(training…)", shown_image,
                         shown_caption, run, bundle=bundle)
        self.jobs.submit("model", work, self._take, self.failed.emit, what=f"showing {event.config['model']}")

    def load_weights(self, weights: dict, note: str) -> None:
        """New weights for the model on show (an epoch's snapshot, the best at the end)."""
        predictor = self.session.predictor
        if predictor is None:
            return

        def work():
            predictor.model.load_state_dict(weights)
            return note
        self.jobs.submit("weights", work, self._weights_loaded, self.failed.emit, what="loading the epoch's weights")

    def _weights_loaded(self, note: str) -> None:
        self.session.set(note=note)
        self.weightsChanged.emit()

    def _take(self, shown: Shown) -> None:
        self.session.set(predictor=shown.predictor, summary=shown.summary, note=shown.note, dataset=shown.dataset,
                         run=shown.run, image=shown.image, caption=shown.caption, layer=None)
        self.shown.emit(shown)
