"""Decoded images as one uint8 tensor, kept on disk in the app's cache.

Decoding a folder of JPEGs costs far more than training a small network on it, so a folder is
decoded once per (content, size, channels) into an ``N×C×S×S`` uint8 tensor and saved; the next
run loads it in a fraction of a second. The file is keyed by the folder's content fingerprint,
so an edited folder never reads stale pixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from .. import paths
from .decode import DecodeError, decode, fit_square, to_tensor
from .image_folder import FolderScan, Progress

__all__ = ["MEMORY_BUDGET", "decoded_size", "load_decoded", "decode_file"]

MEMORY_BUDGET = 2 * 1024**3
"""Sets whose decoded tensor would be larger stream from disk through DataLoader workers."""


def decoded_size(scan: FolderScan, size: int, channels: int) -> int:
    return len(scan.files) * channels * size * size


def decode_file(root: str | Path, rel: str, size: int, channels: int) -> torch.Tensor:
    """One image as the ``C×S×S`` uint8 tensor the datasets hold."""
    return to_tensor(fit_square(decode(Path(root) / rel, channels), size))


def _cache_path(scan: FolderScan, size: int, channels: int) -> Path:
    return paths.cache_root() / "tensors" / f"{scan.fingerprint[:20]}-{size}px-{channels}ch.pt"


def load_decoded(scan: FolderScan, size: int, channels: int, progress: Progress | None = None) -> torch.Tensor:
    """All usable images of ``scan`` as an ``N×C×S×S`` uint8 tensor, from the cache when it has
    them, else decoded now (and cached)."""
    path = _cache_path(scan, size, channels)
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(cached, torch.Tensor) and cached.dtype == torch.uint8 and \
                tuple(cached.shape) == (len(scan.files), channels, size, size):
            return cached
    except Exception:  # missing, stale or damaged: decode again
        pass
    images = torch.empty(len(scan.files), channels, size, size, dtype=torch.uint8)
    total = len(scan.files)
    for i, f in enumerate(scan.files):
        if progress and (i % 25 == 0 or i == total - 1):
            progress(i + 1, total, f.path)
        try:
            images[i] = decode_file(scan.root, f.path, size, channels)
        except (DecodeError, OSError) as exc:  # changed on disk since the scan
            raise DecodeError(Path(scan.root) / f.path, f"changed since the scan ({exc}); scan the folder again") from exc
    buffer = io.BytesIO()
    torch.save(images, buffer)
    try:
        paths.atomic_write_bytes(path, buffer.getvalue())
    except OSError:  # a full or read-only cache only costs time next run
        pass
    return images
