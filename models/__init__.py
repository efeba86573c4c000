"""The CNN zoo: classic architectures behind one registry and one interface.

>>> import models
>>> net = models.create_model("lenet5", num_classes=10, in_channels=1)

Imports torch and torchvision only; never Qt, never ``workbench``.
"""

from ._interface import InputResize, WorkbenchModel
from ._registry import ModelInfo, create_model, get_model_info, list_models, natural_key, register_model

# Importing a family module registers its builders.
from . import (  # noqa: E402,F401
    alexnet, bn_inception, cifar_resnet, densenet, dpn, fractalnet, inception, inception_v4, lenet, nin, resnet, resnext,
    senet, vgg, wide_resnet,
)

__all__ = [
    "InputResize",
    "ModelInfo",
    "WorkbenchModel",
    "create_model",
    "get_model_info",
    "list_models",
    "natural_key",
    "register_model",
]
