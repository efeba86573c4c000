"""BN-Inception (often called Inception v2): Ioffe & Szegedy, "Batch Normalization: Accelerating
Deep Network Training by Reducing Internal Covariate Shift", ICML 2015. https://arxiv.org/abs/1502.03167

GoogLeNet with the changes of the paper's Appendix (Figure 5): batch normalisation after every
convolution, each 5×5 convolution replaced by two 3×3 ones ("double 3×3"), inception 3c and 4e
reduce the grid themselves (stride-2 convolutions and a max-pool whose output passes through),
average pooling in most pooling branches, and no auxiliary classifiers. torchvision does not
have it, so it is written here; the table below is Figure 5, row for row.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.inception import BasicConv2d

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model

__all__ = ["BNInception", "BNInceptionModule", "FIGURE_5"]


def conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> BasicConv2d:
    """Convolution (no bias: the batch normalisation after it has one), BN, ReLU."""
    return BasicConv2d(cin, cout, kernel_size=kernel, stride=stride, padding=padding)


# Figure 5: #1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool, pool projection
# (0 #1×1 and no projection: a stride-2 module whose max-pool output passes through).
FIGURE_5: dict[str, tuple[int, int, int, int, int, str, int]] = {
    "inception3a": (64, 64, 64, 64, 96, "avg", 32),
    "inception3b": (64, 64, 96, 64, 96, "avg", 64),
    "inception3c": (0, 128, 160, 64, 96, "max", 0),
    "inception4a": (224, 64, 96, 96, 128, "avg", 128),
    "inception4b": (192, 96, 128, 96, 128, "avg", 128),
    "inception4c": (160, 128, 160, 128, 160, "avg", 128),
    "inception4d": (96, 128, 192, 160, 192, "avg", 128),
    "inception4e": (0, 128, 192, 192, 256, "max", 0),
    "inception5a": (352, 192, 320, 160, 224, "avg", 128),
    "inception5b": (352, 192, 320, 192, 224, "max", 128),
}


class BNInceptionModule(nn.Module):
    """One row of Figure 5. With no 1×1 branch the module has stride 2: its 3×3 convolutions
    step by 2 and its max-pool's output is concatenated as it is."""

    def __init__(self, cin: int, n1x1: int, n3x3red: int, n3x3: int, d3x3red: int, d3x3: int, pool: str, proj: int):
        super().__init__()
        stride = 2 if n1x1 == 0 else 1
        self.stride = stride
        self.out_channels = n1x1 + n3x3 + d3x3 + (proj if proj else cin)
        self.branch1x1 = conv(cin, n1x1, 1) if n1x1 else None
        self.branch3x3 = nn.Sequential(conv(cin, n3x3red, 1), conv(n3x3red, n3x3, 3, stride, 1))
        self.branch_double3x3 = nn.Sequential(conv(cin, d3x3red, 1), conv(d3x3red, d3x3, 3, 1, 1),
                                              conv(d3x3, d3x3, 3, stride, 1))
        pool_layer = (nn.AvgPool2d(3, 1, 1, count_include_pad=False) if pool == "avg"
                      else nn.MaxPool2d(3, stride, 1))
        self.branch_pool = nn.Sequential(pool_layer, conv(cin, proj, 1)) if proj else pool_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [] if self.branch1x1 is None else [self.branch1x1(x)]
        outs += [self.branch3x3(x), self.branch_double3x3(x), self.branch_pool(x)]
        return torch.cat(outs, 1)


class BNInception(WorkbenchModel, nn.Module):
    """Figure 5: 7×7/2 convolution, max-pool, 1×1 and 3×3 convolutions, max-pool, inception 3a-3c,
    4a-4e, 5a-5b, 7×7 average pool, linear classifier."""

    classifier_name = "fc"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size=(224, 224), dropout: float = 0.0):
        super().__init__()
        self.num_classes = num_classes
        if min(input_size) < SMALL_INPUT:
            self.conv1 = conv(in_channels, 64, 3, 1, 1)
            self.pool1 = nn.Identity()
            self.pool2 = nn.Identity()
            self.stem_info = "small input: 3×3 stride-1 first convolution, no stem max-pools"
            r = 1
        else:
            self.conv1 = conv(in_channels, 64, 7, 2, 3)  # 112×112×64
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)  # 56×56×64
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)  # 28×28×192
            self.stem_info = "as in the paper: 7×7 stride-2 convolution and two max-pools"
            r = 8
        self.conv2_reduce = conv(64, 64, 1)
        self.conv2 = conv(64, 192, 3, 1, 1)
        channels = 192
        for name, row in FIGURE_5.items():
            module = BNInceptionModule(channels, *row)
            self.add_module(name, module)
            channels = module.out_channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)
        self.feature_info = [feature("conv2", 192, r), feature("inception3b", 320, r),
                             feature("inception4d", 608, 2 * r), feature("inception5b", 1024, 4 * r)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool2(self.conv2(self.conv2_reduce(self.pool1(self.conv1(x)))))
        for name in FIGURE_5:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)


@register_model(
    family="GoogLeNet/Inception",
    year=2015,
    paper="Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
    url="https://arxiv.org/abs/1502.03167",
    idea=(
        "Batch normalisation enters the Inception design: every convolution's output is normalised over "
        "the mini-batch, then scaled and shifted by learned parameters. It allowed 30× higher learning "
        "rates and reached GoogLeNet's accuracy in 14 times fewer steps. Each 5×5 convolution became two "
        "3×3 ones, and dropout and local response normalisation were no longer needed."
    ),
)
def bn_inception(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> BNInception:
    """BN-Inception / Inception v2 (`paper <https://arxiv.org/abs/1502.03167>`_, Figure 5)."""
    return BNInception(num_classes, in_channels, input_size, **kwargs)
