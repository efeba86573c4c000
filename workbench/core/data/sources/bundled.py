"""The bundled set: the UCI handwritten digits (1,797 grey 8×8 images, CC BY 4.0), no download."""

from __future__ import annotations

import csv
import gzip

import torch
from torch.utils.data import TensorDataset

from resources import resource_path

from ..registry import DataBundle, DatasetError, DatasetInfo, channel_stats, register, stratified_split


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

    mean, std = channel_stats(images[torch.tensor(train_idx)])
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


register(
    DatasetInfo(
        name="digits",
        title="Digits (8×8, bundled)",
        description="1,797 handwritten digits 0–9 as grey 8×8 images (UCI); ships with the app, no download.",
        in_channels=1,
        native_size=(8, 8),
        num_classes=10,
        mean=(0.305,),
        std=(0.376,),
        needs_download=False,
        loader=_load_digits,
        dark_background=True,
        classes=tuple(str(d) for d in range(10)),
    )
)
