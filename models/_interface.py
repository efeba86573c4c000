"""The one interface every model in the zoo answers, in the spirit of timm.

``forward_features`` → ``forward_head`` is the whole forward pass; ``feature_info``
names the stages (channels and reduction), ``reset_classifier`` swaps the head for
transfer learning. Generic tools (layer explorer, feature maps, Grad-CAM) rely on it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


SMALL_INPUT = 128
"""Below this height/width a network gets a small-image stem: an ImageNet stem (/4 at once)
throws away too much of a 32×32 image."""


class WorkbenchModel:
    """Mix-in for ``nn.Module`` subclasses. Subclasses set ``classifier_name`` and
    ``feature_info`` and implement ``forward_features`` and ``forward_head``.
    Defining no ``__init__`` keeps torchvision subclasses' state-dict layout intact."""

    classifier_name: str = "fc"
    feature_info: list[dict]
    stem_info: str = "as in the paper"
    num_classes: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the last layer with a fresh one for ``num_classes`` classes."""
        old = self.get_classifier()
        if isinstance(old, nn.Linear):
            new: nn.Module = nn.Linear(old.in_features, num_classes)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding)
        else:
            raise TypeError(f"Cannot reset a classifier of type {type(old).__name__}")
        parent_name, _, attr = self.classifier_name.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        setattr(parent, attr, new.to(next(old.parameters()).device))
        self.num_classes = num_classes


class InputResize(nn.Module):
    """Resizes any input to the fixed size a paper's network was designed for."""

    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.size = tuple(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == self.size:
            return x
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False, antialias=True)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def fixed_size_stem(size: tuple[int, int], input_size: tuple[int, int], network: str) -> tuple[InputResize, str]:
    """For networks defined at one input size: a resizing stem and the line the summary shows."""
    if tuple(input_size) == tuple(size):
        return InputResize(size), "as in the paper"
    return InputResize(size), (f"resize {input_size[0]}×{input_size[1]} → {size[0]}×{size[1]} "
                               f"({network} is defined on {size[0]}×{size[1]})")


def feature(module: str, num_chs: int, reduction: int) -> dict:
    return {"module": module, "num_chs": num_chs, "reduction": reduction}
