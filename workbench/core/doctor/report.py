"""``examine``: the doctor's whole examination of an image folder, with the run whose network it looks
through; ``DoctorReport``: what it found, written as CSV and JSON and read back (a reviewed CSV becomes fixes).

Without a run, what needs no network is still found (the same bytes under two classes). A folder that
changed since the run trained is said to have changed, with the files; its features are always computed
from the folder as it is now, never taken from before the change."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.identity import differences
from ..data.image_folder import FolderScan, scan_folder, split_folder
from ..errors import UserError, counted
from ..runs import Run, list_runs, regular_file
from . import findings as analysis
from .features import CancelledError, feature_source, folder_features, thumbnails
from .moves import ACTIONS, Fix, checked_marks

__all__ = ["Finding", "DoctorReport", "DoctorError", "examine", "find_run", "read_fixes", "KINDS", "CSV_FIELDS", "METHODS"]

KINDS = {"conflict": "same image, two classes", "label": "label error?", "near-duplicate": "near-duplicate",
         "outlier": "outlier"}
COUNTED = {"conflict": "conflicting label", "label": "suspected label error", "near-duplicate": "near-duplicate",
           "outlier": "outlier"}
METHODS = ("features", "network")
"""How the held-out probabilities are had: a linear head on the features (seconds), or the whole network
trained once per fold (K trainings)."""
CSV_FIELDS = ("file", "finding", "given", "suggested", "score", "split", "evidence", "fix", "action", "sha1")
"""``fix``: the doctor's suggestion (move, exclude or keep); ``action``: left blank for the user to fill in;
``sha1``: the content the doctor looked at (a file changed since is not moved)."""


class DoctorError(UserError, ValueError):
    """The folder cannot be examined as asked; the message says what to do."""


@dataclass
class Finding:
    kind: str
    """``conflict``, ``label``, ``near-duplicate`` or ``outlier`` (``KINDS``)."""
    file: str
    given: str
    suggested: str
    """The class it should be under ("" when the fix is to set it aside)."""
    score: float
    """How sure the doctor is, in [0, 1]."""
    evidence: str
    split: str
    index: int
    """Its place in ``DoctorReport.files``."""
    sha1: str
    others: list[str] = field(default_factory=list)
    """The other files of its duplicate group."""
    flagged: bool = True
    """For a near-duplicate: whether it crosses the split or the labels (else only a redundant copy)."""

    @property
    def action(self) -> str:
        """The one-click fix: a label error moves to the suggested class; a copy under the wrong class of a
        conflict, a near-duplicate and an outlier are set aside; the copy already in the right class stays."""
        if self.kind == "label":
            return "move"
        if self.kind == "conflict" and self.suggested == self.given:
            return "keep"
        return "exclude"


@dataclass
class DoctorReport:
    root: str
    classes: list[str]
    files: list[str]
    labels: list[int]
    splits: list[str]
    keys: list[str]
    findings: list[Finding] = field(default_factory=list)
    embedding: list[list[float]] | None = None
    source: str = ""
    """Which network and which held-out classifier gave the evidence, in words."""
    run: str = ""
    folds: int = 0
    notices: list[str] = field(default_factory=list)
    hidden: int = 0
    """Findings marked as checked earlier, not shown again."""
    computed: int = 0
    """Images whose features were computed for this examination (the others were remembered)."""
    seconds: dict[str, float] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def suspects(self) -> set[int]:
        return {f.index for f in self.findings if f.flagged}

    def summary(self) -> str:
        parts = [counted(len(self.of_kind(k)), COUNTED[k]) for k in KINDS]
        line = f"{len(self.files):,} images in {len(self.classes)} classes: " + ", ".join(parts)
        if self.hidden:
            line += f" ({counted(self.hidden, 'finding')} marked as checked not shown)"
        return line

    def to_rows(self) -> list[dict]:
        return [{"file": f.file, "finding": f.kind, "given": f.given, "suggested": f.suggested,
                 "score": f"{f.score:.4f}", "split": f.split, "evidence": f.evidence, "fix": f.action, "action": "", "sha1": f.sha1}
                for f in self.findings]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.to_rows())
        return buffer.getvalue()

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("findings", "embedding", "keys")}
        data["findings"] = [{k: v for k, v in asdict(f).items() if k != "index"} for f in self.findings]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


def _same_folder(dataset, root: str) -> bool:
    """Whether a run's ``dataset`` is the folder ``root`` (however the path was written)."""
    if not isinstance(dataset, str) or not dataset:
        return False
    try:
        return str(Path(dataset).expanduser().resolve()) == root
    except (OSError, RuntimeError):
        return False


def find_run(root: str | Path, runs_root: str | Path | None = None) -> Path | None:
    """The newest run trained on the folder ``root`` that has a checkpoint."""
    root = str(Path(root).expanduser().resolve())
    for run in list_runs(runs_root):
        if _same_folder(run.config.get("dataset"), root) and any(regular_file(run.dir / n) for n in ("best.pt", "last.pt")):
            return run.dir
    return None


def _check_run(run_dir: Path, root: str) -> dict:
    config = Run(run_dir).config
    if not config.get("model"):
        raise DoctorError(f"{run_dir} is not a run folder this app can read (no config.json)")
    if not _same_folder(config.get("dataset"), root):
        raise DoctorError(f"{run_dir.name} was trained on {config.get('dataset')}, not on {root}: its network knows "
                          f"other classes. Pick a run of this folder (cnn-workbench runs lists them), or train one: "
                          f"cnn-workbench train --dataset {root}")
    if not any(regular_file(run_dir / n) for n in ("best.pt", "last.pt")):
        raise DoctorError(f"{run_dir.name} has no checkpoint yet: let it finish an epoch, or pick another run")
    return config


def _changes(run_dir: Path, scan: FolderScan, parts: dict[str, list[int]]) -> list[str]:
    recorded = Run(run_dir).dataset_record()
    if not recorded:
        return []
    now = {"dataset": recorded.get("dataset"), "classes": list(scan.classes),
           "files": {p: {scan.files[i].path: scan.files[i].sha1 for i in idx} for p, idx in parts.items()}}
    return differences(recorded, now)


def examine(root: str | Path, run: str | Path | None = None, folds: int = 5, seed: int = 0, device: str = "cpu",
            progress=None, should_stop=lambda: False, runs_root: str | Path | None = None,
            use_run: bool = True, method: str = "features") -> DoctorReport:
    """Examine the folder ``root`` through ``run`` (by default the newest run of this folder; ``use_run=False``:
    only what needs no network). ``method``: ``features`` (held-out probabilities from a linear head on the
    network's features, seconds) or ``network`` (the whole network trained once per fold, K trainings).
    Raises ``FolderError``/``DoctorError``/``CheckpointError`` with what to do."""
    if method not in METHODS:
        raise DoctorError(f"unknown method {method!r}: {', '.join(METHODS)}")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    say = progress or (lambda d, t, w: None)
    scan = scan_folder(root, progress=lambda d, t, w: say(d, t, f"checking {w}"))
    root = scan.root
    run_dir = Path(run).expanduser().resolve() if run else (find_run(root, runs_root) if use_run else None)
    config = _check_run(run_dir, root) if run_dir else {}
    split = split_folder(scan, tuple(config.get("split") or (0.6, 0.2, 0.2)), int(config.get("split_seed") or 0),
                         config.get("split_method") or "content")
    parts = {"train": split.train, "val": split.val, "test": split.test}
    which = {i: name for name, idx in parts.items() for i in idx}
    report = DoctorReport(root, list(scan.classes), [f.path for f in scan.files], [f.label for f in scan.files],
                          [which[i] for i in range(len(scan.files))], [f.sha1 for f in scan.files],
                          run=run_dir.name if run_dir else "")
    report.notices += scan.notices
    seconds["scan"] = time.perf_counter() - started
    probs = None
    if run_dir is None:
        report.notices.append(f"No run of this folder yet: only images filed under two classes were looked for. Train "
                              f"a run on it (the Start button, or cnn-workbench train --dataset {root}), then examine "
                              f"it again to find label errors, near-duplicates and outliers.")
    else:
        analysis.needed()
        changes = _changes(run_dir, scan, parts)
        if changes:
            report.notices.append(f"The folder changed since {run_dir.name} trained: " + "; ".join(changes) +
                                  ". Every image was looked at as it is now; nothing from before the change was used.")
        t = time.perf_counter()
        source = feature_source(run_dir, config, device)
        report.notices += source.notices
        features, report.computed = folder_features(source, scan, say, should_stop)
        seconds["features"] = time.perf_counter() - t
        feats = features.numpy().astype(np.float64)
        labels = np.array(report.labels)
        if should_stop():
            raise CancelledError("Examination cancelled")
        say(0, 1, "cross-validating a classifier on the features")
        t = time.perf_counter()
        try:
            if method == "network":
                from .kfold import network_out_of_sample

                shape = source.predictor.input_shape
                probs, report.folds, epochs = network_out_of_sample(
                    scan, config, shape[0], int(source.predictor.native_size[0]), folds, seed, device, say, should_stop)
            else:
                probs, report.folds = analysis.out_of_sample(feats, labels, report.classes, folds, seed)
        except analysis.TooSmallError as exc:
            report.notices.append(str(exc))
        seconds["held-out classifier"] = time.perf_counter() - t
        if probs is None:
            report.source = f"features of {source.what}"
        elif method == "network":
            report.source = (f"{config.get('model')} trained {report.folds} times with {report.run}'s settings "
                             f"({epochs} epochs each), each time without one of {report.folds} folds of the images; the "
                             f"map, duplicates and outliers through the features of {source.what}")
        else:
            report.source = (f"features of {source.what} ({feats.shape[1]}-d), then a {report.folds}-fold "
                             f"cross-validated logistic regression")
        t = time.perf_counter()
        if probs is not None:
            _label_findings(report, labels, probs)
        seconds["label issues"] = time.perf_counter() - t
        t = time.perf_counter()
        white, far = analysis.whiten(feats, labels)
        dist, idx = analysis.neighbours(white)
        thumbs = thumbnails(source, scan).numpy()
        _duplicate_findings(report, analysis.near_duplicates(dist, idx, thumbs, report.keys), scan)
        _outlier_findings(report, far, analysis.neighbours(thumbs)[0].mean(1), probs)
        seconds["duplicates and outliers"] = time.perf_counter() - t
        if should_stop():
            raise CancelledError("Examination cancelled")
        say(0, 1, "drawing the map of the features")
        t = time.perf_counter()
        report.embedding = analysis.embedding(feats, seed).round(4).tolist()
        seconds["map"] = time.perf_counter() - t
    _conflict_findings(report, scan, probs)
    marks = checked_marks(root)
    kept = [f for f in report.findings if (f.sha1, f.kind) not in marks and (f.sha1, "any") not in marks]
    report.hidden = len(report.findings) - len(kept)
    order = list(KINDS)
    report.findings = sorted(kept, key=lambda f: (order.index(f.kind), not f.flagged, -f.score, f.file))
    seconds["total"] = time.perf_counter() - started
    report.seconds = {k: round(v, 3) for k, v in seconds.items()}
    return report


def _finding(report: DoctorReport, kind: str, i: int, suggested: str, score: float, evidence: str, **kw) -> Finding:
    return Finding(kind, report.files[i], report.classes[report.labels[i]], suggested, float(np.clip(score, 0, 1)),
                   evidence, report.splits[i], i, report.keys[i], **kw)


def _label_findings(report: DoctorReport, labels: np.ndarray, probs: np.ndarray) -> None:
    issues, quality = analysis.label_issues(labels, probs)
    for i in issues:
        given, best = int(labels[i]), int(np.argmax(probs[i]))
        c = report.classes
        report.findings.append(_finding(
            report, "label", int(i), c[best], 1 - float(quality[i]),
            f"a classifier that never saw it says {c[best]} {probs[i, best]:.0%}, {c[given]} {probs[i, given]:.0%}"))


def _duplicate_findings(report: DoctorReport, pairs: list[tuple[int, int, float]], scan: FolderScan) -> None:
    parent = {}

    def top(i):
        while parent.get(i, i) != i:
            i = parent[i]
        return i
    best: dict[frozenset, float] = {}
    for a, b, s in pairs:
        parent.setdefault(a, a), parent.setdefault(b, b)
        parent[top(a)] = top(b)
        best[frozenset((a, b))] = s
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(top(i), []).append(i)
    for members in groups.values():
        size = lambda i: scan.files[i].width * scan.files[i].height  # noqa: E731
        keeper = max(members, key=lambda i: (size(i), report.splits[i] == "train", -i))
        for i in sorted(m for m in members if m != keeper):
            crosses = report.splits[i] != report.splits[keeper]
            relabelled = report.labels[i] != report.labels[keeper]
            why = []
            if crosses:
                why.append(f"it is in {report.splits[i]}, its original in {report.splits[keeper]}: the network is "
                           f"tested on what it trained on" if "train" in (report.splits[i], report.splits[keeper])
                           else f"it is in {report.splits[i]}, its original in {report.splits[keeper]}")
            if relabelled:
                why.append(f"it is filed as {report.classes[report.labels[i]]}, its original as "
                           f"{report.classes[report.labels[keeper]]}")
            sim = max((best.get(frozenset((i, j)), 0.0) for j in members), default=0.0)
            evidence = (f"a resized, re-encoded or cropped copy of {report.files[keeper]} "
                        f"({scan.files[i].width}×{scan.files[i].height} against "
                        f"{scan.files[keeper].width}×{scan.files[keeper].height}; thumbnails {sim:.0%} alike)")
            evidence += ": " + "; ".join(why) if why else ": in the same split and class, a redundant copy"
            report.findings.append(_finding(report, "near-duplicate", i, "", sim, evidence,
                                            others=[report.files[j] for j in members if j != i],
                                            flagged=crosses or relabelled))


def _outlier_findings(report: DoctorReport, far: np.ndarray, unlike: np.ndarray, probs: np.ndarray | None) -> None:
    flagged, margin = analysis.outliers(far, unlike)
    typical_far, typical_unlike = float(np.median(far)) or 1e-6, float(np.median(unlike)) or 1e-6
    for i in flagged:
        evidence = (f"it is {far[i] / typical_far:.1f}× as far from every class as a typical image is from its own, "
                    f"and looks {unlike[i] / typical_unlike:.1f}× as unlike its nearest images")
        if probs is not None:
            best = int(np.argmax(probs[i]))
            evidence += f"; the held-out classifier's best guess is {report.classes[best]} at {probs[i, best]:.0%}"
        report.findings.append(_finding(report, "outlier", int(i), "", 1 - 1 / (1 + margin[i]), evidence))


def _conflict_findings(report: DoctorReport, scan: FolderScan, probs: np.ndarray | None) -> None:
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(scan.files):
        groups.setdefault(f.sha1, []).append(i)
    for members in groups.values():
        labels = {report.labels[i] for i in members}
        if len(labels) < 2:
            continue
        votes = np.bincount([report.labels[i] for i in members], minlength=len(report.classes)).astype(float)
        if probs is not None:
            votes += probs[members].mean(0)  # the network breaks a tie and leans the vote
        suggested = report.classes[int(np.argmax(votes))]
        for i in members:
            others = [j for j in members if j != i]
            report.findings.append(_finding(
                report, "conflict", i, suggested, 1.0,
                "the same bytes are filed under " + ", ".join(
                    f"{report.classes[report.labels[j]]} ({report.files[j]})" for j in others),
                others=[report.files[j] for j in others]))


def read_fixes(path: str | Path) -> list[Fix]:
    """The fixes of a reviewed CSV (the doctor's own, with ``action`` filled in: ``move`` to the
    ``suggested`` class, ``exclude`` or ``keep``; rows left blank are skipped). A ``to`` column, when
    present, overrides ``suggested`` as the class to move to."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DoctorError(f"{path} cannot be read: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "file" not in reader.fieldnames or "action" not in reader.fieldnames:
        raise DoctorError(f"{path.name} is not a reviewed doctor list: it needs the columns file and action "
                          f"(write one with cnn-workbench doctor PATH, fill in action: {', '.join(ACTIONS)})")
    fixes, problems = [], []
    for n, row in enumerate(reader, start=2):
        action = (row.get("action") or "").strip().lower()
        if not action:
            continue
        if action not in ACTIONS:
            problems.append(f"line {n}: action {action!r} is not one of {', '.join(ACTIONS)}")
            continue
        to = (row.get("to") or row.get("suggested") or "").strip()
        if action == "move" and not to:
            problems.append(f"line {n}: move where? the row has no suggested class (write one in a 'to' column)")
            continue
        fixes.append(Fix((row.get("file") or "").strip(), action, to, (row.get("finding") or "").strip(),
                         (row.get("sha1") or "").strip()))
    if problems:
        raise DoctorError(f"{path.name} has rows that cannot be applied, so nothing was moved: " + "; ".join(problems))
    return fixes
