"""The Python source of a layer's class, so a learner reads the very BasicBlock, Inception module or dense
layer the explorer shows (``inspect.getsource``), with where it lives and the paper of the model."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from torch import nn

__all__ = ["Source", "source_of"]


@dataclass(frozen=True)
class Source:
    layer: str
    class_name: str
    file: str
    line: int
    text: str
    paper: str = ""
    url: str = ""

    @property
    def where(self) -> str:
        """``torchvision/models/resnet.py:59``: the file from its package folder on, and the line."""
        parts = Path(self.file).parts
        for root in ("torchvision", "torch", "models"):
            if root in parts:
                return f"{'/'.join(parts[len(parts) - parts[::-1].index(root) - 1:])}:{self.line}"
        return f"{Path(self.file).name}:{self.line}"


def source_of(model: nn.Module, layer: str) -> Source:
    """The source of the class of ``model``'s module ``layer`` (``""``: the model itself); a class defined
    in C or built at run time says so instead of raising."""
    module = model.get_submodule(layer) if layer else model
    cls = type(module)
    try:
        lines, line = inspect.getsourcelines(cls)
        text, file = "".join(lines), inspect.getsourcefile(cls) or "?"
    except (OSError, TypeError):
        text, file, line = f"# The source of {cls.__qualname__} is not available (built-in or generated).", "?", 0
    paper = url = ""
    name = getattr(model, "model_name", None)
    if name:
        import models

        if name in models.list_models():
            info = models.get_model_info(name)
            paper, url = info.paper, info.url
    return Source(layer, cls.__qualname__, file, line, text, paper, url)
