"""What a run (or a prediction) is built from: the input size, the decode size of an image
folder, the model with its normalisation, the loaders and the optimiser.

Each decision is made here once: the trainer, the predictor (``core/predict.py``) and the window
ask these functions, so a model shown in the window, a run and a checkpoint read back agree on
input size, decode size and normalisation."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

import models

from .. import pretrained
from ..data import DEFAULT_IMAGE_SIZE
from ..data.loader import IndexedBatches
from .optim import build_optimizer, build_scheduler

__all__ = ["MIN_INPUT", "BuiltModel", "build_loaders", "build_model", "build_optimisation", "decode_size",
           "resolve_input_size"]

MIN_INPUT = 32
"""Tiny images (the 8×8 digits) are upsampled to this size: the classic nets need room to downsample."""


def resolve_input_size(model_name: str, spec, requested: int | None = None,
                       pretrained_weights: bool = False) -> tuple[int, int, int]:
    """The network's input ``C×H×W`` for a dataset (a ``DatasetInfo`` or a ``DataBundle``): the
    size asked for; else the pretrained weights' crop; else the paper's fixed size; else the
    set's own size, at least ``MIN_INPUT``."""
    info = models.get_model_info(model_name)
    if requested:
        hw = (requested, requested)
    elif pretrained_weights:
        crop = pretrained.weights_for(model_name).crop_size
        hw = (crop, crop)
    elif info.fixed_input:
        hw = info.input_size[1:]
    else:
        hw = tuple(max(MIN_INPUT, s) for s in spec.native_size)
    return (spec.in_channels, *hw)


def decode_size(model_name: str | None, pretrained_weights: bool, image_size: int | None = None) -> int:
    """The side an image folder is decoded to: the size asked for, else the pretrained weights'
    crop (so they see what they were trained on), else ``DEFAULT_IMAGE_SIZE``."""
    if image_size:
        return int(image_size)
    if pretrained_weights and model_name and pretrained.has_weights(model_name):
        return pretrained.weights_for(model_name).crop_size
    return DEFAULT_IMAGE_SIZE


@dataclass
class BuiltModel:
    model: nn.Module
    input_shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    """The normalisation the model expects: the dataset's, or the pretrained weights'."""


def build_model(model_name: str, spec, input_size: int | None = None, pretrained_weights: bool = False,
                weights_file: str | None = None, transfer: str = "finetune", progress=None) -> BuiltModel:
    """The network for a dataset (``DatasetInfo`` or ``DataBundle``), on the CPU: from the zoo,
    or with ImageNet weights and a new head (``pretrained_weights``; the file is fetched or
    ``weights_file`` read), its backbone frozen for ``transfer="extract"``."""
    shape = resolve_input_size(model_name, spec, input_size, pretrained_weights)
    if pretrained_weights:
        weights = pretrained.weights_for(model_name)
        model = pretrained.pretrained_model(model_name, spec.num_classes, spec.in_channels, weights_file=weights_file,
                                            progress=progress)
        mean, std = tuple(weights.mean), tuple(weights.std)
        if spec.in_channels == 1:  # the summed first kernels see the grey image as R = G = B
            mean, std = (sum(mean) / 3,), (sum(std) / 3,)
        if transfer == "extract":
            pretrained.freeze_backbone(model)
    else:
        model = models.create_model(model_name, num_classes=spec.num_classes, in_channels=spec.in_channels,
                                    input_size=shape)
        mean, std = tuple(spec.mean), tuple(spec.std)
    return BuiltModel(model, shape, mean, std)


def build_loaders(bundle, batch_size: int, num_workers: int, pin_memory: bool, notice=None):
    """Batches of the three splits (train, val, test)."""
    workers = num_workers or min(4, os.cpu_count() or 1)
    return tuple(IndexedBatches(split, batch_size, workers, pin_memory, notice)
                 for split in (bundle.train, bundle.val, bundle.test))


def build_optimisation(model: nn.Module, cfg, steps_per_epoch: int, total_steps: int, device: torch.device):
    """Optimiser (the pretrained backbone at a tenth of the head's rate), schedule and AMP scaler."""
    groups = pretrained.param_groups(model, cfg.lr, cfg.transfer) if cfg.pretrained else list(model.parameters())
    optimizer = build_optimizer(groups, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch, total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")
    return optimizer, scheduler, scaler
