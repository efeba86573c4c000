"""ResNeXt: Xie, Girshick, Dollár, Tu & He, "Aggregated Residual Transformations for Deep Neural
Networks", CVPR 2017. https://arxiv.org/abs/1611.05431"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet as tv

from ._registry import register_model
from ._staged import StagedNet, stem_for
from .resnet import ResNet, _resnet

_PAPER = "Aggregated Residual Transformations for Deep Neural Networks"
_URL = "https://arxiv.org/abs/1611.05431"
_IDEA = (
    "Cardinality, the number of parallel paths in a block, as a new dimension beside depth and "
    "width: a bottleneck whose 3×3 convolution is split into 32 groups (32×4d) beats a wider or "
    "deeper ResNet of the same cost. Implemented with grouped convolutions."
)


def _register(**kw):
    return register_model(family="ResNeXt", year=2016, paper=_PAPER, url=_URL, idea=_IDEA, **kw)


@_register()
def resnext50_32x4d(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNeXt-50 (32×4d), torchvision's."""
    return _resnet(tv.Bottleneck, [3, 4, 6, 3], num_classes, in_channels, input_size, groups=32,
                   width_per_group=4, **kwargs)


def resnext_cifar(depth: int, cardinality: int, width: int, num_classes: int, in_channels: int,
                  input_size=(32, 32)) -> StagedNet:
    """The paper's CIFAR ResNeXt: a 3×3 stem with 64 filters and three stages of (depth - 2) / 9
    bottlenecks with outputs 256, 512 and 1024 (torchvision's Bottleneck with groups)."""
    n = (depth - 2) // 9
    stages, in_ch = [], 64
    for i, planes in enumerate((64, 128, 256)):
        blocks = []
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            down = None
            if stride != 1 or in_ch != planes * 4:
                down = nn.Sequential(nn.Conv2d(in_ch, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            blocks.append(tv.Bottleneck(in_ch, planes, stride, down, groups=cardinality, base_width=width))
            in_ch = planes * 4
        stages.append(nn.Sequential(*blocks))
    stem, r, info = stem_for(in_channels, 64, input_size)
    return StagedNet(stem, stages, [256, 512, 1024], [r, 2 * r, 4 * r], num_classes, stem_info=info)


@_register(input_size=(3, 32, 32))
def resnext29_8x64d(num_classes=10, in_channels=3, input_size=(32, 32), **kwargs) -> StagedNet:
    """ResNeXt-29 (8×64d) for CIFAR (`paper <https://arxiv.org/abs/1611.05431>`_)."""
    return resnext_cifar(29, 8, 64, num_classes, in_channels, input_size)
