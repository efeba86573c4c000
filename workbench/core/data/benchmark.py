"""Data-path benchmark: ``python -m workbench.core.data.benchmark [--images N] [--device cuda]``.

Trains the same model (LeNet-5, 3×32×32) with the same batch size (128) on the same folder of
photos two ways, and prints images per second and the ratio:

- *tutorial*: ``torchvision.datasets.ImageFolder`` with per-image PIL transforms (resize to 32×32,
  ``ToTensor``, ``Normalize``) and a ``DataLoader`` with worker processes, the loop of the PyTorch
  tutorials;
- *workbench*: the folder decoded once into a uint8 tensor (cached), whole batches indexed from
  it, moved to the device as uint8 and normalised there (the engine's path).

Both run the same training step; a third line shows the bare step on tensors already on the
device (the ceiling). Timings are the best of a few epochs after a warm-up one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn


def _photos(root: Path, n: int, sizes: tuple[int, int] = (96, 256)) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        label = i % 5
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        w, h = int(rng.integers(sizes[0], sizes[1] + 1)), int(rng.integers(sizes[0], sizes[1] + 1))
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        pixels[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = (50 * label, 255 - 50 * label, 128)
        Image.fromarray(pixels).save(folder / f"{i:05d}.{'jpg' if i % 2 else 'png'}")
    return root


def _step(model, optimizer, images, targets):
    loss = nn.functional.cross_entropy(model(images), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def _epoch(batches, model, optimizer, prepare, device) -> tuple[int, float]:
    seen = 0
    start = time.perf_counter()
    for images, targets in batches():
        images, targets = prepare(images.to(device, non_blocking=True)), targets.to(device, non_blocking=True)
        loss = _step(model, optimizer, images, targets)
        seen += len(targets)
    float(loss.detach())  # wait for the device
    return seen, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--folder", default=None, help="an existing class-per-folder set (default: make one)")
    parser.add_argument("--photo-size", type=int, nargs=2, default=(96, 256), metavar=("MIN", "MAX"),
                        help="side lengths of the photos made (default 96 256)")
    args = parser.parse_args(argv)

    import models
    from torchvision import datasets, transforms

    from workbench.core import devices
    from workbench.core.data import load_folder
    from workbench.core.data.loader import TensorBatches
    from workbench.core.data import Preprocess
    from workbench.core.evaluate import to_float

    device = devices.pick_device(args.device)
    tmp = tempfile.TemporaryDirectory()
    os.environ.setdefault("CNN_WORKBENCH_HOME", tmp.name)  # a throwaway cache unless one is set
    root = Path(args.folder) if args.folder else _photos(Path(tmp.name) / "photos", args.images, args.photo_size)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

    def fresh():
        torch.manual_seed(0)
        model = models.create_model("lenet5", num_classes=5, in_channels=3).to(device)
        return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    # The tutorials' loop.
    tutorial_set = datasets.ImageFolder(str(root), transform=transforms.Compose([
        transforms.Resize((32, 32)), transforms.ToTensor(), transforms.Normalize(mean, std)]))
    loader = torch.utils.data.DataLoader(tutorial_set, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=device.type == "cuda",
                                         persistent_workers=args.workers > 0)
    # The workbench's: decode once (timed separately), then batches from the tensor.
    started = time.perf_counter()
    bundle = load_folder(root, size=32, ratios=(0.9, 0.05, 0.05))
    decode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    load_folder(root, size=32, ratios=(0.9, 0.05, 0.05))
    cached_seconds = time.perf_counter() - started
    generator = torch.Generator().manual_seed(0)
    ours = TensorBatches(bundle.train, args.batch_size, shuffle=True, generator=generator)
    pre = Preprocess((32, 32), mean, std).to(device)
    resident = (bundle.train.images.to(device), bundle.train.labels.to(device))

    def on_device():
        order = torch.randperm(len(resident[1]), device=device)
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            yield resident[0][idx], resident[1][idx]

    results = {}
    for name, batches, prepare in (
        ("tutorial (ImageFolder + PIL transforms + DataLoader)", lambda: iter(loader), lambda x: x),
        ("workbench (cached uint8 tensor, batches on the device)", lambda: iter(ours), lambda x: pre(to_float(x))),
        ("bare step (tensors already on the device)", on_device, lambda x: pre(to_float(x))),
    ):
        model, optimizer = fresh()
        _epoch(batches, model, optimizer, prepare, device)  # warm-up: workers start, kernels load
        rates = []
        for _ in range(args.epochs):
            seen, seconds = _epoch(batches, model, optimizer, prepare, device)
            rates.append(seen / seconds)
        results[name] = max(rates)
    names = list(results)
    lo, hi = args.photo_size
    print(f"device {devices.describe(device)}, {len(bundle.train)} photos {lo}-{hi} px (JPEG and PNG), LeNet-5 at "
          f"3x32x32, batch {args.batch_size}, {args.workers} DataLoader workers, torch {torch.__version__}")
    print(f"first decode of the folder into the cache: {decode_seconds:.1f} s; loading it again: {cached_seconds:.2f} s")
    for name, rate in results.items():
        print(f"{rate:10,.0f} images/s  {name}")
    print(f"ratio workbench / tutorial: {results[names[1]] / results[names[0]]:.2f}x "
          f"(ceiling, bare step / tutorial: {results[names[2]] / results[names[0]]:.2f}x)")
    del loader
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
