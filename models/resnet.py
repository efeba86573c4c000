"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
https://arxiv.org/abs/1512.03385

The ImageNet family is torchvision's implementation, subclassed only to add the zoo's
interface, so parameter names and counts match torchvision and its weights load as they are.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model
from ._staged import StagedNet, stem_for

__all__ = ["ResNet", "PreActBlock"]


_PAPER = "Deep Residual Learning for Image Recognition"
_URL = "https://arxiv.org/abs/1512.03385"
_IDEA = (
    "Each block learns a residual F(x) that is added to an identity shortcut, so a block "
    "that has nothing to add can stay close to the identity. Deep plain networks got worse "
    "as they got deeper (the degradation problem); residual ones kept improving, to 152 layers."
)


class ResNet(WorkbenchModel, tv.ResNet):
    """torchvision's ResNet with the zoo's interface and a stem chosen for the input size."""

    classifier_name = "fc"

    def adapt_stem(self, in_channels: int, input_size: tuple[int, int]) -> None:
        width = self.conv1.out_channels
        if min(input_size) < SMALL_INPUT:
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
            self.stem_info = "CIFAR stem: 3×3 conv stride 1, no max-pool (small input)"
            stem_reduction = 1
        else:
            if in_channels != 3:
                self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
            self.stem_info = "ImageNet stem: 7×7 conv stride 2 + 3×3 max-pool"
            stem_reduction = 4
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.feature_info = [feature("relu", width, max(1, stem_reduction // 2))] + [
            feature(f"layer{i}", _out_channels(getattr(self, f"layer{i}")), stem_reduction * 2 ** (i - 1))
            for i in range(1, 5)
        ]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


def _out_channels(stage: nn.Module) -> int:
    return [m for m in stage.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features


def _resnet(block, layers, num_classes, in_channels, input_size, **kwargs) -> ResNet:
    model = ResNet(block, layers, num_classes=num_classes, **kwargs)
    model.num_classes = num_classes
    model.adapt_stem(in_channels, input_size)
    return model


def _register(**kw):
    return register_model(family="ResNet", paper=_PAPER, url=_URL, idea=_IDEA, **kw)


@_register(year=2015)
def resnet18(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNet-18 (`paper <https://arxiv.org/abs/1512.03385>`_), torchvision's implementation."""
    return _resnet(tv.BasicBlock, [2, 2, 2, 2], num_classes, in_channels, input_size, **kwargs)


@_register(year=2015)
def resnet34(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNet-34, torchvision's."""
    return _resnet(tv.BasicBlock, [3, 4, 6, 3], num_classes, in_channels, input_size, **kwargs)


@_register(year=2015)
def resnet50(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNet-50 (bottleneck blocks), torchvision's."""
    return _resnet(tv.Bottleneck, [3, 4, 6, 3], num_classes, in_channels, input_size, **kwargs)


@_register(year=2015)
def resnet101(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNet-101, torchvision's."""
    return _resnet(tv.Bottleneck, [3, 4, 23, 3], num_classes, in_channels, input_size, **kwargs)


@_register(year=2015)
def resnet152(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> ResNet:
    """ResNet-152, torchvision's."""
    return _resnet(tv.Bottleneck, [3, 8, 36, 3], num_classes, in_channels, input_size, **kwargs)


class PreActBlock(nn.Module):
    """BN → ReLU → conv, twice; the shortcut is a clean identity (a 1×1 projection of the
    pre-activated input where the shape changes). Optional dropout between the convolutions
    (Wide ResNet)."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.relu = nn.ReLU(inplace=False)
        self.shortcut = (nn.Conv2d(in_channels, channels, 1, stride, bias=False)
                         if stride != 1 or in_channels != channels else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        shortcut = self.shortcut(pre) if self.shortcut is not None else x
        out = self.conv1(pre)
        out = self.conv2(self.dropout(self.relu(self.bn2(out))))
        return out + shortcut


def preact_stages(widths, depths, in_channels: int, dropout: float = 0.0) -> list[nn.Sequential]:
    stages = []
    for i, (width, depth) in enumerate(zip(widths, depths)):
        blocks = []
        for j in range(depth):
            blocks.append(PreActBlock(in_channels, width, 2 if (i > 0 and j == 0) else 1, dropout))
            in_channels = width
        stages.append(nn.Sequential(*blocks))
    return stages


def bn_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))


@register_model(
    family="ResNet",
    year=2016,
    paper="Identity Mappings in Deep Residual Networks",
    url="https://arxiv.org/abs/1603.05027",
    idea=(
        "ResNet v2: move batch norm and ReLU before each convolution (pre-activation) so that the "
        "shortcut path is a pure identity from any block to any later one. Signals and gradients "
        "then pass unchanged through the whole network, and 1001-layer nets train."
    ),
)
def preact_resnet18(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> StagedNet:
    """Pre-activation ResNet-18 (`paper <https://arxiv.org/abs/1603.05027>`_)."""
    stem, r, info = stem_for(in_channels, 64, input_size, bn=False, paper_input="large")
    widths = [64, 128, 256, 512]
    return StagedNet(stem, preact_stages(widths, [2, 2, 2, 2], 64), widths, [r, 2 * r, 4 * r, 8 * r],
                     num_classes, post=bn_relu(512), stem_info=info)
