"""The run store as the runs view sees it: reading runs (off the UI thread), renaming,
deleting and exporting them."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core import paths
from workbench.core.runs import METRIC_FIELDS, Run, list_runs, read_csv

from ..jobs import JobRunner


def read_run(run: Run) -> dict:
    return {"dir": str(run.dir), "name": run.name, "config": run.config, "summary": run.summary,
            "metrics": run.metrics}


def read_runs(root: Path) -> list[dict]:
    return [read_run(run) for run in list_runs(root)]


class RunsController(QObject):
    runsRead = Signal(object)  # [row dict], newest first
    comparisonRead = Signal(object)  # [row dict] of the compared runs
    failed = Signal(str)
    message = Signal(str)

    def __init__(self, runs_root: Path, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.runs_root = Path(runs_root)
        self.jobs = jobs
        self.rows: list[dict] = []
        self.compared: list[str] = []

    def refresh(self) -> None:
        root = self.runs_root
        self.jobs.submit("runs", lambda: read_runs(root), self._on_read, self.failed.emit, what="reading runs")

    def _on_read(self, rows: list[dict]) -> None:
        self.rows = rows
        self.runsRead.emit(rows)

    def compare(self, run_dirs: list[str]) -> None:
        self.compared = list(run_dirs)
        dirs = list(run_dirs)
        self.jobs.submit("compare", lambda: [read_run(Run(Path(d))) for d in dirs if Path(d).is_dir()],
                         self.comparisonRead.emit, self.failed.emit, what="reading runs to compare")

    def rename(self, run_dir: str, name: str) -> str | None:
        """Rename a run's folder; returns the new path, or ``None`` with a message."""
        source = Path(run_dir)
        if not re.fullmatch(r"[\w.+@()\[\] -]+", name) or name in (".", ".."):
            self.failed.emit(f"A run name may hold letters, digits, spaces and . _ - + ( ) only: {name!r} was not used.")
            self.refresh()
            return None
        target = source.with_name(name)
        if target.exists():
            self.failed.emit(f"There is already a run called {name}.")
            self.refresh()
            return None
        try:
            source.rename(target)
        except OSError as exc:
            self.failed.emit(f"Could not rename {source.name}: {exc.strerror or exc}")
            self.refresh()
            return None
        self.compared = [str(target) if d == run_dir else d for d in self.compared]
        self.message.emit(f"Renamed {source.name} to {name}")
        self.refresh()
        return str(target)

    def delete(self, run_dirs: list[str]) -> None:
        for d in run_dirs:
            path = Path(d)
            if path.parent.resolve() == self.runs_root.resolve() and (path / "config.json").is_file():
                try:
                    shutil.rmtree(path)
                except OSError as exc:
                    self.failed.emit(f"Could not delete all of {path.name}: {exc.strerror or exc}")
            else:  # never delete a folder that is not a run of this store
                self.failed.emit(f"{path} is not a run folder under {self.runs_root}; it was left alone.")
        self.compared = [d for d in self.compared if d not in run_dirs]
        self.message.emit(f"Deleted {len(run_dirs)} run(s)")
        self.refresh()

    @staticmethod
    def export_csv(run_dirs: list[str], path: str | Path) -> int:
        """Every epoch row of the given runs, with the run's name first; returns the rows written."""
        rows = []
        for d in run_dirs:
            for row in read_csv(Path(d) / "metrics.csv"):
                rows.append({"run": Path(d).name, **row})
        fields = ["run", *METRIC_FIELDS]
        lines = []

        class _Sink:
            def write(self, text):
                lines.append(text)
        writer = csv.DictWriter(_Sink(), fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        paths.atomic_write_text(Path(path), "".join(lines))
        return len(rows)
