"""FractalNet: Larsson, Maire & Shakhnarovich, "FractalNet: Ultra-Deep Neural Networks without
Residuals", ICLR 2017. https://arxiv.org/abs/1605.07648

The expansion rule of the paper's Figure 1, f₁(z) = conv(z) and f_{C+1}(z) = join(f_C(f_C(z)),
conv(z)), gives a block of C columns; column c (counted from the shallowest, c = 0) holds 2^c
convolutions. Joins take the element-wise mean of the columns that meet there, all at once as in
the authors' Caffe generator. B blocks with 2×2 max-pooling between them make a network whose
deepest path has B · 2^(C-1) convolutions: 40 for the paper's CIFAR network (B = 5, C = 4). Every
signal passes a convolution and a non-linearity: there are no pass-through (residual) paths.

Drop-path regularises the columns: in training, half the mini-batches use *local* drop-path (each
join drops each of its inputs with probability 0.15, keeping at least one) and the other half
*global* drop-path (one column, chosen at random, is the whole network). At inference all columns
are averaged, or only one runs (``model.inference_column``), e.g. the deepest alone, the paper's
"plain network extracted from a fractal".
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model
from ._staged import imagenet_stem, init_weights

__all__ = ["FractalNet", "FractalBlock"]


def conv_bn_relu(cin: int, cout: int, dropout: float) -> nn.Sequential:
    layers = OrderedDict(conv=nn.Conv2d(cin, cout, 3, 1, 1, bias=False), bn=nn.BatchNorm2d(cout),
                         relu=nn.ReLU(inplace=True))
    if dropout:
        layers["dropout"] = nn.Dropout(dropout)
    return nn.Sequential(layers)


class FractalBlock(nn.Module):
    """f_C between two poolings. ``columns[c]`` is column c's stack of 2^c convolutions."""

    def __init__(self, in_channels: int, out_channels: int, num_columns: int, dropout: float = 0.0):
        super().__init__()
        self.num_columns = num_columns
        self.depth = 2 ** (num_columns - 1)
        self.columns = nn.ModuleList(
            nn.ModuleList(conv_bn_relu(in_channels if i == 0 else out_channels, out_channels, dropout)
                          for i in range(2 ** c))
            for c in range(num_columns)
        )

    def columns_at(self, step: int) -> list[int]:
        """The columns that end a convolution at ``step`` (1 … 2^(C-1)) and so join there:
        column c convolves every 2^(C-1-c) steps."""
        return [c for c in range(self.num_columns) if step % 2 ** (self.num_columns - 1 - c) == 0]

    def forward(self, x: torch.Tensor, drop_prob: float = 0.0, column: int | None = None) -> torch.Tensor:
        if column is not None:  # one column alone (global drop-path, or a column chosen for inference)
            for layer in self.columns[column]:
                x = layer(x)
            return x
        inputs = [x] * self.num_columns  # what each column convolves next
        done = [0] * self.num_columns  # how many of its convolutions each column has run
        for step in range(1, self.depth + 1):
            meeting = self.columns_at(step)
            outs = []
            for c in meeting:
                outs.append(self.columns[c][done[c]](inputs[c]))
                done[c] += 1
            joined = self.join(outs, drop_prob)
            for c in meeting:
                inputs[c] = joined
        return inputs[-1]

    @staticmethod
    def join(outs: list[torch.Tensor], drop_prob: float) -> torch.Tensor:
        """Element-wise mean; with local drop-path each input is dropped with ``drop_prob``,
        and one random survivor is kept when all would go."""
        if len(outs) == 1:
            return outs[0]
        if drop_prob > 0:
            keep = (torch.rand(len(outs)) >= drop_prob).tolist()  # torch's CPU generator: seeded runs repeat
            if not any(keep):
                keep[int(torch.randint(len(outs), ()))] = True
            outs = [o for o, k in zip(outs, keep) if k]
        return torch.stack(outs).mean(0)


class FractalNet(WorkbenchModel, nn.Module):
    """B fractal blocks of C columns, 2×2 max-pooling after each, global average pool, linear
    classifier."""

    classifier_name = "fc"

    def __init__(self, num_classes: int = 10, in_channels: int = 3, input_size=(32, 32), num_columns: int = 4,
                 channels: tuple[int, ...] = (64, 128, 256, 512, 512),
                 dropout: tuple[float, ...] | None = (0.0, 0.1, 0.2, 0.3, 0.4),
                 local_drop: float = 0.15, global_drop: float = 0.5):
        super().__init__()
        if num_columns < 1 or not channels:
            raise ValueError("FractalNet needs at least one column and one block")
        dropout = tuple(dropout) if dropout is not None else (0.0,) * len(channels)
        if len(dropout) != len(channels):
            raise ValueError(f"one dropout rate per block: {len(channels)} blocks, {len(dropout)} rates")
        if not (0 <= local_drop < 1 and 0 <= global_drop <= 1):
            raise ValueError("drop-path probabilities must lie in [0, 1)")
        self.num_classes = num_classes
        self.num_columns = num_columns
        self.local_drop = local_drop
        self.global_drop = global_drop
        self.inference_column: int | None = None
        """``None``: all columns, averaged at each join; ``c``: column c alone (``num_columns - 1``
        is the deepest)."""
        if min(input_size) < SMALL_INPUT:
            self.stem = nn.Identity()
            self.stem_info = "as in the paper: the first block sees the image (CIFAR network, no stem)"
            r, cin = 1, in_channels
        else:
            self.stem = imagenet_stem(in_channels, 64)
            self.stem_info = "large input: ImageNet stem (7×7 conv stride 2 + 3×3 max-pool, /4) before the blocks"
            r, cin = 4, 64
        self.blocks = nn.ModuleList()
        self.pools = nn.ModuleList()
        self.feature_info = []
        for i, (cout, p) in enumerate(zip(channels, dropout)):
            self.blocks.append(FractalBlock(cin, cout, num_columns, p))
            self.pools.append(nn.MaxPool2d(2, ceil_mode=True))  # ceil: 28 → 14 → 7 → 4 → 2 → 1
            self.feature_info.append(feature(f"blocks.{i}", cout, r * 2 ** i))
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        init_weights(self)

    @property
    def depth(self) -> int:
        """Convolutions on the deepest path: B · 2^(C-1)."""
        return len(self.blocks) * 2 ** (self.num_columns - 1)

    def _drop_path_plan(self) -> tuple[float, int | None]:
        """(local drop probability, global column) for this forward pass."""
        if not self.training:
            return 0.0, self.inference_column
        if self.global_drop and float(torch.rand(())) < self.global_drop:
            return 0.0, int(torch.randint(self.num_columns, ()))
        return self.local_drop, None

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        drop_prob, column = self._drop_path_plan()
        x = self.stem(x)
        for block, pool in zip(self.blocks, self.pools):
            x = pool(block(x, drop_prob, column))
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


@register_model(
    family="FractalNet",
    year=2016,
    paper="FractalNet: Ultra-Deep Neural Networks without Residuals",
    url="https://arxiv.org/abs/1605.07648",
    input_size=(3, 32, 32),
    idea=(
        "A deep network without residuals that still trains: one expansion rule, f(z) = join(f(f(z)), "
        "conv(z)), repeated, gives interleaved columns of depth 1, 2, 4, 8 whose outputs are averaged "
        "where they meet. Drop-path, dropout for paths, randomly removes join inputs (local) or keeps a "
        "single column (global) while training, so each column learns to work alone: the deepest one "
        "can be used by itself at inference, and shallow columns give quick answers."
    ),
)
def fractalnet(num_classes=10, in_channels=3, input_size=(32, 32), **kwargs) -> FractalNet:
    """FractalNet, the paper's CIFAR network: 5 blocks of 4 columns, 40 convolutions deep
    (`paper <https://arxiv.org/abs/1605.07648>`_). ``num_columns``, ``channels`` (one per block),
    ``dropout``, ``local_drop`` and ``global_drop`` are parameters; set ``model.inference_column``
    to evaluate one column alone."""
    return FractalNet(num_classes, in_channels, input_size, **kwargs)
