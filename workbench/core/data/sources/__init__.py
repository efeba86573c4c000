"""Where datasets come from: the bundled digits, the torchvision sets and a user's image folders.
Importing this package registers the named sets; ``load_dataset`` reads any of them."""

from __future__ import annotations

from pathlib import Path

from ..registry import DataBundle, get_dataset_info, is_folder_dataset, list_datasets  # noqa: F401 - registered here
from . import bundled, torchvision_sets  # noqa: F401 - they register their sets
from .folder import DEFAULT_IMAGE_SIZE, load_folder

__all__ = ["DEFAULT_IMAGE_SIZE", "load_dataset", "load_folder"]


def load_dataset(name: str, root: str | Path | None = None, download: bool = True, *, image_size: int | None = None,
                 channels: int | None = None, split: tuple[float, float, float] = (0.6, 0.2, 0.2), split_seed: int = 0,
                 progress=None, split_method: str = "content") -> DataBundle:
    """Load a registered dataset by name, or a class-per-folder image set by its path (decoded
    to ``image_size`` pixels, ``channels`` 3 or 1, split by ``split`` and ``split_seed``).
    Raises ``DatasetError`` (or ``FolderError``) with a readable message."""
    if is_folder_dataset(name):
        return load_folder(name, size=image_size or DEFAULT_IMAGE_SIZE, channels=channels or 3, ratios=tuple(split),
                           seed=split_seed, progress=progress, split_method=split_method)
    return get_dataset_info(name).loader(root=root, download=download)
