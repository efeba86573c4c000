"""Looking inside a network: one activation recorder (``hooks``), the per-layer summary
(``summary``) and feature maps (``activations``). Works on any ``nn.Module`` through forward
hooks, so residual, inception and dense blocks need nothing special."""

from .activations import as_maps, feature_maps, grid_shape, layer_maps, tile_maps
from .hooks import ActivationRecorder, eval_mode, first_tensor, record
from .summary import LayerInfo, ModelSummary, count_macs, human_count, summarize

__all__ = ["ActivationRecorder", "LayerInfo", "ModelSummary", "as_maps", "count_macs", "eval_mode", "feature_maps",
           "first_tensor", "grid_shape", "human_count", "layer_maps", "record", "summarize",
           "tile_maps"]
