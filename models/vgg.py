"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015. https://arxiv.org/abs/1409.1556
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import vgg as tv

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model

_PAPER = "Very Deep Convolutional Networks for Large-Scale Image Recognition"
_URL = "https://arxiv.org/abs/1409.1556"
_IDEA = (
    "Depth with nothing but 3×3 convolutions: two stacked 3×3 layers see as far as one 5×5, three "
    "as far as a 7×7, with fewer parameters and more non-linearities. Configurations A–E (11 to 19 "
    "weight layers) showed that accuracy keeps improving with depth."
)


class VGG(WorkbenchModel, tv.VGG):
    """torchvision's VGG. On small inputs the five max-pools round up and the head becomes the
    common CIFAR head (global pooling, 512-512 hidden units), since a 7×7×512 → 4096 layer fed
    by a 1×1 map would only repeat one pixel 49 times."""

    classifier_name = "classifier.6"

    def adapt(self, in_channels: int, input_size: tuple[int, int], num_classes: int, dropout: float) -> None:
        if in_channels != 3:
            self.features[0] = nn.Conv2d(in_channels, self.features[0].out_channels, 3, padding=1)
        small = min(input_size) < SMALL_INPUT
        if small:
            for i, module in enumerate(self.features):
                if isinstance(module, nn.MaxPool2d):
                    self.features[i] = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(
                nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(dropout),
                nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(dropout),
                nn.Linear(512, num_classes),
            )
            self.stem_info = "small input: max-pools round up; head = global pool + 512-512 fully connected"
        else:
            self.stem_info = "as in the paper: 7×7×512 → 4096 → 4096 head"
        # A stage ends with the activation just before each max-pool.
        self.feature_info, channels = [], 0
        for i, module in enumerate(self.features):
            if isinstance(module, nn.Conv2d):
                channels = module.out_channels
            elif isinstance(module, nn.MaxPool2d):
                self.feature_info.append(feature(f"features.{i - 1}", channels, 2 ** len(self.feature_info)))
        for m in self.classifier.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


def _vgg(cfg: str, batch_norm: bool, num_classes, in_channels, input_size, dropout: float = 0.5) -> VGG:
    model = VGG(tv.make_layers(tv.cfgs[cfg], batch_norm=batch_norm), num_classes=num_classes, dropout=dropout)
    model.num_classes = num_classes
    model.adapt(in_channels, input_size, num_classes, dropout)
    return model


def _register(name: str, cfg: str, bn: bool) -> None:
    depth = {"A": 11, "B": 13, "D": 16, "E": 19}[cfg]

    def builder(num_classes=1000, in_channels=3, input_size=(224, 224), **kwargs) -> VGG:
        return _vgg(cfg, bn, num_classes, in_channels, input_size, **kwargs)

    builder.__name__ = name
    builder.__doc__ = (f"VGG-{depth} (configuration {cfg}){' with batch normalisation' if bn else ''}, "
                       f"torchvision's (`paper <{_URL}>`_).")
    register_model(family="VGG", year=2014, paper=_PAPER, url=_URL, idea=_IDEA, name=name)(builder)


for _cfg, _depth in (("A", 11), ("B", 13), ("D", 16), ("E", 19)):
    _register(f"vgg{_depth}", _cfg, False)
    _register(f"vgg{_depth}_bn", _cfg, True)
