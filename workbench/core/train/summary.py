"""What a run writes about itself besides metrics and checkpoints: ``config.json`` (with the
input size, classes and normalisation), the image folder's split and health report, and
``summary.json`` at the end."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import devices


def dataset_label(dataset: str) -> str:
    """A short name for run folders: a folder's own name, not its whole path."""
    return (Path(dataset).name or "folder") if ("/" in dataset or os.sep in dataset) else dataset


def write_run_metadata(store, cfg, input_size, bundle, norm, world: int, new_run: bool) -> None:
    """``config.json`` always (a resume may change the planned epochs); the split and the health
    report only when the run starts."""
    store.write_config({**cfg.to_dict(), "input_size": list(input_size), "classes": bundle.classes,
                        "normalisation": {"mean": list(norm[0]), "std": list(norm[1])}, "world_size": world})
    if new_run:
        if bundle.split_files:
            store.write_json("split.json", bundle.split_files)
        if bundle.health is not None:
            store.write_json("health.json", bundle.health.to_dict())


def run_summary(trainer, done: int, throughput: list[float], params: int, macs: int | None) -> dict:
    """``summary.json`` before the test: the test figures are added by the trainer."""
    cfg, saver = trainer.config, trainer.saver
    return {
        "model": cfg.model, "dataset": cfg.dataset, "recipe": cfg.recipe,
        "status": "stopped" if trainer.stop_requested else "completed",
        "epochs": done, "epochs_planned": cfg.epochs, "global_step": trainer.global_step,
        "best_val_acc": saver.best_acc if saver.best_epoch else None,
        "best_epoch": saver.best_epoch or None,
        "test_acc": None, "test_loss": None,
        "images_per_sec": round(sum(throughput) / len(throughput), 1) if throughput else None,
        "device": devices.describe(trainer.device), "world_size": trainer.ctx.world,
        "params": params, "macs": macs, "input_size": list(trainer.input_size),
        "classes": list(trainer.bundle.classes), "run_dir": str(trainer.store.dir), "torch": torch.__version__,
        "resumed_at_epoch": trainer.start_epoch if trainer.resuming else None,
    }
