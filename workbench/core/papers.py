"""The papers' numbers on your runs: what a paper (or torchvision, for ImageNet weights) reports for a network
on a dataset the workbench trains, read from ``resources/papers.toml`` (one file, a source for each figure),
and the gap between a run and it.

No torch here: the runs table and the window ask for these while they list runs.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field

METRICS = ("error", "top1_accuracy")
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ImageNet-1K"}


@dataclass(frozen=True)
class Figure:
    """One number a paper prints: ``value`` in per cent, an error or a top-1 accuracy as ``metric`` says."""

    model: str
    dataset: str
    metric: str
    value: float
    paper: str
    where: str
    url: str
    quote: str = ""
    params: str = ""
    recipe: str = ""
    recipe_text: str = ""
    note: str = ""
    weights: str = ""

    @property
    def accuracy(self) -> float:
        """The figure as an accuracy in [0, 1], the unit of the workbench's curves."""
        return 1 - self.value / 100 if self.metric == "error" else self.value / 100

    @property
    def short(self) -> str:
        """"He et al. 2016, Table 6" — the first author, the year and the table."""
        if self.weights:
            return f"torchvision {self.weights}"
        found = re.match(r"(.+?)\s+((?:19|20)\d\d)\b", self.paper)
        if not found:
            return f"{self.paper}, {self.where}"
        authors, year = found.groups()
        names = [n.strip() for n in re.split(r",|&", authors) if n.strip()]
        who = names[0] if len(names) == 1 else f"{names[0]} & {names[1]}" if len(names) == 2 else f"{names[0]} et al."
        return f"{who} {year}, {self.where}"

    @property
    def label(self) -> str:
        """What the paper reports, in its own unit: "8.75 % test error (He et al. 2016, Table 6)"."""
        what = "test error" if self.metric == "error" else "top-1 accuracy"
        return f"{self.value:g} % {what} on {DATASET_NAMES.get(self.dataset, self.dataset)} ({self.short})"

    def recipe_description(self) -> str:
        """The paper's training schedule in words (the workbench's recipe of that name, where it has one)."""
        if self.recipe:
            from .train.config import RECIPES  # noqa: PLC0415 - a small module, no torch
            recipe = RECIPES.get(self.recipe)
            if recipe is not None:
                return f"{recipe.source} (the workbench's recipe {recipe.name})"
        return self.recipe_text


@dataclass(frozen=True)
class Degradation:
    figure: str
    paper: str
    url: str
    caption: str
    reported: str

    @property
    def label(self) -> str:
        return f"He et al. 2016, {self.figure}"


@dataclass(frozen=True)
class Comparison:
    """A run beside the paper: ``gap`` in percentage points of accuracy (negative: the run is below)."""

    figure: Figure
    accuracy: float | None
    epochs: int | None = None
    planned: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        return None if self.accuracy is None else 100 * (self.accuracy - self.figure.accuracy)

    def cell(self) -> str:
        """The runs table's cell: the paper's accuracy and the gap ("91.25 % (−3.10)")."""
        paper = f"{100 * self.figure.accuracy:.2f} %"
        return paper if self.gap is None else f"{paper} ({self.gap:+.2f})".replace("-", "−")

    def text(self) -> str:
        """A paragraph for the evaluation view and a tooltip: citation, recipe, gap, and why it may differ."""
        lines = [f"The paper: {self.figure.label}, that is {100 * self.figure.accuracy:.2f} % accuracy."]
        if self.figure.note:
            lines.append(f"({self.figure.note}.)")
        if self.gap is not None:
            side = "below" if self.gap < 0 else "above"
            lines.append(f"This run: {100 * self.accuracy:.2f} % test accuracy, {abs(self.gap):.2f} points {side} it.")
        recipe = self.figure.recipe_description()
        if recipe:
            lines.append(f"The paper trained with: {recipe}.")
        lines.extend(self.notes)
        lines.append(f"Source: {self.figure.paper}, {self.figure.where} ({self.figure.url}).")
        return " ".join(lines)


class PapersError(ValueError):
    """``papers.toml`` says something the workbench cannot use; the message names the entry."""


def _path():
    from resources import resource_path  # noqa: PLC0415 - resources/ imports nothing heavy
    return resource_path("papers.toml")


def parse(text: str) -> tuple[list[Figure], Degradation | None]:
    """The figures of a ``papers.toml`` text, each checked to name its source."""
    data = tomllib.loads(text)
    figures = []
    known = set(Figure.__dataclass_fields__)
    for i, entry in enumerate(data.get("figure", []), 1):
        name = f"figure {i} ({entry.get('model', '?')} on {entry.get('dataset', '?')})"
        unknown = set(entry) - known
        if unknown:
            raise PapersError(f"{name}: unknown field {sorted(unknown)[0]!r}")
        for key in ("model", "dataset", "metric", "value", "paper", "where", "url"):
            if not entry.get(key) and entry.get(key) != 0:
                raise PapersError(f"{name} has no {key}: every figure names its source")
        if entry["metric"] not in METRICS:
            raise PapersError(f"{name}: metric {entry['metric']!r} is not one of {', '.join(METRICS)}")
        if not 0 < float(entry["value"]) < 100:
            raise PapersError(f"{name}: {entry['value']} is not a percentage")
        figures.append(Figure(**{**entry, "value": float(entry["value"])}))
    seen = set()
    for f in figures:
        if (f.model, f.dataset) in seen:
            raise PapersError(f"{f.model} on {f.dataset} has two figures: keep one")
        seen.add((f.model, f.dataset))
    degradation = Degradation(**data["degradation"]) if "degradation" in data else None
    return figures, degradation


@functools.lru_cache(maxsize=1)
def _load() -> tuple[tuple[Figure, ...], Degradation | None]:
    figures, degradation = parse(_path().read_text(encoding="utf-8"))
    return tuple(figures), degradation


def figures() -> list[Figure]:
    return list(_load()[0])


def degradation() -> Degradation | None:
    """He et al. 2016, Figure 6, as the degradation experiment's overlay labels it."""
    return _load()[1]


def dataset_key(dataset: str) -> str:
    """A run's dataset as the file names it: "cifar10", "cifar100" (a folder is never a paper's set)."""
    return str(dataset or "").strip().lower().replace("-", "").replace("_", "")


def figure_for(model: str, dataset: str) -> Figure | None:
    """The paper's figure for ``model`` trained on ``dataset``, if a paper reports one."""
    key = dataset_key(dataset)
    return next((f for f in _load()[0] if f.model == model and f.dataset == key), None)


def imagenet_figure(model: str) -> Figure | None:
    """The ImageNet top-1 accuracy of the weights ``--pretrained`` downloads for ``model``."""
    return figure_for(model, "imagenet")


def _schedule_note(figure: Figure, summary: dict) -> list[str]:
    """How much shorter the run was than the paper's schedule, where the workbench knows that schedule."""
    from .train.config import RECIPES  # noqa: PLC0415 - a small module, no torch

    recipe = RECIPES.get(figure.recipe) if figure.recipe else None
    if recipe is None:
        return []
    steps, epochs = summary.get("global_step"), summary.get("epochs")
    paper_steps, paper_epochs = recipe.settings.get("max_steps"), recipe.settings.get("epochs")
    if paper_steps and isinstance(steps, int) and steps < paper_steps:
        return [f"This run took {steps:,} steps; the paper's schedule is {paper_steps:,} iterations."]
    if paper_epochs and isinstance(epochs, int) and epochs < paper_epochs:
        return [f"This run trained {epochs} epochs; the paper's schedule is {paper_epochs}."]
    return []


def compare(config: dict, summary: dict | None = None) -> Comparison | None:
    """A run (its ``config.json`` and ``summary.json``) beside the paper's figure for its network and set.

    A run from pretrained weights, or one much shorter than the paper's schedule, is said to be so."""
    config, summary = config or {}, summary or {}
    figure = figure_for(str(config.get("model", "")), str(config.get("dataset", "")))
    if figure is None:
        return None
    accuracy = summary.get("test_acc")
    notes = []
    if config.get("pretrained"):
        notes.append("This run started from ImageNet weights; the paper trained from scratch.")
    epochs, planned = summary.get("epochs"), summary.get("epochs_planned", config.get("epochs"))
    if figure.recipe and config.get("recipe") != figure.recipe:
        notes.append(f"This run did not use the paper's recipe ({figure.recipe}).")
    if isinstance(epochs, int) and isinstance(planned, int) and epochs < planned:
        notes.append(f"This run stopped after {epochs} of its {planned} epochs.")
    notes.extend(_schedule_note(figure, summary))
    return Comparison(figure, float(accuracy) if isinstance(accuracy, (int, float)) else None,
                      epochs if isinstance(epochs, int) else None, planned if isinstance(planned, int) else None,
                      notes)
