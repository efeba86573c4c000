"""One frame of a training time-lapse: what the network makes of the probe image now — its maps at each stage,
the first convolution's kernels, its Grad-CAM for the class it predicts and its probabilities — small enough
to keep at every epoch (``workbench.core.train.timelapse`` writes and reads the frames of a run).

A frame keeps at most ``MAX_CHANNELS`` channels of a layer (the first ones: the same channels at every
epoch, so the eye can follow one) and ``MAX_FILTERS`` kernels, in half precision; maps wider than
``MAX_SIDE`` are averaged down to it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .attribution import cam_maps, stage_layers
from .filters import convolutions, filters_of
from .activations import as_maps
from .hooks import ActivationRecorder, eval_mode, first_tensor

MAX_CHANNELS = 32
MAX_FILTERS = 64
MAX_SIDE = 64


def frame_layers(model: nn.Module, x: torch.Tensor) -> tuple[list[str], str | None]:
    """The layers a frame keeps maps of (the first convolution, then every stage) and the first convolution."""
    convs = convolutions(model)
    first = convs[0] if convs else None
    stages = stage_layers(model, x)
    return list(dict.fromkeys(([first] if first else []) + stages)), first


def _small(output: torch.Tensor) -> torch.Tensor:
    maps = as_maps(output[0])[:MAX_CHANNELS]  # a flat output as 1×1 maps
    if max(maps.shape[-2:]) > MAX_SIDE:
        scale = MAX_SIDE / max(maps.shape[-2:])
        size = (max(1, round(maps.shape[-2] * scale)), max(1, round(maps.shape[-1] * scale)))
        maps = F.adaptive_avg_pool2d(maps[None], size)[0]
    return maps.half().cpu().contiguous()


def capture(model: nn.Module, x: torch.Tensor, layers: list[str], first_conv: str | None) -> dict:
    """A frame of ``x`` (``1×C×H×W``, normalised, on the model's device) as plain tensors and numbers, for
    ``torch.save`` and ``torch.load(weights_only=True)``. The model is left as it was (training or not)."""
    with eval_mode(model):
        with torch.no_grad(), ActivationRecorder(model, layers) as recorder:  # the maps and the logits: one pass
            logits = first_tensor(model(x))
        outputs = recorder.outputs
        probs = torch.softmax(logits.detach()[0].float(), 0).cpu()
        predicted = int(probs.argmax())
        try:
            cams = cam_maps(model, x, [predicted])
        except (ValueError, RuntimeError):  # no spatial layer (an MLP): no map, the rest still kept
            cams = {}
    frame: dict = {"maps": {name: _small(outputs[name]) for name in layers if outputs.get(name) is not None},
                   "probs": probs, "predicted": predicted}
    if cams:
        layer, (attribution,) = next(iter(cams.items()))
        frame.update(cam=attribution.map.float().cpu().half(), cam_layer=layer)
    if first_conv:
        kernels = filters_of(model, first_conv).weight[:MAX_FILTERS]
        frame.update(filters=kernels.half().contiguous(), filters_layer=first_conv)
    return frame
