"""Which zoo models can start from torchvision's ImageNet weights, and how the weights are put in.

A model is built at the weights' own input size (so it gets the ImageNet stem the weights were
trained with), loaded strictly, then adapted: a grey dataset gets a first convolution whose
kernels are the sum of the RGB kernels (timm's ``adapt_input_conv``: a grey image seen as
R = G = B gives the same response), and the classifier is replaced for the new classes.
"""

from __future__ import annotations

import torch
from torch import nn

from ._registry import create_model

__all__ = ["TORCHVISION_WEIGHTS", "adapt_input_conv", "build_pretrained"]

# Zoo name → torchvision model name whose DEFAULT weights fit it exactly.
TORCHVISION_WEIGHTS = {
    name: name for name in (
        "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
        "googlenet", "inception_v3", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "densenet121", "densenet169", "densenet201", "resnext50_32x4d", "wide_resnet50_2",
    )
}


def adapt_input_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """RGB kernels (``out×3×k×k``) for ``in_channels`` inputs: summed for one channel; otherwise
    repeated and rescaled so the response to a uniform input stays the same."""
    if in_channels == weight.shape[1]:
        return weight
    if in_channels == 1:
        return weight.sum(1, keepdim=True)
    repeats = -(-in_channels // weight.shape[1])
    return weight.repeat(1, repeats, 1, 1)[:, :in_channels] * (weight.shape[1] / in_channels)


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise TypeError(f"{type(model).__name__} has no convolution")


def build_pretrained(name: str, state_dict: dict, num_classes: int, in_channels: int = 3,
                     input_size: int = 224) -> tuple[nn.Module, list[nn.Parameter]]:
    """The model with ``state_dict`` (torchvision's ImageNet weights) loaded, its input adapted to
    ``in_channels`` and a new classifier for ``num_classes``. Returns the model and its new head's
    parameters (the ones with no pretrained value)."""
    model = create_model(name, num_classes=1000, in_channels=3, input_size=input_size)
    model.load_state_dict(state_dict)  # strict: a file for another architecture fails here
    if in_channels != 3:
        conv_name, conv = _first_conv(model)
        new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                        conv.dilation, conv.groups, conv.bias is not None)
        with torch.no_grad():
            new.weight.copy_(adapt_input_conv(conv.weight, in_channels))
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        parent, _, attr = conv_name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, new)
    if hasattr(model, "transform_input"):
        # GoogLeNet and Inception v3 weights come from Google's models, which expected inputs in
        # [-1, 1]: torchvision converts ImageNet-normalised inputs to that form first.
        model.transform_input = True
    before = {id(p) for p in model.parameters()}
    model.reset_classifier(num_classes)
    head = [p for p in model.parameters() if id(p) not in before]
    model.input_size = (in_channels, input_size, input_size)
    return model, head
