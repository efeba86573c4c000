"""The model registry: one name, one builder, one card of metadata.

In the style of torchvision's ``_api.py``: builders register themselves with a
decorator, duplicate names are refused and ``list_models`` filters with fnmatch.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from torch import nn

__all__ = ["ModelInfo", "register_model", "list_models", "get_model_info", "create_model", "natural_key"]


@dataclass(frozen=True)
class ModelInfo:
    """What the app knows about an architecture before building it."""

    name: str
    family: str
    year: int
    paper: str
    url: str
    idea: str
    input_size: tuple[int, int, int] = (3, 224, 224)
    """The paper's input (channels, height, width)."""
    fixed_input: bool = False
    """True when the network only works at ``input_size``: other inputs are resized by its stem."""
    builder: Callable[..., nn.Module] = field(default=None, repr=False, compare=False)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    *,
    family: str,
    year: int,
    paper: str,
    url: str,
    idea: str,
    input_size: tuple[int, int, int] = (3, 224, 224),
    fixed_input: bool = False,
    name: str | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator that adds a builder ``fn(num_classes, in_channels, input_size, **kw)``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"A model named {key!r} is already registered")
        _REGISTRY[key] = ModelInfo(key, family, year, paper, url, idea, input_size, fixed_input, fn)
        return fn

    return wrap


def natural_key(name: str) -> list:
    """Sorts names as people read them: the digits in a name compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_models(
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    family: str | None = None,
) -> list[str]:
    """Registered names in natural order (resnet18 before resnet101), optionally filtered by fnmatch
    patterns or family."""
    names = sorted(_REGISTRY, key=natural_key)
    if family is not None:
        names = [n for n in names if _REGISTRY[n].family == family]
    if include is not None:
        patterns = [include] if isinstance(include, str) else list(include)
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    if exclude is not None:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)]
    return names


def get_model_info(name: str) -> ModelInfo:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown model {name!r}; known models: {', '.join(list_models())}") from None


def _as_hw(input_size: int | tuple[int, ...] | None, default: tuple[int, int, int]) -> tuple[int, int]:
    if input_size is None:
        return default[1], default[2]
    if isinstance(input_size, int):
        return input_size, input_size
    size = tuple(int(s) for s in input_size)
    if len(size) == 3:
        size = size[1:]
    if len(size) != 2:
        raise ValueError(f"input_size must be H, (H, W) or (C, H, W), not {input_size!r}")
    return size  # type: ignore[return-value]


def create_model(
    name: str,
    num_classes: int = 1000,
    in_channels: int = 3,
    input_size: int | tuple[int, ...] | None = None,
    **kwargs,
) -> nn.Module:
    """Build a registered model for ``in_channels`` × ``input_size`` images and ``num_classes``.

    ``input_size`` is the height and width the model will see (an int, ``(H, W)`` or
    ``(C, H, W)``); it defaults to the paper's. Networks made for large images pick a
    stem that suits small ones; ``model.stem_info`` says which.
    """
    info = get_model_info(name)
    if num_classes < 1:
        raise ValueError("num_classes must be at least 1")
    if in_channels < 1:
        raise ValueError("in_channels must be at least 1")
    hw = _as_hw(input_size, info.input_size)
    model = info.builder(num_classes=num_classes, in_channels=in_channels, input_size=hw, **kwargs)
    model.model_name = name
    model.input_size = (in_channels, *hw)
    return model
