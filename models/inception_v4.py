"""Inception-v4 and Inception-ResNet-v2: Szegedy, Ioffe, Vanhoucke & Alemi, "Inception-v4,
Inception-ResNet and the Impact of Residual Connections on Learning", AAAI 2017.
https://arxiv.org/abs/1602.07261

torchvision has neither, so they are written here, block for block after the paper's figures
(Inception-v4: Figures 3-9) and, for Inception-ResNet-v2, after the released TensorFlow model that
the reference implementations (TF-slim, Cadene's and timm's ports) follow: its stem ends in a
320-channel mixed block rather than Figure 3's 384 channels. Parameter names follow the paper's
block names; counts match the reference implementations (42.7 M and 55.8 M at 299×299, 1,000
classes). Convolutions are followed by batch normalisation (eps 0.001, as in the released models).

Small inputs (under 128 px) keep every block but run the stem at stride 1 with padding, so a
32×32 image reaches the Inception-A blocks at 32×32 instead of vanishing in the stem.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.inception import BasicConv2d

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model

__all__ = ["InceptionV4", "InceptionResNetV2"]

_PAPER = "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning"
_URL = "https://arxiv.org/abs/1602.07261"


def conv(cin: int, cout: int, kernel, stride: int = 1, padding=0) -> BasicConv2d:
    """Convolution (no bias), batch normalisation, ReLU."""
    return BasicConv2d(cin, cout, kernel_size=kernel, stride=stride, padding=padding)


class Branches(nn.Module):
    """Runs its branches side by side and concatenates their outputs (a 'filter concat')."""

    def __init__(self, **branches: nn.Module):
        super().__init__()
        for name, branch in branches.items():
            self.add_module(name, branch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], 1)


class Split(nn.Module):
    """A 1×1 (or any) convolution followed by two parallel convolutions whose outputs are
    concatenated: Inception-C's 1×3 / 3×1 pairs (Figure 6)."""

    def __init__(self, first: nn.Module, a: nn.Module, b: nn.Module):
        super().__init__()
        self.first, self.a, self.b = first, a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        return torch.cat([self.a(x), self.b(x)], 1)


def _strides(small: bool) -> tuple[int, int]:
    """Stride and 'valid' padding of the stem's reducing layers: (2, 0) as in the paper, or
    (1, 1) on small inputs, which keeps the size."""
    return (1, 1) if small else (2, 0)


# --- Inception-v4 ---------------------------------------------------------------------------------

def v4_stem(in_channels: int, small: bool) -> nn.Sequential:
    """Figure 3: 299×299×3 → 35×35×384."""
    s, p = _strides(small)
    v = 1 if small else 0  # 'V' (valid) convolutions of the figure
    return nn.Sequential(OrderedDict(
        conv1=conv(in_channels, 32, 3, s, p),  # 149×149×32
        conv2=conv(32, 32, 3, 1, v),  # 147×147×32
        conv3=conv(32, 64, 3, 1, 1),  # 147×147×64
        mixed_3a=Branches(pool=nn.MaxPool2d(3, s, p), conv=conv(64, 96, 3, s, p)),  # 73×73×160
        mixed_4a=Branches(
            branch0=nn.Sequential(conv(160, 64, 1), conv(64, 96, 3, 1, v)),
            branch1=nn.Sequential(conv(160, 64, 1), conv(64, 64, (1, 7), 1, (0, 3)),
                                  conv(64, 64, (7, 1), 1, (3, 0)), conv(64, 96, 3, 1, v)),
        ),  # 71×71×192
        mixed_5a=Branches(conv=conv(192, 192, 3, s, p), pool=nn.MaxPool2d(3, s, p)),  # 35×35×384
    ))


def avg_pool_branch(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), conv(cin, cout, 1))


def inception_a() -> Branches:
    """Figure 4: 35×35×384 in and out."""
    return Branches(
        branch0=conv(384, 96, 1),
        branch1=nn.Sequential(conv(384, 64, 1), conv(64, 96, 3, 1, 1)),
        branch2=nn.Sequential(conv(384, 64, 1), conv(64, 96, 3, 1, 1), conv(96, 96, 3, 1, 1)),
        branch3=avg_pool_branch(384, 96),
    )


def reduction_a(cin: int, k: int, l: int, m: int, n: int) -> Branches:
    """Figure 7, with the filter counts k, l, m, n of the paper's Table 1: 35×35 → 17×17."""
    return Branches(
        branch0=conv(cin, n, 3, 2),
        branch1=nn.Sequential(conv(cin, k, 1), conv(k, l, 3, 1, 1), conv(l, m, 3, 2)),
        branch2=nn.MaxPool2d(3, 2),
    )


def inception_b() -> Branches:
    """Figure 5: 17×17×1024 in and out."""
    return Branches(
        branch0=conv(1024, 384, 1),
        branch1=nn.Sequential(conv(1024, 192, 1), conv(192, 224, (1, 7), 1, (0, 3)),
                              conv(224, 256, (7, 1), 1, (3, 0))),
        branch2=nn.Sequential(conv(1024, 192, 1), conv(192, 192, (7, 1), 1, (3, 0)),
                              conv(192, 224, (1, 7), 1, (0, 3)), conv(224, 224, (7, 1), 1, (3, 0)),
                              conv(224, 256, (1, 7), 1, (0, 3))),
        branch3=avg_pool_branch(1024, 128),
    )


def v4_reduction_b() -> Branches:
    """Figure 8: 17×17×1024 → 8×8×1536."""
    return Branches(
        branch0=nn.Sequential(conv(1024, 192, 1), conv(192, 192, 3, 2)),
        branch1=nn.Sequential(conv(1024, 256, 1), conv(256, 256, (1, 7), 1, (0, 3)),
                              conv(256, 320, (7, 1), 1, (3, 0)), conv(320, 320, 3, 2)),
        branch2=nn.MaxPool2d(3, 2),
    )


def inception_c() -> Branches:
    """Figure 6: 8×8×1536 in and out."""
    return Branches(
        branch0=conv(1536, 256, 1),
        branch1=Split(conv(1536, 384, 1), conv(384, 256, (1, 3), 1, (0, 1)), conv(384, 256, (3, 1), 1, (1, 0))),
        branch2=Split(nn.Sequential(conv(1536, 384, 1), conv(384, 448, (3, 1), 1, (1, 0)),
                                    conv(448, 512, (1, 3), 1, (0, 1))),
                      conv(512, 256, (1, 3), 1, (0, 1)), conv(512, 256, (3, 1), 1, (1, 0))),
        branch3=avg_pool_branch(1536, 256),
    )


class _InceptionHead:
    """Global average pooling, dropout (keep 0.8, as in the paper) and the classifier."""

    def _add_head(self, num_classes: int, dropout: float) -> None:
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1536, num_classes)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)


class InceptionV4(_InceptionHead, WorkbenchModel, nn.Module):
    """Figure 9: stem, 4 × Inception-A, Reduction-A, 7 × Inception-B, Reduction-B, 3 × Inception-C."""

    classifier_name = "fc"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size=(299, 299), dropout: float = 0.2):
        super().__init__()
        small = min(input_size) < SMALL_INPUT
        self.num_classes = num_classes
        self.stem = v4_stem(in_channels, small)
        self.inception_a = nn.Sequential(*[inception_a() for _ in range(4)])
        self.reduction_a = reduction_a(384, k=192, l=224, m=256, n=384)
        self.inception_b = nn.Sequential(*[inception_b() for _ in range(7)])
        self.reduction_b = v4_reduction_b()
        self.inception_c = nn.Sequential(*[inception_c() for _ in range(3)])
        self._add_head(num_classes, dropout)
        r = 1 if small else 8
        self.stem_info = ("small input: stride-1 padded stem (no reduction before Inception-A)" if small
                          else "as in the paper: stride-2 'valid' stem, 299 → 35")
        self.feature_info = [feature("stem", 384, r), feature("inception_a", 384, r),
                             feature("inception_b", 1024, 2 * r), feature("inception_c", 1536, 4 * r)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduction_a(self.inception_a(self.stem(x)))
        return self.inception_c(self.reduction_b(self.inception_b(x)))


# --- Inception-ResNet-v2 ----------------------------------------------------------------------------

class ResidualInception(nn.Module):
    """An Inception-ResNet block (Figures 16-19): the branches' concatenation goes through a 1×1
    linear convolution back to the input width, is *scaled down* (the paper: by 0.1-0.3, which kept
    very wide residual networks from dying early in training) and added to the input."""

    def __init__(self, branches: Branches, concat_channels: int, channels: int, scale: float, relu: bool = True):
        super().__init__()
        self.branches = branches
        self.conv = nn.Conv2d(concat_channels, channels, 1)  # linear: no BN, no activation
        self.scale = scale
        self.relu = nn.ReLU(inplace=False) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.scale * self.conv(self.branches(x)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


def resnet_v2_stem(in_channels: int, small: bool) -> nn.Sequential:
    """The released model's stem: 299×299×3 → 35×35×320."""
    s, p = _strides(small)
    v = 1 if small else 0
    return nn.Sequential(OrderedDict(
        conv1=conv(in_channels, 32, 3, s, p),  # 149×149×32
        conv2=conv(32, 32, 3, 1, v),  # 147×147×32
        conv3=conv(32, 64, 3, 1, 1),  # 147×147×64
        pool1=nn.MaxPool2d(3, s, p),  # 73×73×64
        conv4=conv(64, 80, 1),  # 73×73×80
        conv5=conv(80, 192, 3, 1, v),  # 71×71×192
        pool2=nn.MaxPool2d(3, s, p),  # 35×35×192
        mixed_5b=Branches(
            branch0=conv(192, 96, 1),
            branch1=nn.Sequential(conv(192, 48, 1), conv(48, 64, 5, 1, 2)),
            branch2=nn.Sequential(conv(192, 64, 1), conv(64, 96, 3, 1, 1), conv(96, 96, 3, 1, 1)),
            branch3=avg_pool_branch(192, 64),
        ),  # 35×35×320
    ))


def inception_resnet_a(scale: float) -> ResidualInception:
    """Figure 16 (35×35 grid)."""
    return ResidualInception(Branches(
        branch0=conv(320, 32, 1),
        branch1=nn.Sequential(conv(320, 32, 1), conv(32, 32, 3, 1, 1)),
        branch2=nn.Sequential(conv(320, 32, 1), conv(32, 48, 3, 1, 1), conv(48, 64, 3, 1, 1)),
    ), 128, 320, scale)


def inception_resnet_b(scale: float) -> ResidualInception:
    """Figure 17 (17×17 grid)."""
    return ResidualInception(Branches(
        branch0=conv(1088, 192, 1),
        branch1=nn.Sequential(conv(1088, 128, 1), conv(128, 160, (1, 7), 1, (0, 3)), conv(160, 192, (7, 1), 1, (3, 0))),
    ), 384, 1088, scale)


def inception_resnet_c(scale: float, relu: bool = True) -> ResidualInception:
    """Figure 19 (8×8 grid)."""
    return ResidualInception(Branches(
        branch0=conv(2080, 192, 1),
        branch1=nn.Sequential(conv(2080, 192, 1), conv(192, 224, (1, 3), 1, (0, 1)), conv(224, 256, (3, 1), 1, (1, 0))),
    ), 448, 2080, scale, relu)


def resnet_v2_reduction_b() -> Branches:
    """Figure 18: 17×17×1088 → 8×8×2080."""
    return Branches(
        branch0=nn.Sequential(conv(1088, 256, 1), conv(256, 384, 3, 2)),
        branch1=nn.Sequential(conv(1088, 256, 1), conv(256, 288, 3, 2)),
        branch2=nn.Sequential(conv(1088, 256, 1), conv(256, 288, 3, 1, 1), conv(288, 320, 3, 2)),
        branch3=nn.MaxPool2d(3, 2),
    )


class InceptionResNetV2(_InceptionHead, WorkbenchModel, nn.Module):
    """Figure 15: stem, 10 × Inception-ResNet-A, Reduction-A, 20 × Inception-ResNet-B, Reduction-B,
    10 × Inception-ResNet-C (the last without its ReLU), a 1×1 convolution to 1,536 channels."""

    classifier_name = "fc"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size=(299, 299),
                 scales: tuple[float, float, float] = (0.17, 0.10, 0.20), dropout: float = 0.2):
        super().__init__()
        if not all(0 < s <= 1 for s in scales) or len(scales) != 3:
            raise ValueError(f"scales must be three factors in (0, 1], one per block type, not {scales!r}")
        small = min(input_size) < SMALL_INPUT
        self.num_classes = num_classes
        self.stem = resnet_v2_stem(in_channels, small)
        self.inception_resnet_a = nn.Sequential(*[inception_resnet_a(scales[0]) for _ in range(10)])
        self.reduction_a = reduction_a(320, k=256, l=256, m=384, n=384)  # Table 1: k, l, m, n
        self.inception_resnet_b = nn.Sequential(*[inception_resnet_b(scales[1]) for _ in range(20)])
        self.reduction_b = resnet_v2_reduction_b()
        self.inception_resnet_c = nn.Sequential(*[inception_resnet_c(scales[2]) for _ in range(9)],
                                                inception_resnet_c(1.0, relu=False))
        self.conv_7b = conv(2080, 1536, 1)
        self._add_head(num_classes, dropout)
        r = 1 if small else 8
        self.stem_info = ("small input: stride-1 padded stem (no reduction before Inception-ResNet-A)" if small
                          else "as in the released model: stride-2 'valid' stem, 299 → 35")
        self.feature_info = [feature("stem", 320, r), feature("inception_resnet_a", 320, r),
                             feature("inception_resnet_b", 1088, 2 * r), feature("inception_resnet_c", 2080, 4 * r),
                             feature("conv_7b", 1536, 4 * r)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduction_a(self.inception_resnet_a(self.stem(x)))
        x = self.reduction_b(self.inception_resnet_b(x))
        return self.conv_7b(self.inception_resnet_c(x))


def _register(**kw):
    return register_model(family="GoogLeNet/Inception", year=2016, paper=_PAPER, url=_URL,
                          input_size=(3, 299, 299), **kw)


@_register(idea=(
    "The pure Inception design scaled up and made uniform: a stem of factorised convolutions, then "
    "4 Inception-A, 7 Inception-B and 3 Inception-C blocks with dedicated Reduction-A/B blocks "
    "between grid sizes (35 → 17 → 8). No residual connections: 42.7 M parameters, and as "
    "accurate as Inception-ResNet-v2 in the end, only slower to train."
))
def inception_v4(num_classes=1000, in_channels=3, input_size=(299, 299), **kwargs) -> InceptionV4:
    """Inception-v4 (`paper <https://arxiv.org/abs/1602.07261>`_, Figure 9)."""
    return InceptionV4(num_classes, in_channels, input_size, **kwargs)


@_register(idea=(
    "Inception meets residual connections: each Inception block's concatenated branches pass a 1×1 "
    "linear convolution and are added to the block's input. Scaling the residual by 0.1-0.3 before "
    "the addition kept this very wide network from 'dying' early in training. Residuals made it "
    "train much faster than Inception-v4 for the same final accuracy."
))
def inception_resnet_v2(num_classes=1000, in_channels=3, input_size=(299, 299), **kwargs) -> InceptionResNetV2:
    """Inception-ResNet-v2 (`paper <https://arxiv.org/abs/1602.07261>`_, Figure 15); ``scales``
    sets the residual scaling of the A, B and C blocks (default as released: 0.17, 0.10, 0.20)."""
    return InceptionResNetV2(num_classes, in_channels, input_size, **kwargs)
