"""The ``Trainer``: epochs over train and val, then test with the best-validation weights.

It knows nothing of Qt or terminals. Everything besides the loop itself (progress bars, metric
files, checkpoints, TensorBoard, the window's worker) is a ``Callback``; plain callables are
accepted too and receive every event. ``request_stop`` and ``request_pause`` act within one batch
and may be called from any thread. On a GPU, losses and accuracies accumulate on the device and
are read every ``sync_every`` steps, never once per step.
"""

from __future__ import annotations

import math
import random
import threading
import time
import traceback
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import devices
from ..data import DataBundle, Preprocess, load_dataset
from ..data.augment import BatchAugment
from ..data.identity import identity
from ..data.loader import IndexedBatches, epoch_order
from ..data.registry import is_folder_dataset
from ..errors import TrainingFault, user_message
from ..evaluate import Predictions, confusion_report, main_output, predict_batches, to_float
from ..events import (DataProgress, EpochEnded, EpochStarted, Evaluated, Notice, RunFailed, RunFinished,
                      RunStarted, StepEnded)
from ..inspect import count_macs
from ..runs import RunStore, claim, default_runs_root, discard_run, new_run_dir
from ..threads import RNG_LOCK
from .callbacks import Callback, as_callback, dispatch
from . import resume
from .checkpointing import CheckpointSaver, load_checkpoint, rng_state
from .config import ConfigError, TrainConfig, resolve
from .distributed import Context
from .loggers import FileLogger, TensorBoardLogger
from .setup import build_loaders, build_model, build_optimisation, decode_size
from .summary import dataset_label, run_summary, write_run_metadata
from .timelapse import TimelapseRecorder

AUX_WEIGHT = 0.3
"""GoogLeNet's auxiliary classifiers add 0.3 × their loss (Szegedy et al. 2014, Sec. 5)."""


def training_loss(output, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the main output, plus ``AUX_WEIGHT`` × that of each auxiliary head."""
    ce = lambda logits: nn.functional.cross_entropy(logits, targets, label_smoothing=label_smoothing)  # noqa: E731
    if isinstance(output, (tuple, list)):
        main, *aux = output
        return ce(main) + sum(AUX_WEIGHT * ce(a) for a in aux if a is not None)
    return ce(output)


class Trainer:
    """Runs one training run from a ``TrainConfig`` (or resumes one from its run folder).

    ``run()`` never raises for a failed run: it emits ``RunFailed`` and returns the summary with
    ``status`` ``failed``.
    """

    def __init__(self, config: TrainConfig | None = None, callbacks: list | None = None,
                 run_dir: str | Path | None = None, runs_root: str | Path | None = None,
                 bundle: DataBundle | None = None, resume: str | Path | None = None, epochs: int | None = None,
                 accept_data_change: bool = False):
        if config is None and resume is None:
            raise ValueError("Trainer needs a config or a run folder to resume")
        self.config = config
        self.callbacks: list[Callback] = [as_callback(c) for c in (callbacks or [])]
        self._run_dir = Path(run_dir) if run_dir else None
        self._runs_root = Path(runs_root) if runs_root else default_runs_root()
        self._resume = Path(resume) if resume else None
        self._resume_epochs = epochs
        self.accept_data_change = accept_data_change
        """Resume on data that changed since the run started (the run records the change)."""
        self._lock = None
        self._best_lost = ""
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.bundle = bundle
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.store: RunStore | None = None
        self.ctx = Context()
        self.global_step = 0
        self.start_epoch = 1
        self.saver = CheckpointSaver()
        self.sync_every = 1

    # -- control -------------------------------------------------------------------------
    def add_listener(self, listener) -> None:
        self.callbacks.append(as_callback(listener))

    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()

    def request_pause(self) -> None:
        self._running.clear()

    def request_resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the current weights, safe to hand to another thread."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    @property
    def resuming(self) -> bool:
        return self._resume is not None

    @property
    def best_epoch(self) -> int:
        return self.saver.best_epoch

    def _emit(self, event) -> None:
        dispatch(self.callbacks, self, event)

    # -- the run -------------------------------------------------------------------------
    def _nothing_to_keep(self, summary: dict) -> bool:
        """A new run stopped before its first epoch ended: no weights, no curve, nothing to resume."""
        return summary.get("status") == "stopped" and not summary.get("epochs") and self._resume is None

    def _discard(self, summary: dict) -> None:
        """Remove what the run wrote (and its folder when the trainer chose it), so a stopped start leaves no
        empty run behind; the summary says so (``discarded``)."""
        for writer in getattr(self, "_writers", []):
            writer.on_run_end(self, None)  # their files are closed before they go (twice is harmless)
        if self.ctx.is_main:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            discard_run(self.store.dir, remove_folder=self._run_dir is None)
        summary.update(discarded=True, note="stopped before the first epoch ended: nothing was kept")

    def run(self) -> dict:
        started = time.perf_counter()
        cfg = self.config
        summary: dict = {"model": cfg.model if cfg else "", "dataset": cfg.dataset if cfg else "", "status": "failed"}
        try:
            self._prepare()
            summary = self._train(started)
            if self._nothing_to_keep(summary):
                self._discard(summary)
            elif self.ctx.is_main:
                self.store.write_summary(summary)
            self._emit(RunFinished(str(self.store.dir), summary))
        except BaseException as exc:  # every failure becomes an event; the caller keeps running
            message = user_message(exc, self.config.batch_size if self.config else None)
            if self.config is not None:
                summary.update(model=self.config.model, dataset=self.config.dataset)
            summary.update(status="failed", error=message, seconds=round(time.perf_counter() - started, 2))
            run_dir = str(self.store.dir) if self.store else str(self._resume or "")
            if self.store and self.ctx.is_main:
                self.store.write_summary(resume.failed_summary(self, summary))
            self._emit(RunFailed(run_dir, message, traceback.format_exc(), type(exc).__name__))
            if isinstance(exc, KeyboardInterrupt):
                raise
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            self.ctx.close(together=summary.get("status") != "failed")
        return summary

    def _prepare(self) -> None:
        if self._resume is not None:
            resume.prepare(self)
        cfg = self.config
        resolve(cfg)  # checks every value before anything is loaded or written
        self.ctx = Context.from_env(cfg.device)
        if self._run_dir is not None and self.ctx.is_main:  # refused before any data is loaded
            self._lock = claim(self._run_dir, new=self._resume is None)
        self.device = devices.pick_device(self.ctx.device(cfg.device))
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError(f"amp 'fp16' needs a CUDA device, not {self.device}: use --amp bf16 or --amp off")
        if self._resume is None and is_folder_dataset(cfg.dataset):  # recorded absolute: a resume elsewhere finds it
            cfg.dataset = str(Path(cfg.dataset).expanduser().resolve())
        if self.bundle is None:
            size = decode_size(cfg.model, cfg.pretrained, cfg.image_size)
            self.bundle = load_dataset(cfg.dataset, root=cfg.data_root, image_size=size, split=cfg.split,
                                       split_seed=cfg.split_seed, progress=self.data_progress,
                                       split_method=cfg.split_method)
        for notice in getattr(self.bundle, "notices", None) or []:
            self._emit(Notice(notice))
        self._data_identity = identity(self.bundle, cfg.dataset)
        if self._resume is not None:
            resume.compare_data(self)
        self.config = cfg = resolve(cfg, train_size=len(self.bundle.train))
        with RNG_LOCK:  # no model is built on another thread between the seed and this run's model
            torch.manual_seed(cfg.seed + self.ctx.rank)
            random.seed(cfg.seed + self.ctx.rank)
            np.random.seed((cfg.seed + self.ctx.rank) % 2**32)
            self.augment = BatchAugment(cfg.augment)
            self._build_model()
        pin = self.device.type == "cuda"
        self.train_data, self.val_data, self.test_data = build_loaders(
            self.bundle, cfg.batch_size, cfg.num_workers, pin, lambda message: self._emit(Notice(message)))
        self.steps_per_epoch = math.ceil(len(self.train_order(1)) / cfg.batch_size)
        total = self.steps_per_epoch * cfg.epochs
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        self.optimizer, self.scheduler, self.scaler = build_optimisation(self.model, cfg, self.steps_per_epoch,
                                                                         self.total_steps, self.device)
        self._open_store()
        if self._resume is not None:
            resume.restore(self, self._resume_payload)
        self.sync_every = 1 if self.device.type == "cpu" else 25

    def _build_model(self) -> None:
        cfg = self.config
        built = build_model(cfg.model, self.bundle, cfg.input_size, cfg.pretrained, cfg.weights, cfg.transfer,
                            progress=self.download_progress)
        self.model, self.input_size = built.model, built.input_shape
        memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        self.model.to(self.device, memory_format=memory_format)
        self.preprocess = Preprocess(self.input_size[1:], built.mean, built.std).to(self.device)
        self.norm = (list(built.mean), list(built.std))
        self.forward_model = self.model
        if self.ctx.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_model = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.forward_model = torch.compile(self.forward_model)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
        self.autocast = (lambda: torch.autocast(self.device.type, dtype=amp_dtype)) if amp_dtype else nullcontext

    def train_order(self, epoch: int) -> torch.Tensor:
        return epoch_order(len(self.bundle.train), shuffle=True, seed=self.config.seed, epoch=epoch,
                           rank=self.ctx.rank, world=self.ctx.world)

    def _open_store(self) -> None:
        cfg = self.config
        run_dir = None
        if self.ctx.is_main:
            if self._run_dir is None:
                run_dir = new_run_dir(self._runs_root, cfg.model, dataset_label(cfg.dataset))  # created exclusively
                self._lock = claim(run_dir, new=True)
            else:
                run_dir = self._run_dir
        self.store = RunStore(self.ctx.broadcast(str(run_dir) if run_dir else None)) if self.ctx.is_main else \
            _ReadOnlyStore(self.ctx.broadcast(None))
        self.saver = CheckpointSaver(write=self.ctx.is_main)
        if not self.ctx.is_main:
            self.callbacks = self.callbacks + [self.saver]
            return
        write_run_metadata(self.store, cfg, self.input_size, self.bundle, self.norm, self.ctx.world,
                           new_run=self._resume is None)
        if self._resume is None or "changes" in self._data_identity:
            self.store.write_json("dataset.json", self._data_identity)
        writers: list[Callback] = [FileLogger(self.store)]
        if cfg.tensorboard:
            if TensorBoardLogger.available():
                writers.append(TensorBoardLogger(self.store.dir / "tensorboard"))
            else:
                self._emit(Notice("TensorBoard is not installed, so no event files are written "
                                  "(pip install 'cnn-workbench[tensorboard]')."))
        if cfg.timelapse:
            writers.append(TimelapseRecorder(cfg.keep_epoch_weights))
        # The saver goes last, so last.pt holds every callback's state after this epoch.
        self._writers = writers
        self.callbacks = writers + self.callbacks + [self.saver]

    def data_progress(self, done: int, total: int, what: str) -> None:
        self._emit(DataProgress("data", done, total, what))

    def download_progress(self, done: int, total: int, what: str) -> None:
        self._emit(DataProgress("download", done, total, what))

    # -- the loop ----------------------------------------------------------------------------
    def _train(self, started: float) -> dict:
        cfg = self.config
        params = sum(p.numel() for p in self.model.parameters())
        try:  # recorded for the runs view's comparison table; a model the counter cannot run is no reason to stop
            macs = count_macs(self.model, tuple(self.input_size), self.device)
        except Exception:  # noqa: BLE001
            macs = None
        health = self.bundle.health.short() if self.bundle.health is not None else ""
        self._emit(RunStarted(str(self.store.dir), cfg.to_dict(), devices.describe(self.device),
                              list(self.bundle.classes), params, tuple(self.input_size), self.steps_per_epoch, health,
                              tuple(self.norm[0]), tuple(self.norm[1]), cfg.epochs, self.start_epoch))
        done = self.start_epoch - 1
        throughput = []
        for epoch in range(self.start_epoch, cfg.epochs + 1):
            if self.global_step >= self.total_steps:
                break
            self._emit(EpochStarted(epoch, cfg.epochs))
            epoch_start = time.perf_counter()
            train = self._train_epoch(epoch)
            if self.stop_requested:
                break
            val = self._predict(self.val_data)
            if self.stop_requested:
                break
            done = epoch
            is_best = self.saver.judge(epoch, val.accuracy, val.mean_loss)
            seconds = time.perf_counter() - epoch_start
            throughput.append(train["images_per_sec"])
            many = self.bundle.num_classes > 10
            event = EpochEnded(epoch, cfg.epochs, train["loss"], train["acc"], val.mean_loss, val.accuracy,
                               self.saver.best_acc, is_best, seconds, self.saver.best_epoch,
                               self.optimizer.param_groups[0]["lr"],
                               train["images_per_sec"], train["top5"] if many else None,
                               val.top5_accuracy if many else None, int(train["images"]))
            if is_best:
                self._report("val", val)
            self._epoch_rngs = self.ctx.gather(rng_state(self.device))  # a collective: every rank, before the saver
            self._emit(event)

        summary = run_summary(self, done, throughput, params, macs)
        if self._best_lost:
            summary["best_note"] = f"best.pt could not be used at the resume ({self._best_lost}); the best is of " \
                                   f"epochs {self.start_epoch} on"
        if self.best_epoch and not self.stop_requested:
            # Test once, with the weights that did best on validation, read back from best.pt.
            self.ctx.barrier()
            best = load_checkpoint(self.store.best_path, map_location=self.device)
            self.model.load_state_dict(best["state_dict"])
            test = self._predict(self.test_data)
            summary.update(test_acc=test.accuracy, test_loss=test.mean_loss)
            if self.bundle.num_classes > 10:
                summary["test_top5"] = test.top5_accuracy
            self._report("test", test, checkpoint="best.pt", epoch=best["epoch"])
        summary["seconds"] = round(time.perf_counter() - started, 2)
        return summary

    def _predict(self, data: IndexedBatches) -> Predictions:
        order = epoch_order(len(data), shuffle=False, rank=self.ctx.rank, world=self.ctx.world)
        mine = predict_batches(self.forward_model, data.batches(order), self.preprocess, self.device,
                               lambda: self.stop_requested, self.autocast(), self.config.channels_last)
        return Predictions.cat(self.ctx.gather(mine)) if self.ctx.active else mine

    def _report(self, split: str, predictions: Predictions, **about) -> None:
        files = (self.bundle.split_files or {}).get(split)
        report = {**confusion_report(predictions, list(self.bundle.classes), split, files), **about}
        self._emit(Evaluated(split, str(self.store.dir / f"{split}_eval.json"), predictions.accuracy, report))

    def _train_epoch(self, epoch: int) -> dict:
        cfg = self.config
        self.forward_model.train()
        self.augment.train()
        order = self.train_order(epoch)
        zero = lambda: torch.zeros((), dtype=torch.float64, device=self.device)  # noqa: E731
        loss_sum, hits, top5, seen = zero(), zero(), zero(), 0  # summed on the device, read once
        many = self.bundle.num_classes > 10
        pending: list = []
        clock = [time.perf_counter(), 0]  # since the last read: start time, images
        rates = []
        for step, (_, images, targets) in enumerate(self.train_data.batches(order), start=1):
            if not self._running.is_set():
                self._running.wait()
            if self.stop_requested or self.global_step >= self.total_steps:
                break
            images = self.augment(to_float(images.to(self.device, non_blocking=True)))
            targets = targets.to(self.device, non_blocking=True)
            images = self.preprocess(images)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                output = self.forward_model(images)
                loss = training_loss(output, targets, cfg.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if cfg.clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            lr = self.optimizer.param_groups[0]["lr"]
            self.scheduler.step()
            self.global_step += 1
            with torch.no_grad():
                logits = main_output(output).detach()
                n = len(targets)
                batch_loss = loss.detach().float()
                correct = (logits.argmax(1) == targets).sum()
                loss_sum += batch_loss * n
                hits += correct
                if many:
                    top5 += (logits.topk(5, 1).indices == targets[:, None]).any(1).sum()
                seen += n
            pending.append((step, self.global_step, batch_loss, correct, n, lr))
            clock[1] += n
            if len(pending) >= self.sync_every:
                rates.append(self._flush(epoch, pending, clock))
        if pending:
            rates.append(self._flush(epoch, pending, clock))
        loss_sum, correct, top5, seen = self.ctx.sum(
            [float(loss_sum), float(hits), float(top5), float(seen)], self.device)
        imgs = sum(r[0] for r in rates)
        secs = sum(r[1] for r in rates)
        if not seen:
            return {"loss": math.nan, "acc": math.nan, "top5": math.nan, "images_per_sec": 0.0, "images": 0}
        return {"loss": loss_sum / seen, "acc": correct / seen, "top5": top5 / seen, "images": seen,
                "images_per_sec": self.ctx.world * imgs / secs if secs else 0.0}

    def _flush(self, epoch: int, pending: list, clock: list) -> tuple[int, float]:
        """Read the pending steps' values in one transfer, check them, and report each step."""
        if len(pending) == 1:  # on the CPU every step is read at once: no stacking
            values = [(float(pending[0][2]), float(pending[0][3]))]
        else:
            values = torch.stack([torch.stack([p[2], p[3].float()]) for p in pending]).tolist()
        now = time.perf_counter()
        images, seconds = clock[1], now - clock[0]
        rate = images / seconds if seconds > 0 else 0.0
        for (step, global_step, _, _, n, lr), (loss, correct) in zip(pending, values):
            if not math.isfinite(loss):
                raise TrainingFault(
                    f"The loss became {loss} at epoch {epoch}, batch {step} (step {global_step}). The learning rate "
                    f"({self.config.lr:g}) is probably too high for {self.config.model}: try one ten times lower, "
                    f"a warm-up (--warmup 1) or gradient clipping (--clip 1).")
            self._emit(StepEnded(epoch, step, self.steps_per_epoch, loss, correct / n, lr,
                                 self.ctx.world * rate, global_step))
        pending.clear()
        clock[0], clock[1] = time.perf_counter(), 0
        return images, seconds


class _ReadOnlyStore(RunStore):
    """What ranks other than 0 know of the run folder: its paths. They never write."""

    def __init__(self, run_dir: str):  # noqa: D107 - no mkdir
        self.dir = Path(run_dir)
        self.best_path = self.dir / "best.pt"
        self.last_path = self.dir / "last.pt"
