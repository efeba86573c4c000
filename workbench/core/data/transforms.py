"""From an image to the network's input: ``prepare_image`` turns any image into a dataset's native
form (``C×H×W`` in [0, 1]) and says what it did (grey by luminance, stretched, padded or cropped,
inverted and why); ``image_to_tensor`` is its tensor alone. ``Preprocess`` resizes a batch to the
model's input and normalises it, on the training device. The same serve training and every prediction."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

from .decode import DecodeError, decode, fit_square, to_tensor
from .registry import DatasetError

__all__ = ["FITS", "Prepared", "Preprocess", "image_to_tensor", "light_background", "prepare_image"]

FITS = {"stretch": "Stretch to the input", "pad": "Pad to a square", "crop": "Crop the centre"}
"""How an image of another shape is brought to the network's: the words the window shows."""

GUESS_MARGIN = 0.1
"""The share of light pixels must be this far from a half for the background guess to trust it;
closer, the border decides."""


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


@dataclass
class Prepared:
    """An image in a dataset's native form, and how it got there."""

    tensor: torch.Tensor
    """``C×H×W`` in [0, 1] at the dataset's native size: what the network is given (before normalising)."""
    photo: Image.Image
    """The image as decoded (RGB, EXIF orientation applied), before any of the steps below."""
    fit: str
    """``stretch``, ``pad`` or ``crop`` (``FITS``)."""
    grey: bool = False
    """A colour image made grey, by luminance (ITU-R 601: 0.299 R + 0.587 G + 0.114 B)."""
    colourfulness: float = 0.0
    """The photo's mean ``(max − min)`` of R, G and B, in [0, 1]: 0 for a grey image."""
    inverted: bool = False
    guess: bool | None = None
    """For a dataset drawn light on dark: whether the image looked dark on light (so inverting it was
    guessed right). ``None`` for other datasets."""
    light_share: float = 0.0
    """The share of the image's pixels on the light side of its own (Otsu) threshold."""
    steps: list[str] = field(default_factory=list)
    """What was done, in order, in words."""

    @property
    def source_size(self) -> tuple[int, int]:
        """The photo's width and height."""
        return self.photo.size


def _otsu(values: np.ndarray) -> float:
    """The threshold (0–255) that best splits ``values`` into two classes (Otsu, 1979)."""
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * np.arange(256))
    w0, w1 = weight, total - weight
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean[-1] * w0 - mean * total) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1
    return float(np.argmax(between))


def light_background(grey: Image.Image) -> tuple[bool, float]:
    """Whether a grey image is drawn dark on a light background, and the share of light pixels.

    The background is the larger of the two tones Otsu's threshold separates, read over the whole image
    (a tight crop of a dark-on-light "3" has strokes touching every border); only when the two are about
    as large does the border decide."""
    small = grey.copy()
    small.thumbnail((64, 64), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.uint8)
    if values.max() == values.min():
        return bool(values.mean() > 127.5), float(values.mean() > 127.5)
    share = float((values > _otsu(values)).mean())
    if abs(share - 0.5) > GUESS_MARGIN:
        return share > 0.5, share
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    return bool(border.mean() > 127.5), share


def _colourfulness(rgb: Image.Image) -> float:
    small = rgb.copy()
    small.thumbnail((64, 64), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.float32)
    return float((values.max(axis=2) - values.min(axis=2)).mean() / 255.0)


def _pad_square(image: Image.Image) -> Image.Image:
    """``image`` centred on a square of its own border's median colour (the page around a drawing)."""
    w, h = image.size
    if w == h:
        return image
    values = np.asarray(image)
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]]).reshape(-1, len(image.getbands()))
    colour = tuple(int(v) for v in np.median(border, axis=0))
    side = max(w, h)
    return ImageOps.pad(image, (side, side), color=colour[0] if image.mode == "L" else colour)


def prepare_image(
    image: Image.Image | str | Path, in_channels: int, native_size: tuple[int, int], dark_background: bool = False,
    crop: bool = False, fit: str | None = None, invert: bool | None = None,
) -> Prepared:
    """Any image (file path or PIL image, any mode) in a dataset's native form, the form its splits yield.

    Decoding is ``data.decode``'s, the same as for image folders. ``fit``: ``stretch`` (the whole image
    resized, by block averages when shrinking: how the 8×8 digits were made), ``pad`` (to a square of its
    border's colour, then resized) or ``crop`` (the shorter side resized and the centre cut: an image
    folder's geometry); by default ``crop`` when the dataset crops, else ``stretch``. A grey dataset gets
    the luminance of a colour image. ``invert``: ``None`` inverts an image drawn dark on light for a
    dataset drawn light on dark (``dark_background``), by ``light_background``'s guess; ``True`` or
    ``False`` overrides it. Files that cannot be used raise ``DatasetError``."""
    # Transparent areas become the dataset's background, not black-by-accident.
    ground = (0, 0, 0) if dark_background else (255, 255, 255)
    try:
        photo = decode(image, 3, ground)
    except DecodeError as exc:
        raise DatasetError(str(exc)) from exc
    square = native_size[0] == native_size[1]
    fit = fit or ("crop" if crop and square else "stretch")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
    done = Prepared(torch.empty(0), photo, fit, colourfulness=_colourfulness(photo))
    picture = photo
    if in_channels == 1:
        picture = photo.convert("L")  # Pillow's "L" is the ITU-R 601 luminance
        done.grey = done.colourfulness > 0.0
        if done.grey:
            done.steps.append("made grey (luminance)")
    w, h = photo.size
    if fit == "pad" and square and w != h:
        picture = _pad_square(picture)
        done.steps.append("padded to a square")
    if fit == "crop" and square:
        picture = fit_square(picture, native_size[0])
        done.steps.append(f"centre cropped to {native_size[1]}×{native_size[0]}")
    else:
        # BOX averages whole blocks when shrinking: how the 8×8 digits were made from 32×32 bitmaps.
        picture = picture.resize((native_size[1], native_size[0]), Image.Resampling.BOX)
        if (w, h) != (native_size[1], native_size[0]):
            done.steps.append(f"resized from {w}×{h} to {native_size[1]}×{native_size[0]}")
    tensor = to_tensor(picture).float() / 255.0
    if in_channels not in (1, 3):
        tensor = tensor.mean(0, keepdim=True).expand(in_channels, -1, -1).clone()
    if dark_background:
        done.guess, done.light_share = light_background(photo.convert("L"))
    done.inverted = bool(done.guess if invert is None else invert)
    if done.inverted:
        tensor = 1.0 - tensor
        done.steps.append("inverted" + (" (it looked dark on light)" if invert is None else ""))
    done.tensor = tensor
    return done


def image_to_tensor(
    image: Image.Image | str | Path, in_channels: int, native_size: tuple[int, int], dark_background: bool = False,
    crop: bool = False,
) -> torch.Tensor:
    """``prepare_image``'s tensor: any image as ``C×H×W`` in [0, 1] at a dataset's native size."""
    return prepare_image(image, in_channels, native_size, dark_background, crop).tensor
