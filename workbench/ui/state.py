"""The session: what the window is working with, as one plain evented object (no Qt).

It holds the model on show (its ``Predictor``, summary and a note such as "(epoch 3)"), the
dataset (a ``DatasetInfo``), the run on show (trained, opened or resumed), the current image and
the selected layer. Controllers change it with ``set``; views and the window observe it with
``subscribe`` and render what it says, so Open, Resume, a new run and a model switch cannot
leave the title, the form, the plots, the probe, the card and the cost line describing
different things.

Observers are called in the thread that calls ``set`` (the UI thread: controllers set it from
job results delivered there), with the set of names that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["RunOnShow", "Session"]


@dataclass
class RunOnShow:
    """A run the window shows: its folder and configuration, and how it came to be shown."""

    dir: str
    config: dict = field(default_factory=dict)
    how: str = "training"
    """``training`` (started here), ``resumed`` or ``opened``."""
    epochs: int = 1
    """Epochs the plots span."""

    @property
    def name(self) -> str:
        return Path(self.dir).name


class Session:
    FIELDS = ("predictor", "summary", "note", "dataset", "run", "image", "caption", "photo", "layer")

    def __init__(self):
        self.predictor = None  # core.predict.Predictor of the model on show
        self.summary = None  # core.inspect.ModelSummary of it
        self.note = "(untrained)"  # what its weights are: "(untrained)", "(epoch 3)", "(run X, best epoch)"
        self.dataset = None  # core.data.DatasetInfo of the dataset picked (or the opened run's)
        self.run: RunOnShow | None = None
        self.image = None  # C×H×W tensor in [0, 1], the dataset's form
        self.caption = ""
        self.photo = None  # core.data.transforms.Prepared: how a dropped file became the image (None: a dataset's)
        self.layer: str | None = None  # selected in the layer explorer
        self._observers: list[Callable[[set[str]], None]] = []

    @property
    def model_name(self) -> str | None:
        return getattr(self.predictor.model, "model_name", None) if self.predictor is not None else None

    def subscribe(self, observer: Callable[[set[str]], None]) -> Callable[[], None]:
        """Call ``observer(changed_names)`` after each change; returns the call that unsubscribes."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def set(self, **values: Any) -> set[str]:
        """Change fields together; observers hear once, with every name that changed."""
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise AttributeError(f"the session has no {', '.join(sorted(unknown))}")
        if "image" in values and "photo" not in values and values["image"] is not self.image:
            values["photo"] = None  # a new image that was not dropped: no photo behind it
        changed = {name for name, value in values.items() if getattr(self, name) is not value}
        for name in changed:
            setattr(self, name, values[name])
        if changed:
            for observer in list(self._observers):
                observer(changed)
        return changed

    def title(self) -> str:
        """The window's title: the model on show and its run, if any."""
        parts = [self.model_name or ""]
        if self.run is not None:
            parts.append(f"run {self.run.name}")
        return " · ".join(["CNN Workbench", *filter(None, parts)])
