"""Resuming a run: reading its folder and ``last.pt`` (``prepare``), checking that the data is the
data the run started with (``compare_data``), putting the training state back (``restore``), and
a failed resume's summary that keeps what the run had (``failed_summary``). Functions of the
``Trainer``, kept apart so the loop reads on its own."""

from __future__ import annotations

import math
import time

from ..data.identity import DataChangedError, describe, differences
from ..errors import TrainingFault, counted
from ..events import Notice
from ..runs import RunFileError, RunFolderError, RunStore, check_run_folder, read_json, regular_file
from .checkpointing import CheckpointError, check_compatible, load_checkpoint, load_weights, set_rng_state
from .config import TrainConfig

__all__ = ["compare_data", "failed_summary", "prepare", "restore"]


def prepare(trainer) -> None:
    """The run's own config (with the epochs asked for), its ``last.pt``, and whether its ``best.pt``
    can still be used; a folder with links or special files is refused before anything is read."""
    run_dir = trainer._resume
    if run_dir.is_symlink() or not (run_dir / "config.json").exists():
        raise CheckpointError(f"{run_dir} is not a run folder (no config.json)")
    check_run_folder(run_dir)  # no links, no special files: nothing outside the folder is touched
    payload = load_checkpoint(run_dir / "last.pt")
    saved = RunStore.read_config(run_dir)
    config = TrainConfig.from_dict(saved)
    if trainer.config is not None and trainer.config.num_workers:
        config.num_workers = trainer.config.num_workers
    if trainer._resume_epochs is not None:
        config.epochs = trainer._resume_epochs
    if payload["epoch"] >= config.epochs:
        raise TrainingFault(f"{run_dir.name} has already trained {payload['epoch']} of "
                            f"{counted(config.epochs, 'epoch')}: "
                            f"pass --epochs with more than {payload['epoch']} to go on.")
    check_compatible(payload, model=config.model, num_classes=len(saved.get("classes", [])) or None,
                     input_size=saved.get("input_size"), name="last.pt")
    trainer.config = config
    trainer._run_dir = run_dir
    trainer._resume_payload = payload
    trainer._saved_classes = list(saved.get("classes") or [])
    try:
        best = load_checkpoint(run_dir / "best.pt")
        if list(best["classes"]) != list(payload["classes"]):
            trainer._best_lost = "best.pt is for other classes than last.pt"
    except CheckpointError as exc:
        trainer._best_lost = str(exc)


def compare_data(trainer) -> None:
    """Refuse to resume on other data than the run's (unless accepted, then recorded)."""
    path = trainer._run_dir / "dataset.json"
    if regular_file(path) is None:  # a run from before the record: its classes at least
        before = {"dataset": trainer.config.dataset, "classes": trainer._saved_classes}
    else:
        before = read_json(path)
    changes = differences(before, trainer._data_identity)
    if not changes:
        return
    if not trainer.accept_data_change:
        raise DataChangedError(describe(changes, trainer._run_dir.name, "Resuming"))
    trainer._emit(Notice("Going on with the data as it is now: " + "; ".join(changes) + "."))
    history = list(before.get("changes") or [])
    history.append({"at_epoch": trainer._resume_payload["epoch"] + 1, "changes": changes,
                    "time": time.strftime("%Y-%m-%d %H:%M:%S")})
    trainer._data_identity["changes"] = history


def restore(trainer, payload: dict) -> None:
    load_weights(trainer.model, payload["state_dict"], payload["model"])
    try:
        trainer.optimizer.load_state_dict(payload["optimizer"])
        trainer.scheduler.load_state_dict(payload["scheduler"])
        if hasattr(trainer.scheduler, "total_steps"):  # one-cycle: a longer run stretches the cycle
            trainer.scheduler.total_steps = max(2, trainer.total_steps)
        trainer.scaler.load_state_dict(payload["scaler"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"last.pt does not hold a resumable training state: {exc}") from exc
    rngs = payload.get("rng") or []
    if len(rngs) == trainer.ctx.world:
        set_rng_state(rngs[trainer.ctx.rank], trainer.device)
    else:
        trainer._emit(Notice(f"last.pt was written by {len(rngs)} processes and this run has {trainer.ctx.world}: "
                          f"the random streams start afresh, so results will differ from an uninterrupted run."))
    states = payload.get("callbacks") or {}
    for callback in trainer.callbacks:
        if type(callback).__name__ in states:
            callback.load_state_dict(states[type(callback).__name__])
    if "CheckpointSaver" not in states:  # written before the saver kept the score
        trainer.saver.load_state_dict({"best_val_acc": payload["best_val_acc"], "best_epoch": payload["best_epoch"]})
    trainer.start_epoch = payload["epoch"] + 1
    trainer.global_step = payload["global_step"]
    if trainer._best_lost:  # nothing to test with unless an epoch from now on becomes the best
        trainer.saver.best_acc, trainer.saver.best_loss, trainer.saver.best_epoch = -1.0, math.inf, 0
        trainer._emit(Notice(f"The run's best checkpoint cannot be used ({trainer._best_lost}): the best is chosen "
                             f"anew from epoch {trainer.start_epoch} on, and the test uses it."))


def failed_summary(trainer, failure: dict) -> dict:
    """A resumed run that fails keeps what its summary knew (scores, test): the failure is added."""
    try:
        before = read_json(trainer.store.summary_path) if trainer.resuming and \
            regular_file(trainer.store.summary_path) is not None else {}
    except (RunFileError, RunFolderError, OSError):
        before = {}
    if before.get("status") in ("completed", "stopped"):
        return {**before, "status": "failed", "error": failure.get("error"), "seconds": failure.get("seconds"),
                "failed_after": before.get("status")}
    return failure
