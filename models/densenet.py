"""DenseNet: Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional
Networks", CVPR 2017. https://arxiv.org/abs/1608.06993"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.models.densenet import DenseNet as _TorchvisionDenseNet

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model


class DenseNet(WorkbenchModel, _TorchvisionDenseNet):
    """torchvision's DenseNet-BC with the zoo's interface and a stem chosen for the input size."""

    classifier_name = "classifier"

    def adapt_stem(self, in_channels: int, input_size: tuple[int, int]) -> None:
        init = self.features.conv0.out_channels
        if min(input_size) < SMALL_INPUT:
            self.features.conv0 = nn.Conv2d(in_channels, init, 3, 1, 1, bias=False)
            self.features.pool0 = nn.Identity()
            self.stem_info = "CIFAR stem: 3×3 convolution stride 1, no max-pool"
            reduction = 1
        else:
            if in_channels != 3:
                self.features.conv0 = nn.Conv2d(in_channels, init, 7, 2, 3, bias=False)
            self.stem_info = "ImageNet stem: 7×7 convolution stride 2 + 3×3 max-pool"
            reduction = 4
        nn.init.kaiming_normal_(self.features.conv0.weight)
        # Each dense block's output width is what the next transition (or norm5) normalises.
        names = [n for n, _ in self.features.named_children()]
        self.feature_info = []
        for i, name in enumerate(names):
            if name.startswith("denseblock"):
                after = self.features.get_submodule(names[i + 1])
                channels = after.norm.num_features if name != names[-2] else after.num_features
                self.feature_info.append(feature(f"features.{name}", channels, reduction))
                reduction *= 2

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return x if pre_logits else self.classifier(x)


def _densenet(growth, blocks, init, num_classes, in_channels, input_size, **kwargs) -> DenseNet:
    model = DenseNet(growth_rate=growth, block_config=blocks, num_init_features=init, num_classes=num_classes, **kwargs)
    model.num_classes = num_classes
    model.adapt_stem(in_channels, input_size)
    return model


def _register(**kw):
    return register_model(
        family="DenseNet", year=2016, paper="Densely Connected Convolutional Networks",
        url="https://arxiv.org/abs/1608.06993",
        idea=("Connect every layer to every later layer in a block by concatenation: each layer adds only "
              "k new feature maps (the growth rate) and reuses all earlier ones. Bottleneck 1×1 convolutions "
              "and compressing transitions (DenseNet-BC) make it very parameter-efficient."), **kw)


@_register()
def densenet121(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> DenseNet:
    """DenseNet-121, torchvision's."""
    return _densenet(32, (6, 12, 24, 16), 64, num_classes, in_channels, input_size, **kwargs)


@_register()
def densenet169(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> DenseNet:
    """DenseNet-169, torchvision's."""
    return _densenet(32, (6, 12, 32, 32), 64, num_classes, in_channels, input_size, **kwargs)


@_register()
def densenet201(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> DenseNet:
    """DenseNet-201, torchvision's."""
    return _densenet(32, (6, 12, 48, 32), 64, num_classes, in_channels, input_size, **kwargs)


@_register(input_size=(3, 32, 32))
def densenet_bc_100(num_classes=10, in_channels=3, input_size=(32, 32), **kwargs) -> DenseNet:
    """DenseNet-BC-100 (growth 12) for CIFAR: three blocks of 16 bottleneck layers; a 3×3 stem on small inputs."""
    return _densenet(12, (16, 16, 16), 24, num_classes, in_channels, input_size, **kwargs)
