"""A map drawn over an image: a colour scale for heat (0 → dark blue, 1 → dark red, as Grad-CAM's papers
draw it), and the map laid over the photo *as dropped*, undoing how it was brought to the input (stretched,
padded to a square or centre-cropped), so a practitioner sees where on their own photo the network looked."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

__all__ = ["HEAT_STOPS", "heat_colours", "overlay", "photo_overlay", "to_rgb"]

HEAT_STOPS = [(0.0, (0, 0, 128)), (0.125, (0, 0, 255)), (0.375, (0, 255, 255)), (0.625, (255, 255, 0)),
              (0.875, (255, 0, 0)), (1.0, (128, 0, 0))]
"""The "jet" scale, by its stops."""


def heat_colours(heat: np.ndarray | torch.Tensor) -> np.ndarray:
    """``H×W`` values in [0, 1] as ``H×W×3`` uint8 colours."""
    values = np.clip(np.asarray(heat.detach().cpu() if isinstance(heat, torch.Tensor) else heat, dtype=np.float32),
                     0, 1)
    where = [s for s, _ in HEAT_STOPS]
    out = np.stack([np.interp(values, where, [c[i] for _, c in HEAT_STOPS]) for i in range(3)], axis=-1)
    return out.round().astype(np.uint8)


def to_rgb(image: torch.Tensor | Image.Image) -> Image.Image:
    """A ``C×H×W`` tensor in [0, 1] (grey or colour) or a PIL image, as an RGB image."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    t = image.detach().float().cpu().clamp(0, 1)
    t = t[:1].expand(3, -1, -1) if t.shape[0] != 3 else t
    return Image.fromarray((t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), "RGB")


def overlay(image: torch.Tensor | Image.Image, heat: torch.Tensor, opacity: float = 0.5) -> Image.Image:
    """``heat`` (``h×w`` in [0, 1]) over ``image`` at the image's size; ``opacity`` 0 shows the image alone."""
    base = to_rgb(image)
    colours = Image.fromarray(heat_colours(heat), "RGB").resize(base.size, Image.Resampling.BILINEAR)
    return Image.blend(base, colours, float(np.clip(opacity, 0, 1)))


def photo_overlay(prepared, heat: torch.Tensor, opacity: float = 0.5, size: int | None = None) -> Image.Image:
    """``heat`` at the network's input, over the photo it came from (a ``Prepared``): stretched back, the
    padding cut away, or placed on the centre square that was cropped (the rest of the photo left as it is).
    ``size``: the photo's longer side is brought to this first."""
    photo = prepared.photo.convert("RGB")
    if size:
        photo = photo.copy()
        photo.thumbnail((size, size), Image.Resampling.BILINEAR)
    w, h = photo.size
    colours = Image.fromarray(heat_colours(heat), "RGB")
    if prepared.fit == "pad" and w != h:
        side = max(w, h)
        big = colours.resize((side, side), Image.Resampling.BILINEAR)
        left, top = (side - w) // 2, (side - h) // 2
        return Image.blend(photo, big.crop((left, top, left + w, top + h)), opacity)
    if prepared.fit == "crop" and w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        square = photo.crop((left, top, left + side, top + side))
        out = photo.copy()
        out.paste(Image.blend(square, colours.resize((side, side), Image.Resampling.BILINEAR), opacity), (left, top))
        return out
    return Image.blend(photo, colours.resize((w, h), Image.Resampling.BILINEAR), float(np.clip(opacity, 0, 1)))
