"""What a run will cost before it starts, and why a combination of settings cannot run.

The estimate multiplies the model's multiply-adds per image by three (forward, and a backward
pass that costs about twice the forward) and by the training images, and divides by this
device's measured multiply-add rate on a convolution of typical shape; a fixed cost per batch
covers what small models spend outside their arithmetic."""

from __future__ import annotations

import time

import torch

from workbench.core.train import TrainConfig, resolve
from workbench.core.train.config import ConfigError

KNOWN_TRAIN_IMAGES = {"mnist": 54_000, "fashion_mnist": 54_000, "cifar10": 45_000, "cifar100": 45_000}
"""Training images of the torchvision sets after the validation split (before they are downloaded)."""
BATCH_OVERHEAD = {"cpu": 2e-3, "cuda": 4e-4, "mps": 1e-3}
"""Seconds per batch that do not scale with the arithmetic (the loop, the optimiser, the kernel launches)."""


def measure_rate(device: torch.device, repeats: int = 3) -> float:
    """Multiply-adds per second of one training step of a 3×3 convolution (64→64 channels, 32×32)."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device)
    batch = 16 if device.type == "cpu" else 256
    x = torch.randn(batch, 64, 32, 32, device=device)
    macs = 3 * batch * 64 * 64 * 9 * 32 * 32

    def step():
        conv.zero_grad(set_to_none=True)
        conv(x).sum().backward()

    step()  # warm-up: kernels chosen, memory allocated
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return macs / best


def epoch_seconds(macs: int, images: int, batch_size: int, rate: float, device_type: str) -> float:
    steps = -(-images // max(1, batch_size))
    return 3 * macs * images / rate + steps * BATCH_OVERHEAD.get(device_type, 2e-3)


def config_problem(config: TrainConfig, train_images: int | None) -> str:
    """Why these settings cannot run, in a sentence; empty when they can."""
    try:
        resolve(config, train_size=train_images)
    except ConfigError as exc:
        return str(exc)
    from workbench.core import devices

    try:
        device = devices.pick_device(config.device)
    except (ValueError, RuntimeError) as exc:
        return str(exc)
    if config.amp == "fp16" and device.type != "cuda":
        return f"fp16 mixed precision needs a CUDA GPU; this run would be on {device}. Pick bf16 or off."
    return ""
