"""LeNet-5: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 86(11), 1998. http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from ._interface import WorkbenchModel, feature, fixed_size_stem
from ._registry import register_model

__all__ = ["LeNet5", "LeNet5ReLU", "ScaledTanh", "Subsampling", "PartialConv2d", "C3_CONNECTIONS"]

# Table I of the paper: which S2 maps (rows) feed each C3 map (columns).
C3_CONNECTIONS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Appendix A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4: each unit adds its 2×2 inputs, multiplies by a trainable coefficient and
    adds a trainable bias (one of each per map)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), 0.25))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summed = F.avg_pool2d(x, 2) * 4.0
        return summed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PartialConv2d(nn.Module):
    """A convolution in which each output map sees only some input maps.

    Only the table's connections are parameters (C3: 60 kernels of 5×5 + 16 biases = 1,516).
    Maps with the same number of inputs run as one grouped convolution over the gathered
    input maps, so the work done (and counted) is the paper's, not a dense 6→16 convolution."""

    def __init__(self, in_channels: int, connections: tuple[tuple[int, ...], ...], kernel_size: int):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = len(connections)
        self.kernel_size = kernel_size
        self.connections = tuple(tuple(ins) for ins in connections)
        starts = [0]
        for ins in connections:
            starts.append(starts[-1] + len(ins))
        by_fan_in: dict[int, list[int]] = {}
        for out, ins in enumerate(connections):
            by_fan_in.setdefault(len(ins), []).append(out)
        self._groups = []
        for n, (fan_in, outs) in enumerate(sorted(by_fan_in.items())):
            gather = torch.tensor([i for o in outs for i in connections[o]])
            rows = torch.tensor([starts[o] + j for o in outs for j in range(fan_in)])
            self.register_buffer(f"gather{n}", gather, persistent=False)
            self.register_buffer(f"rows{n}", rows, persistent=False)
            self.register_buffer(f"outs{n}", torch.tensor(outs), persistent=False)
            self._groups.append((fan_in, len(outs)))
        order = [o for _, outs in sorted(by_fan_in.items()) for o in outs]
        self.register_buffer("order", torch.argsort(torch.tensor(order)), persistent=False)
        self.weight = nn.Parameter(torch.empty(starts[-1], kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        # The paper's initialisation: uniform in ±2.4 / fan-in.
        fan_in = torch.tensor([len(ins) for ins in connections for _ in ins]) * kernel_size**2
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_((2.4 / fan_in).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        parts = []
        for n, (fan_in, maps) in enumerate(self._groups):
            weight = self.weight[getattr(self, f"rows{n}")].view(maps, fan_in, k, k)
            bias = self.bias[getattr(self, f"outs{n}")]
            parts.append(F.conv2d(x[:, getattr(self, f"gather{n}")], weight, bias, groups=maps))
        return torch.cat(parts, 1)[:, self.order]

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={sum(len(c) for c in self.connections)}")


def _register(**kw):
    return register_model(family="LeNet", year=1998, paper="Gradient-Based Learning Applied to Document Recognition",
                          url="http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf", fixed_input=True, **kw)


def _squashed(**layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(**layers, act=ScaledTanh()))


class LeNet5(WorkbenchModel, nn.Module):
    """LeNet-5 as in the paper: 32×32 input, scaled tanh, trainable subsampling and the
    C3 connection table. The RBF output layer is replaced by a linear one so the network
    trains with cross-entropy on any number of classes."""

    classifier_name = "output"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (32, 32)):
        super().__init__()
        self.num_classes = num_classes
        self.stem, self.stem_info = fixed_size_stem((32, 32), input_size, "LeNet-5")
        self.c1 = _squashed(conv=nn.Conv2d(in_channels, 6, 5))
        self.s2 = _squashed(pool=Subsampling(6))
        self.c3 = _squashed(conv=PartialConv2d(6, C3_CONNECTIONS, 5))
        self.s4 = _squashed(pool=Subsampling(16))
        self.c5 = _squashed(conv=nn.Conv2d(16, 120, 5))
        self.f6 = _squashed(fc=nn.Linear(120, 84))
        self.output = nn.Linear(84, num_classes)
        self.feature_info = [
            feature("c1", 6, 1), feature("s2", 6, 2), feature("c3", 16, 2),
            feature("s4", 16, 4), feature("c5", 120, 32),
        ]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.c5(self.s4(self.c3(self.s2(self.c1(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.f6(torch.flatten(x, 1))
        return x if pre_logits else self.output(x)


@_register(
    idea=(
        "The first convolutional network trained end to end with back-propagation to read "
        "documents: small shared-weight kernels find local features anywhere in the image, "
        "subsampling layers make them tolerant to small shifts, and C3's partial connection "
        "table breaks symmetry between its 16 maps while saving parameters."
    ),
    input_size=(1, 32, 32),
)
def lenet5(num_classes: int = 10, in_channels: int = 1, input_size: tuple[int, int] = (32, 32)) -> LeNet5:
    """LeNet-5 (`paper <http://yann.lecun.com/exdb/publis/pdf/lecun-01a.pdf>`_)."""
    return LeNet5(num_classes, in_channels, input_size)


class LeNet5ReLU(WorkbenchModel, nn.Module):
    """The common modern LeNet: ReLU, max-pooling, 16 and 32 channels, 800 → 32 → classes
    (as in the CIFAR-10 tutorials). Defined on 32×32; other sizes are resized by the stem."""

    classifier_name = "fc2"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size: tuple[int, int] = (32, 32)):
        super().__init__()
        self.num_classes = num_classes
        self.stem, self.stem_info = fixed_size_stem((32, 32), input_size, "LeNet")
        self.conv1 = nn.Conv2d(in_channels, 16, 5)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 5 * 5, 32)
        self.relu3 = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(32, num_classes)
        self.feature_info = [feature("relu1", 16, 1), feature("pool1", 16, 2), feature("relu2", 32, 2),
                             feature("pool2", 32, 4)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(self.stem(x))))
        return self.pool2(self.relu2(self.conv2(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.relu3(self.fc1(torch.flatten(x, 1)))
        return x if pre_logits else self.fc2(x)


@_register(
    idea=(
        "LeNet-5's layout with today's defaults: ReLU instead of the scaled tanh, max-pooling instead "
        "of trainable subsampling, full connections between the convolutions and a plain linear "
        "classifier. The usual first network of a deep-learning course."
    ),
    input_size=(3, 32, 32),
)
def lenet5_relu(num_classes: int = 10, in_channels: int = 3, input_size: tuple[int, int] = (32, 32)) -> LeNet5ReLU:
    """LeNet-5 in its modern form (ReLU, max-pooling, 16-32 channels)."""
    return LeNet5ReLU(num_classes, in_channels, input_size)
