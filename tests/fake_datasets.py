"""Small datasets written in the real on-disk formats that torchvision reads (MNIST idx files,
CIFAR pickle batches), so the real loading code runs with no network."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
from torchvision import datasets


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _class_images(n: int, classes: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class is visible (a class-specific pattern plus noise), so training can learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    patterns = rng.integers(0, 256, size=(classes, *shape))
    noise = rng.integers(-40, 41, size=(n, *shape))
    images = np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels


def write_mnist(root: Path, n_train: int = 200, n_test: int = 50, folder: str = "MNIST") -> Path:
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = _class_images(n, 10, (28, 28), seed)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())
    return root


def write_cifar10(root: Path, monkeypatch, n_train: int = 500, n_test: int = 100) -> Path:
    """``cifar-10-batches-py`` with five training batches, a test batch and the meta file; the
    class's md5 table is pointed at these files so torchvision's integrity check really runs."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = _class_images(n_train + n_test, 10, (3, 32, 32), 2)
    flat = images.reshape(len(images), -1)
    per_batch = n_train // 5
    train_list = []
    for i in range(5):
        lo, hi = i * per_batch, (i + 1) * per_batch
        name = f"data_batch_{i + 1}"
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": flat[lo:hi], "labels": labels[lo:hi].tolist(), "batch_label": name}, fh)
        train_list.append([name, _md5(folder / name)])
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": flat[n_train:], "labels": labels[n_train:].tolist()}, fh)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch}, fh)
    monkeypatch.setattr(datasets.CIFAR10, "train_list", train_list)
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", _md5(folder / "test_batch")]])
    monkeypatch.setattr(datasets.CIFAR10, "meta", {**datasets.CIFAR10.meta, "md5": _md5(folder / "batches.meta")})
    return root
