"""The images of a dataset that excite a channel most, cropped to the channel's receptive field: the Deep
Visualization Toolbox's "top 9", for the user's own folder and model.

One pass over the set records, for every channel of the layer at once, each image's strongest response
and where it was; the nine best per channel are kept as the pass goes (no activations are stored). The
receptive field is measured, not derived per family: the input pixels whose gradient is non-zero for the
layer's centre unit, over a few random inputs (max pooling routes a gradient through one pixel per window,
so one input can under-count). The result is cached in the run folder, keyed by the layer and a digest of
the weights, so asking again costs nothing."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .hooks import eval_mode

__all__ = ["ReceptiveField", "TopImages", "cached_top_images", "crop_field", "field_of", "receptive_field",
           "top_images", "weights_digest"]

TOP = 9


@dataclass(frozen=True)
class ReceptiveField:
    size: tuple[int, int]
    """Height and width, in input pixels, of what one unit of the layer sees."""
    stride: tuple[float, float]
    """Input pixels between neighbouring units."""
    offset: tuple[int, int]
    """The top-left input pixel of unit (0, 0)'s field (negative where it reaches into the padding)."""

    def box(self, row: int, col: int, height: int, width: int, clip: bool = True) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) in input pixels of unit (row, col), clipped to the input (or not: it may
        reach past the border, into the padding)."""
        top = int(round(self.offset[0] + row * self.stride[0]))
        left = int(round(self.offset[1] + col * self.stride[1]))
        if not clip:
            return (top, left, top + self.size[0], left + self.size[1])
        return (max(0, top), max(0, left), min(height, top + self.size[0]), min(width, left + self.size[1]))


def _output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    from .attribution import _Taps

    taps = _Taps(model, [layer], grad="full" if x.requires_grad else "none")
    taps.run(x)
    if layer not in taps.values:
        raise ValueError(f"{layer} did not run for this input")
    return taps.values[layer]


def receptive_field(model: nn.Module, input_shape: tuple[int, int, int], layer: str, draws: int = 4) -> ReceptiveField:
    """The receptive field of ``layer``'s units for inputs of ``input_shape`` (``C×H×W``), measured."""
    generator = torch.Generator().manual_seed(0)
    param = next(model.parameters())
    seen = None
    with eval_mode(model), torch.enable_grad():
        for _ in range(draws):
            x = torch.randn(1, *input_shape, generator=generator).to(param.device).requires_grad_(True)
            out = _output(model, layer, x)
            if out.dim() < 4:
                h, w = input_shape[1:]
                return ReceptiveField((h, w), (float(h), float(w)), (0, 0))
            ci, cj = out.shape[2] // 2, out.shape[3] // 2
            grad, = torch.autograd.grad(out[0, :, ci, cj].sum(), x, allow_unused=True)
            hit = (grad is not None and grad[0].abs().sum(0) > 0) if grad is not None else None
            if hit is not None:
                seen = hit if seen is None else seen | hit
    return field_of(seen, tuple(out.shape[2:]), tuple(input_shape[1:]))


def field_of(seen: torch.Tensor | None, out_size: tuple[int, int], in_size: tuple[int, int]) -> ReceptiveField:
    """The receptive field from ``seen`` (``H×W`` booleans: the input pixels the centre unit of an ``out_size`` map
    depends on)."""
    H, W = in_size
    ci, cj = out_size[0] // 2, out_size[1] // 2
    stride = (H / out_size[0], W / out_size[1])
    if seen is None or not bool(seen.any()):
        return ReceptiveField((H, W), stride, (0, 0))
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    top, left = int(rows[0]), int(cols[0])
    size = (int(rows[-1]) - top + 1, int(cols[-1]) - left + 1)
    # A field cut by the border at the centre unit is as large on the far side: measure from the centre.
    half_h = max(int(rows[-1]) - (ci + 0.5) * stride[0], (ci + 0.5) * stride[0] - top)
    half_w = max(int(cols[-1]) - (cj + 0.5) * stride[1], (cj + 0.5) * stride[1] - left)
    size = (max(size[0], int(round(2 * half_h))), max(size[1], int(round(2 * half_w))))
    offset = (int(round((ci + 0.5) * stride[0] - size[0] / 2 - ci * stride[0])),
              int(round((cj + 0.5) * stride[1] - size[1] / 2 - cj * stride[1])))
    return ReceptiveField(size, stride, offset)


@dataclass
class TopImages:
    layer: str
    indices: torch.Tensor
    """``TOP×channels`` dataset indices, strongest first (−1 where the set has fewer images)."""
    values: torch.Tensor
    """``TOP×channels`` the strongest response of each."""
    rows: torch.Tensor
    cols: torch.Tensor
    """``TOP×channels`` where in the layer's map the response was."""
    field: ReceptiveField
    input_size: tuple[int, int]
    images: int
    """How many images were looked at."""

    def channel(self, c: int, clip: bool = True) -> list[tuple[int, float, tuple[int, int, int, int]]]:
        """(dataset index, response, box in input pixels) of channel ``c``'s top images."""
        out = []
        for k in range(self.indices.shape[0]):
            index = int(self.indices[k, c])
            if index >= 0:
                out.append((index, float(self.values[k, c]),
                            self.field.box(int(self.rows[k, c]), int(self.cols[k, c]), *self.input_size, clip=clip)))
        return out

    def to_dict(self) -> dict:
        return {"layer": self.layer, "indices": self.indices, "values": self.values, "rows": self.rows,
                "cols": self.cols, "field": torch.tensor([*self.field.size, *self.field.offset]),
                "stride": torch.tensor(self.field.stride), "input_size": torch.tensor(self.input_size),
                "images": torch.tensor(self.images)}

    @classmethod
    def from_dict(cls, d: dict) -> "TopImages":
        f = [int(v) for v in d["field"]]
        return cls(str(d["layer"]), d["indices"], d["values"], d["rows"], d["cols"],
                   ReceptiveField((f[0], f[1]), tuple(float(v) for v in d["stride"]), (f[2], f[3])),
                   tuple(int(v) for v in d["input_size"]), int(d["images"]))


def crop_field(image: torch.Tensor, box: tuple[int, int, int, int], fill: float = 0.5) -> torch.Tensor:
    """The part of ``image`` (``C×H×W``) under an unclipped receptive-field ``box``, the field's whole size: where
    it reaches past the border, ``fill`` (grey), so every crop keeps the field's shape."""
    top, left, bottom, right = box
    c, h, w = image.shape
    out = torch.full((c, bottom - top, right - left), fill, dtype=image.dtype)
    t, l, b, r = max(0, top), max(0, left), min(h, bottom), min(w, right)
    if b > t and r > l:
        out[:, t - top:b - top, l - left:r - left] = image[:, t:b, l:r]
    return out


@torch.no_grad()
def top_images(model: nn.Module, batches, layer: str, input_shape: tuple[int, int, int], k: int = TOP,
               progress: Callable[[int, int], None] | None = None, total: int = 0) -> TopImages:
    """For every channel of ``layer``, the ``k`` images among ``(indices, images)`` batches (images normalised,
    at the network's input size) with the strongest response anywhere in the channel's map."""
    best_v = best_i = best_r = best_c = None
    seen = 0
    with eval_mode(model):
        for indices, images in batches:
            out = _output(model, layer, images).detach().float()
            if out.dim() == 2:
                out = out[:, :, None, None]
            n, c, h, w = out.shape
            flat = out.reshape(n, c, h * w)
            values, where = flat.max(2)  # n×c
            rows, cols = where // w, where % w
            idx = indices.reshape(n, 1).expand(n, c).to(values.device)
            if best_v is None:
                best_v, best_i, best_r, best_c = values, idx, rows, cols
            else:
                best_v, best_i = torch.cat([best_v, values]), torch.cat([best_i, idx])
                best_r, best_c = torch.cat([best_r, rows]), torch.cat([best_c, cols])
            keep = min(k, best_v.shape[0])
            best_v, order = best_v.topk(keep, 0)
            best_i, best_r, best_c = (t.gather(0, order) for t in (best_i, best_r, best_c))
            seen += n
            if progress is not None:
                progress(seen, total or seen)
    if best_v is None:
        raise ValueError("The set holds no images")
    if best_v.shape[0] < k:  # fewer images than places: the rest are empty
        pad = k - best_v.shape[0]
        best_v = torch.cat([best_v, torch.full((pad, best_v.shape[1]), float("nan"))])
        best_i, best_r, best_c = (torch.cat([t, torch.full((pad, t.shape[1]), -1, dtype=t.dtype)])
                                  for t in (best_i, best_r, best_c))
    field = receptive_field(model, input_shape, layer)
    return TopImages(layer, best_i.cpu(), best_v.cpu(), best_r.cpu(), best_c.cpu(), field,
                     tuple(input_shape[1:]), seen)


def weights_digest(model: nn.Module) -> str:
    """A short digest of the weights: a cached result is used only with the weights it was computed from."""
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes() if tensor.dtype != torch.bfloat16
                      else tensor.float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_top_images(run_dir: str | Path | None, model: nn.Module, layer: str, compute: Callable[[], TopImages],
                      split: str = "test") -> tuple[TopImages, bool]:
    """``compute()``'s result, read from the run folder when it was computed before for these weights (and
    written there after); ``(result, came from the cache)``. A damaged cache file is computed again."""
    from ..paths import atomic_write_bytes
    from ..runs import regular_file

    if run_dir is None:
        return compute(), False
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer)
    path = Path(run_dir) / "explain" / f"top-{split}-{safe}-{weights_digest(model)}.pt"
    try:
        if regular_file(path) is not None:
            return TopImages.from_dict(torch.load(path, map_location="cpu", weights_only=True)), True
    except Exception:  # noqa: BLE001 - a damaged or foreign file is replaced by a fresh pass
        pass
    result = compute()
    buffer = io.BytesIO()
    torch.save(result.to_dict(), buffer)
    try:
        path.parent.mkdir(exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
    except OSError:  # a read-only run folder: the result is shown all the same
        pass
    return result, False
