"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012.
https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.alexnet import AlexNet as _TorchvisionAlexNet

from ._interface import SMALL_INPUT, WorkbenchModel, feature, fixed_size_stem
from ._registry import register_model

_PAPER = "ImageNet Classification with Deep Convolutional Neural Networks"
_URL = "https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks"
_IDEA = (
    "A much bigger and deeper CNN than before, made trainable by ReLUs, two GPUs, dropout in the "
    "fully connected layers and heavy data augmentation. It won ILSVRC-2012 by a wide margin "
    "(top-5 error 15.3 % against 26.2 %) and started the deep-learning era in vision."
)


class AlexNet(WorkbenchModel, _TorchvisionAlexNet):
    """torchvision's single-GPU AlexNet (64-192-384-256-256 channels, no LRN)."""

    classifier_name = "classifier.6"

    def adapt_stem(self, in_channels: int, input_size: tuple[int, int]) -> None:
        if min(input_size) < SMALL_INPUT:
            # An 11×11 stride-4 convolution leaves nothing of a 32×32 image after three max-pools.
            self.features[0] = nn.Conv2d(in_channels, 64, 3, 1, 1)
            self.stem_info = "small input: 3×3 stride-1 first convolution instead of 11×11 stride 4"
            reductions = (1, 2, 4, 4, 4, 8)
        else:
            if in_channels != 3:
                self.features[0] = nn.Conv2d(in_channels, 64, 11, 4, 2)
            self.stem_info = "ImageNet stem: 11×11 convolution, stride 4"
            reductions = (4, 8, 16, 16, 16, 32)
        self.feature_info = [feature(f"features.{i}", c, r) for i, c, r in
                             zip((1, 4, 7, 9, 11, 12), (64, 192, 384, 256, 256, 256), reductions)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


class AlexNet2012(WorkbenchModel, nn.Module):
    """The paper's AlexNet: 96-256-384-384-256 channels, conv2/4/5 split into two groups (one per
    GPU), local response normalisation after conv1 and conv2, 227×227 input."""

    classifier_name = "fc8"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, input_size=(227, 227), dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.stem, self.stem_info = fixed_size_stem((227, 227), input_size, "AlexNet-2012")
        lrn = lambda: nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)  # noqa: E731
        self.conv1 = nn.Sequential(OrderedDict(conv=nn.Conv2d(in_channels, 96, 11, stride=4), relu=nn.ReLU(True),
                                               lrn=lrn(), pool=nn.MaxPool2d(3, 2)))
        self.conv2 = nn.Sequential(OrderedDict(conv=nn.Conv2d(96, 256, 5, padding=2, groups=2), relu=nn.ReLU(True),
                                               lrn=lrn(), pool=nn.MaxPool2d(3, 2)))
        self.conv3 = nn.Sequential(OrderedDict(conv=nn.Conv2d(256, 384, 3, padding=1), relu=nn.ReLU(True)))
        self.conv4 = nn.Sequential(OrderedDict(conv=nn.Conv2d(384, 384, 3, padding=1, groups=2), relu=nn.ReLU(True)))
        self.conv5 = nn.Sequential(OrderedDict(conv=nn.Conv2d(384, 256, 3, padding=1, groups=2), relu=nn.ReLU(True),
                                               pool=nn.MaxPool2d(3, 2)))
        self.fc6 = nn.Sequential(OrderedDict(dropout=nn.Dropout(dropout), fc=nn.Linear(256 * 6 * 6, 4096),
                                             relu=nn.ReLU(True)))
        self.fc7 = nn.Sequential(OrderedDict(dropout=nn.Dropout(dropout), fc=nn.Linear(4096, 4096),
                                             relu=nn.ReLU(True)))
        self.fc8 = nn.Linear(4096, num_classes)
        self.feature_info = [feature("conv1", 96, 8), feature("conv2", 256, 16), feature("conv3", 384, 16),
                             feature("conv4", 384, 16), feature("conv5", 256, 32)]
        # The paper: weights from N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden fc layers.
        for name, module in self.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, 0.0, 0.01)
                ones = name.split(".")[0] in ("conv2", "conv4", "conv5", "fc6", "fc7")
                nn.init.constant_(module.bias, 1.0 if ones else 0.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return self.conv5(self.conv4(self.conv3(self.conv2(self.conv1(x)))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.fc7(self.fc6(torch.flatten(x, 1)))
        return x if pre_logits else self.fc8(x)


def _register(**kw):
    return register_model(family="AlexNet", year=2012, paper=_PAPER, url=_URL, idea=_IDEA, **kw)


@_register()
def alexnet(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> AlexNet:
    """AlexNet, torchvision's (single-GPU "one weird trick" variant)."""
    model = AlexNet(num_classes=num_classes, **kwargs)
    model.num_classes = num_classes
    model.adapt_stem(in_channels, input_size)
    return model


@_register(input_size=(3, 227, 227), fixed_input=True)
def alexnet2012(num_classes=1000, in_channels=3, input_size=(227, 227), **kwargs) -> AlexNet2012:
    """AlexNet as in the 2012 paper (two groups, LRN)."""
    return AlexNet2012(num_classes, in_channels, input_size, **kwargs)
