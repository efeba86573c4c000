"""What the doctor sees of each image: the network's features (its penultimate layer, ``forward_head(...,
pre_logits=True)``), from the run's model, or from the pretrained backbone when the run fine-tuned ImageNet
weights (a fine-tuned network has learnt its training labels, wrong ones too; the backbone has not).

Images reach the network as the run's training images did: decoded to the run's size and channels (the
folder's decoded cache, where it has them), resized and normalised by the run's preprocessing. Features are
remembered by image content and weights, so a folder examined again after a fix computes only new files."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import paths
from ..data.cache import MEMORY_BUDGET, decode_file, decoded_size, load_decoded
from ..data.image_folder import FolderScan
from ..errors import UserError
from ..inspect.hooks import eval_mode

__all__ = ["FeatureSource", "feature_source", "folder_features", "thumbnails", "CancelledError"]

BATCH = 64
CACHE_VERSION = 2


class CancelledError(UserError, RuntimeError):
    """The user stopped the examination."""


@dataclass
class FeatureSource:
    predictor: object
    """The ``Predictor`` whose network gives the features (its decoding and preprocessing are the run's)."""
    what: str
    """In words, for the report: which network, which weights."""
    notices: list[str]


def feature_source(run_dir: str | Path, config: dict, device: str = "cpu") -> FeatureSource:
    """The network the doctor looks through for a run: its own model, or for a fine-tuned transfer run the
    ImageNet backbone it started from (when the weights are at hand; else the run's own, said in a notice)."""
    from ..predict import Predictor
    from ..train.checkpointing import load_checkpoint
    from ..predict import checkpoint_of

    payload = load_checkpoint(checkpoint_of(run_dir, "best" if (Path(run_dir) / "best.pt").is_file() else "last"))
    predictor = Predictor.from_payload(payload, device)
    name = Path(run_dir).name
    epoch = payload.get("epoch")
    own = f"{payload['model']} of {name} (epoch {epoch})" if epoch is not None else f"{payload['model']} of {name}"
    notices: list[str] = []
    if config.get("pretrained") and config.get("transfer", "finetune") == "finetune":
        from ..pretrained import PretrainedError, pretrained_model

        try:
            backbone = pretrained_model(payload["model"], len(payload["classes"]), payload["in_channels"],
                                        config.get("weights"))
        except (PretrainedError, OSError) as exc:
            notices.append(f"The ImageNet weights {payload['model']} started from are not at hand ({exc}); the doctor "
                           f"looks through the fine-tuned network instead, which has learnt the labels it trained on, "
                           f"wrong ones too.")
        else:
            predictor.model = backbone.to(device).eval()
            return FeatureSource(predictor, f"the ImageNet {payload['model']} that {name} fine-tuned", notices)
    return FeatureSource(predictor, own, notices)


def _digest(model: nn.Module, predictor) -> str:
    h = hashlib.sha1()
    for key, tensor in model.state_dict().items():
        h.update(key.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    h.update(repr((predictor.input_shape, predictor.native_size, predictor.preprocess.mean.flatten().tolist(),
                   predictor.preprocess.std.flatten().tolist())).encode())
    return h.hexdigest()[:20]


def _cache_file(digest: str) -> Path:
    return paths.cache_root() / "doctor" / f"features-{digest}.pt"


def _read_cache(path: Path) -> dict[str, torch.Tensor]:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        keys, feats = data["keys"], data["features"]
        if data.get("version") == CACHE_VERSION and isinstance(keys, list) and isinstance(feats, torch.Tensor) \
                and feats.ndim == 2 and len(keys) == len(feats) and feats.dtype == torch.float32:
            return {k: feats[i] for i, k in enumerate(keys) if isinstance(k, str)}
    except Exception:  # noqa: BLE001 - missing, damaged or foreign: computed again
        pass
    return {}


def _stages(model: nn.Module) -> list[nn.Module]:
    """The two last stages of the network's ``feature_info`` before the head (not one with a map per class)."""
    info = [f for f in getattr(model, "feature_info", []) if f.get("num_chs") != getattr(model, "num_classes", None)]
    found = []
    for f in info[-3:-1]:
        try:
            found.append(model.get_submodule(f["module"]))
        except AttributeError:
            pass
    return found


def penultimate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the network sees in ``x``: the input of its classifier (``forward_head(..., pre_logits=True)``)
    beside the mean of each channel of two stages before it, each part scaled to unit length. A network
    trained on a wrong label has bent its last layers to it; the stages before hold more of the image itself."""
    pooled: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda mod, args, out: pooled.append(
        (out[0] if isinstance(out, (tuple, list)) else out).float().flatten(2).mean(2))) for m in _stages(model)]
    try:
        last = _classifier_input(model, x)
    finally:
        for h in handles:
            h.remove()
    parts = [last] + [p for p in pooled if p.ndim == 2 and len(p) == len(last)]
    return torch.cat([p / p.norm(dim=1, keepdim=True).clamp_min(1e-6) for p in parts], 1)


def _classifier_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        out = model.forward_head(model.forward_features(x), pre_logits=True)
    else:  # a network from outside the zoo: the input of its last linear layer
        linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linear:
            raise UserError(f"{type(model).__name__} has no classifier the doctor can read features before")
        seen = []
        handle = linear[-1].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        try:
            model(x)
        finally:
            handle.remove()
        out = seen[-1]
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.flatten(1).float()


def _decoded(scan: FolderScan, size: int, channels: int, progress) -> Callable[[list[int]], torch.Tensor]:
    if decoded_size(scan, size, channels) <= MEMORY_BUDGET:
        images = load_decoded(scan, size, channels,
                              progress=(lambda d, t, w: progress(d, t, f"decoding {w}")) if progress else None)
        return lambda idx: images[torch.tensor(idx, dtype=torch.long)]
    return lambda idx: torch.stack([decode_file(scan.root, scan.files[i].path, size, channels) for i in idx])


@torch.no_grad()
def folder_features(source: FeatureSource, scan: FolderScan, progress=None,
                    should_stop: Callable[[], bool] = lambda: False) -> tuple[torch.Tensor, int]:
    """``N×D`` features of every usable image of ``scan`` (in its order) and how many were computed now
    (the others came from the cache of earlier examinations with the same weights)."""
    predictor = source.predictor
    model = predictor.model
    digest = _digest(model, predictor)
    cache = _cache_file(digest)
    known = _read_cache(cache)
    if known:
        try:
            os.utime(cache)  # the eviction goes by last use
        except OSError:
            pass
    todo = [i for i, f in enumerate(scan.files) if f.sha1 not in known]
    rows: dict[int, torch.Tensor] = {}
    if todo:
        channels, size = predictor.input_shape[0], int(predictor.native_size[0])
        pick = _decoded(scan, size, channels, progress)
        device = predictor.device
        prep = predictor.preprocess.to(device)
        with eval_mode(model):
            for start in range(0, len(todo), BATCH):
                if should_stop():
                    raise CancelledError("Examination cancelled")
                idx = todo[start:start + BATCH]
                batch = pick(idx).to(device).float() / 255.0
                feats = penultimate(model, prep(batch)).cpu()
                rows.update(zip(idx, feats))
                if progress:
                    progress(min(start + BATCH, len(todo)), len(todo), "features of the images")
    features = torch.stack([rows[i] if i in rows else known[f.sha1] for i, f in enumerate(scan.files)])
    if todo:
        merged = {**known, **{scan.files[i].sha1: rows[i] for i in rows}}
        keys = list(merged)
        buffer_payload = {"version": CACHE_VERSION, "keys": keys, "features": torch.stack([merged[k] for k in keys])}
        try:
            import io

            buffer = io.BytesIO()
            torch.save(buffer_payload, buffer)
            paths.atomic_write_bytes(cache, buffer.getvalue())
            _evict(keep=cache)
        except OSError:  # a full or read-only cache only costs time next time
            pass
    return features, len(todo)


KEEP = 8
"""Feature files kept (one per network's weights): the least recently used go first."""


def _evict(keep: Path) -> None:
    def used(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0
    files = sorted(keep.parent.glob("features-*.pt"), key=used, reverse=True)
    for old in [f for f in files if f != keep][KEEP - 1:]:
        old.unlink(missing_ok=True)


def thumbnails(source: FeatureSource, scan: FolderScan, side: int = 16) -> torch.Tensor:
    """``N×(side·side·C)`` tiny copies of the images, each centred and scaled to unit length: two images
    whose thumbnails are close look alike to the eye, whatever the network thinks of them."""
    channels, size = source.predictor.input_shape[0], int(source.predictor.native_size[0])
    pick = _decoded(scan, size, channels, None)
    out = []
    for start in range(0, len(scan.files), 256):
        batch = pick(list(range(start, min(start + 256, len(scan.files))))).float()
        small = torch.nn.functional.adaptive_avg_pool2d(batch, side).flatten(1)
        small = small - small.mean(1, keepdim=True)
        out.append(small / small.norm(dim=1, keepdim=True).clamp_min(1e-6))
    return torch.cat(out)
