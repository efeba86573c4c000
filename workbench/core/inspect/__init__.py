"""Looking inside a network: one activation recorder (``hooks``), the per-layer summary
(``summary``) and feature maps (``activations``), the dataflow graph (``graph``), attribution
(``attribution``, ``input_attribution``), knock-outs (``ablation``) and top images (``top_images``). Works on
any ``nn.Module`` through forward hooks, so residual, inception and dense blocks need nothing special.

The names below load their modules on first use (PEP 562): ``inspect.methods`` needs no torch, and the
command line's ``--help`` lists the attribution methods from it without loading torch."""

from ..lazy import exports

_WHERE = {
    "as_maps": "activations", "feature_maps": "activations", "grid_shape": "activations", "layer_maps": "activations",
    "tile_maps": "activations", "ActivationRecorder": "hooks", "eval_mode": "hooks", "first_tensor": "hooks",
    "record": "hooks", "LayerInfo": "summary", "ModelSummary": "summary", "count_macs": "summary",
    "human_count": "summary", "summarize": "summary",
}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = exports(__name__, _WHERE, globals())
