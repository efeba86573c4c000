"""What every attribution method returns, and the methods by name: shared by the CAM family
(``attribution``) and Captum's input methods (``input_attribution``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is loaded by whoever makes an Attribution; the names above need none
    import torch

__all__ = ["Attribution", "CAM_METHODS", "COSTLY", "INPUT_METHODS", "LAYER_RULE", "METHODS", "normalise"]

CAM_METHODS = {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "layercam": "LayerCAM"}
INPUT_METHODS = {"saliency": "Saliency", "guided_backprop": "Guided Backprop", "integrated_gradients":
                 "Integrated Gradients", "smoothgrad": "SmoothGrad", "occlusion": "Occlusion"}
METHODS = {**CAM_METHODS, **INPUT_METHODS}
COSTLY = frozenset({"integrated_gradients", "smoothgrad", "occlusion"})
"""Methods that take many passes: the window runs them as jobs with progress, a first preview and cancel."""

LAYER_RULE = "the last layer whose output is spatial and larger than 1×1 (where forward_features ends)"


@dataclass
class Attribution:
    method: str
    target: int
    """The class index the map explains."""
    map: torch.Tensor
    """``H×W`` at the network's input size, in [0, 1] (0 everywhere when nothing supports the class)."""
    raw: torch.Tensor
    """The map as computed, before upsampling and scaling: the layer's ``h×w`` for a CAM, ``H×W`` otherwise."""
    layer: str | None = None
    """The layer a CAM was taken at (``None`` for input methods)."""
    score: float = 0.0
    """The class's probability for this image."""
    rule: str = ""
    """How the layer was chosen, in words (empty when the user chose it)."""
    note: str = ""

    @property
    def label(self) -> str:
        return METHODS.get(self.method, self.method)


def normalise(heat: torch.Tensor) -> torch.Tensor:
    """A map scaled to [0, 1] by its maximum (a map with no positive value is all zeros)."""
    import torch

    heat = heat.detach().float().clamp_min(0)
    top = float(heat.max()) if heat.numel() else 0.0
    return heat / top if top > 0 else torch.zeros_like(heat)


