"""Batches straight from tensors: the fast path for every set that fits in memory.

A ``DataLoader`` over an in-memory tensor calls ``__getitem__`` once per image and then stacks
the results; indexing the whole tensor with a batch of indices does the same work in one
operation. Images stay uint8 until they reach the training device (a quarter of the bytes to
move), where the engine turns them into floats, augments and normalises them.
"""

from __future__ import annotations

import math

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, TensorDataset

__all__ = ["IndexedBatches", "TensorBatches", "epoch_order", "tensors_of"]


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


def epoch_order(size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0, rank: int = 0,
                world: int = 1) -> torch.Tensor:
    """The dataset indices one process visits in one epoch.

    Training (``shuffle``) draws a permutation from ``seed + epoch`` with torch's
    ``DistributedSampler`` (one process is a world of one), so every epoch is shuffled anew, every
    process of a torchrun job sees its own share, and a resumed run draws the same order again.
    Evaluation (no shuffle) takes every ``world``-th index with no padding, so each image counts once.
    """
    if not shuffle:
        return torch.arange(rank, size, world)
    sampler = DistributedSampler(range(size), num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


class _OrderSampler(Sampler[int]):
    """The indices of the current epoch; the loader reads them anew at each ``iter``."""

    def __init__(self):
        self.order: list[int] = []

    def __iter__(self):
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


class IndexedBatches:
    """``(indices, images, labels)`` batches of any dataset in a given order.

    In-memory sets are indexed whole batches at a time. Sets read from disk go through a
    ``DataLoader`` with ``workers`` processes; if a worker process dies, the remaining batches
    are read in the main process and ``on_fallback(message)`` says so, and nothing is skipped.
    """

    def __init__(self, dataset: Dataset, batch_size: int, workers: int = 0, pin_memory: bool = False,
                 on_fallback=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.tensors = tensors_of(dataset)
        self.workers = workers if self.tensors is None else 0
        self.pin_memory = pin_memory
        self.on_fallback = on_fallback
        self._loader: DataLoader | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def steps(self, order: torch.Tensor) -> int:
        return math.ceil(len(order) / self.batch_size)

    def batches(self, order: torch.Tensor, start_step: int = 0):
        order = order[start_step * self.batch_size:]
        if self.tensors is not None:
            images, labels = self.tensors
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                yield idx, images[idx], labels[idx].long()
            return
        done = 0
        while done < len(order):
            loader = self._loader_for(order[done:])
            try:
                for images, labels in loader:
                    idx = order[done:done + len(labels)]
                    done += len(labels)
                    yield idx, images, labels.long()
            except RuntimeError as exc:
                if self.workers == 0 or "DataLoader worker" not in str(exc):
                    raise
                self.workers = 0
                self._loader = None
                if self.on_fallback:
                    self.on_fallback(f"A data loader worker process died ({str(exc).splitlines()[0]}); "
                                     f"reading the remaining images in the main process, which is slower.")

    def _loader_for(self, order: torch.Tensor) -> DataLoader:
        if self._loader is None:
            self._sampler = _OrderSampler()
            self._loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=self._sampler,
                                      num_workers=self.workers, pin_memory=self.pin_memory,
                                      persistent_workers=self.workers > 0)
        self._sampler.order = order.tolist()
        return self._loader
