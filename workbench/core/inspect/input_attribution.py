"""Attribution to the input's pixels, by Captum (the PyTorch attribution library), not by hand.

Saliency and Guided Backprop take one backward pass; Integrated Gradients, SmoothGrad and Occlusion take
many forward passes, so they report progress (``progress(done, total)``, which may raise to cancel) and a
coarse first ``preview(Attribution)`` early (IG with 5 steps, SmoothGrad with 5 samples, Occlusion with a
window of a quarter of the image), before the full map.

What the map shows: the positive evidence for the class (IG and Occlusion: the pixels whose presence
raises its score), or the gradient's size (Saliency, Guided Backprop, SmoothGrad), the channels' largest.
Guided Backprop changes the backward pass of ``nn.ReLU`` modules, so the model's in-place ReLUs are made
out-of-place for the pass (Captum cannot hook an in-place one) and set back after it."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Callable

import torch
from torch import nn

from .methods import INPUT_METHODS, Attribution, normalise
from .hooks import eval_mode, first_tensor

__all__ = ["OPTIONS", "attribute", "out_of_place"]

OPTIONS = {"steps": 50, "samples": 25, "window": 8}
"""IG's steps, SmoothGrad's noisy samples, Occlusion's window as a fraction of the image (1/8)."""

CHUNK = 10
"""Images one forward pass of IG or SmoothGrad takes at a time."""

PREVIEW_STEPS = 5
"""IG's first look: a coarse sum that already shows where the evidence is, in a tenth of the time."""


class _Main(nn.Module):
    """The network's main logits (the first tensor of what it returns)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return first_tensor(self.model(x))


@contextmanager
def out_of_place(model: nn.Module):
    """Every module with an ``inplace`` flag (ReLU, Dropout, Hardtanh...) computes out of place in the block."""
    changed = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    for module in changed:
        module.inplace = False
    try:
        yield
    finally:
        for module in changed:
            module.inplace = True


def _heat(method: str, attr: torch.Tensor) -> torch.Tensor:
    """``H×W`` from a ``1×C×H×W`` attribution."""
    attr = attr.detach()[0].float()
    if method in ("integrated_gradients", "occlusion"):
        return attr.sum(0).clamp_min(0)
    return attr.abs().amax(0)


def attribute(model: nn.Module, x: torch.Tensor, target: int, method: str, baseline: torch.Tensor | None = None,
              steps: int = OPTIONS["steps"], samples: int = OPTIONS["samples"], window: int = OPTIONS["window"],
              progress: Callable[[int, int], None] | None = None,
              preview: Callable[[Attribution], None] | None = None) -> Attribution:
    """One input attribution of ``x`` (``1×C×H×W``, normalised) for class ``target``. ``baseline``: the input
    that means "nothing" (IG's start, Occlusion's fill): by default zeros, the training set's mean colour."""
    import captum.attr as ca  # imported when first needed: it brings matplotlib

    if method not in INPUT_METHODS:
        raise ValueError(f"{method} is not an input method: choose one of {', '.join(INPUT_METHODS)}")
    x = x[:1].detach()
    base = torch.zeros_like(x) if baseline is None else baseline.reshape(x.shape).to(x)
    h, w = x.shape[-2:]
    side = max(2, min(h, w) // window)
    coarse = max(2, min(h, w) // 4)
    passes = {"integrated_gradients": PREVIEW_STEPS + steps, "smoothgrad": 5 + samples,
              "occlusion": _windows(h, w, coarse, coarse) + _windows(h, w, side, max(1, side // 2))}
    total = passes.get(method, 1)
    done = 0
    main = _Main(model)

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        nonlocal done
        if progress is not None:
            progress(min(done, total), total)  # a cancelled job raises here, inside Captum: the pass stops
        done += inputs.shape[0]
        return main(inputs)

    def finish(attr: torch.Tensor, note: str = "") -> Attribution:
        raw = _heat(method, attr).cpu()  # results live on the CPU, whatever the model's device
        with torch.no_grad():
            prob = float(torch.softmax(main(x)[0].float(), 0)[target])
        return Attribution(method, target, normalise(raw), raw, None, prob, "", note)

    with eval_mode(model), out_of_place(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum's notes on input gradients and hooks: nothing a user can act on
        if method == "saliency":
            result = finish(ca.Saliency(forward).attribute(x, target=target, abs=True))
        elif method == "guided_backprop":
            result = finish(ca.GuidedBackprop(main).attribute(x, target=target),
                            "ReLUs written as functions (not modules) are not guided")
        elif method == "integrated_gradients":
            ig = ca.IntegratedGradients(forward)
            if preview is not None:
                preview(finish(ig.attribute(x, base, target=target, n_steps=PREVIEW_STEPS, internal_batch_size=CHUNK),
                               f"a first look: {PREVIEW_STEPS} steps"))
            done = PREVIEW_STEPS
            result = finish(ig.attribute(x, base, target=target, n_steps=steps, internal_batch_size=CHUNK),
                            f"{steps} steps from the baseline")
        elif method == "smoothgrad":
            tunnel = ca.NoiseTunnel(ca.Saliency(forward))
            spread = 0.15 * float(x.max() - x.min())
            if preview is not None:
                preview(finish(tunnel.attribute(x, nt_type="smoothgrad", nt_samples=5, nt_samples_batch_size=CHUNK,
                                                stdevs=spread, target=target, abs=True), "a first look: 5 samples"))
            done = 5
            result = finish(tunnel.attribute(x, nt_type="smoothgrad", nt_samples=samples,
                                             nt_samples_batch_size=CHUNK, stdevs=spread, target=target, abs=True),
                            f"{samples} noisy copies, noise 15% of the input's range")
        else:  # occlusion
            occlusion = ca.Occlusion(forward)
            c = x.shape[1]
            if preview is not None:
                preview(finish(occlusion.attribute(x, (c, coarse, coarse), strides=(c, coarse, coarse), target=target,
                                                   baselines=base, perturbations_per_eval=16),
                               f"a first look: {coarse}-pixel squares"))
            done = _windows(h, w, coarse, coarse)
            result = finish(occlusion.attribute(x, (c, side, side), strides=(c, max(1, side // 2), max(1, side // 2)),
                                                target=target, baselines=base, perturbations_per_eval=16),
                            f"{side}-pixel squares covered with the baseline")
    if progress is not None:
        progress(total, total)
    return result


def _windows(h: int, w: int, side: int, stride: int) -> int:
    """How many positions an occluding square takes (one forward pass each)."""
    return (max(0, h - side) // stride + 1) * (max(0, w - side) // stride + 1)
