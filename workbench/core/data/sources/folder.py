"""A user's image folder as a ``DataBundle``: scanned, split, decoded (once, then cached) and
described by its health report."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..cache import MEMORY_BUDGET, decode_file, decoded_size, load_decoded
from ..health import build_report
from ..decode import MAX_IMAGE_SIZE
from ..image_folder import FolderError, Progress, check_ratios, scan_folder, split_folder
from ..registry import DataBundle, ImageTensorDataset

__all__ = ["DEFAULT_IMAGE_SIZE", "load_folder", "FolderImages"]

DEFAULT_IMAGE_SIZE = 64
"""Side of the square images a folder is decoded to when nothing else asks for a size."""


class FolderImages(Dataset):
    """Images decoded from disk on demand (for sets beyond the memory budget), served as uint8."""

    def __init__(self, root: str, files: list[str], labels: list[int], size: int, channels: int):
        self.root, self.files, self.size, self.channels = root, files, size, channels
        self.targets = torch.tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return decode_file(self.root, self.files[index], self.size, self.channels), self.targets[index]


def load_folder(root: str | Path, size: int = DEFAULT_IMAGE_SIZE, channels: int = 3,
                ratios: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0,
                progress: Progress | None = None, memory_budget: int = MEMORY_BUDGET, split_method: str = "content"):
    """Scan, split and load a class-per-folder set. Raises ``FolderError`` for an unusable folder.
    What the caches had to rebuild is in ``bundle.notices``."""
    if not isinstance(size, int) or not 8 <= size <= MAX_IMAGE_SIZE:
        raise FolderError(f"image size {size!r} is not valid: expected 8 to {MAX_IMAGE_SIZE} pixels")
    check_ratios(ratios)
    scan = scan_folder(root, progress=(lambda d, t, w: progress(d, t, f"checking {w}")) if progress else None)
    split = split_folder(scan, ratios, seed, split_method)
    labels = torch.tensor([f.label for f in scan.files], dtype=torch.long)
    if decoded_size(scan, size, channels) <= memory_budget:
        images = load_decoded(scan, size, channels,
                              progress=(lambda d, t, w: progress(d, t, f"decoding {w}")) if progress else None,
                              notices=scan.notices)
        pick = lambda idx: ImageTensorDataset(images[torch.tensor(idx, dtype=torch.long)], labels[idx])  # noqa: E731
        splits = [pick(getattr(split, name)) for name in ("train", "val", "test")]
        train_images = splits[0].images
    else:
        pick = lambda idx: FolderImages(scan.root, [scan.files[i].path for i in idx],  # noqa: E731
                                        [scan.files[i].label for i in idx], size, channels)
        splits = [pick(getattr(split, name)) for name in ("train", "val", "test")]
        sample = split.train[:: max(1, len(split.train) // 500)]  # statistics from up to 500 images
        train_images = torch.stack([decode_file(scan.root, scan.files[i].path, size, channels) for i in sample])
    report = build_report(scan, split, train_images)
    bundle = DataBundle(
        name=str(Path(scan.root)), classes=list(scan.classes), in_channels=channels, native_size=(size, size),
        train=splits[0], val=splits[1], test=splits[2], mean=report.mean, std=report.std,
    )
    bundle.health = report
    bundle.crop = True
    bundle.split_files = split.paths(scan)
    bundle.split_files.update(ratios=list(ratios), seed=seed, fingerprint=scan.fingerprint, method=split.method,
                              keys={f.path: f.sha1 for f in scan.files})
    bundle.notices = list(scan.notices)
    return bundle
