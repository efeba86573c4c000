"""Wide Residual Networks: Zagoruyko & Komodakis, BMVC 2016. https://arxiv.org/abs/1605.07146"""

from __future__ import annotations

from torchvision.models import resnet as tv

from ._registry import register_model
from ._staged import StagedNet, stem_for
from .resnet import ResNet, _resnet, bn_relu, preact_stages

_PAPER = "Wide Residual Networks"
_URL = "https://arxiv.org/abs/1605.07146"
_IDEA = (
    "Make residual networks wider, not deeper: widening each block by a factor k trains faster "
    "and beats thin networks a dozen times deeper. WRN-28-10 (28 layers, 10× wider pre-activation "
    "blocks, optional dropout between the convolutions) was state of the art on CIFAR."
)


def _register(**kw):
    return register_model(family="WideResNet", year=2016, paper=_PAPER, url=_URL, idea=_IDEA, **kw)


@_register()
def wide_resnet50_2(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """Wide ResNet-50-2 (bottlenecks twice as wide), torchvision's."""
    return _resnet(tv.Bottleneck, [3, 4, 6, 3], num_classes, in_channels, input_size, width_per_group=128, **kwargs)


def wide_resnet_cifar(depth: int, k: int, num_classes: int, in_channels: int, input_size=(32, 32),
                      dropout: float = 0.0) -> StagedNet:
    if (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n + 4, not {depth}")
    n = (depth - 4) // 6
    widths = [16 * k, 32 * k, 64 * k]
    stem, r, info = stem_for(in_channels, 16, input_size, bn=False)
    return StagedNet(stem, preact_stages(widths, [n] * 3, 16, dropout), widths, [r, 2 * r, 4 * r], num_classes,
                     post=bn_relu(widths[-1]), stem_info=info)


@_register(input_size=(3, 32, 32))
def wrn28_10(num_classes=10, in_channels=3, input_size=(32, 32), dropout: float = 0.0, **kwargs) -> StagedNet:
    """WRN-28-10 for CIFAR (`paper <https://arxiv.org/abs/1605.07146>`_); ``dropout=0.3`` as in its best runs."""
    return wide_resnet_cifar(28, 10, num_classes, in_channels, input_size, dropout)
