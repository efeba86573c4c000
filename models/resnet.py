"""ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
https://arxiv.org/abs/1512.03385

The ImageNet family is torchvision's implementation, subclassed only to add the zoo's
interface, so parameter names and counts match torchvision and its weights load as they are.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv

from ._interface import WorkbenchModel, feature
from ._registry import register_model

__all__ = ["ResNet", "SMALL_INPUT"]

SMALL_INPUT = 128
"""Below this height/width an ImageNet stem (7×7 stride 2 + max-pool, /4) throws away too
much: such inputs get the CIFAR stem (3×3 stride 1, no max-pool) instead."""

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
