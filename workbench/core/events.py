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
    epochs: int = 0
    start_epoch: int = 1
    """Above 1 when the run resumes an earlier one."""


@dataclass(frozen=True)
class StepEnded:
    epoch: int
    """1-based."""
    step: int
    """1-based within the epoch."""
    steps_per_epoch: int
    loss: float
    accuracy: float
    lr: float = 0.0
    images_per_sec: float = 0.0
    """Training throughput over the steps since the previous read (read at a throttled rate)."""
    global_step: int = 0
    """Iterations since the run began (resumed runs count on)."""

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
    best_epoch: int = 0
    lr: float = 0.0
    images_per_sec: float = 0.0
    train_top5: float | None = None
    val_top5: float | None = None
    """Top-5 accuracies, for sets of more than 10 classes."""
    train_images: int = 0
    """Training images this epoch, all processes together."""


@dataclass(frozen=True)
class EpochStarted:
    epoch: int
    epochs: int


@dataclass(frozen=True)
class Evaluated:
    """A confusion matrix and its report for ``split`` (``val`` at the best epoch, ``test`` at the
    end), saved as ``path`` in the run folder."""

    split: str
    path: str
    accuracy: float
    report: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the run (a loader fell back to the
    main process, TensorBoard is not installed, ...)."""

    message: str


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
    kind: str = ""
    """The error's class name (``DataChangedError``: a resume refused because the data changed)."""


@dataclass(frozen=True)
class DataProgress:
    """Slow preparation before training: ``stage`` is ``data`` (scanning and decoding an image
    folder) or ``download`` (pretrained weights); ``done`` of ``total`` (bytes or files)."""

    stage: str
    done: int
    total: int
    what: str = ""


Event = Union[RunStarted, EpochStarted, StepEnded, EpochEnded, Evaluated, RunFinished, RunFailed, DataProgress, Notice]
Listener = Callable[[Any], None]

