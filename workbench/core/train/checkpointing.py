"""Checkpoints: plain dicts of tensors and primitives, written atomically, checksummed, and read
with ``torch.load(weights_only=True)``, so opening a file from elsewhere never runs its code.

Writing goes through ``paths.atomic_write``: a process killed at any moment leaves the previous
checkpoint whole and no temporary file.

Reading: every way a file can be wrong gets its own ``CheckpointError`` message: missing,
empty, truncated or random bytes (corrupt), pickled code (unsafe), another program's file,
changed after saving (checksum), or weights that do not fit the network.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from .. import paths
from ..data.decode import MAX_IMAGE_SIZE
from ..errors import UserError, counted
from .callbacks import Callback

FORMAT = "cnn-workbench/1"
REQUIRED = ("format", "model", "num_classes", "in_channels", "input_size", "classes", "state_dict")


class CheckpointError(UserError, RuntimeError):
    """A file is not a checkpoint this app can use; the message says why."""


# -- checksums -----------------------------------------------------------------------------
def checksum(value) -> str:
    """SHA-256 over a payload's content: tensors by dtype, shape and bytes, everything else by
    ``repr``, dict keys in sorted order. Independent of how ``torch.save`` lays out the file."""
    digest = hashlib.sha256()

    def feed(v):
        if isinstance(v, torch.Tensor):
            t = v.detach().to("cpu").contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(v, dict):
            digest.update(b"{")
            for key in sorted(v, key=repr):
                digest.update(repr(key).encode())
                feed(v[key])
            digest.update(b"}")
        elif isinstance(v, (list, tuple)):
            digest.update(b"[")
            for item in v:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(repr(v).encode())

    feed(value)
    return digest.hexdigest()


# -- writing -------------------------------------------------------------------------------
def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` (with the format marker and a checksum) so that ``path`` always holds
    either the old checkpoint or the new one, whole (``paths.atomic_write``)."""
    body = {k: v for k, v in payload.items() if k not in ("format", "checksum")}
    payload = {"format": FORMAT, **body, "checksum": checksum(body)}
    buffer = io.BytesIO()  # serialised first: a full disk then fails as an OSError of the write, not inside torch
    torch.save(payload, buffer)
    return paths.atomic_write_bytes(path, buffer.getbuffer())


# -- reading -------------------------------------------------------------------------------
def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", verify: bool = True,
                    required: tuple[str, ...] = REQUIRED) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path.name} is empty (0 bytes): the file is corrupt, probably from an interrupted copy")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "GLOBAL" in text or "Unsupported global" in text or "Unsupported class" in text:
            raise CheckpointError(
                f"{path.name} holds Python objects besides weights, so it cannot be loaded safely "
                f"(loading it could run code). Only weights and plain values are accepted.") from exc
        kind = "truncated" if zipfile.is_zipfile(path) is False and _looks_like_zip_start(path) else "corrupt"
        raise CheckpointError(f"{path.name} is {kind}: it is not a readable PyTorch file ({size:,} bytes). "
                              f"Copy it again or pick another checkpoint.") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = " It looks like a bare state_dict: use it as --weights with --pretrained." \
            if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()) else ""
        raise CheckpointError(f"{path.name} was not written by CNN Workbench (no '{FORMAT}' marker).{hint}")
    missing = [k for k in required if k not in payload]
    if missing:
        raise CheckpointError(f"{path.name} lacks {', '.join(missing)}")
    if "state_dict" in required:
        _check_shape(payload, path.name)
    if verify and "checksum" in payload:
        body = {k: v for k, v in payload.items() if k not in ("format", "checksum")}
        if checksum(body) != payload["checksum"]:
            raise CheckpointError(f"{path.name} changed after it was saved (its checksum does not match): "
                                  f"the file is damaged. Use another copy or retrain.")
    return payload


def _check_shape(payload: dict, name: str) -> None:
    """What a checkpoint says about its network must be sane before anything is built from it."""
    size = payload["input_size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 3 and all(isinstance(v, int) for v in size)):
        raise CheckpointError(f"{name} states an input size that is not three whole numbers: {str(size)[:60]}")
    if size[0] not in (1, 3) or not all(1 <= v <= MAX_IMAGE_SIZE for v in size[1:]):
        raise CheckpointError(f"{name} claims an input of {size[1]}x{size[2]} with {counted(size[0], 'channel')}; "
                              f"this app takes 1 or 3 channels and at most {MAX_IMAGE_SIZE}x{MAX_IMAGE_SIZE}: the "
                              f"file is damaged or not for this app.")
    classes, count = payload["classes"], payload["num_classes"]
    if not (isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes)) or \
            not isinstance(count, int) or count != len(classes) or count < 1:
        names = len(classes) if isinstance(classes, (list, tuple)) else "no"
        raise CheckpointError(f"{name} lists its classes wrongly ({count!r} classes, {names} names)")


def _looks_like_zip_start(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def check_compatible(payload: dict, *, model: str | None = None, num_classes: int | None = None,
                     in_channels: int | None = None, input_size=None, name: str = "The checkpoint") -> None:
    """One clear ``CheckpointError`` when a checkpoint does not fit what it is loaded for."""
    problems = []
    if model is not None and payload["model"] != model:
        problems.append(f"it is a {payload['model']}, not a {model}")
    if num_classes is not None and payload["num_classes"] != num_classes:
        problems.append(f"it has {payload['num_classes']} classes, not {num_classes}")
    if in_channels is not None and payload["in_channels"] != in_channels:
        problems.append(f"it takes {counted(payload['in_channels'], 'channel')}, not {in_channels}")
    if input_size is not None and list(payload["input_size"]) != list(input_size):
        problems.append(f"it takes input {'x'.join(map(str, payload['input_size']))}, "
                        f"not {'x'.join(map(str, input_size))}")
    if problems:
        raise CheckpointError(f"{name} does not fit: {'; '.join(problems)}.")


def build_from_checkpoint(payload: dict):
    """The model a checkpoint describes, with its weights loaded."""
    import models

    if payload["model"] not in models.list_models():
        raise CheckpointError(f"The checkpoint is for a model this version does not know: {payload['model']!r}.")
    try:
        model = models.create_model(payload["model"], num_classes=payload["num_classes"],
                                    in_channels=payload["in_channels"], input_size=tuple(payload["input_size"]))
    except Exception as exc:
        raise CheckpointError(f"The checkpoint describes a {payload['model']} that cannot be built: {exc}") from exc
    if payload.get("transform_input") and hasattr(model, "transform_input"):
        model.transform_input = True  # started from Google's weights (see models._pretrained)
    load_weights(model, payload["state_dict"], payload["model"])
    return model


def load_weights(model: torch.nn.Module, state_dict: dict, model_name: str = "the model") -> None:
    """``load_state_dict`` with one readable message instead of a wall of key and shape errors."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"The weights are not those of {model_name}: {len(missing)} of its tensors are missing "
            f"(first: {missing[:1] or '-'}), {len(unexpected)} are foreign (first: {unexpected[:1] or '-'}). "
            f"The checkpoint is of another architecture.")
    shapes = [(k, tuple(state_dict[k].shape), tuple(v.shape)) for k, v in own.items()
              if tuple(state_dict[k].shape) != tuple(v.shape)]
    if shapes:
        key, theirs, ours = shapes[0]
        raise CheckpointError(
            f"The weights do not fit {model_name}: {len(shapes)} tensors have other shapes (first: {key} is "
            f"{theirs} in the file, {ours} in the model). The checkpoint was trained for another class count, "
            f"input channels or size.")
    model.load_state_dict(state_dict)


def rng_state(device: torch.device) -> dict:
    """This process's random generators (torch, Python, NumPy, the CUDA device's) as plain values."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [keys.tolist(), int(pos), int(has_gauss), float(gauss)]}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuple_state(state["python"]))
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _tuple_state(state):
    return tuple(_tuple_state(s) if isinstance(s, list) else s for s in state) if isinstance(state, (list, tuple)) \
        else state


class CheckpointSaver(Callback):
    """Owns the run's best validation score and writes the checkpoints: ``best.pt`` (weights)
    when an epoch beats the best, ``last.pt`` (everything a resume needs) after every epoch, both
    atomically. An epoch is better with a higher validation accuracy; at equal accuracy, with a
    lower validation loss. The score is part of ``last.pt``, so a resumed run keeps its best.

    Every process of a torchrun job keeps the score (all of them test with the best weights);
    only the one with ``write`` (rank 0) writes files."""

    def __init__(self, write: bool = True):
        self.write = write
        self.best_acc, self.best_loss, self.best_epoch = -1.0, math.inf, 0

    def on_run_start(self, trainer, event) -> None:
        """A new run keeps its convolutions' initial kernels (``INITIAL_FILTERS``), so the filter view can show
        them beside the trained ones."""
        if self.write and event.start_epoch == 1:
            save_initial_filters(trainer.store.dir / INITIAL_FILTERS, trainer.config.model, trainer.model)

    def judge(self, epoch: int, val_acc: float, val_loss: float) -> bool:
        """Whether this epoch is the best so far (and if so, it becomes the best)."""
        better = val_acc > self.best_acc or (val_acc == self.best_acc and val_loss < self.best_loss)
        if better:
            self.best_acc, self.best_loss, self.best_epoch = val_acc, val_loss, epoch
        return better

    def on_epoch_end(self, trainer, event) -> None:
        """Every rank's random state was gathered just before, at the epoch's end."""
        if not self.write:
            return
        if event.is_best:
            save_checkpoint(trainer.store.best_path, self.payload(trainer, event.epoch, event.val_acc))
        save_checkpoint(trainer.store.last_path, {
            **self.payload(trainer, event.epoch, event.val_acc),
            "optimizer": trainer.optimizer.state_dict(),
            "scheduler": trainer.scheduler.state_dict(),
            "scaler": trainer.scaler.state_dict(),
            "rng": trainer._epoch_rngs,
            "global_step": trainer.global_step,
            "best_val_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "callbacks": {type(c).__name__: c.state_dict() for c in trainer.callbacks if c.state_dict()},
        })

    @staticmethod
    def payload(trainer, epoch: int, val_acc: float) -> dict:
        """What ``best.pt`` holds: the weights and all it takes to use them on any image."""
        bundle = trainer.bundle
        return {
            "model": trainer.config.model,
            "dataset": trainer.config.dataset,
            "num_classes": bundle.num_classes,
            "in_channels": bundle.in_channels,
            "input_size": list(trainer.input_size),
            "classes": list(bundle.classes),
            "mean": trainer.norm[0],
            "std": trainer.norm[1],
            "native_size": list(bundle.native_size),
            "dark_background": bool(bundle.dark_background),
            "crop": bool(bundle.crop),
            "epoch": epoch,
            "val_acc": val_acc,
            "transform_input": bool(getattr(trainer.model, "transform_input", False)),
            "state_dict": trainer.model.state_dict(),
        }

    def state_dict(self) -> dict:
        return {"best_val_acc": self.best_acc, "best_val_loss": self.best_loss, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best_acc = float(state.get("best_val_acc", -1.0))
        self.best_loss = float(state.get("best_val_loss", math.inf))
        self.best_epoch = int(state.get("best_epoch", 0))


__all__ = ["CheckpointError", "CheckpointSaver", "FORMAT", "build_from_checkpoint", "check_compatible", "checksum",
           "load_checkpoint", "load_weights", "rng_state", "save_checkpoint", "set_rng_state"]


# -- the kernels a run started from --------------------------------------------------------
INITIAL_FILTERS = "init_filters.pt"
INITIAL_BUDGET = 16_000_000
"""Convolution weights kept at a run's start: all of them up to this many values (ResNet-18 has 11 M),
else the first convolution's alone."""


def save_initial_filters(path: str | Path, model_name: str, model: torch.nn.Module) -> Path | None:
    kernels = {name: m.weight.detach().float().cpu().clone() for name, m in model.named_modules()
               if isinstance(m, torch.nn.Conv2d) or (hasattr(m, "connections") and getattr(m, "weight", None) is not None)}
    if not kernels:
        return None
    if sum(w.numel() for w in kernels.values()) > INITIAL_BUDGET:
        first = next(iter(kernels))
        kernels = {first: kernels[first]}
    return save_checkpoint(path, {"model": model_name, "epoch": 0, "filters": kernels})


def load_initial_filters(run_dir: str | Path) -> dict[str, torch.Tensor]:
    """The kernels a run started from (``{}`` when it kept none: a run from before they were kept)."""
    from ..runs import regular_file

    path = regular_file(Path(run_dir) / INITIAL_FILTERS)
    if path is None:
        return {}
    payload = load_checkpoint(path, required=("format", "model", "filters"))
    filters = payload["filters"]
    if not isinstance(filters, dict) or not all(isinstance(v, torch.Tensor) for v in filters.values()):
        raise CheckpointError(f"{INITIAL_FILTERS} holds no kernels")
    return filters
