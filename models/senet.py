"""SENet: Hu, Shen & Sun, "Squeeze-and-Excitation Networks", CVPR 2018.
https://arxiv.org/abs/1709.01507

SE-ResNets are torchvision's ResNet with torchvision's ``SqueezeExcitation`` (reduction 16)
on the residual branch of every block, before the addition."""

from __future__ import annotations

import torch
from torchvision.models import resnet as tv
from torchvision.ops import SqueezeExcitation

from ._registry import register_model
from .resnet import ResNet, _resnet

REDUCTION = 16


class SEBasicBlock(tv.BasicBlock):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        channels = self.bn2.num_features
        self.se = SqueezeExcitation(channels, channels // REDUCTION)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return self.relu(out + identity)


class SEBottleneck(tv.Bottleneck):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        channels = self.bn3.num_features
        self.se = SqueezeExcitation(channels, channels // REDUCTION)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.se(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def _register(**kw):
    return register_model(
        family="SENet", year=2017, paper="Squeeze-and-Excitation Networks", url="https://arxiv.org/abs/1709.01507",
        idea=("Let each block re-weight its own channels: squeeze the feature maps to one number per "
              "channel by global pooling, excite through a small two-layer bottleneck with a sigmoid, and "
              "scale the channels by the result. A few per cent more parameters, a large gain; won "
              "ILSVRC-2017."), **kw)


@_register()
def se_resnet18(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """SE-ResNet-18 (`paper <https://arxiv.org/abs/1709.01507>`_)."""
    return _resnet(SEBasicBlock, [2, 2, 2, 2], num_classes, in_channels, input_size, **kwargs)


@_register()
def se_resnet50(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """SE-ResNet-50 (`paper <https://arxiv.org/abs/1709.01507>`_)."""
    return _resnet(SEBottleneck, [3, 4, 6, 3], num_classes, in_channels, input_size, **kwargs)
