"""Optimisers and learning-rate schedules, built from a resolved ``TrainConfig``.

Schedules step every iteration (so a warm-up of half an epoch is half an epoch); all of them
are torch schedulers, so their ``state_dict`` resumes them exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig

WARMUP_START = 0.01
"""Warm-up starts at 1 % of the learning rate and rises linearly."""


def split_decay(groups: list[dict], weight_decay: float, decay_norm_and_bias: bool) -> list[dict]:
    """Each parameter group with ``weight_decay`` set; with ``decay_norm_and_bias`` off, the
    one-dimensional parameters (biases, BatchNorm and LayerNorm weights) go to a twin group with
    no decay, as in the torchvision reference scripts' ``--norm-weight-decay 0``."""
    out = []
    for group in groups:
        params = [p for p in group["params"] if p.requires_grad]
        extra = {k: v for k, v in group.items() if k != "params"}
        if decay_norm_and_bias:
            out.append({**extra, "params": params, "weight_decay": weight_decay})
            continue
        decayed = [p for p in params if p.ndim > 1]
        plain = [p for p in params if p.ndim <= 1]
        if decayed:
            out.append({**extra, "params": decayed, "weight_decay": weight_decay})
        if plain:
            out.append({**extra, "params": plain, "weight_decay": 0.0})
    return [g for g in out if g["params"]]


def build_optimizer(groups: list[dict] | list[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if groups and not isinstance(groups[0], dict):
        groups = [{"params": list(groups)}]
    groups = split_decay(groups, config.weight_decay, config.decay_norm_and_bias)
    if not groups:
        raise ValueError("The model has no trainable parameters")
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum,
                               nesterov=bool(config.nesterov and config.momentum > 0))
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    raise ValueError(f"optimizer {config.optimizer!r} is not valid")


def lr_factor(config: TrainConfig, steps_per_epoch: int, total_steps: int):
    """The multiplier of the base learning rate at iteration ``step`` (0-based)."""
    warmup = round(config.warmup * steps_per_epoch)
    milestones = sorted(round(m * steps_per_epoch) for m in config.milestones)
    step_size = max(1, round(config.step_size * steps_per_epoch))

    def factor(step: int) -> float:
        if step < warmup:
            return WARMUP_START + (1 - WARMUP_START) * step / warmup
        if config.schedule == "step":
            return config.gamma ** (step // step_size)
        if config.schedule == "multistep":
            return config.gamma ** sum(step >= m for m in milestones)
        if config.schedule == "cosine":
            span = max(1, total_steps - warmup)
            return 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))
        return 1.0

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=max(2, total_steps),
            cycle_momentum=config.optimizer == "sgd" and config.momentum > 0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, steps_per_epoch, total_steps))
