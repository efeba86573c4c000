"""Using a trained run: a ``Classifier`` rebuilt from a checkpoint, and top-k predictions for
image files and folders with a per-file verdict for the ones that cannot be used."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .data.decode import IMAGE_EXTENSIONS
from .inspection import Classifier
from .train.checkpointing import CheckpointError, build_from_checkpoint, load_checkpoint


def checkpoint_of(run_or_file: str | Path, which: str = "best") -> Path:
    """A run folder's ``best.pt`` (or ``last.pt``), or the file itself."""
    path = Path(run_or_file)
    if path.is_dir():
        path = path / f"{which}.pt"
        if not path.is_file():
            raise CheckpointError(f"{path.parent} has no {which}.pt: is it a run folder of a run that finished an epoch?")
    return path


def load_classifier(run_or_file: str | Path, which: str = "best", device: str = "cpu") -> Classifier:
    """The network of a checkpoint with everything it needs to classify any image."""
    payload = load_checkpoint(checkpoint_of(run_or_file, which))
    model = build_from_checkpoint(payload).to(device).eval()
    native = tuple(payload.get("native_size") or payload["input_size"][1:])
    return Classifier(model, payload["classes"], tuple(payload["input_size"]), native, payload["mean"], payload["std"],
                      dark_background=bool(payload.get("dark_background")), crop=bool(payload.get("crop")))


def image_files(paths: list[str | Path]) -> list[Path]:
    """Files as given; folders expanded to the images inside them (sorted, recursively)."""
    out: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            out += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            out.append(item)
    return out


@dataclass
class Prediction:
    path: str
    top: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    """Why the file could not be classified; then ``top`` is empty."""


def predict_files(classifier: Classifier, paths: list[str | Path], k: int = 3) -> list[Prediction]:
    results = []
    for path in image_files(paths):
        if not path.is_file():
            results.append(Prediction(str(path), error="no such file"))
            continue
        try:
            results.append(Prediction(str(path), classifier.top_k(path, k)))
        except Exception as exc:  # a corrupt or odd file is reported and the others go on
            results.append(Prediction(str(path), error=str(exc) or type(exc).__name__))
    return results
