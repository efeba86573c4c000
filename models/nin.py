"""Network in Network: Lin, Chen & Yan, ICLR 2014. https://arxiv.org/abs/1312.4400"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model


def mlpconv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
            hidden: int | None = None) -> nn.Sequential:
    """A convolution followed by two 1×1 convolutions: a small multilayer perceptron slid over
    the image (the paper's "mlpconv" layer)."""
    hidden = hidden or out_channels
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, hidden, kernel_size, stride, padding), relu=nn.ReLU(inplace=True),
        cccp1=nn.Conv2d(hidden, hidden, 1), relu1=nn.ReLU(inplace=True),
        cccp2=nn.Conv2d(hidden, out_channels, 1), relu2=nn.ReLU(inplace=True),
    ))


class NIN(WorkbenchModel, nn.Module):
    """The ImageNet NIN (the Caffe model zoo's): four mlpconv blocks, the last one producing one
    confidence map per class, then global average pooling instead of fully connected layers."""

    classifier_name = "mlpconv4.cccp2"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size=(224, 224), dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        small = min(input_size) < SMALL_INPUT
        if small:
            self.mlpconv1 = mlpconv(in_channels, 96, 5, 1, 2)
            self.stem_info = "small input: 5×5 stride-1 first convolution; pools round up"
        else:
            self.mlpconv1 = mlpconv(in_channels, 96, 11, 4, 2)
            self.stem_info = "as in the paper: 11×11 stride-4 first convolution"
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=small)  # noqa: E731
        self.pool1 = pool()
        self.mlpconv2 = mlpconv(96, 256, 5, 1, 2)
        self.pool2 = pool()
        self.mlpconv3 = mlpconv(256, 384, 3, 1, 1)
        self.pool3 = pool()
        self.dropout = nn.Dropout(dropout)
        self.mlpconv4 = mlpconv(384, num_classes, 3, 1, 1, hidden=1024)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        r = 1 if small else 4
        self.feature_info = [feature("mlpconv1", 96, r), feature("mlpconv2", 256, 2 * r),
                             feature("mlpconv3", 384, 4 * r), feature("mlpconv4", num_classes, 8 * r)]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        self.feature_info[-1]["num_chs"] = num_classes

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The class confidence maps (``num_classes × h × w``): in NIN the features are the classes."""
        x = self.pool1(self.mlpconv1(x))
        x = self.pool2(self.mlpconv2(x))
        x = self.dropout(self.pool3(self.mlpconv3(x)))
        return self.mlpconv4(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return torch.flatten(self.global_pool(x), 1)


@register_model(
    family="NIN",
    year=2013,
    paper="Network In Network",
    url="https://arxiv.org/abs/1312.4400",
    idea=(
        "Replace the linear filter of a convolution by a tiny multilayer perceptron (1×1 "
        "convolutions), and the fully connected classifier by global average pooling over one "
        "feature map per class: fewer parameters, less over-fitting, and maps you can read as "
        "class confidence. The 1×1 convolution became a staple of Inception and ResNet."
    ),
)
def nin(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> NIN:
    """Network in Network (`paper <https://arxiv.org/abs/1312.4400>`_)."""
    return NIN(num_classes, in_channels, input_size, **kwargs)
