"""One way to turn any image file into pixels, for datasets and dropped images alike.

Every file a user can bring either decodes to an RGB or grey ``PIL.Image`` with 8-bit values, or
fails with a ``DecodeError`` whose ``reason`` says why in a few words (zero bytes, not an image,
truncated, a decompression bomb, unreadable). Odd but valid images are converted, not dropped:
palette and transparent images are composited on a background, 16-bit and floating-point images
are stretched from their own darkest to brightest value, CMYK becomes RGB, the EXIF orientation
is applied and an animated image gives its first frame.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["DecodeError", "IMAGE_EXTENSIONS", "MAX_IMAGE_SIZE", "decode", "to_tensor", "fit_square"]

from ..errors import UserError  # noqa: E402
from .choices import MAX_IMAGE_SIZE  # noqa: E402

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
"""What counts as an image file (matched case-insensitively)."""


class DecodeError(UserError, ValueError):
    """A file that cannot be used as an image; ``reason`` is short enough for a report column."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot read {Path(path).name} as an image: {reason}")


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(path, f"unreadable ({exc.strerror or exc})") from exc
    if size == 0:
        raise DecodeError(path, "zero bytes")
    try:
        with warnings.catch_warnings():
            # Between 1× and 2× Pillow's pixel limit Pillow only warns: treat it as the bomb it may be.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.seek(0)  # animated: the first frame
                image.load()
                return image.copy() if image.mode != "P" else image.convert("RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DecodeError(path, f"decompression bomb (over Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} pixels)") from exc
    except UnidentifiedImageError as exc:
        raise DecodeError(path, "not an image") from exc
    except PermissionError as exc:
        raise DecodeError(path, "unreadable (permission denied)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        reason = "truncated" if "truncated" in text or isinstance(exc, EOFError) else f"corrupt ({text.splitlines()[0] if text else type(exc).__name__})"
        raise DecodeError(path, reason) from exc


def _stretch(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images as 8-bit grey, from their own value range."""
    data = np.asarray(image, dtype=np.float64)
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if hi > lo:
        scaled = (np.nan_to_num(data, nan=lo, posinf=hi, neginf=lo) - lo) / (hi - lo) * 255.0
    else:
        scaled = np.full(data.shape, 255.0 if hi > 0 else 0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def decode(source, channels: int = 3, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any image file (or PIL image) as an 8-bit ``L`` (``channels == 1``) or ``RGB`` image.

    Transparent areas take ``background``. Raises ``DecodeError`` for files that cannot be used."""
    image = _open(source)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block does not make the pixels unusable
        pass
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _stretch(image)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (*background, 255))
        image = Image.alpha_composite(ground, rgba)
    if image.mode == "1":
        image = image.convert("L")
    return image.convert("L" if channels == 1 else "RGB")


def fit_square(image: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` and cut the centre ``size × size`` (torchvision's
    Resize + CenterCrop), so extreme aspect ratios keep their middle instead of being squashed."""
    w, h = image.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """An 8-bit ``L`` or ``RGB`` image as a ``C×H×W`` uint8 tensor."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
