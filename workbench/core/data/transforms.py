"""From an image to the network's input: ``image_to_tensor`` decodes any image to a dataset's
native form (``C×H×W`` in [0, 1]); ``Preprocess`` resizes a batch to the model's input and
normalises it, on the training device. The same two serve training and every prediction."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from .decode import DecodeError, decode, fit_square, to_tensor
from .registry import DatasetError

__all__ = ["Preprocess", "image_to_tensor"]


class Preprocess(nn.Module):
    """Batch transform on the training device: resize to the model's input, then normalise."""

    def __init__(self, input_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.input_size = tuple(input_size)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std


def image_to_tensor(
    image: Image.Image | str | Path, in_channels: int, native_size: tuple[int, int], dark_background: bool = False,
    crop: bool = False,
) -> torch.Tensor:
    """Turn any image (file path or PIL image, any mode) into a ``C×H×W`` tensor in [0, 1]
    at a dataset's native size, the form its splits yield. Decoding is ``data.decode``'s, the
    same as for image folders, and so is the geometry when ``crop`` (an image folder's: shorter
    side resized, centre cut). Files that cannot be used raise ``DatasetError``."""
    # Transparent areas become the dataset's background, not black-by-accident.
    ground = (0, 0, 0) if dark_background else (255, 255, 255)
    try:
        image = decode(image, 1 if in_channels == 1 else 3, ground)
    except DecodeError as exc:
        raise DatasetError(str(exc)) from exc
    if crop and native_size[0] == native_size[1]:
        image = fit_square(image, native_size[0])
    else:
        # BOX averages whole blocks when shrinking: how the 8×8 digits were made from 32×32 bitmaps.
        image = image.resize((native_size[1], native_size[0]), Image.Resampling.BOX)
    tensor = to_tensor(image).float() / 255.0
    if in_channels not in (1, 3):
        tensor = tensor.mean(0, keepdim=True).expand(in_channels, -1, -1).clone()
    if dark_background and _border_mean(tensor) > 0.5:
        tensor = 1.0 - tensor
    return tensor


def _border_mean(t: torch.Tensor) -> float:
    border = torch.cat([t[:, 0, :], t[:, -1, :], t[:, :, 0], t[:, :, -1]], dim=1)
    return float(border.mean())
