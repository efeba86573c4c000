"""Evaluating any run that has a checkpoint on its test split, whenever the user asks: a run that
was stopped before its test, one whose test report is lost, or one tested again with ``last.pt``.

The run's own data is loaded as it trained (split method, seed, decode size) and compared with
its ``dataset.json`` first: data that changed since the run is refused, unless accepted. The
report replaces ``test_eval.json`` and the summary gets the test figures, with which checkpoint
(and epoch) they are of. A run that a live process holds is not touched."""

from __future__ import annotations

import time
from pathlib import Path

from . import devices
from .data import load_dataset
from .data.identity import DataChangedError, describe, differences, identity
from .data.loader import IndexedBatches, epoch_order
from .errors import UserError
from .evaluate import confusion_report, predict_batches
from .predict import Predictor, checkpoint_of
from .runs import Run, RunStore, is_locked, read_json, regular_file
from .train.checkpointing import CheckpointError, load_checkpoint
from .train.config import TrainConfig

__all__ = ["EvaluationError", "evaluate_run"]


class EvaluationError(UserError, RuntimeError):
    """A run cannot be evaluated; the message says why."""


def evaluate_run(run_dir: str | Path, which: str = "best", device: str = "auto", accept_data_change: bool = False,
                 batch_size: int = 256, progress=None) -> dict:
    """Test ``which`` checkpoint (``best``, else ``last`` when the run has no ``best.pt``) of the run
    in ``run_dir`` on its test split; writes ``test_eval.json`` and the summary's test figures and
    returns the report."""
    run_dir = Path(run_dir)
    if is_locked(run_dir):
        raise EvaluationError(f"{run_dir.name} is training; evaluate it once it has ended (its test comes then).")
    record = Run(run_dir).read()
    if not record.config.get("model") or not record.config.get("dataset"):
        raise EvaluationError(f"{run_dir} is not a run folder this app can read: "
                              + ("; ".join(record.problems) or "config.json is missing"))
    if which == "best" and regular_file(run_dir / "best.pt") is None and regular_file(run_dir / "last.pt"):
        which = "last"  # a run without a best epoch (stopped in its first) still has its last weights
    path = checkpoint_of(run_dir, which)
    payload = load_checkpoint(path)
    config = TrainConfig.from_dict(record.config)
    target = devices.pick_device(device)
    predictor = Predictor.from_payload(payload, device=str(target))
    size = int(payload["native_size"][0]) if payload.get("crop") else None
    bundle = load_dataset(config.dataset, root=config.data_root, download=False, image_size=size,
                          split=tuple(config.split), split_seed=config.split_seed, split_method=config.split_method,
                          progress=progress)
    recorded = Run(run_dir).dataset_record()
    changes = differences(recorded, identity(bundle, recorded.get("dataset")), parts=("test",)) if recorded else []
    if changes and not accept_data_change:
        raise DataChangedError(describe(changes, run_dir.name, "Evaluating").replace("the run records the change",
                                                                                     "the report says so"))
    if list(bundle.classes) != list(payload["classes"]):
        raise CheckpointError(f"{path.name} is for the classes {', '.join(payload['classes'])}, but the data has "
                              f"{', '.join(bundle.classes)}.")
    batches = IndexedBatches(bundle.test, batch_size)
    predictions = predict_batches(predictor.model, batches.batches(epoch_order(len(bundle.test), shuffle=False)),
                                  predictor.preprocess.to(target), target)
    files = (bundle.split_files or {}).get("test")
    report = confusion_report(predictions, list(bundle.classes), "test", files)
    report.update(checkpoint=path.name, epoch=payload.get("epoch"), evaluated=time.strftime("%Y-%m-%d %H:%M:%S"))
    if changes:
        report["data_changes"] = changes
    store = RunStore(run_dir)
    store.write_json("test_eval.json", report)
    try:
        summary = read_json(store.summary_path) if regular_file(store.summary_path) else {}
    except (UserError, OSError):
        summary = {}
    summary.update(test_acc=report["accuracy"], test_loss=report["loss"], tested_with=path.name,
                   tested_epoch=payload.get("epoch"))
    summary.setdefault("model", config.model)
    summary.setdefault("dataset", config.dataset)
    summary.setdefault("status", "not tested by training" if not summary.get("status") else summary["status"])
    store.write_summary(summary)
    return report
