"""Plain events the engine emits to its listeners (the CLI's progress bar, the Qt worker,
tests). Listeners are callables that take one event; they run on the training thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    config: dict
    device: str
    classes: list[str]
    num_params: int
    input_size: tuple[int, int, int]
    steps_per_epoch: int
    health: str = ""
    """An image folder's health report, short form."""
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    """The normalisation the run uses (the dataset's, or the pretrained weights')."""


@dataclass(frozen=True)
class StepEnded:
    epoch: int
    """1-based."""
    step: int
    """1-based within the epoch."""
    steps_per_epoch: int
    loss: float
    accuracy: float

    @property
    def progress(self) -> float:
        """Epochs done as a float, e.g. 2.5 halfway through the third epoch."""
        return self.epoch - 1 + self.step / self.steps_per_epoch


@dataclass(frozen=True)
class EpochEnded:
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    best_val_acc: float
    is_best: bool
    seconds: float


@dataclass(frozen=True)
class RunFinished:
    run_dir: str
    summary: dict = field(default_factory=dict)

    @property
    def stopped(self) -> bool:
        return self.summary.get("status") == "stopped"


@dataclass(frozen=True)
class RunFailed:
    run_dir: str
    message: str
    """One or two sentences for the user: what went wrong and what to try."""
    details: str = ""
    """The traceback, for a 'details' pane or a bug report."""


@dataclass(frozen=True)
class DataProgress:
    """Slow preparation before training: ``stage`` is ``data`` (scanning and decoding an image
    folder) or ``download`` (pretrained weights); ``done`` of ``total`` (bytes or files)."""

    stage: str
    done: int
    total: int
    what: str = ""


Event = Union[RunStarted, StepEnded, EpochEnded, RunFinished, RunFailed, DataProgress]
Listener = Callable[[Any], None]

