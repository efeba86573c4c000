"""The dataset types and the name → loader table. It imports no source: each source module
(``sources/``) registers itself, and ``sources.load_dataset`` dispatches.

Each split yields ``(image, label)`` with the image a float tensor ``C×H×W`` in [0, 1] at the
set's native size. Resizing to the model's input and normalising happen per batch on the
training device (``transforms.Preprocess``), and the very same module prepares a dropped image,
so what the network sees at inference matches what it saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Dataset

from .. import paths
from ..paths import looks_like_path
from ..errors import UserError

__all__ = [
    "DataBundle",
    "ImageTensorDataset",
    "default_data_root",
    "DatasetInfo",
    "DatasetError",
    "channel_stats",
    "list_datasets",
    "get_dataset_info",
    "is_folder_dataset",
    "register",
    "stratified_split",
]


class DatasetError(UserError, RuntimeError):
    """A dataset could not be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset before loading it (enough to build a model for it)."""

    name: str
    title: str
    description: str
    in_channels: int
    native_size: tuple[int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    needs_download: bool
    loader: Callable[..., "DataBundle"] | None = field(default=None, repr=False, compare=False)
    dark_background: bool = False
    classes: tuple[str, ...] = ()
    """The class names when known before loading (else ``class_names`` numbers them)."""
    notices: list[str] = field(default_factory=list)
    """What loading had to repair (a damaged cache rebuilt), for the run to pass on."""
    crop: bool = False
    """Images are brought to ``native_size`` by resizing the shorter side and cutting the centre."""

    @property
    def class_names(self) -> list[str]:
        return list(self.classes) if self.classes else [str(i) for i in range(self.num_classes)]


@dataclass
class DataBundle:
    """A loaded dataset: three splits plus what a model and a preprocessor need to know."""

    name: str
    classes: list[str]
    in_channels: int
    native_size: tuple[int, int]
    train: Dataset
    val: Dataset
    test: Dataset
    mean: tuple[float, ...]
    std: tuple[float, ...]
    dark_background: bool = False
    """True when objects are bright on a dark ground (MNIST, digits): dropped images drawn
    dark-on-light are inverted to match."""
    health: object | None = None
    """An image folder's ``HealthReport``."""
    split_files: dict | None = None
    """An image folder's split as file lists (recorded in each run folder)."""
    crop: bool = False
    """Images are brought to ``native_size`` by resizing the shorter side and cutting the centre
    (image folders), not by squeezing the whole picture in (the digits, MNIST, CIFAR)."""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def info(self) -> DatasetInfo:
        """What a model, a predictor or the window needs to know of this set, without its images."""
        registered = _DATASETS.get(self.name)
        return DatasetInfo(
            name=self.name, title=registered.title if registered else f"Folder {Path(self.name).name}",
            description=registered.description if registered else self.name, in_channels=self.in_channels,
            native_size=tuple(self.native_size), num_classes=self.num_classes, mean=tuple(self.mean),
            std=tuple(self.std), needs_download=registered.needs_download if registered else False,
            loader=registered.loader if registered else None, dark_background=self.dark_background,
            classes=tuple(self.classes), crop=self.crop)


_DATASETS: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> None:
    if info.name in _DATASETS:
        raise ValueError(f"Dataset {info.name!r} is already registered")
    _DATASETS[info.name] = info


def list_datasets() -> list[str]:
    return list(_DATASETS)


def get_dataset_info(name: str) -> DatasetInfo:
    try:
        return _DATASETS[name]
    except KeyError:
        raise DatasetError(f"Unknown dataset {name!r}; known datasets: {', '.join(_DATASETS)}") from None


def is_folder_dataset(name: str) -> bool:
    """A dataset given as a path (an image folder) rather than a registered name."""
    return name not in _DATASETS and looks_like_path(name)


def stratified_split(labels: list[int], fractions=(0.70, 0.15, 0.15)) -> tuple[list[int], list[int], list[int]]:
    """A fixed, stratified split with no random numbers: within each class, sample ``k``
    goes to test, val or train by ``k mod 20``, so every class keeps the fractions (to within
    a sample) and the split is the same on every machine and library version."""
    slots = 20
    n_test = round(fractions[2] * slots)
    n_val = round(fractions[1] * slots)
    seen: dict[int, int] = {}
    train, val, test = [], [], []
    for index, label in enumerate(labels):
        k = seen.get(label, 0)
        seen[label] = k + 1
        slot = k % slots
        (test if slot < n_test else val if slot < n_test + n_val else train).append(index)
    return train, val, test


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    dims = [0, 2, 3]
    return tuple(images.mean(dims).tolist()), tuple(images.std(dims).clamp_min(1e-6).tolist())


def default_data_root() -> Path:
    """Where downloaded datasets live: ``$CNN_WORKBENCH_HOME/data``, else ``~/.cnn-workbench/data``."""
    return paths.data_root()


class ImageTensorDataset(Dataset):
    """Images kept as one uint8 ``N×C×H×W`` tensor (a quarter of the memory of float), served as
    float [0, 1]."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4 or len(images) != len(labels):
            raise ValueError("expected uint8 N×C×H×W images and N labels")
        self.images = images
        self.labels = labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.images[index].float().div_(255.0), self.labels[index]
