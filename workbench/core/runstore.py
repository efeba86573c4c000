"""One folder per run: ``config.json``, ``metrics.csv``, ``best.pt``, ``last.pt``, ``summary.json``."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from . import paths

METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def default_runs_root() -> Path:
    """``$CNN_WORKBENCH_HOME/runs``, else ``~/.cnn-workbench/runs``."""
    return paths.runs_root()


def new_run_dir(root: Path, model: str, dataset: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{stamp}-{model}-{dataset}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def _write_json(path: Path, data: dict) -> None:
    paths.atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


class RunStore:
    """Writes one run's files. Everything but the checkpoints is plain text."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.csv"
        self.best_path = self.dir / "best.pt"
        self.last_path = self.dir / "last.pt"
        self.summary_path = self.dir / "summary.json"

    def write_config(self, config: dict) -> None:
        _write_json(self.dir / "config.json", config)

    def start_metrics(self) -> None:
        with self.metrics_path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(METRIC_FIELDS)

    def append_metrics(self, row: dict) -> None:
        with self.metrics_path.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([row[k] for k in METRIC_FIELDS])

    def write_json(self, name: str, data: dict) -> None:
        _write_json(self.dir / name, data)

    def write_summary(self, summary: dict) -> None:
        _write_json(self.summary_path, summary)

    @staticmethod
    def read_summary(run_dir: str | Path) -> dict:
        return json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))

    @staticmethod
    def read_metrics(run_dir: str | Path) -> list[dict]:
        with (Path(run_dir) / "metrics.csv").open(newline="", encoding="utf-8") as fh:
            return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(fh)]
