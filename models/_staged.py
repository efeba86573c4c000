"""A plain stem → stages → head network, the skeleton the zoo's own (non-torchvision) residual
families share: CIFAR ResNets, pre-activation ResNet, Wide ResNet, ResNeXt-29 and DPN."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ._interface import SMALL_INPUT, WorkbenchModel, feature


class StagedNet(WorkbenchModel, nn.Module):
    """``stem`` → ``layer1`` … ``layerN`` → ``post`` (e.g. a final BN-ReLU) → global pool → ``fc``."""

    classifier_name = "fc"

    def __init__(self, stem: nn.Module, stages: list[nn.Module], stage_channels: list[int],
                 stage_reductions: list[int], num_classes: int, post: nn.Module | None = None,
                 stem_info: str = "as in the paper"):
        super().__init__()
        self.num_classes = num_classes
        self.stem = stem
        for i, stage in enumerate(stages, start=1):
            self.add_module(f"layer{i}", stage)
        self.num_stages = len(stages)
        self.post = post if post is not None else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(stage_channels[-1], num_classes)
        self.stem_info = stem_info
        self.feature_info = [feature(f"layer{i}", c, r)
                             for i, (c, r) in enumerate(zip(stage_channels, stage_reductions), start=1)]
        init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return self.post(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


def init_weights(model: nn.Module) -> None:
    """He initialisation for convolutions, unit BN, as the residual-network papers do."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        bn=nn.BatchNorm2d(out_channels), relu=nn.ReLU(inplace=True),
    ))


def imagenet_stem(in_channels: int, out_channels: int = 64) -> nn.Sequential:
    """7×7 stride-2 convolution, BN, ReLU, 3×3 stride-2 max-pool: /4."""
    stem = conv_bn_relu(in_channels, out_channels, 7, 2)
    stem.add_module("pool", nn.MaxPool2d(3, 2, 1))
    return stem


def stem_for(in_channels: int, out_channels: int, input_size, bn: bool = True,
             paper_input: str = "small") -> tuple[nn.Module, int, str]:
    """A 3×3 stride-1 convolution on small inputs, an ImageNet stem (/4) on large ones.

    ``paper_input`` says which of the two the paper used ("small": a CIFAR network, which then
    costs on 224×224 what a ResNet costs; "large": an ImageNet network). Returns the stem, its
    reduction and a line for the summary."""
    if min(input_size) < SMALL_INPUT:
        stem = conv_bn_relu(in_channels, out_channels) if bn else nn.Conv2d(in_channels, out_channels, 3, 1, 1,
                                                                            bias=False)
        info = (f"as in the paper: 3×3 convolution, {out_channels} filters" if paper_input == "small"
                else "CIFAR stem: 3×3 convolution stride 1, no max-pool (small input)")
        return stem, 1, info
    if bn:
        stem = imagenet_stem(in_channels, out_channels)
    else:
        stem = nn.Sequential(nn.Conv2d(in_channels, out_channels, 7, 2, 3, bias=False), nn.MaxPool2d(3, 2, 1))
    info = ("large input: ImageNet stem (7×7 conv stride 2 + 3×3 max-pool, /4) before the paper's CIFAR stages"
            if paper_input == "small" else "ImageNet stem: 7×7 conv stride 2 + 3×3 max-pool")
    return stem, 4, info
