"""The long way to held-out probabilities: the whole network trained K times with the run's own settings,
each time without one fold of the folder, and each fold's images classified by the network that never saw
them. K times a training run; the cheap way (a linear head on the features) is ``findings.out_of_sample``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import paths
from ..data.cache import load_decoded
from ..data.health import channel_stats
from ..data.image_folder import FolderScan
from ..data.registry import DataBundle, ImageTensorDataset
from ..errors import UserError
from .features import CancelledError
from .findings import folds_for, needed

__all__ = ["network_out_of_sample"]


class FoldTrainingError(UserError, RuntimeError):
    """A fold's training failed; the message says which and why."""


class _Watch:
    """A training listener: progress across the folds, and a stop when the user cancels."""

    def __init__(self, trainer_ref: list, fold: int, folds: int, progress, should_stop):
        self.trainer_ref, self.fold, self.folds, self.progress, self.should_stop = trainer_ref, fold, folds, progress, should_stop

    def __call__(self, event) -> None:
        from ..events import EpochEnded

        if self.should_stop() and self.trainer_ref:
            self.trainer_ref[0].request_stop()
        if isinstance(event, EpochEnded) and self.progress:
            self.progress((self.fold * event.epochs) + event.epoch, self.folds * event.epochs,
                          f"training the network without fold {self.fold + 1} of {self.folds}")


def network_out_of_sample(scan: FolderScan, config: dict, in_channels: int, size: int, folds: int = 5, seed: int = 0,
                          device: str = "cpu", progress=None,
                          should_stop: Callable[[], bool] = lambda: False) -> tuple[np.ndarray, int, int]:
    """``N×classes`` probabilities, each image's from the network trained (as ``config`` says, from its
    start) on the other folds; the folds used and the epochs each fold trained."""
    needed()
    from sklearn.model_selection import StratifiedKFold

    from ..predict import Predictor
    from ..train import TrainConfig, Trainer

    labels = np.array([f.label for f in scan.files])
    k = folds_for(labels, scan.classes, folds)
    images = load_decoded(scan, size, in_channels)
    targets = torch.tensor(labels, dtype=torch.long)
    settings = {**config, "tensorboard": False, "device": device, "dataset": scan.root}
    probs = np.zeros((len(labels), len(scan.classes)))
    work = Path(tempfile.mkdtemp(prefix="folds-", dir=_scratch()))
    epochs = 0
    try:
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        for fold, (rest, held) in enumerate(cv.split(np.zeros(len(labels)), labels)):
            if should_stop():
                raise CancelledError("Examination cancelled")
            val = rest[::10]  # a tenth of the rest chooses the best epoch, as a run's validation set does
            train = np.setdiff1d(rest, val)
            pick = lambda idx: ImageTensorDataset(images[torch.as_tensor(idx)], targets[torch.as_tensor(idx)])  # noqa: E731
            mean, std = channel_stats(images[torch.as_tensor(train)])
            bundle = DataBundle(scan.root, list(scan.classes), in_channels, (size, size), pick(train), pick(val),
                                pick(held), mean, std)
            bundle.crop = True
            ref: list = []
            trainer = Trainer(TrainConfig.from_dict(settings), [_Watch(ref, fold, k, progress, should_stop)],
                              run_dir=work / f"fold-{fold + 1}", bundle=bundle)
            ref.append(trainer)
            summary = trainer.run()
            if should_stop():
                raise CancelledError("Examination cancelled")
            if summary.get("status") != "completed":
                raise FoldTrainingError(f"Training without fold {fold + 1} of {k} failed: "
                                        f"{summary.get('error') or summary.get('status')}")
            epochs = int(summary.get("epochs") or 0)
            predictor = Predictor.from_checkpoint(work / f"fold-{fold + 1}", device=device)
            prep = predictor.preprocess.to(predictor.device)
            with torch.no_grad():
                for start in range(0, len(held), 256):
                    idx = held[start:start + 256]
                    x = images[torch.as_tensor(idx)].to(predictor.device).float() / 255.0
                    out = predictor.model.eval()(prep(x))
                    out = out[0] if isinstance(out, (tuple, list)) else out
                    probs[idx] = torch.softmax(out.float(), 1).cpu().numpy()
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the folds' checkpoints are scaffolding, not runs
    return probs, k, epochs


def _scratch() -> Path:
    folder = paths.cache_root() / "doctor"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
