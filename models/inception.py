"""GoogLeNet (Inception v1) and Inception v3, torchvision's implementations with the zoo's
interface. In training both return ``(logits, *aux_logits)``; the engine weights each auxiliary
loss by 0.3, as in the GoogLeNet paper. In eval mode they return the logits alone."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.googlenet import BasicConv2d as GoogLeNetConv
from torchvision.models.googlenet import GoogLeNet as _TorchvisionGoogLeNet
from torchvision.models.inception import BasicConv2d as InceptionConv
from torchvision.models.inception import Inception3 as _TorchvisionInception3

from ._interface import SMALL_INPUT, WorkbenchModel, feature
from ._registry import register_model


class _AuxForward:
    """``forward`` for networks with auxiliary classifiers: ``_features(x, aux)`` appends
    auxiliary logits to ``aux`` when it is a list."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self._features(self._transform_input(x), None)

    def forward(self, x: torch.Tensor):
        # _transform_input is torchvision's: it acts only when transform_input is set (pretrained weights).
        if self.training and self.aux_logits:
            aux: list[torch.Tensor] = []
            logits = self.forward_head(self._features(self._transform_input(x), aux))
            return (logits, *aux)
        return self.forward_head(self._features(self._transform_input(x), None))


class GoogLeNet(_AuxForward, WorkbenchModel, _TorchvisionGoogLeNet):
    classifier_name = "fc"

    def adapt_stem(self, in_channels: int, input_size: tuple[int, int]) -> None:
        if min(input_size) < SMALL_INPUT:
            self.conv1 = GoogLeNetConv(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1 = nn.Identity()
            self.maxpool2 = nn.Identity()
            self.stem_info = "small input: 3×3 stride-1 first convolution, no stem max-pools"
            r = (1, 1, 2, 4)
        else:
            if in_channels != 3:
                self.conv1 = GoogLeNetConv(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.stem_info = "ImageNet stem: 7×7 stride-2 convolution and two max-pools"
            r = (4, 8, 16, 32)
        self.feature_info = [feature("conv3", 192, r[0]), feature("inception3b", 480, r[1]),
                             feature("inception4e", 832, r[2]), feature("inception5b", 1024, r[3])]

    def _features(self, x: torch.Tensor, aux: list | None) -> torch.Tensor:
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        if aux is not None and self.aux1 is not None:
            aux.append(self.aux1(x))
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        if aux is not None and self.aux2 is not None:
            aux.append(self.aux2(x))
        x = self.maxpool4(self.inception4e(x))
        return self.inception5b(self.inception5a(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.avgpool(x), 1))
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes).to(aux.fc2.weight.device)


class Inception3(_AuxForward, WorkbenchModel, _TorchvisionInception3):
    classifier_name = "fc"

    def adapt_stem(self, in_channels: int, input_size: tuple[int, int]) -> None:
        side = min(input_size)
        if side < SMALL_INPUT:
            self.Conv2d_1a_3x3 = InceptionConv(in_channels, 32, kernel_size=3, stride=1, padding=1)
            self.Conv2d_2a_3x3 = InceptionConv(32, 32, kernel_size=3, padding=1)
            self.Conv2d_4a_3x3 = InceptionConv(80, 192, kernel_size=3, padding=1)
            self.maxpool1 = nn.Identity()
            self.maxpool2 = nn.Identity()
            self.stem_info = "small input: stride-1 padded stem, no stem max-pools"
            mixed_6 = (side - 3) // 2 + 1
            r = (1, 1, 1, 2, 4)
        else:
            if in_channels != 3:
                self.Conv2d_1a_3x3 = InceptionConv(in_channels, 32, kernel_size=3, stride=2)
            self.stem_info = "ImageNet stem: stride-2 3×3 convolutions and two max-pools"
            s = (side - 3) // 2 + 1 - 2
            s = (s - 3) // 2 + 1 - 2
            mixed_6 = ((s - 3) // 2 + 1 - 3) // 2 + 1
            r = (2, 4, 8, 16, 32)
        if self.AuxLogits is not None and mixed_6 < 17:
            # The auxiliary head pools 5×5 with stride 3 and then needs a 5×5 map: 17×17 at Mixed_6e.
            self.AuxLogits = None
            self.aux_logits = False
            self.stem_info += f"; auxiliary classifier off (Mixed_6e is {mixed_6}×{mixed_6}, it needs 17×17: 299×299 input)"
        self.feature_info = [feature("Conv2d_2b_3x3", 64, r[0]), feature("Conv2d_4a_3x3", 192, r[1]),
                             feature("Mixed_5d", 288, r[2]), feature("Mixed_6e", 768, r[3]),
                             feature("Mixed_7c", 2048, r[4])]

    def _features(self, x: torch.Tensor, aux: list | None) -> torch.Tensor:
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x)))))
        if aux is not None and self.AuxLogits is not None:
            aux.append(self.AuxLogits(x))
        return self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.dropout(self.avgpool(x)), 1)
        return x if pre_logits else self.fc(x)

    def reset_classifier(self, num_classes: int) -> None:
        super().reset_classifier(num_classes)
        if self.AuxLogits is not None:
            fc = self.AuxLogits.fc
            self.AuxLogits.fc = nn.Linear(fc.in_features, num_classes).to(fc.weight.device)


@register_model(
    family="GoogLeNet/Inception",
    year=2014,
    paper="Going Deeper with Convolutions",
    url="https://arxiv.org/abs/1409.4842",
    idea=(
        "The Inception module runs 1×1, 3×3 and 5×5 convolutions and a max-pool side by side and "
        "concatenates them, with 1×1 convolutions first to cut the cost. 22 layers deep with 12× "
        "fewer parameters than AlexNet; two auxiliary classifiers (loss weight 0.3) push gradient "
        "into the middle of the network during training and are dropped at inference."
    ),
)
def googlenet(num_classes=1000, in_channels=3, input_size=(224, 224), aux_logits: bool = True, **kwargs) -> GoogLeNet:
    """GoogLeNet / Inception v1 with both auxiliary classifiers, torchvision's."""
    model = GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, transform_input=False, init_weights=True,
                      **kwargs)
    model.num_classes = num_classes
    model.adapt_stem(in_channels, input_size)
    return model


@register_model(
    family="GoogLeNet/Inception",
    year=2015,
    paper="Rethinking the Inception Architecture for Computer Vision",
    url="https://arxiv.org/abs/1512.00567",
    idea=(
        "Factorise big convolutions: a 5×5 into two 3×3, an n×n into 1×n then n×1; shrink the grid "
        "with parallel stride-2 convolution and pooling branches; regularise with label smoothing "
        "and a batch-normalised auxiliary classifier. 299×299 input."
    ),
    input_size=(3, 299, 299),
)
def inception_v3(num_classes=1000, in_channels=3, input_size=(299, 299), aux_logits: bool = True,
                 **kwargs) -> Inception3:
    """Inception v3, torchvision's."""
    model = Inception3(num_classes=num_classes, aux_logits=aux_logits, transform_input=False, init_weights=True,
                       **kwargs)
    model.num_classes = num_classes
    model.adapt_stem(in_channels, input_size)
    return model
