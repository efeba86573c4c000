"""Looking inside a network: one activation recorder (``hooks``), the per-layer summary
(``summary``) and feature maps (``activations``), the dataflow graph (``graph``), attribution
(``attribution``, ``input_attribution``), knock-outs (``ablation``) and top images (``top_images``). Works on
any ``nn.Module`` through forward hooks, so residual, inception and dense blocks need nothing special.

The names below load their modules on first use (PEP 562): ``inspect.methods`` needs no torch, and the
command line's ``--help`` lists the attribution methods from it without loading torch."""

from importlib import import_module

_WHERE = {
    "as_maps": "activations", "feature_maps": "activations", "grid_shape": "activations", "layer_maps": "activations",
    "tile_maps": "activations", "ActivationRecorder": "hooks", "eval_mode": "hooks", "first_tensor": "hooks",
    "record": "hooks", "LayerInfo": "summary", "ModelSummary": "summary", "count_macs": "summary",
    "human_count": "summary", "summarize": "summary",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
