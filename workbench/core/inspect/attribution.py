"""Why the network decided: class activation maps at any layer, and a strip of them at every stage.

The CAM family is written here, because each is a few lines on a layer's activations ``A`` (``C×h×w``) and
the gradient ``G`` of the class's score (its logit) with respect to them:

* Grad-CAM (Selvaraju et al., 2017): channel weights ``α_k`` = the spatial mean of ``G_k``; the map is
  ``ReLU(Σ_k α_k A_k)``.
* Grad-CAM++ (Chattopadhay et al., 2018): ``α_k = Σ_ij a_kij · ReLU(G_kij)`` with
  ``a = G² / (2G² + Σ_ij A_k · G³)`` (the closed form for an exponential of the score).
* LayerCAM (Jiang et al., 2021): ``ReLU(Σ_k ReLU(G_k) ⊙ A_k)``, position by position.

The input methods (Integrated Gradients, Occlusion, Saliency, Guided Backprop, SmoothGrad) come from Captum
(``input_attribution``). ``explain`` runs either kind.

How the hooks stay correct for every family: the forward pass runs without gradients up to the first
target layer; there its output becomes a leaf that requires gradients, so the backward pass stops there
(a map at ``layer4`` costs the tail of the network, not all of it). Every target's output is handed on as a
*copy*, so an in-place ReLU after it (ResNet's ``bn1`` → ``relu``, ``out += identity``) changes the copy and
never the activations or the gradient taken here. Tuple outputs and auxiliary heads: the first tensor is
the main one. The model runs in eval mode and every hook is removed when the pass ends, error or not.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.nn import functional as F

from .hooks import eval_mode, first_tensor
from .input_attribution import attribute
from .methods import CAM_METHODS, COSTLY, INPUT_METHODS, LAYER_RULE, METHODS, Attribution, normalise

__all__ = ["Attribution", "CAM_METHODS", "COSTLY", "INPUT_METHODS", "LAYER_RULE", "METHODS", "cam_maps",
           "default_layer", "explain", "normalise", "spatial_layers", "stage_cams", "stage_layers", "why"]



def upsample(heat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(heat.shape[-2:]) == tuple(size):
        return heat.float()
    return F.interpolate(heat[None, None].float(), size=tuple(size), mode="bilinear", align_corners=False)[0, 0]


# -- which layer --------------------------------------------------------------------------------------
_SPATIAL: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


@torch.no_grad()
def spatial_layers(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """The modules whose output is a map larger than 1×1, in the order they finish (a block after its
    layers), with their output shapes (without the batch), within ``forward_features`` when the model has it
    (VGG's head pools any map to 7×7 again: not a place to look); remembered per model and input shape."""
    cache = _SPATIAL.setdefault(model, {})
    key = tuple(x.shape[1:])
    if key not in cache:
        found: dict[str, tuple[int, ...]] = {}
        handles = []
        for name, module in model.named_modules():
            if name:
                def hook(module, args, output, name=name):
                    t = first_tensor(output)
                    if t is not None and name not in found:
                        found[name] = tuple(t.shape[1:])
                handles.append(module.register_forward_hook(hook))
        try:
            with eval_mode(model):
                getattr(model, "forward_features", model)(x[:1])
        finally:
            for handle in handles:
                handle.remove()
        cache[key] = [(n, s) for n, s in found.items() if len(s) == 3 and s[1] * s[2] > 1]
    return list(cache[key])


def default_layer(model: nn.Module, x: torch.Tensor) -> str:
    """``LAYER_RULE``: the last module to finish whose output is spatial and larger than 1×1."""
    layers = spatial_layers(model, x)
    if not layers:
        raise ValueError("This network has no layer with a spatial output larger than 1×1: "
                         "use an input method (Saliency, Integrated Gradients) instead")
    return layers[-1][0]


def stage_layers(model: nn.Module, x: torch.Tensor) -> list[str]:
    """The network's stages (``feature_info``), those with a spatial output; without ``feature_info``, the
    last layer at each resolution."""
    spatial = dict(spatial_layers(model, x))
    info = [f["module"] for f in getattr(model, "feature_info", []) or [] if f["module"] in spatial]
    if info:
        return list(dict.fromkeys(info))
    last: dict[tuple, str] = {}
    for name, shape in spatial.items():
        last.pop(shape[1:], None)
        last[shape[1:]] = name
    return list(last.values())


# -- the taps -------------------------------------------------------------------------------------------
def _replace_first(output, tensor: torch.Tensor):
    if isinstance(output, torch.Tensor):
        return tensor
    if isinstance(output, (tuple, list)):
        items, done = list(output), False
        for i, item in enumerate(items):
            if not done and isinstance(item, torch.Tensor):
                items[i], done = tensor, True
        return type(output)(*items) if hasattr(output, "_fields") else type(output)(items)
    return output


class _Taps:
    """Takes the activations of ``layers`` (module paths, ``name#2`` for a second call, or a merge of the
    dataflow graph such as ``layer1.0:add``) in one forward pass. ``grad``: ``"tail"``, gradients from the first
    of them on (the backward pass ends there); ``"full"``, from the input on; ``"none"``, no gradients."""

    def __init__(self, model: nn.Module, layers: list[str], grad: str = "tail"):
        self.model, self.layers, self.grad = model, list(dict.fromkeys(layers)), grad
        self.values: dict[str, torch.Tensor] = {}
        self.calls: dict[str, int] = {}
        known = {name for name, _ in model.named_modules() if name}
        self.modules: dict[str, list[tuple[str, int]]] = {}
        self.merges: list[str] = []
        for layer in self.layers:
            base, _, nth = layer.partition("#")
            if ":" in layer:
                self.merges.append(layer)
            elif base in known:
                self.modules.setdefault(base, []).append((layer, int(nth) if nth.isdigit() else 1))
            else:
                raise ValueError(f"{layer} is not a layer of this model")

    def take(self, name: str, output):
        tensor = first_tensor(output)
        if tensor is None or name in self.values or not tensor.is_floating_point():
            return output
        if self.grad == "none":
            self.values[name] = tensor.detach().clone()
            return output
        if not (torch.is_grad_enabled() and tensor.requires_grad):
            tensor = tensor.detach().requires_grad_(True)  # the backward pass ends here
            torch.set_grad_enabled(True)
        self.values[name] = tensor
        return _replace_first(output, tensor.clone())  # what follows may change it in place: not ours

    def _hook(self, base: str):
        def hook(module, args, output):
            self.calls[base] = n = self.calls.get(base, 0) + 1
            for layer, nth in self.modules[base]:
                if nth == n:
                    output = self.take(layer, output)
            return output
        return hook

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of ``x``, with ``values`` filled; gradients flow from the first layer taken."""
        handles = [self.model.get_submodule(base).register_forward_hook(self._hook(base)) for base in self.modules]
        was = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.grad == "full")
            with eval_mode(self.model):
                if self.merges:
                    from .graph import capture

                    graph, _ = capture(self.model, x, macs=False, tap=self._tap_merge)
                    out = graph.result
                else:
                    out = self.model(x)
            return first_tensor(out)
        finally:
            torch.set_grad_enabled(was)
            for handle in handles:
                handle.remove()

    def _tap_merge(self, node, output):
        return self.take(node.name, output) if node.name in self.merges else output


# -- the CAM family ---------------------------------------------------------------------------------------
def _cam(method: str, a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """One image's map (``h×w``) from activations and gradients ``C×h×w``."""
    a, g = a.double(), g.double()
    if method == "gradcam":
        weights = g.mean((1, 2))
        return F.relu((weights[:, None, None] * a).sum(0))
    if method == "gradcam++":
        g2, g3 = g ** 2, g ** 3
        denominator = 2 * g2 + a.sum((1, 2), keepdim=True) * g3
        alpha = torch.where(denominator != 0, g2 / torch.where(denominator != 0, denominator, 1.0), 0.0)
        weights = (alpha * F.relu(g)).sum((1, 2))
        return F.relu((weights[:, None, None] * a).sum(0))
    if method == "layercam":
        return F.relu((F.relu(g) * a).sum(0))
    raise ValueError(f"{method} is not a CAM method: choose one of {', '.join(CAM_METHODS)}")


def _as_maps(t: torch.Tensor) -> torch.Tensor:
    """A batch of activations or gradients as ``N×C×h×w`` (a flat ``N×F`` as ``N×F×1×1``)."""
    return t.reshape(t.shape[0], -1, 1, 1) if t.dim() < 4 else t.flatten(1, -3) if t.dim() > 4 else t


def cam_maps(model: nn.Module, x: torch.Tensor, classes: list[int], layers: list[str] | None = None,
             method: str = "gradcam") -> dict[str, list[Attribution]]:
    """CAMs of one image ``x`` (``1×C×H×W``, normalised) for each class, at each layer (default: ``LAYER_RULE``),
    from one forward pass and one backward pass per class."""
    if method not in CAM_METHODS:
        raise ValueError(f"{method} is not a CAM method: choose one of {', '.join(CAM_METHODS)}")
    rule = ""
    if not layers:
        layers, rule = [default_layer(model, x)], LAYER_RULE
    taps = _Taps(model, layers)
    logits = taps.run(x[:1])
    missing = [layer for layer in taps.layers if layer not in taps.values]
    if missing:
        raise ValueError(f"{missing[0]} did not run for this input (an auxiliary head runs only in training)")
    probs = torch.softmax(logits.detach()[0].float(), 0)
    names = taps.layers
    out: dict[str, list[Attribution]] = {name: [] for name in names}
    size = tuple(x.shape[-2:])
    for i, target in enumerate(classes):
        if not 0 <= target < logits.shape[1]:
            raise ValueError(f"class {target} is not one of this network's {logits.shape[1]} classes")
        grads = torch.autograd.grad(logits[0, target], [taps.values[n] for n in names],
                                    retain_graph=i < len(classes) - 1, allow_unused=True)
        for name, grad in zip(names, grads):
            a = _as_maps(taps.values[name].detach())[0]
            g = torch.zeros_like(a) if grad is None else _as_maps(grad)[0]
            raw = _cam(method, a, g).float()
            note = "" if a.shape[-2:].numel() > 1 else f"{name} is 1×1: its map cannot say where"
            out[name].append(Attribution(method, target, normalise(upsample(raw, size)).cpu(), raw.cpu(), name,
                                         float(probs[target]), rule, note))
    return out


def why(model: nn.Module, x: torch.Tensor, second: int | None = None, layer: str | None = None,
        method: str = "gradcam") -> tuple[list[Attribution], list[Attribution]]:
    """What the window shows after a drop, from one forward pass: the CAM at ``layer`` (default ``LAYER_RULE``)
    for the predicted class and for ``second`` (default: the second most likely), and the strip at every stage
    for the predicted class. The second class's backward pass stops at ``layer``."""
    rule = ""
    if not layer:
        layer, rule = default_layer(model, x), LAYER_RULE
    stages = stage_layers(model, x)
    taps = _Taps(model, [layer, *stages])
    logits = taps.run(x[:1])
    missing = [name for name in taps.layers if name not in taps.values]
    if missing:
        raise ValueError(f"{missing[0]} did not run for this input (an auxiliary head runs only in training)")
    probs = torch.softmax(logits.detach()[0].float(), 0)
    order = probs.argsort(descending=True).tolist()
    targets = [order[0], second if second is not None and second != order[0] else order[min(1, len(order) - 1)]]
    size = tuple(x.shape[-2:])

    def made(name: str, target: int, grad) -> Attribution:
        a = _as_maps(taps.values[name].detach())[0]
        raw = _cam(method, a, torch.zeros_like(a) if grad is None else _as_maps(grad)[0]).float()
        note = "" if a.shape[-2:].numel() > 1 else f"{name} is 1×1: its map cannot say where"
        return Attribution(method, target, normalise(upsample(raw, size)).cpu(), raw.cpu(), name, float(probs[target]),
                           rule if name == layer else "", note)
    names = taps.layers
    grads = torch.autograd.grad(logits[0, targets[0]], [taps.values[n] for n in names], retain_graph=True,
                                allow_unused=True)
    first = dict(zip(names, grads))
    (grad,) = torch.autograd.grad(logits[0, targets[1]], [taps.values[layer]], allow_unused=True)
    maps = [made(layer, targets[0], first[layer]), made(layer, targets[1], grad)]
    return maps, [made(name, targets[0], first[name]) for name in stages]


def stage_cams(model: nn.Module, x: torch.Tensor, target: int, method: str = "gradcam") -> list[Attribution]:
    """A CAM at every stage of the network for one class, from one forward and one backward pass."""
    layers = stage_layers(model, x)
    maps = cam_maps(model, x, [target], layers, method)
    return [maps[name][0] for name in layers]


def explain(model: nn.Module, x: torch.Tensor, target: int, method: str = "gradcam", layer: str | None = None,
            **options) -> Attribution:
    """One map of ``method`` for ``target``: a CAM at ``layer`` (default ``LAYER_RULE``), or an input method
    (``options``: ``baseline``, ``steps``, ``samples``, ``progress``, ``preview``; see ``input_attribution``)."""
    if method in CAM_METHODS:
        maps = cam_maps(model, x, [target], [layer] if layer else None, method)
        return next(iter(maps.values()))[0]
    if method in INPUT_METHODS:
        return attribute(model, x, target, method, **options)
    raise ValueError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}")

