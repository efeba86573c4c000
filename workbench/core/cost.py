"""What a run will cost before it starts, and why a combination of settings cannot run.

The estimate multiplies the model's multiply-adds per image by three (forward, and a backward
pass that costs about twice the forward) and by the training images, and divides by this
device's measured multiply-add rate on a convolution of typical shape; a measured cost per
batch covers what a step spends outside its arithmetic."""

from __future__ import annotations

import time

import torch

from .train import TrainConfig, resolve
from .threads import in_fresh_thread
from .train.config import ConfigError

KNOWN_TRAIN_IMAGES = {"mnist": 54_000, "fashion_mnist": 54_000, "cifar10": 45_000, "cifar100": 45_000}
"""Training images of the torchvision sets after the validation split (before they are downloaded)."""


def _timed(step, device: torch.device, repeats: int) -> float:
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
    return best


def _filled(module: torch.nn.Module, device: torch.device, generator: torch.Generator) -> torch.nn.Module:
    """A module built on the meta device, materialised on ``device`` with small random values."""
    module = module.to_empty(device=device)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                tensor.normal_(0.0, 0.05, generator=generator)
            else:
                tensor.zero_()
    return module


def measure_rate(device: torch.device, repeats: int = 3) -> tuple[float, float]:
    """``_measure_rate`` on a thread with the intra-op team a training run gets."""
    return in_fresh_thread(lambda: _measure_rate(device, repeats))


def _measure_rate(device: torch.device, repeats: int = 3) -> tuple[float, float]:
    """This device's multiply-adds per second in a training step of a 3×3 convolution (64→64
    channels, 32×32), and the seconds a training step costs beyond its arithmetic (the forward,
    backward and Adam calls of LeNet-5 at batch 1: Python, the optimiser, kernel launches)."""
    import models

    # Weights and batches from a generator of its own, never torch's global stream: this may run
    # while a run trains, and a draw (or a fork and restore) of that stream would change the run.
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.device("meta"):  # built without drawing initial weights
        conv = torch.nn.Conv2d(64, 64, 3, padding=1)
        net = models.create_model("lenet5", num_classes=10, in_channels=1)
    conv, net = _filled(conv, device, generator), _filled(net, device, generator)
    batch = 16 if device.type == "cpu" else 256
    x = torch.randn(batch, 64, 32, 32, device=device, generator=generator)
    image = torch.randn(1, 1, 32, 32, device=device, generator=generator)

    def conv_step():
        conv.zero_grad(set_to_none=True)
        conv(x).sum().backward()
    rate = 3 * batch * 64 * 64 * 9 * 32 * 32 / _timed(conv_step, device, repeats)

    optimizer = torch.optim.Adam(net.parameters())
    target = torch.zeros(1, dtype=torch.long, device=device)

    def small_step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(image), target).backward()
        optimizer.step()
    overhead = _timed(small_step, device, repeats)
    return rate, overhead


EFFICIENCY = 0.5
"""Share of the convolution's rate whole networks reach (BatchNorm, activations, memory traffic):
ResNet-20 and VGG-11 took 1.9× and 2.1× the time of the bare estimate on the digits."""
FORWARD_EFFICIENCY = 0.7
"""The same share for a frozen backbone that only runs forward (extracting features): no autograd graph, no
gradient buffers. ResNet-18's frozen forward at 224×224 reached 0.65–0.79 of the training convolution's rate
(15 photos, batch 15, an idle 2-core CPU, three runs); training's 0.5 overestimated those epochs 1.3–1.6×."""
ENGINE_STEPS = 3.0
"""The engine's step (augmentation, metrics, schedule, callbacks) against a bare step: LeNet-5's
epoch took 3.8× the bare estimate, almost all of it per-step cost."""


def passes(config: TrainConfig) -> int:
    """Forward-pass equivalents a training image costs: 3 (forward, and a backward of about twice
    that), or 1 when extracting features (the frozen backbone runs forward only: nothing in it
    needs a gradient, and the new head's share is negligible). Fine-tuning trains every layer, at a
    lower rate for the backbone: 3, like a model from scratch."""
    return 1 if config.pretrained and config.transfer == "extract" else 3


def epoch_seconds(macs: int, images: int, batch_size: int, rate: float, overhead: float,
                  forward_passes: int = 3) -> float:
    """``forward_passes`` (``passes``) times the forward multiply-adds of every image at ``rate × EFFICIENCY``, plus the
    engine's cost per batch. Against measured epochs on a 2-core CPU (digits, batch 32), measured /
    estimated: LeNet-5 0.7 / 0.5 s, ResNet-20 4.3 / 4.7 s, VGG-11-BN 13.5 / 16.5 s, DenseNet-BC-100
    48 / 31 s (networks of many small layers run slower than their arithmetic says)."""
    steps = -(-images // max(1, batch_size))
    efficiency = FORWARD_EFFICIENCY if forward_passes == 1 else EFFICIENCY
    return forward_passes * macs * images / (rate * efficiency) + steps * overhead * ENGINE_STEPS


def queue_seconds(configs: list[TrainConfig], rate: float, overhead: float) -> list[tuple[str, int, float]]:
    """What each run of a queue will take: ``(model, epochs, seconds)``, from the models' multiply-adds
    at their input size, the recipe's epochs and the sets' training images (``KNOWN_TRAIN_IMAGES``; 1,000
    for a set it does not know)."""
    import models

    from .data import get_dataset_info
    from .inspect import count_macs
    from .train.setup import resolve_input_size

    out = []
    for config in configs:
        info = get_dataset_info(config.dataset)
        images = KNOWN_TRAIN_IMAGES.get(config.dataset) or 1000
        settings = resolve(config, train_size=images)
        shape = resolve_input_size(config.model, info, config.input_size, config.pretrained)
        model = models.create_model(config.model, num_classes=info.num_classes, in_channels=info.in_channels,
                                    input_size=shape[1:])
        macs = count_macs(model, shape)
        seconds = epoch_seconds(macs, images, settings.batch_size, rate, overhead, passes(config)) * settings.epochs
        out.append((config.model, settings.epochs, seconds))
    return out


def config_problem(config: TrainConfig, train_images: int | None) -> str:
    """Why these settings cannot run, in a sentence; empty when they can."""
    try:
        resolve(config, train_size=train_images)
    except ConfigError as exc:
        return str(exc)
    from . import devices

    try:
        device = devices.pick_device(config.device)
    except (ValueError, RuntimeError) as exc:
        return str(exc)
    if config.amp == "fp16" and device.type != "cuda":
        return f"fp16 mixed precision needs a CUDA GPU; this run would be on {device}. Pick bf16 or off."
    return ""
