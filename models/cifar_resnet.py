"""The CIFAR-10 ResNets and their plain twins, from section 4.2 of He et al., "Deep Residual
Learning for Image Recognition" (CVPR 2016), https://arxiv.org/abs/1512.03385.

Depth 6n + 2: a 3×3 convolution with 16 filters, three stages of n basic blocks with 16, 32 and
64 filters (stride 2 at the start of the last two), global average pooling and a classifier.
The plain nets are the same stacks without shortcuts: the degradation experiment (Fig. 6).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._registry import register_model
from ._staged import StagedNet, stem_for

SHORTCUTS = ("A", "B", "C")


class ZeroPadShortcut(nn.Module):
    """Option A: subsample by the stride and pad the new channels with zeros; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.extra = out_channels - in_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class CifarBasicBlock(nn.Module):
    """Two 3×3 convolutions; with ``shortcut`` None the block is plain (no identity path)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, shortcut: str | None = "A"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        reshapes = stride != 1 or in_channels != channels
        if shortcut is None:
            self.shortcut = None
        elif shortcut == "C" or (shortcut == "B" and reshapes):
            self.shortcut = projection(in_channels, channels, stride)
        elif shortcut == "A" and reshapes:
            self.shortcut = ZeroPadShortcut(in_channels, channels, stride)
        elif shortcut in SHORTCUTS:
            self.shortcut = nn.Identity()
        else:
            raise ValueError(f"shortcut must be one of {SHORTCUTS} or None, not {shortcut!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


def cifar_resnet(depth: int, num_classes: int = 10, in_channels: int = 3, input_size=(32, 32),
                 shortcut: str | None = "A") -> StagedNet:
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n + 2, not {depth}")
    n = (depth - 2) // 6
    stages, in_ch = [], 16
    for i, channels in enumerate((16, 32, 64)):
        blocks = []
        for j in range(n):
            blocks.append(CifarBasicBlock(in_ch, channels, 2 if (i > 0 and j == 0) else 1, shortcut))
            in_ch = channels
        stages.append(nn.Sequential(*blocks))
    kind = "plain (no shortcuts)" if shortcut is None else f"shortcut option {shortcut}"
    stem, r, info = stem_for(in_channels, 16, input_size)
    return StagedNet(stem, stages, [16, 32, 64], [r, 2 * r, 4 * r], num_classes, stem_info=f"{info}; {kind}")


_PAPER = "Deep Residual Learning for Image Recognition"
_URL = "https://arxiv.org/abs/1512.03385"
_RESNET_IDEA = (
    "The paper's CIFAR-10 network, depth 6n + 2 with 16-32-64 filters. Shortcut option A pads "
    "zeros where the shape changes (no extra parameters), B projects with a 1×1 convolution "
    "there, C projects everywhere. Compare with the plain net of the same depth to see the "
    "degradation problem disappear."
)
_PLAIN_IDEA = (
    "The residual network's twin without shortcuts. In the paper the 56-layer plain net has "
    "higher training error than the 20-layer one (Fig. 6): depth alone made optimisation harder. "
    "Train it beside the resnet of the same depth."
)


def _register(name: str, depth: int, plain: bool) -> None:
    def builder(num_classes=10, in_channels=3, input_size=(32, 32), shortcut: str | None = "A", **kwargs):
        return cifar_resnet(depth, num_classes, in_channels, input_size, None if plain else shortcut)

    builder.__name__ = name
    builder.__doc__ = f"{'Plain' if plain else 'Residual'} {depth}-layer CIFAR network (`paper <{_URL}>`_)."
    register_model(family="ResNet", year=2015, paper=_PAPER, url=_URL, idea=_PLAIN_IDEA if plain else _RESNET_IDEA,
                   input_size=(3, 32, 32), name=name)(builder)


for _depth in (20, 32, 44, 56, 110):
    _register(f"resnet{_depth}", _depth, plain=False)
for _depth in (20, 32, 44, 56):
    _register(f"plain{_depth}", _depth, plain=True)
