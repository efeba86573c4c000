"""Dual Path Networks: Chen, Li, Xiao, Jin, Yan & Feng, NeurIPS 2017.
https://arxiv.org/abs/1707.01629

Each block has a residual path (features re-used, added) and a densely connected path (new
features explored, concatenated), sharing one grouped bottleneck. Layout as in the authors'
MXNet release: pre-activation (BN-ReLU-conv) layers, ``proj``/``down`` blocks opening each
stage, a final BN-ReLU over both paths concatenated."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ._registry import register_model
from ._staged import StagedNet, stem_for

def bn_relu_conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
    return nn.Sequential(OrderedDict(
        bn=nn.BatchNorm2d(in_channels), relu=nn.ReLU(inplace=True),
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
    ))


class DualPathBlock(nn.Module):
    """Input: a tensor (first block of a stage) or ``(residual, dense)``; output ``(residual, dense)``."""

    def __init__(self, in_channels: int, r: int, out_residual: int, inc: int, groups: int, kind: str = "normal"):
        super().__init__()
        self.out_residual = out_residual
        stride = 2 if kind == "down" else 1
        self.projection = (bn_relu_conv(in_channels, out_residual + 2 * inc, 1, stride)
                           if kind in ("proj", "down") else None)
        self.conv1 = bn_relu_conv(in_channels, r, 1)
        self.conv2 = bn_relu_conv(r, r, 3, stride, groups)
        self.conv3 = bn_relu_conv(r, out_residual + inc, 1)

    def forward(self, x):
        x_in = torch.cat(x, 1) if isinstance(x, tuple) else x
        if self.projection is not None:
            shortcut = self.projection(x_in)
            residual, dense = shortcut[:, : self.out_residual], shortcut[:, self.out_residual:]
        else:
            residual, dense = x
        out = self.conv3(self.conv2(self.conv1(x_in)))
        return residual + out[:, : self.out_residual], torch.cat([dense, out[:, self.out_residual:]], 1)


class DualPathStage(nn.Sequential):
    """A stage of dual-path blocks that hands the next stage both paths concatenated."""

    def forward(self, x):
        for block in self:
            x = block(x)
        return torch.cat(x, 1)


def dpn(depths, incs, k_r: int, groups: int, init_features: int, num_classes: int, in_channels: int,
        input_size, bw_factor: int = 4) -> StagedNet:
    stem, r0, info = stem_for(in_channels, init_features, input_size, paper_input="large")
    stages, widths, channels = [], [], init_features
    for i, (depth, inc) in enumerate(zip(depths, incs)):
        bw = 64 * 2**i * bw_factor
        r = (k_r * bw) // (64 * bw_factor)
        blocks = [DualPathBlock(channels, r, bw, inc, groups, "proj" if i == 0 else "down")]
        channels = bw + 3 * inc
        for _ in range(depth - 1):
            blocks.append(DualPathBlock(channels, r, bw, inc, groups))
            channels += inc
        stages.append(DualPathStage(*blocks))
        widths.append(channels)
    return StagedNet(stem, stages, widths, [r0 * 2**i for i in range(4)], num_classes,
                     post=nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True)), stem_info=info)


def _register(**kw):
    return register_model(
        family="DPN", year=2017, paper="Dual Path Networks", url="https://arxiv.org/abs/1707.01629",
        idea=("ResNet re-uses features, DenseNet explores new ones; a dual path block does both at once: "
              "one grouped bottleneck feeds a residual path (added) and a dense path (concatenated, a few "
              "channels per block). DPN-92 beat ResNeXt-101 with fewer parameters."), **kw)


@_register()
def dpn92(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> StagedNet:
    """DPN-92: k_R 96, G 32, blocks (3, 4, 20, 3), dense increments (16, 32, 24, 128)."""
    return dpn((3, 4, 20, 3), (16, 32, 24, 128), 96, 32, 64, num_classes, in_channels, input_size)


@_register(input_size=(3, 32, 32))
def dpn26(num_classes=10, in_channels=3, input_size=(32, 32), **kwargs) -> StagedNet:
    """DPN-26: the DPN-92 design with two blocks a stage (as in the well-known CIFAR ports)."""
    return dpn((2, 2, 2, 2), (16, 32, 24, 128), 96, 32, 64, num_classes, in_channels, input_size)
