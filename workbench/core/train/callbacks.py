"""Hooks the training loop calls, in the spirit of PyTorch Lightning's callbacks.

The loop itself only trains; everything else that happens during a run (the CLI's progress bar,
the metric files, the checkpoint saver, TensorBoard, the window's worker) is a ``Callback``.
Each hook receives the trainer and the plain event that describes the moment, so a callback
reads the same facts a listener of the engine's events would. Batch hooks are called at a
throttled rate on a GPU (``StepEnded`` events arrive in small bunches, each with its own
values), so no callback forces a host sync on every step.
"""

from __future__ import annotations

from typing import Any, Callable

from ..events import (DataProgress, EpochEnded, EpochStarted, Evaluated, Notice, RunFailed, RunFinished,
                      RunStarted, StepEnded)


class Callback:
    """Override the hooks you need. ``state_dict`` is saved in ``last.pt`` and handed back to
    ``load_state_dict`` when a run resumes."""

    def on_run_start(self, trainer, event: RunStarted) -> None: ...
    def on_epoch_start(self, trainer, event: EpochStarted) -> None: ...
    def on_batch_end(self, trainer, event: StepEnded) -> None: ...
    def on_epoch_end(self, trainer, event: EpochEnded) -> None: ...
    def on_evaluated(self, trainer, event: Evaluated) -> None: ...
    def on_run_end(self, trainer, event: RunFinished) -> None: ...
    def on_exception(self, trainer, event: RunFailed) -> None: ...
    def on_notice(self, trainer, event: DataProgress | Notice) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


HOOKS: dict[type, str] = {
    RunStarted: "on_run_start", EpochStarted: "on_epoch_start", StepEnded: "on_batch_end",
    EpochEnded: "on_epoch_end", Evaluated: "on_evaluated", RunFinished: "on_run_end",
    RunFailed: "on_exception", DataProgress: "on_notice", Notice: "on_notice",
}


class EventListener(Callback):
    """Adapts a plain callable (``listener(event)``) to the hooks: every event reaches it."""

    def __init__(self, listener: Callable[[Any], None]):
        self.listener = listener

    def _forward(self, trainer, event) -> None:
        self.listener(event)

    on_run_start = on_epoch_start = on_batch_end = on_epoch_end = _forward
    on_evaluated = on_run_end = on_exception = on_notice = _forward


def as_callback(item) -> Callback:
    return item if isinstance(item, Callback) else EventListener(item)


def dispatch(callbacks: list[Callback], trainer, event) -> None:
    name = HOOKS[type(event)]
    for callback in callbacks:
        getattr(callback, name)(trainer, event)
