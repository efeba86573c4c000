"""Engine benchmark: ``python -m workbench.core.train.benchmark [--model resnet20] [--device cuda]``.

Trains the same model on the same in-memory data on the same device two ways and prints training
images per second and their ratio:

- *bare*: the loop of the PyTorch tutorials written out by hand: shuffle, index a batch, move it,
  convert and normalise it, forward, cross-entropy, backward, step, ``loss.item()`` each step;
- *engine*: ``Trainer`` with everything it does besides (events, throttled reads, the step and
  epoch files, checkpoints), timed over the training phase of each epoch.

Rounds alternate bare and engine so both see the same machine noise; the figure is the median
over rounds of the best epoch after a warm-up. ``--variants`` adds engine runs with mixed precision
and channels-last against fp32 (meant for a GPU). ``--synthetic N`` trains on N random CIFAR-shaped
images (3×32×32, 10 classes) instead of the digits, e.g. for CIFAR ResNet-18 throughput.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import TensorDataset

import models

from ..data import DataBundle, Preprocess, load_dataset
from ..evaluate import to_float
from ..events import EpochStarted, StepEnded
from .config import TrainConfig
from .loop import Trainer
from .setup import resolve_input_size


def synthetic_bundle(n: int) -> DataBundle:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (n,), generator=generator)
    small = TensorDataset(images[:512], labels[:512])
    return DataBundle("synthetic", [str(i) for i in range(10)], 3, (32, 32), TensorDataset(images, labels),
                      small, small, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def bare_loop(model_name: str, bundle: DataBundle, batch_size: int, epochs: int, device: torch.device,
              lr: float) -> list[float]:
    """Images per second of each epoch of a hand-written loop."""
    torch.manual_seed(0)
    shape = resolve_input_size(model_name, bundle)
    model = models.create_model(model_name, num_classes=bundle.num_classes, in_channels=shape[0],
                                input_size=shape).to(device)
    preprocess = Preprocess(shape[1:], bundle.mean, bundle.std).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    images, labels = bundle.train.tensors
    rates = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(labels))
        _sync(device)
        start = time.perf_counter()
        for i in range(0, len(labels), batch_size):
            idx = order[i:i + batch_size]
            x = preprocess(to_float(images[idx].to(device, non_blocking=True)))
            y = labels[idx].to(device, non_blocking=True)
            out = model(x)
            out = out[0] if isinstance(out, (tuple, list)) else out
            loss = nn.functional.cross_entropy(out, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
        _sync(device)
        rates.append(len(labels) / (time.perf_counter() - start))
    return rates


def engine_loop(model_name: str, bundle: DataBundle, batch_size: int, epochs: int, device: str, lr: float,
                **options) -> list[float]:
    """Images per second of each epoch's training phase, run by the engine."""
    marks: dict[int, list[float]] = {}
    steps = math.ceil(len(bundle.train) / batch_size)

    def clock(event):
        if isinstance(event, EpochStarted):
            _sync(torch.device(device_of))
            marks[event.epoch] = [time.perf_counter()]
        elif isinstance(event, StepEnded) and event.step == steps:
            _sync(torch.device(device_of))
            marks[event.epoch].append(time.perf_counter())

    device_of = device if device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(model=model_name, dataset=bundle.name, epochs=epochs, batch_size=batch_size,
                             optimizer="adam", lr=lr, device=device, tensorboard=False, **options)
        summary = Trainer(config, [clock], run_dir=f"{folder}/run", bundle=bundle).run()
        if summary["status"] != "completed":
            raise SystemExit(f"engine run failed: {summary.get('error')}")
    return [len(bundle.train) / (m[1] - m[0]) for m in marks.values() if len(m) == 2]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3, help="per round; the first is a warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--synthetic", type=int, default=0, help="train on N random 3x32x32 images instead")
    parser.add_argument("--variants", action="store_true", help="also the engine with bf16/fp16 and channels-last")
    args = parser.parse_args(argv)

    bundle = synthetic_bundle(args.synthetic) if args.synthetic else load_dataset("digits")
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"{args.model}, {len(bundle.train)} images of {bundle.name}, batch {args.batch_size}, {name}, "
          f"torch {torch.__version__}")
    best = lambda rates: max(rates[1:] or rates)  # noqa: E731 - the first epoch warms up
    runs: dict[str, list[float]] = {"bare": [], "engine": []}
    variants = {}
    if args.variants:
        variants = {"engine bf16": dict(amp="bf16"), "engine channels_last": dict(channels_last=True),
                    "engine bf16 + channels_last": dict(amp="bf16", channels_last=True)}
        if device.type == "cuda":
            variants["engine fp16 (grad scaler)"] = dict(amp="fp16")
        runs.update({k: [] for k in variants})
    for round_ in range(args.rounds):
        runs["bare"].append(best(bare_loop(args.model, bundle, args.batch_size, args.epochs, device, args.lr)))
        runs["engine"].append(best(engine_loop(args.model, bundle, args.batch_size, args.epochs, str(device), args.lr)))
        for label, options in variants.items():
            runs[label].append(best(engine_loop(args.model, bundle, args.batch_size, args.epochs, str(device),
                                                args.lr, **options)))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in runs.items()), flush=True)
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\n{'loop':<30} {'images/s':>10} {'ratio':>7}")
    print(f"{'bare PyTorch loop':<30} {median['bare']:>10,.0f} {1.0:>7.2f}")
    for label, value in median.items():
        if label != "bare":
            print(f"{label:<30} {value:>10,.0f} {value / median['bare']:>7.2f}")
    if args.variants:
        print(f"\nvariants against the fp32 engine: " + ", ".join(
            f"{k[7:]} {median[k] / median['engine']:.2f}x" for k in variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
