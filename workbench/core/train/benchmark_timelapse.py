"""What the training time-lapse costs: ``python -m workbench.core.train.benchmark_timelapse [--device cuda]``.

Prints, per network, one frame (``inspect.timelapse.capture``) against one training step of 64 images on the
same device, and the frame's size on disk; then LeNet-5 trained on the bundled digits with and without the
time-lapse, alternated, the same run each time, as a ratio of whole runs."""

from __future__ import annotations

import argparse
import io
import tempfile
import time

import torch

import models

from .. import devices
from ..inspect.timelapse import capture, frame_layers


def frame_cost(name: str, size: int, device: torch.device, steps: int = 3) -> tuple[float, float, int]:
    channels = 1 if name.startswith("lenet") else 3
    net = models.create_model(name, num_classes=10, in_channels=channels).to(device)
    x = torch.randn(1, channels, size, size, device=device)
    layers, first = frame_layers(net, x)
    capture(net, x, layers, first)  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        frame = capture(net, x, layers, first)
    frame_seconds = (time.perf_counter() - started) / steps
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    batch = torch.randn(64, channels, size, size, device=device)
    labels = torch.randint(0, 10, (64,), device=device)
    net.train()
    for i in range(steps + 1):
        if i == 1:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(batch), labels).backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    step_seconds = (time.perf_counter() - started) / steps
    buffer = io.BytesIO()
    torch.save(frame, buffer)
    return frame_seconds, step_seconds, buffer.tell()


def whole_runs(device: str, epochs: int, rounds: int) -> tuple[float, float]:
    from ..data import load_dataset
    from . import TrainConfig, Trainer

    bundle = load_dataset("digits")
    seconds = {True: [], False: []}
    for _ in range(rounds):
        for timelapse in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                config = TrainConfig(model="lenet5", epochs=epochs, batch_size=64, device=device, tensorboard=False,
                                     timelapse=timelapse)
                started = time.perf_counter()
                Trainer(config, [], run_dir=f"{tmp}/run", bundle=bundle).run()
                seconds[timelapse].append(time.perf_counter() - started)
    return min(seconds[False]), min(seconds[True])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    device = devices.pick_device(args.device)
    print(f"device: {devices.describe(device)}")
    print(f"{'network':<22} {'frame ÷ one step of 64':>22} {'frame on disk':>14}")
    for name, size in (("lenet5", 32), ("resnet20", 32), ("resnet18", 224)):
        frame, step, size_bytes = frame_cost(name, size, device)
        print(f"{name + f' at {size}×{size}':<22} {frame / step:>22.2f} {size_bytes / 1024:>11.0f} KiB")
    off, on = whole_runs(args.device, args.epochs, args.rounds)
    print(f"LeNet-5 on the digits, {args.epochs} epochs: with the time-lapse ÷ without = {on / off:.3f} "
          f"(best of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
