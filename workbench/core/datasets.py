"""Datasets: a small registry of named image-classification sets, split into train/val/test.

Each split yields ``(image, label)`` with the image a float tensor ``C×H×W`` in [0, 1] at the
set's native size. Resizing to the model's input and normalising happen per batch on the
training device (``Preprocess``), and the very same module prepares a dropped image, so what
the network sees at inference matches what it saw in training.
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset, TensorDataset

from resources import resource_path

from . import paths
from .data.decode import DecodeError, decode, fit_square, to_tensor

__all__ = [
    "DataBundle",
    "ImageTensorDataset",
    "default_data_root",
    "DatasetInfo",
    "DatasetError",
    "Preprocess",
    "list_datasets",
    "get_dataset_info",
    "load_dataset",
    "image_to_tensor",
    "stratified_split",
]


class DatasetError(RuntimeError):
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
    loader: Callable[..., "DataBundle"] = field(repr=False, compare=False)
    dark_background: bool = False


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


_DATASETS: dict[str, DatasetInfo] = {}


def _register(info: DatasetInfo) -> None:
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
    return name not in _DATASETS and (os.sep in name or "/" in name or Path(name).expanduser().is_dir())


def load_dataset(name: str, root: str | Path | None = None, download: bool = True, *, image_size: int | None = None,
                 channels: int | None = None, split: tuple[float, float, float] = (0.6, 0.2, 0.2), split_seed: int = 0,
                 progress=None) -> DataBundle:
    """Load a registered dataset by name, or a class-per-folder image set by its path (decoded
    to ``image_size`` pixels, ``channels`` 3 or 1, split by ``split`` and ``split_seed``).
    Raises ``DatasetError`` (or ``FolderError``) with a readable message."""
    if is_folder_dataset(name):
        from .data.folder_bundle import DEFAULT_IMAGE_SIZE, load_folder

        return load_folder(name, size=image_size or DEFAULT_IMAGE_SIZE, channels=channels or 3, ratios=tuple(split),
                           seed=split_seed, progress=progress)
    return get_dataset_info(name).loader(root=root, download=download)


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


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
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


def _load_digits(root=None, download=True) -> DataBundle:
    path = resource_path("data", "digits.csv.gz")
    if not path.is_file():
        raise DatasetError(f"The bundled digits file is missing ({path}); reinstall cnn-workbench.")
    with gzip.open(path, "rt", newline="") as fh:
        rows = [[int(v) for v in row] for row in csv.reader(fh) if row]
    data = torch.tensor(rows, dtype=torch.float32)
    images = (data[:, :64] / 16.0).reshape(-1, 1, 8, 8)
    labels = data[:, 64].long()
    train_idx, val_idx, test_idx = stratified_split(labels.tolist())

    def subset(idx: list[int]) -> TensorDataset:
        ix = torch.tensor(idx)
        return TensorDataset(images[ix], labels[ix])

    mean, std = _channel_stats(images[torch.tensor(train_idx)])
    return DataBundle(
        name="digits",
        classes=[str(d) for d in range(10)],
        in_channels=1,
        native_size=(8, 8),
        train=subset(train_idx),
        val=subset(val_idx),
        test=subset(test_idx),
        mean=mean,
        std=std,
        dark_background=True,
    )


_register(
    DatasetInfo(
        name="digits",
        title="Digits (UCI, 8×8, bundled)",
        description="1,797 handwritten digits 0–9 as grey 8×8 images; ships with the app, no download.",
        in_channels=1,
        native_size=(8, 8),
        num_classes=10,
        mean=(0.305,),
        std=(0.376,),
        needs_download=False,
        loader=_load_digits,
        dark_background=True,
    )
)


def _as_nchw_uint8(data) -> torch.Tensor:
    tensor = torch.as_tensor(data)
    if tensor.dim() == 3:  # N×H×W (MNIST)
        return tensor.unsqueeze(1).contiguous()
    return tensor.permute(0, 3, 1, 2).contiguous()  # N×H×W×C (CIFAR)


def _torchvision_loader(info_name: str, class_name: str, class_names=None):
    """Loader for a torchvision dataset: downloads on first use, then a fixed stratified 90/10
    train/val split of the official training set; the official test set is the test split."""

    def load(root=None, download=True) -> DataBundle:
        from torchvision import datasets as tv_datasets

        info = _DATASETS[info_name]
        root = Path(root).expanduser() if root else default_data_root()
        cls = getattr(tv_datasets, class_name)
        try:
            root.mkdir(parents=True, exist_ok=True)
            train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=download)
        except RuntimeError as exc:
            hint = ("it downloads on first use: check the internet connection"
                    if download else "download it first (Start in the window, or `cnn-workbench train`)")
            raise DatasetError(f"{info.title} is not in {root} ({exc}); {hint}.") from exc
        except Exception as exc:  # no network, a proxy, a full disk...
            raise DatasetError(
                f"Could not download {info.title} into {root}: {exc}. Connect to the internet once, "
                f"or copy the files there by hand."
            ) from exc
        images, labels = _as_nchw_uint8(train.data), torch.as_tensor(train.targets)
        train_idx, val_idx, _ = stratified_split(labels.tolist(), (0.9, 0.1, 0.0))
        pick = lambda idx: ImageTensorDataset(images[idx], labels[idx])  # noqa: E731
        classes = list(class_names) if class_names else [str(c) for c in train.classes]
        return DataBundle(
            name=info.name, classes=classes, in_channels=info.in_channels, native_size=info.native_size,
            train=pick(torch.tensor(train_idx)), val=pick(torch.tensor(val_idx)),
            test=ImageTensorDataset(_as_nchw_uint8(test.data), torch.as_tensor(test.targets)),
            mean=info.mean, std=info.std, dark_background=info.dark_background,
        )

    return load


for _name, _cls, _title, _desc, _ch, _size, _n, _mean, _std, _dark, _classes in (
    ("mnist", "MNIST", "MNIST (28×28 digits)", "70,000 handwritten digits; 11 MB download.",
     1, (28, 28), 10, (0.1307,), (0.3081,), True, [str(d) for d in range(10)]),
    ("fashion_mnist", "FashionMNIST", "Fashion-MNIST (28×28 clothes)", "70,000 Zalando article images; 30 MB download.",
     1, (28, 28), 10, (0.2860,), (0.3530,), True, None),
    ("cifar10", "CIFAR10", "CIFAR-10 (32×32 colour)", "60,000 colour images of 10 classes; 163 MB download.",
     3, (32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), False, None),
    ("cifar100", "CIFAR100", "CIFAR-100 (32×32 colour)", "60,000 colour images of 100 classes; 161 MB download.",
     3, (32, 32), 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), False, None),
):
    _register(DatasetInfo(_name, _title, _desc, _ch, _size, _n, _mean, _std, True,
                          _torchvision_loader(_name, _cls, _classes), _dark))


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
