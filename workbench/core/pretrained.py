"""Starting from ImageNet: find torchvision's weights (its cache, a download with progress, or a
file the user picks), load them safely and set the model up for transfer learning.

Two modes: *finetune* trains every layer, the pretrained backbone at a tenth of the new head's
learning rate; *extract* freezes the backbone, BatchNorm statistics included, and trains only the
new head (a linear classifier on ImageNet features).
"""

from __future__ import annotations

import types
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from models._pretrained import TORCHVISION_WEIGHTS, build_pretrained

from . import paths
from .errors import UserError

__all__ = ["PretrainedError", "WeightsInfo", "weights_for", "cache_dir", "fetch", "load_weights_file",
           "pretrained_model", "freeze_backbone", "param_groups", "has_weights"]

Progress = Callable[[int, int, str], None]


class PretrainedError(UserError, RuntimeError):
    """Pretrained weights could not be had or used; the message says what to do."""


@dataclass(frozen=True)
class WeightsInfo:
    model: str
    url: str
    crop_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def weights_for(model: str) -> WeightsInfo:
    """torchvision's default ImageNet weights for a zoo model, with their preprocessing."""
    if model not in TORCHVISION_WEIGHTS:
        raise PretrainedError(f"{model} has no ImageNet weights in torchvision; models that have them: "
                              f"{', '.join(sorted(TORCHVISION_WEIGHTS))}.")
    from torchvision.models import get_model_weights

    weights = get_model_weights(TORCHVISION_WEIGHTS[model]).DEFAULT
    t = weights.transforms()
    return WeightsInfo(model, weights.url, int(t.crop_size[0]), int(t.resize_size[0]), tuple(t.mean), tuple(t.std))


def cache_dir() -> Path:
    """torchvision's download folder: ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch(info: WeightsInfo, progress: Progress | None = None, chunk: int = 1 << 20) -> Path:
    """The weights file in torchvision's cache, downloaded first if it is not there."""
    target = cache_dir() / info.file_name
    if target.is_file() and target.stat().st_size > 0:
        return target
    try:
        with urllib.request.urlopen(info.url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0)
            data = bytearray()
            while True:
                block = response.read(chunk)
                if not block:
                    break
                data += block
                if progress:
                    progress(len(data), total, info.file_name)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PretrainedError(
            f"Could not download the ImageNet weights for {info.model} ({exc}). Without the internet, copy "
            f"{info.file_name} (from {info.url}) into {target.parent}, or choose the file you have: the "
            f"form's Weights button in the window, --weights FILE on the command line."
        ) from exc
    if total and len(data) != total:
        raise PretrainedError(f"The download of {info.file_name} stopped at {len(data):,} of {total:,} bytes; try again.")
    paths.atomic_write_bytes(target, bytes(data))
    return target


def load_weights_file(path: str | Path) -> dict:
    """A state dict from a ``.pth`` file (torchvision's format, or a CNN Workbench checkpoint),
    read with ``weights_only=True``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PretrainedError(f"No weights file at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PretrainedError(f"{path.name} is not a weights file that can be loaded safely: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise PretrainedError(f"{path.name} does not hold a model's weights (a dict of tensors)")
    return data


def pretrained_model(name: str, num_classes: int, in_channels: int, weights_file: str | None = None,
                     progress: Progress | None = None) -> nn.Module:
    """The zoo model with ImageNet weights and a new head; ``model.head_parameters`` lists the
    parameters that start from scratch."""
    info = weights_for(name)
    path = Path(weights_file) if weights_file else fetch(info, progress)
    state = load_weights_file(path)
    try:
        model, head = build_pretrained(name, state, num_classes, in_channels, info.crop_size)
    except RuntimeError as exc:
        raise PretrainedError(f"{path.name} does not fit {name}: {str(exc).splitlines()[0]}") from exc
    model.head_parameters = head
    return model


def _frozen_train(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)


def freeze_backbone(model: nn.Module) -> None:
    """Feature extraction: only the new head learns; BatchNorm layers keep their ImageNet statistics
    (they stay in eval mode whatever ``model.train()`` says)."""
    head = {id(p) for p in model.head_parameters}
    for p in model.parameters():
        p.requires_grad_(id(p) in head)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train = types.MethodType(_frozen_train, m)
            m.eval()


def param_groups(model: nn.Module, lr: float, mode: str) -> list[dict]:
    """Optimiser groups: the head at ``lr``; the backbone at ``lr / 10`` (finetune) or not at all
    (extract)."""
    head = {id(p) for p in model.head_parameters}
    head_params = [p for p in model.parameters() if id(p) in head]
    groups = [{"params": head_params, "lr": lr, "name": "head"}]
    if mode == "finetune":
        groups.insert(0, {"params": [p for p in model.parameters() if id(p) not in head], "lr": lr / 10,
                          "name": "backbone"})
    return groups


def has_weights(name: str) -> bool:
    return name in TORCHVISION_WEIGHTS
