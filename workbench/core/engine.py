"""The training engine: epochs over train and val, then test with the best-validation
weights. It knows nothing of Qt or terminals; it tells its listeners what happens through
plain events (``workbench.core.events``) and stops within one batch when asked."""

from __future__ import annotations

import copy
import math
import os
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

import models

from . import devices
from . import pretrained
from .checkpoints import save_checkpoint
from .data.augment import BatchAugment
from .data.loader import TensorBatches, tensors_of
from .datasets import DataBundle, DatasetError, Preprocess, load_dataset
from .events import DataProgress, EpochEnded, Listener, RunFailed, RunFinished, RunStarted, StepEnded
from .runstore import RunStore, default_runs_root, new_run_dir

MIN_INPUT = 32
"""Tiny images (the 8×8 digits) are upsampled to this size: the classic nets need room to
downsample."""


@dataclass
class TrainConfig:
    model: str = "lenet5"
    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    """``adam`` or ``sgd`` (momentum 0.9)."""
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    input_size: int | None = None
    """Height and width the model sees; ``None`` picks one from the model and dataset."""
    data_root: str | None = None
    num_workers: int = 0
    augment: str = "none"
    """A preset of ``data.augment.PRESETS``; training batches only."""
    image_size: int | None = None
    """Image folders: the side of the square images they are decoded to (default 64, or the
    pretrained weights' crop size)."""
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    """Image folders: train/val/test fractions."""
    split_seed: int = 0
    pretrained: bool = False
    """Start from ImageNet weights (torchvision's) instead of from scratch."""
    transfer: str = "finetune"
    """With ``pretrained``: ``finetune`` (all layers; the backbone at a tenth of the head's
    learning rate) or ``extract`` (frozen backbone and BatchNorm statistics, new head only)."""
    weights: str | None = None
    """A weights file to start from instead of torchvision's download."""

    def to_dict(self) -> dict:
        return asdict(self)


class TrainingFault(RuntimeError):
    """Training cannot go on; the message is meant for the user."""


def resolve_input_size(model_name: str, bundle: DataBundle, requested: int | None = None) -> tuple[int, int, int]:
    info = models.get_model_info(model_name)
    if requested:
        hw = (requested, requested)
    elif info.fixed_input:
        hw = info.input_size[1:]
    else:
        hw = tuple(max(MIN_INPUT, s) for s in bundle.native_size)
    return (bundle.in_channels, *hw)


def accuracy_count(logits: torch.Tensor, targets: torch.Tensor) -> int:
    return int((logits.argmax(1) == targets).sum())


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, preprocess: nn.Module, device: torch.device,
             should_stop=lambda: False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a loader."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    for images, targets in loader:
        if should_stop():
            break
        images, targets = to_float(images.to(device, non_blocking=True)), targets.to(device, non_blocking=True)
        logits = _logits(model(preprocess(images)))
        loss_sum += float(nn.functional.cross_entropy(logits, targets, reduction="sum"))
        correct += accuracy_count(logits, targets)
        seen += len(targets)
    return (loss_sum / seen, correct / seen) if seen else (math.nan, math.nan)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 batches (0-255) become float in [0, 1]; float batches pass as they are."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


def _dataset_label(dataset: str) -> str:
    """A short name for run folders: a folder's own name, not its whole path."""
    return (Path(dataset).name or "folder") if ("/" in dataset or os.sep in dataset) else dataset


def _logits(output) -> torch.Tensor:
    # Networks with auxiliary heads return several outputs in training; the first is the main one.
    return output[0] if isinstance(output, (tuple, list)) else output


class Trainer:
    """Runs one training run from a ``TrainConfig``.

    ``run()`` never raises for a failed run: it emits ``RunFailed`` and returns the summary
    with ``status`` ``failed``. ``request_stop()`` may be called from any thread.
    """

    def __init__(self, config: TrainConfig, listeners: list[Listener] | None = None,
                 run_dir: str | Path | None = None, runs_root: str | Path | None = None,
                 bundle: DataBundle | None = None):
        self.config = config
        self.listeners: list[Listener] = list(listeners or [])
        self._run_dir = Path(run_dir) if run_dir else None
        self._runs_root = Path(runs_root) if runs_root else default_runs_root()
        self._stop = threading.Event()
        self.bundle = bundle
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.store: RunStore | None = None

    # -- control -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the current weights, safe to hand to another thread."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def _emit(self, event) -> None:
        for listener in self.listeners:
            listener(event)

    # -- the run -------------------------------------------------------------------------
    def run(self) -> dict:
        started = time.perf_counter()
        summary: dict = {"model": self.config.model, "dataset": self.config.dataset, "status": "failed"}
        try:
            self._prepare()
            summary = self._train(started)
            self.store.write_summary(summary)
            self._emit(RunFinished(str(self.store.dir), summary))
        except Exception as exc:  # every failure becomes an event; the caller keeps running
            message = _user_message(exc, self.config)
            summary.update(status="failed", error=message, seconds=round(time.perf_counter() - started, 2))
            run_dir = str(self.store.dir) if self.store else ""
            if self.store:
                self.store.write_summary(summary)
            self._emit(RunFailed(run_dir, message, traceback.format_exc()))
        return summary

    def _prepare(self) -> None:
        cfg = self.config
        if cfg.epochs < 1 or cfg.batch_size < 1 or not cfg.lr > 0:
            raise TrainingFault("Epochs and batch size must be at least 1 and the learning rate above 0.")
        if cfg.transfer not in ("finetune", "extract"):
            raise TrainingFault(f"Unknown transfer mode {cfg.transfer!r}: use 'finetune' or 'extract'.")
        self.augment = BatchAugment(cfg.augment)
        torch.manual_seed(cfg.seed)
        self.device = devices.pick_device(cfg.device)
        weights = pretrained.weights_for(cfg.model) if cfg.pretrained else None
        if self.bundle is None:
            size = cfg.image_size or (weights.crop_size if weights else None)
            self.bundle = load_dataset(cfg.dataset, root=cfg.data_root, image_size=size, split=cfg.split,
                                       split_seed=cfg.split_seed, progress=self.data_progress)
        if cfg.pretrained:
            self.input_size = (self.bundle.in_channels, weights.crop_size, weights.crop_size)
            self.model = pretrained.pretrained_model(cfg.model, self.bundle.num_classes, self.bundle.in_channels,
                                                     weights_file=cfg.weights, progress=self.download_progress)
            mean, std = weights.mean, weights.std
            if self.bundle.in_channels == 1:  # the summed first kernels see the grey image as R = G = B
                mean, std = (sum(mean) / 3,), (sum(std) / 3,)
            if cfg.transfer == "extract":
                pretrained.freeze_backbone(self.model)
        else:
            self.input_size = resolve_input_size(cfg.model, self.bundle, cfg.input_size)
            self.model = models.create_model(
                cfg.model, num_classes=self.bundle.num_classes, in_channels=self.bundle.in_channels,
                input_size=self.input_size,
            )
            mean, std = self.bundle.mean, self.bundle.std
        self.model.to(self.device)
        self.preprocess = Preprocess(self.input_size[1:], mean, std).to(self.device)
        self.norm = (list(mean), list(std))
        generator = torch.Generator().manual_seed(cfg.seed)
        pin = self.device.type == "cuda"

        def loader(ds, shuffle):
            if tensors_of(ds) is not None:  # in memory: whole batches by index, no per-image calls
                return TensorBatches(ds, cfg.batch_size, shuffle, generator if shuffle else None)
            workers = cfg.num_workers or min(4, os.cpu_count() or 1)
            return DataLoader(ds, batch_size=cfg.batch_size, shuffle=shuffle, generator=generator if shuffle else None,
                              num_workers=workers, pin_memory=pin, drop_last=False, persistent_workers=workers > 0)

        self.train_loader = loader(self.bundle.train, True)
        self.val_loader = loader(self.bundle.val, False)
        self.test_loader = loader(self.bundle.test, False)
        params = pretrained.param_groups(self.model, cfg.lr, cfg.transfer) if cfg.pretrained else \
            [p for p in self.model.parameters()]
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            raise TrainingFault(f"Unknown optimizer {cfg.optimizer!r}: use 'adam' or 'sgd'.")
        run_dir = self._run_dir or new_run_dir(self._runs_root, cfg.model, _dataset_label(cfg.dataset))
        self.store = RunStore(run_dir)
        self.store.write_config({**cfg.to_dict(), "input_size": list(self.input_size),
                                 "classes": self.bundle.classes, "normalisation": {"mean": self.norm[0], "std": self.norm[1]}})
        if self.bundle.split_files:
            self.store.write_json("split.json", self.bundle.split_files)
        if self.bundle.health is not None:
            self.store.write_json("health.json", self.bundle.health.to_dict())
        self.store.start_metrics()

    def data_progress(self, done: int, total: int, what: str) -> None:
        self._emit(DataProgress("data", done, total, what))

    def download_progress(self, done: int, total: int, what: str) -> None:
        self._emit(DataProgress("download", done, total, what))

    def _checkpoint(self, epoch: int, val_acc: float, with_optimizer: bool) -> dict:
        payload = {
            "model": self.config.model,
            "dataset": self.config.dataset,
            "num_classes": self.bundle.num_classes,
            "in_channels": self.bundle.in_channels,
            "input_size": list(self.input_size),
            "classes": list(self.bundle.classes),
            "mean": self.norm[0],
            "std": self.norm[1],
            "epoch": epoch,
            "val_acc": val_acc,
            "transform_input": bool(getattr(self.model, "transform_input", False)),
            "state_dict": self.model.state_dict(),
        }
        if with_optimizer:
            payload["optimizer"] = self.optimizer.state_dict()
        return payload

    def _train(self, started: float) -> dict:
        cfg = self.config
        params = sum(p.numel() for p in self.model.parameters())
        steps = len(self.train_loader)
        health = self.bundle.health.short() if self.bundle.health is not None else ""
        self._emit(RunStarted(str(self.store.dir), cfg.to_dict(), devices.describe(self.device),
                              list(self.bundle.classes), params, tuple(self.input_size), steps, health,
                              tuple(self.norm[0]), tuple(self.norm[1])))
        best_acc, best_epoch, best_state, done = -1.0, 0, None, 0
        for epoch in range(1, cfg.epochs + 1):
            epoch_start = time.perf_counter()
            train_loss, train_acc = self._train_epoch(epoch, steps)
            if self.stop_requested:
                break
            val_loss, val_acc = evaluate(self.model, self.val_loader, self.preprocess, self.device,
                                         lambda: self.stop_requested)
            if self.stop_requested:
                break
            done = epoch
            is_best = val_acc > best_acc
            if is_best:
                best_acc, best_epoch = val_acc, epoch
                best_state = copy.deepcopy(self.model.state_dict())
                save_checkpoint(self.store.best_path, self._checkpoint(epoch, val_acc, with_optimizer=False))
            save_checkpoint(self.store.last_path, self._checkpoint(epoch, val_acc, with_optimizer=True))
            seconds = time.perf_counter() - epoch_start
            self.store.append_metrics({
                "epoch": epoch, "train_loss": round(train_loss, 6), "train_acc": round(train_acc, 6),
                "val_loss": round(val_loss, 6), "val_acc": round(val_acc, 6),
                "lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 3),
            })
            self._emit(EpochEnded(epoch, cfg.epochs, train_loss, train_acc, val_loss, val_acc,
                                  best_acc, is_best, seconds))

        summary = {
            "model": cfg.model,
            "dataset": cfg.dataset,
            "status": "stopped" if self.stop_requested else "completed",
            "epochs": done,
            "epochs_planned": cfg.epochs,
            "best_val_acc": best_acc if best_state is not None else None,
            "best_epoch": best_epoch or None,
            "test_acc": None,
            "test_loss": None,
            "device": devices.describe(self.device),
            "params": params,
            "input_size": list(self.input_size),
            "classes": list(self.bundle.classes),
            "run_dir": str(self.store.dir),
            "torch": torch.__version__,
        }
        if best_state is not None and not self.stop_requested:
            # Test once, with the weights that did best on validation.
            self.model.load_state_dict(best_state)
            test_loss, test_acc = evaluate(self.model, self.test_loader, self.preprocess, self.device)
            summary.update(test_acc=test_acc, test_loss=test_loss)
        summary["seconds"] = round(time.perf_counter() - started, 2)
        return summary

    def _train_epoch(self, epoch: int, steps: int) -> tuple[float, float]:
        self.model.train()
        self.augment.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for step, (images, targets) in enumerate(self.train_loader, start=1):
            if self.stop_requested:
                break
            images = self.augment(to_float(images.to(self.device, non_blocking=True)))
            targets = targets.to(self.device, non_blocking=True)
            logits = self.model(self.preprocess(images))
            loss = self._loss(logits, targets)
            if not torch.isfinite(loss.detach()):
                raise TrainingFault(
                    f"The loss became {float(loss.detach())} at epoch {epoch}, batch {step}. The learning rate "
                    f"({self.config.lr:g}) is probably too high for {self.config.model}: try one ten times lower."
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            batch_loss = float(loss.detach())
            batch_correct = accuracy_count(_logits(logits).detach(), targets)
            loss_sum += batch_loss * len(targets)
            correct += batch_correct
            seen += len(targets)
            self._emit(StepEnded(epoch, step, steps, batch_loss, batch_correct / len(targets)))
        return (loss_sum / seen, correct / seen) if seen else (math.nan, math.nan)

    @staticmethod
    def _loss(output, targets: torch.Tensor) -> torch.Tensor:
        if isinstance(output, (tuple, list)):
            # Auxiliary classifiers (GoogLeNet) add 0.3 × their loss, as in the paper.
            main, *aux = output
            loss = nn.functional.cross_entropy(main, targets)
            return loss + sum(0.3 * nn.functional.cross_entropy(a, targets) for a in aux if a is not None)
        return nn.functional.cross_entropy(output, targets)


def _user_message(exc: BaseException, config: TrainConfig) -> str:
    if isinstance(exc, (TrainingFault, DatasetError, pretrained.PretrainedError, ValueError, KeyError)):
        return str(exc).strip("'\"")
    if isinstance(exc, torch.OutOfMemoryError):
        return (f"The device ran out of memory with batch size {config.batch_size}. "
                f"Try a smaller batch size or a smaller model.")
    return f"Training failed: {type(exc).__name__}: {exc}"
