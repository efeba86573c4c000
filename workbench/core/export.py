"""Exporting a trained run: ONNX (through ``torch.onnx``, checked with onnxruntime) or a plain
``state_dict`` file.

The ONNX graph takes the normalised ``N×C×H×W`` float input the network was trained on and
returns logits; how to get there from an image is in the file's metadata (``classes``,
``input_size``, ``mean``, ``std``, ``resize``), so any runtime can reproduce the preprocessing.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from . import paths
from .errors import UserError
from .evaluate import main_output
from .predict import checkpoint_of, load_predictor
from .train.checkpointing import load_checkpoint

FORMATS = ("onnx", "state_dict")


class ExportError(UserError, RuntimeError):
    """The export cannot be made or does not match the PyTorch model; the message says why."""


@dataclass
class ExportResult:
    path: Path
    max_difference: float | None = None
    """Largest absolute difference between onnxruntime's logits and PyTorch's on the check images."""
    same_top1: bool | None = None
    images_checked: int = 0


class _Logits(torch.nn.Module):
    """The main output only (GoogLeNet's auxiliary heads are for training)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return main_output(self.model(x))


def metadata(payload: dict) -> dict[str, str]:
    return {
        "classes": json.dumps(payload["classes"]),
        "input_size": json.dumps(payload["input_size"]),
        "mean": json.dumps(payload["mean"]),
        "std": json.dumps(payload["std"]),
        "resize": "shorter side to the input size, then centre crop" if payload.get("crop")
        else "whole image to the input size (bilinear)",
        "input": "float32 NxCxHxW, pixel values in [0, 1] minus mean, divided by std",
        "model": payload["model"],
        "producer": "cnn-workbench",
    }


def export_state_dict(run_or_file: str | Path, out: str | Path, which: str = "best") -> ExportResult:
    payload = load_checkpoint(checkpoint_of(run_or_file, which))
    state = {k: v for k, v in payload["state_dict"].items()}
    paths.atomic_write(out, lambda fh: torch.save(state, fh))
    return ExportResult(Path(out))


def export_onnx(run_or_file: str | Path, out: str | Path, which: str = "best", check_images: torch.Tensor | None = None,
                opset: int = 18) -> ExportResult:
    """Export, write the metadata, and, with ``check_images`` (preprocessed network inputs),
    compare onnxruntime's outputs with PyTorch's."""
    try:
        import onnx
    except ImportError as exc:
        raise ExportError("ONNX export needs the onnx packages: pip install 'cnn-workbench[onnx]'") from exc
    source = checkpoint_of(run_or_file, which)
    payload = load_checkpoint(source)
    classifier = load_predictor(source)
    model = _Logits(classifier.model).eval()
    example = torch.zeros(2, *payload["input_size"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(model, (example,), dynamo=True, input_names=["images"],
                                        output_names=["logits"], dynamic_shapes=({0: batch},), opset_version=opset,
                                        verbose=False)
        except Exception as exc:
            raise ExportError(f"torch.onnx could not export {payload['model']}: {str(exc).splitlines()[0]}") from exc
    proto = program.model_proto
    for key, value in metadata(payload).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    paths.atomic_write(out, lambda fh: fh.write(proto.SerializeToString()))
    result = ExportResult(out)
    if check_images is not None and len(check_images):
        result = check_onnx(out, model, check_images)
    return result


def check_onnx(path: str | Path, model: torch.nn.Module, images: torch.Tensor, tolerance: float = 1e-3) -> ExportResult:
    """Run the exported file with onnxruntime and compare with the PyTorch model."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError("Checking the export needs onnxruntime: pip install 'cnn-workbench[onnx]'") from exc
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: images.float().numpy()})[0])
    with torch.no_grad():
        ours = main_output(model.eval()(images.float()))
    difference = float((theirs - ours).abs().max())
    same = bool((theirs.argmax(1) == ours.argmax(1)).all())
    if difference > tolerance * max(1.0, float(ours.abs().max())) or not same:
        raise ExportError(f"The ONNX file disagrees with the PyTorch model: largest difference {difference:.3g}, "
                          f"same top-1 on every image: {same}")
    return ExportResult(Path(path), difference, same, len(images))


def read_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}
