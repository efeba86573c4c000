"""Batches straight from tensors: the fast path for every set that fits in memory.

A ``DataLoader`` over an in-memory tensor calls ``__getitem__`` once per image and then stacks
the results; indexing the whole tensor with a batch of indices does the same work in one
operation. Images stay uint8 until they reach the training device (a quarter of the bytes to
move), where the engine turns them into floats, augments and normalises them.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset, TensorDataset

__all__ = ["TensorBatches", "tensors_of"]


def tensors_of(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (images, labels) tensors behind an in-memory dataset, or ``None`` for one that reads
    its images on demand."""
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        return dataset.tensors[0], dataset.tensors[1]
    images, labels = getattr(dataset, "images", None), getattr(dataset, "labels", None)
    if isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor):
        return images, labels
    return None


class TensorBatches:
    """Iterates ``(images, labels)`` batches of an in-memory dataset, shuffled anew each epoch
    with ``generator`` when ``shuffle``. Images keep their dtype (uint8 or float)."""

    def __init__(self, dataset: Dataset, batch_size: int, shuffle: bool = False,
                 generator: torch.Generator | None = None):
        found = tensors_of(dataset)
        if found is None:
            raise TypeError(f"{type(dataset).__name__} is not backed by tensors")
        self.images, self.labels = found
        self.labels = self.labels.long()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.images[start:start + self.batch_size], self.labels[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                yield self.images[idx], self.labels[idx]
