"""Checkpoints: plain dicts of tensors and primitives, written atomically and read with
``torch.load(weights_only=True)``, so opening a file from elsewhere never runs its code."""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path

import torch

FORMAT = "cnn-workbench/1"
REQUIRED = ("format", "model", "num_classes", "in_channels", "input_size", "classes", "state_dict")


class CheckpointError(RuntimeError):
    """A file is not a checkpoint this app can use; the message says why."""


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write to a temporary file in the same folder, then rename over ``path``: a crash
    mid-write leaves the previous checkpoint whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **payload}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name} holds Python objects besides weights, so it cannot be loaded safely "
            f"(loading it could run code). Only weights and plain values are accepted."
        ) from exc
    except Exception as exc:  # corrupt or truncated
        raise CheckpointError(f"{path.name} is not a readable checkpoint: {str(exc).splitlines()[0]}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} was not written by CNN Workbench (no '{FORMAT}' marker)")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(f"{path.name} lacks {', '.join(missing)}")
    return payload


def build_from_checkpoint(payload: dict):
    """The model a checkpoint describes, with its weights loaded."""
    import models

    model = models.create_model(
        payload["model"],
        num_classes=payload["num_classes"],
        in_channels=payload["in_channels"],
        input_size=tuple(payload["input_size"]),
    )
    if payload.get("transform_input") and hasattr(model, "transform_input"):
        model.transform_input = True  # started from Google's weights (see models._pretrained)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"The weights do not fit {payload['model']}: {str(exc).splitlines()[0]}") from exc
    return model
