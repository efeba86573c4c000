"""The run store as the runs and evaluation views see it: reading runs, their curves and test
reports (off the UI thread), renaming, deleting and exporting them."""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

from workbench.core import papers, paths
from workbench.core.errors import counted
from workbench.core.runs import METRIC_FIELDS, Run, is_locked, list_runs

from ..jobs import JobRunner


def read_run(run: Run) -> dict:
    """One run as the runs view shows it; a damaged run keeps its row and says what is wrong."""
    record = run.read()
    return {"dir": str(run.dir), "name": run.name, "config": record.config, "summary": record.summary,
            "metrics": record.metrics, "problems": record.problems,
            "paper": papers.compare(record.config, record.summary)}


def read_runs(root: Path) -> list[dict]:
    return [read_run(run) for run in list_runs(root)]


def evaluation_source(run_dir: str, bundle):
    """(report, images or None, note): ``images(i)`` is test image ``i`` of the run's dataset."""
    from workbench.core.data import DatasetError, load_dataset
    from workbench.core.evaluate import to_float

    from workbench.core.data.identity import differences, identity
    from workbench.core.train.config import TrainConfig

    run = Run(Path(run_dir))
    report = run.evaluation("test")  # a damaged report raises RunFileError: the banner says which file
    if not report:
        return {}, None, ""
    config = run.config
    comparison = papers.compare(config, {**run.summary, "test_acc": report.get("accuracy")})
    report = {**report, "paper": comparison} if comparison is not None else report
    data, note = None, ""
    if bundle is not None and bundle.name == config.get("dataset") and list(bundle.classes) == report["classes"] \
            and len(bundle.test) >= report["images"]:
        data = bundle
    else:
        try:
            cfg = TrainConfig.from_dict(config)
            data = load_dataset(cfg.dataset, download=False, image_size=config.get("image_size"),
                                split=tuple(cfg.split), split_seed=cfg.split_seed, split_method=cfg.split_method)
        except (DatasetError, OSError, ValueError, TypeError) as exc:
            note = f"The test images are not on this machine ({exc}); the lists show their numbers only."
    if data is not None:
        try:
            recorded = Run(Path(run_dir)).dataset_record()
        except (OSError, ValueError):
            recorded = None
        changes = differences(recorded, identity(data, recorded.get("dataset"))) if recorded else []
        if changes:
            data, note = None, ("The data changed since the run: " + "; ".join(changes) +
                                ". The lists show the test images' numbers only, not today's files.")
    if data is None:
        return report, None, note
    test = data.test

    def image(index: int) -> torch.Tensor:
        return to_float(test[index][0])
    return report, image, note


class RunsController(QObject):
    runsRead = Signal(object)  # [row dict], newest first
    comparisonRead = Signal(object)  # [row dict] of the compared runs
    evaluationRead = Signal(str, object, object, str)  # run folder, test report ({} if none), images or None, note
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

    def evaluation(self, run_dir: str, bundle) -> None:
        """The run's test report (written by the engine with the best checkpoint), with the test
        images behind it when the dataset is on this machine."""
        self.jobs.submit("evaluation", lambda: evaluation_source(run_dir, bundle),
                         lambda result: self.evaluationRead.emit(run_dir, *result), self.failed.emit,
                         what="reading the evaluation")

    def evaluate_run(self, run_dir: str, bundle=None) -> None:
        """Test the run's checkpoint now (``core.evaluation``), then show its report."""
        from workbench.core.evaluation import evaluate_run

        def work():
            evaluate_run(run_dir)
            return evaluation_source(run_dir, bundle)

        def done(result):
            self.evaluationRead.emit(run_dir, *result)
            self.message.emit(f"Evaluated {Path(run_dir).name}: test accuracy {result[0]['accuracy']:.4f}")
            self.refresh()
        self.jobs.submit("evaluation", work, done, self.failed.emit, what=f"evaluating {Path(run_dir).name}")

    def rename(self, run_dir: str, name: str, busy: str | None = None) -> str | None:
        """Rename a run's folder (not ``busy``, the run under way); returns the new path, or ``None``
        with a message."""
        source = Path(run_dir)
        if run_dir == busy or is_locked(source):
            self.failed.emit("That run is training; rename it once it has ended.")
            self.refresh()
            return None
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

    def delete(self, run_dirs: list[str], busy: str | None = None) -> None:
        live = [d for d in run_dirs if d == busy or is_locked(d)]
        if live:
            self.failed.emit(f"{Path(live[0]).name} is training (in this window or another process); stop it "
                             f"before deleting it.")
            return
        for d in run_dirs:
            path = Path(d)
            if path.parent.resolve() == self.runs_root.resolve() and not path.is_symlink() and \
                    os.path.lexists(path / "config.json"):
                try:
                    shutil.rmtree(path)
                except OSError as exc:
                    self.failed.emit(f"Could not delete all of {path.name}: {exc.strerror or exc}")
            else:  # never delete a folder that is not a run of this store
                self.failed.emit(f"{path} is not a run folder under {self.runs_root}; it was left alone.")
        self.compared = [d for d in self.compared if d not in run_dirs]
        self.message.emit(f"Deleted {counted(len(run_dirs), 'run')}")
        self.refresh()

    def export_csv(self, run_dirs: list[str], path: str | Path) -> int:
        """Every epoch row of the given runs, with the run's name first; returns the rows written."""
        if not run_dirs:
            self.failed.emit("Select the runs whose metrics to export.")
            return 0
        rows = []
        for d in run_dirs:
            for row in Run(Path(d)).metrics:
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
        self.message.emit(f"Saved {len(rows)} rows to {path}")
        return len(rows)
