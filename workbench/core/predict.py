"""The one predictor: a network with everything it needs to classify any image.

``Predictor`` is made from a run or a checkpoint (``from_checkpoint``), from a model name and a
``DatasetInfo`` (``for_dataset``: untrained, or with ImageNet weights), or from a model in hand
(the window's copy of a run's model). Its input size, decode geometry and normalisation come
from ``train.setup`` and from the checkpoint, the very decisions training made, so a dropped
image reaches the network as the training images did; ``decode_photo`` says how it got there and
``input_warnings`` what makes the answer doubtful. ``predict_files`` classifies files and folders
in batches, with a verdict for every file that cannot be used, progress and cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch import nn

from .data.decode import IMAGE_EXTENSIONS
from .data.transforms import Prepared, Preprocess, prepare_image
from .errors import counted
from .inspect import ActivationRecorder, as_maps, eval_mode, first_tensor, layer_maps
from .inspect.hooks import RECORDING_BUDGET, Budget
from .runs import regular_file
from .threads import seeded
from .train.checkpointing import CheckpointError, build_from_checkpoint, load_checkpoint
from .train.setup import build_model, resolve_input_size

__all__ = ["UNTRAINED", "Prediction", "Predictor", "checkpoint_of", "image_files", "input_warnings", "is_merge", "load_predictor",
           "predict_files"]

UNTRAINED = "This network is untrained: its scores come from random weights and mean nothing yet."

BATCH = 64
"""Images a folder is classified in at a time."""


def checkpoint_of(run_or_file: str | Path, which: str = "best") -> Path:
    """A run folder's ``best.pt`` (or ``last.pt``), or the file itself."""
    path = Path(run_or_file)
    if path.is_dir():
        path = path / f"{which}.pt"
        if regular_file(path) is None:  # a link or a special file in a run folder is refused, never read
            raise CheckpointError(f"{path.parent} has no {which}.pt: is it a run folder of a run that finished an epoch?")
    return path


class Predictor:
    """A model plus what it needs to classify any image: classes, input size, the decoding of a
    file into the dataset's form (channels, native size, background, crop) and normalisation."""

    def __init__(self, model: nn.Module, classes: list[str], input_shape: tuple[int, int, int],
                 native_size: tuple[int, int], mean, std, dark_background: bool = False, crop: bool = False):
        self.model = model
        self.classes = list(classes)
        self.input_shape = tuple(input_shape)
        self.native_size = tuple(native_size)
        self.dark_background = dark_background
        self.crop = crop
        self.preprocess = Preprocess(self.input_shape[1:], tuple(mean), tuple(std))

    # -- the ways to make one ----------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, run_or_file: str | Path, which: str = "best", device: str = "cpu") -> "Predictor":
        """The network of a run's checkpoint (``weights_only`` loading, checksum checked)."""
        return cls.from_payload(load_checkpoint(checkpoint_of(run_or_file, which)), device)

    @classmethod
    def from_payload(cls, payload: dict, device: str = "cpu") -> "Predictor":
        """The network of a checkpoint already read (with ``load_checkpoint``)."""
        with seeded():  # building draws initial weights: never from the stream a run may be using
            model = build_from_checkpoint(payload)
        native = tuple(payload.get("native_size") or payload["input_size"][1:])
        return cls(model.to(device).eval(), payload["classes"], tuple(payload["input_size"]), native, payload["mean"],
                   payload["std"], dark_background=bool(payload.get("dark_background")), crop=bool(payload.get("crop")))

    @classmethod
    def for_dataset(cls, model_name: str, info, input_size: int | None = None, pretrained: bool = False,
                    load_weights: bool = False, weights_file: str | None = None) -> "Predictor":
        """``model_name`` built for a dataset (a ``DatasetInfo``), as a run of it would start:
        with ``pretrained`` at the ImageNet weights' input size (their weights and normalisation
        too when ``load_weights``, which may download them). Untrained weights come from a fixed
        seed, so the same model shows the same predictions."""
        shape = resolve_input_size(model_name, info, input_size, pretrained_weights=pretrained)
        with seeded():
            built = build_model(model_name, info, shape[1], pretrained and load_weights, weights_file)
        return cls(built.model.eval(), info.class_names, built.input_shape, info.native_size, built.mean, built.std,
                   info.dark_background, info.crop)

    # -- using it ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, image: Image.Image | str | Path | torch.Tensor) -> torch.Tensor:
        """The network's input (``C×H×W``) for an image file, a PIL image or a [0, 1] tensor."""
        if not isinstance(image, torch.Tensor):
            image = self.decode(image)
        return self.preprocess.to(self.device)(image.unsqueeze(0).to(self.device))[0]

    def decode(self, image: Image.Image | str | Path) -> torch.Tensor:
        """A file or PIL image in the dataset's own form (``C×H×W`` in [0, 1] at its native size)."""
        return self.decode_photo(image).tensor

    def decode_photo(self, image: Image.Image | str | Path, fit: str | None = None,
                     invert: bool | None = None) -> Prepared:
        """``decode``, with the photo as it was and every step taken (``fit``: stretch, pad or crop;
        ``invert``: ``None`` for the automatic guess)."""
        return prepare_image(image, self.input_shape[0], self.native_size, self.dark_background, self.crop,
                             fit, invert)

    @torch.no_grad()
    def classify_batch(self, images: list[torch.Tensor], k: int = 3) -> list[list[tuple[str, float]]]:
        """Top-``k`` for several decoded images (the dataset's form), in one forward pass."""
        batch = torch.stack(images).to(self.device)
        with eval_mode(self.model):
            logits = first_tensor(self.model(self.preprocess.to(self.device)(batch)))
        probs = torch.softmax(logits.float(), 1).cpu()
        values, indices = probs.topk(min(k, probs.shape[1]), dim=1)
        return [[(self.classes[i], float(v)) for v, i in zip(vs, ix)] for vs, ix in zip(values.tolist(), indices.tolist())]

    @torch.no_grad()
    def look(self, image, layers=(), k: int = 3, every_layer: bool = False,
             budget: int = RECORDING_BUDGET, reuse=()) -> tuple[list[tuple[str, float]], dict[str, object]]:
        """Top-``k`` and the maps of ``layers`` (``channels×h×w``; for a layer that did not run,
        a message instead), from one forward pass in eval mode. ``every_layer``: the maps of every module
        that ran, within ``budget`` bytes (a module past it maps to ``None``: record it again when asked),
        copied into the tensors ``reuse`` (an earlier recording's that nobody holds) where they fit."""
        layers = list(dict.fromkeys(filter(None, layers)))
        known = {name for name, _ in self.model.named_modules()}
        names = None if every_layer else [n for n in layers if n in known]
        keep = {"keep": Budget(budget, reuse)} if every_layer else {}  # else the recorder's own: a clone of each
        with eval_mode(self.model), ActivationRecorder(self.model, names, **keep) as recorder:
            logits = first_tensor(self.model(self.prepare(image).unsqueeze(0)))
        probs = self._softmax(logits)
        values, indices = probs.topk(min(k, len(probs)))
        top = [(self.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
        maps = {name: None if kept is None else as_maps(kept[0]) for name, kept in recorder.outputs.items()}
        for name in layers:
            if name not in recorder.outputs and not is_merge(name):  # a merge's maps: ``merge_maps``
                maps[name] = f"{name}: this layer did not run for this input"
        return top, maps

    @torch.no_grad()
    def merge_maps(self, image, name: str) -> torch.Tensor | str:
        """The output of a merge of the dataflow graph (``"layer1.0:add"``: the residual sum before its ReLU),
        from one pass of ``inspect.graph.capture``; or why there is none."""
        from .inspect.graph import capture

        graph, kept = capture(self.model, self.prepare(image).unsqueeze(0), keep=lambda t: t.detach().clone(),
                              macs=False)
        node = next((n for n in graph.nodes if n.name == name), None)
        if node is None or kept.get(node.index) is None:
            return f"{name}: this merge did not happen for this input"
        return as_maps(kept[node.index][0])

    def probabilities(self, image) -> torch.Tensor:
        with torch.no_grad(), eval_mode(self.model):
            return self._softmax(first_tensor(self.model(self.prepare(image).unsqueeze(0))))

    @staticmethod
    def _softmax(logits: torch.Tensor) -> torch.Tensor:
        """One image's class probabilities from a batch of one's logits."""
        return torch.softmax(logits[0].float(), 0).cpu()

    def top_k(self, image, k: int = 3) -> list[tuple[str, float]]:
        return self.look(image, (), k)[0]

    def feature_maps(self, image, layer: str) -> torch.Tensor:
        return layer_maps(self.model, self.prepare(image), [layer])[layer]

    def layer_maps(self, image, layers: list[str]) -> dict[str, torch.Tensor]:
        """Several layers' maps from one forward pass (a layer that did not run: ``ValueError``)."""
        return layer_maps(self.model, self.prepare(image), layers)


def is_merge(name: str | None) -> bool:
    """Whether a layer name is a merge node's ("layer1.0:add"): module names never hold a colon."""
    return bool(name) and ":" in name


def load_predictor(run_or_file: str | Path, which: str = "best", device: str = "cpu") -> Predictor:
    return Predictor.from_checkpoint(run_or_file, which, device)


def image_files(paths: list[str | Path], left_out: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, recursively). The other
    files found in folders go to ``left_out`` as (path, why)."""
    out: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            for p in sorted(item.rglob("*")):
                if p.is_symlink() and not p.exists():
                    why = "a broken link"
                elif not p.is_file():
                    continue
                elif p.suffix.lower() in IMAGE_EXTENSIONS:
                    out.append(p)
                    continue
                else:
                    why = f"not an image file ({p.suffix or 'no extension'})"
                if left_out is not None:
                    left_out.append((p, why))
        else:
            out.append(item)
    return out


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    """Why the file could not be classified; then ``top`` is empty."""
    truth: str | None = None
    """The class named by the file's folder, when it is one of the model's classes."""
    thumbnail: Image.Image | None = None
    """The photo, small (when asked for)."""


def predict_files(predictor: Predictor, paths: list[str | Path], k: int = 3,
                  progress: Callable[[int, int, str], None] | None = None,
                  cancelled: Callable[[], bool] | None = None, batch_size: int = BATCH,
                  finished: Callable[[list[Prediction]], None] | None = None,
                  thumbnail: int = 0) -> list[Prediction]:
    """Top-``k`` for every image file (folders expanded), classified ``batch_size`` at a time, in the
    order found. ``progress(done, total, name)`` after each file; ``finished(predictions)`` with those
    completed since it was last called (unusable files among them), after each batch. It stops early
    (with what it has) once ``cancelled()`` says so. ``thumbnail``: keep each photo at that size."""
    left_out: list[tuple[Path, str]] = []
    files = image_files(paths, left_out)
    results = [Prediction(str(p), error=f"skipped: {why}") for p, why in left_out]
    classes = set(predictor.classes)
    pending: list[tuple[Prediction, torch.Tensor]] = []
    told = 0

    def flush():
        nonlocal told
        if pending:
            for (prediction, _), top in zip(pending, predictor.classify_batch([t for _, t in pending], k)):
                prediction.top = top
            pending.clear()
        if finished is not None and told < len(results):
            finished(results[told:])
            told = len(results)

    for done, path in enumerate(files, start=1):
        if cancelled is not None and cancelled():
            break
        prediction = Prediction(str(path), truth=path.parent.name if path.parent.name in classes else None)
        results.append(prediction)
        if not path.is_file():
            prediction.error = "no such file"
        else:
            try:
                prepared = predictor.decode_photo(path)
            except Exception as exc:  # a corrupt or odd file is reported and the others go on
                prediction.error = str(exc) or type(exc).__name__
            else:
                if thumbnail:
                    prepared.photo.thumbnail((thumbnail, thumbnail), Image.Resampling.BILINEAR)
                    prediction.thumbnail = prepared.photo
                pending.append((prediction, prepared.tensor))
        if len(pending) >= batch_size:
            flush()
        if progress is not None:
            progress(done, len(files), path.name)
    flush()
    return results


def input_warnings(predictor: Predictor, prepared: Prepared, top: list[tuple[str, float]] | None = None,
                   trained: bool = True) -> list[str]:
    """Plain words on what makes this image's answer doubtful: an image unlike the training data (colour on
    a grey set, shrunk to a few pixels, squashed, of unclear polarity), untrained weights, and a confidence
    that such an image does not support."""
    out: list[str] = []
    h, w = predictor.native_size
    sw, sh = prepared.source_size
    if prepared.grey and prepared.colourfulness > 0.04:
        out.append(f"A colour photo on a model of grey images: it sees the photo's luminance only, and it learnt "
                   f"from {'grey drawings' if predictor.dark_background else 'grey images'}.")
    shrink = (sw * sh) / max(1, h * w)
    linear = shrink ** 0.5  # a drawn digit of 128 px brought to 8 is normal (16×); a 512-px photo is not (64×)
    if h * w <= 32 * 32 and (linear >= 32 or (linear >= 8 and prepared.colourfulness > 0.04)):
        out.append(f"Shrunk from {sw}×{sh} to {w}×{h}: each input pixel averages about "
                   f"{counted(round(shrink), 'pixel')} of the photo, so fine detail is gone.")
    ratio = max(sw, sh) / max(1, min(sw, sh))
    if prepared.fit == "stretch" and ratio >= 1.34 and h == w:
        out.append(f"Stretched from {sw}×{sh} to a square: shapes are squashed. Pad or Crop keeps them.")
    if prepared.guess is not None and abs(prepared.light_share - 0.5) <= 0.1:
        out.append("Light and dark cover about the same area, so whether to invert it is a guess: "
                   "check the network's input, and choose Invert or Don't invert.")
    if not trained:
        out.append(UNTRAINED)
    unlike = bool(out) and trained
    if top and unlike and top[0][1] >= 0.5:
        out.append(f"{top[0][1]:.0%} is not a confidence to trust here: networks are often confidently wrong "
                   "on images unlike the ones they learnt from.")
    return out
