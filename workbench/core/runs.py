"""The run store: one folder per run, written by the engine, read by the CLI and the window.

A run folder holds ``config.json`` (the resolved settings), ``metrics.csv`` (one row per epoch),
``steps.csv`` (loss, learning rate and images/s per step), ``best.pt`` and ``last.pt``,
``val_eval.json`` and ``test_eval.json`` (confusion matrices), ``summary.json``, and for image
folders ``split.json`` and ``health.json``; ``tensorboard/`` holds TensorBoard's event files.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .errors import UserError

METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "train_top5", "val_top5", "lr",
                 "images_per_sec", "train_images", "seconds", "best")
STEP_FIELDS = ("epoch", "step", "global_step", "loss", "acc", "lr", "images_per_sec")


class RunFolderError(UserError, ValueError):
    """A folder cannot take this run (it holds another run's files)."""


def default_runs_root() -> Path:
    """``$CNN_WORKBENCH_HOME/runs``, else ``~/.cnn-workbench/runs``."""
    return paths.runs_root()


def new_run_dir(root: Path, model: str, dataset: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}-{model}-{dataset}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:  # another run started in the same second
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def check_empty(path: str | Path) -> None:
    """Refuse a folder that already holds files: a new run must not mix with an earlier one."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{path} is a file, not a folder")
    entries = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if entries:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise RunFolderError(f"{path} already holds files ({shown}). Pick a new or empty folder for --out, "
                             f"or continue that run with --resume {path}.")


def _write_json(path: Path, data: dict) -> None:
    paths.atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


class RunStore:
    """Paths and plain-text files of one run."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.csv"
        self.steps_path = self.dir / "steps.csv"
        self.best_path = self.dir / "best.pt"
        self.last_path = self.dir / "last.pt"
        self.summary_path = self.dir / "summary.json"
        self.config_path = self.dir / "config.json"

    def write_config(self, config: dict) -> None:
        _write_json(self.config_path, config)

    def write_json(self, name: str, data: dict) -> None:
        _write_json(self.dir / name, data)

    def write_summary(self, summary: dict) -> None:
        _write_json(self.summary_path, summary)

    @staticmethod
    def read_config(run_dir: str | Path) -> dict:
        return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))

    @staticmethod
    def read_summary(run_dir: str | Path) -> dict:
        return json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))

    @staticmethod
    def read_metrics(run_dir: str | Path) -> list[dict]:
        return read_csv(Path(run_dir) / "metrics.csv")

    @staticmethod
    def read_steps(run_dir: str | Path) -> list[dict]:
        return read_csv(Path(run_dir) / "steps.csv")


def read_csv(path: Path) -> list[dict]:
    """Rows with numbers as numbers (``epoch``/``step`` as int) and empty cells as ``None``."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = []
        for row in csv.DictReader(fh):
            rows.append({k: (None if v in ("", None) else int(v) if k in ("epoch", "step", "global_step", "best", "train_images")
                             else float(v)) for k, v in row.items()})
        return rows


@dataclass
class Run:
    """A run folder as the CLI and the window read it."""

    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def config(self) -> dict:
        return _read_json(self.dir / "config.json")

    @property
    def summary(self) -> dict:
        return _read_json(self.dir / "summary.json")

    @property
    def metrics(self) -> list[dict]:
        return read_csv(self.dir / "metrics.csv")

    def evaluation(self, split: str) -> dict:
        return _read_json(self.dir / f"{split}_eval.json")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def list_runs(root: str | Path | None = None) -> list[Run]:
    """Every run under ``root`` (newest first): folders with a ``config.json``."""
    root = Path(root) if root else default_runs_root()
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda r: (r.dir / "config.json").stat().st_mtime, reverse=True)
