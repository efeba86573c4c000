"""A run's training time-lapse: at its start and after every epoch, the probe image (the dataset's first test
image) goes through the network and the frame (``inspect.timelapse.capture``: maps at every stage, the first
convolution's kernels, Grad-CAM for the predicted class, the probabilities) is kept in ``timelapse/`` inside
the run folder — tens of kilobytes an epoch, not a checkpoint. With ``keep_epoch_weights`` the epoch's whole
weights are kept beside it too (``weights-NNN.pt``), when the user asks for them.

Files are checksummed checkpoints (``checkpointing.save_checkpoint``), read with ``weights_only``; a damaged
frame is left out with a note, never a reason to lose the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import UserError
from ..evaluate import to_float
from ..events import Notice
from ..inspect.timelapse import capture, frame_layers
from .callbacks import Callback
from .checkpointing import CheckpointError, CheckpointSaver, load_checkpoint, save_checkpoint

FOLDER = "timelapse"
PROBE = "probe.pt"


def frame_name(epoch: int) -> str:
    return f"epoch-{epoch:03d}.pt"


def probe_of(bundle) -> tuple[torch.Tensor | None, int, str]:
    """The probe: the dataset's first test image (else its first training image) as stored (``C×H×W``), its
    label and where it comes from."""
    for name, split in (("test", bundle.test), ("validation", bundle.val), ("training", bundle.train)):
        if len(split):
            image, label = split[0]
            return image, int(label), f"{name} image 0 (label {bundle.classes[int(label)]})"
    return None, -1, ""


@dataclass
class Frame:
    epoch: int
    maps: dict[str, torch.Tensor]
    """Layer → ``C×h×w`` (the first ``MAX_CHANNELS`` channels), float."""
    probs: torch.Tensor
    predicted: int
    cam: torch.Tensor | None = None
    """``H×W`` in [0, 1] at the network's input size, for ``predicted``."""
    cam_layer: str = ""
    filters: torch.Tensor | None = None
    """The first convolution's kernels (the first ``MAX_FILTERS``), ``out × in × k × k``."""
    filters_layer: str = ""
    weights: bool = False
    """The epoch's whole weights were kept too (``weights-NNN.pt``)."""


@dataclass
class Timelapse:
    run_dir: str
    image: torch.Tensor | None = None
    """The probe as the dataset holds it (``C×H×W`` in [0, 1])."""
    label: int = -1
    caption: str = ""
    classes: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def frame(self, epoch: int) -> Frame | None:
        return next((f for f in self.frames if f.epoch == epoch), None)


class TimelapseRecorder(Callback):
    """Keeps a frame at the run's start (epoch 0, a new run only) and after every epoch. Never stops a run:
    a frame that cannot be taken or written becomes one notice."""

    def __init__(self, keep_weights: bool = False):
        self.keep_weights = keep_weights
        self.x: torch.Tensor | None = None
        self.layers: list[str] = []
        self.first: str | None = None
        self.failed = False

    def on_run_start(self, trainer, event) -> None:
        self._safely(trainer, lambda: self._start(trainer, event.start_epoch))

    def on_epoch_end(self, trainer, event) -> None:
        if self.x is not None:
            self._safely(trainer, lambda: self._keep(trainer, event.epoch, event.val_acc))

    def _safely(self, trainer, work) -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a time-lapse is never worth a run
            self.x = None
            if not self.failed:
                self.failed = True
                message = str(exc) if isinstance(exc, (UserError, OSError)) else f"{type(exc).__name__}: {exc}"
                trainer._emit(Notice(f"The training time-lapse stopped keeping frames: {message}"))

    def _start(self, trainer, start_epoch: int) -> None:
        folder = trainer.store.dir / FOLDER
        folder.mkdir(exist_ok=True)
        image, label, caption = probe_of(trainer.bundle)
        if image is None:
            return
        probe = folder / PROBE
        if probe.exists():  # a resumed run goes on with its own probe
            kept = load_checkpoint(probe, required=("format", "image"))
            image, label, caption = kept["image"], int(kept.get("label", -1)), str(kept.get("caption", ""))
        x = trainer.preprocess(to_float(image[None].to(trainer.device)))
        self.x = x.contiguous(memory_format=torch.channels_last) if trainer.config.channels_last else x
        self.layers, self.first = frame_layers(trainer.model, self.x)
        if not probe.exists():
            save_checkpoint(probe, {"image": image.clone(), "label": label, "caption": caption,
                                    "classes": list(trainer.bundle.classes), "layers": list(self.layers),
                                    "model": trainer.config.model})
        if start_epoch == 1:
            self._keep(trainer, 0)

    def _keep(self, trainer, epoch: int, val_acc: float | None = None) -> None:
        frame = capture(trainer.model, self.x, self.layers, self.first)
        folder = trainer.store.dir / FOLDER
        save_checkpoint(folder / frame_name(epoch), {"epoch": epoch, **frame})
        if self.keep_weights and epoch:
            # A whole checkpoint, as best.pt is: the predictor opens it like any other.
            save_checkpoint(folder / f"weights-{epoch:03d}.pt", CheckpointSaver.payload(trainer, epoch, val_acc))


def read_timelapse(run_dir: str | Path, known: Timelapse | None = None) -> Timelapse:
    """The frames a run kept, in epoch order; damaged ones are left out and named in ``notes``. With ``known``
    (an earlier reading of the same run), only the frames it lacks are read: a live run costs one file an epoch."""
    from ..runs import regular_file

    folder = Path(run_dir) / FOLDER
    out = Timelapse(str(run_dir))
    if not folder.is_dir() or folder.is_symlink():
        out.notes.append("This run kept no time-lapse (it was trained before the workbench kept one, or with "
                         "--no-timelapse).")
        return out
    try:
        probe = load_checkpoint(regular_file(folder / PROBE, missing_ok=False), required=("format", "image"))
        image = probe["image"]
        out.image = image.float() / 255 if image.dtype == torch.uint8 else image.float()
        out.label, out.caption = int(probe.get("label", -1)), str(probe.get("caption", ""))
        out.classes, out.layers = list(probe.get("classes", [])), list(probe.get("layers", []))
    except (CheckpointError, OSError, UserError) as exc:
        out.notes.append(f"The probe image could not be read: {exc}")
    have = {f.epoch: f for f in known.frames} if known is not None and known.run_dir == str(run_dir) else {}
    for path in sorted(folder.glob("epoch-*.pt")):
        number = path.stem.partition("-")[2]
        if number.isdigit() and int(number) in have:
            out.frames.append(have[int(number)])
            continue
        try:
            kept = load_checkpoint(regular_file(path, missing_ok=False), required=("format", "epoch", "maps", "probs"))
            maps = {str(k): v.float() for k, v in kept["maps"].items() if isinstance(v, torch.Tensor)}
            epoch = int(kept["epoch"])
            out.frames.append(Frame(
                epoch, maps, kept["probs"].float(), int(kept.get("predicted", 0)),
                kept["cam"].float() if isinstance(kept.get("cam"), torch.Tensor) else None, str(kept.get("cam_layer", "")),
                kept["filters"].float() if isinstance(kept.get("filters"), torch.Tensor) else None,
                str(kept.get("filters_layer", "")), (folder / f"weights-{epoch:03d}.pt").is_file()))
        except (CheckpointError, OSError, UserError, ValueError, TypeError, AttributeError) as exc:
            out.notes.append(f"{path.name} was left out: {exc}")
    out.frames.sort(key=lambda f: f.epoch)
    return out
