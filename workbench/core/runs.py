"""The run store: one folder per run, written by the engine, read by the CLI and the window.

A run folder holds ``config.json`` (the resolved settings), ``metrics.csv`` (one row per epoch),
``steps.csv`` (loss, learning rate and images/s per step), ``best.pt`` and ``last.pt``,
``val_eval.json`` and ``test_eval.json`` (confusion matrices), ``summary.json``, ``dataset.json``
(the data the run started with), for image folders ``split.json`` and ``health.json``, and
``run.lock`` (held by the live run); ``tensorboard/`` holds TensorBoard's event files, ``timelapse/`` the
probe image's frames (``train.timelapse``).

Trust nothing on disk: a run folder is claimed atomically and held with a lock that another process
sees (``claim``); its files are read and written only as regular files inside it (a symbolic link
or a special file is refused, never followed); the reader (``Run.read``) checks every file and
reports what is wrong with a damaged run instead of raising, so one bad run is one bad row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .errors import UserError

METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "train_top5", "val_top5", "lr",
                 "images_per_sec", "train_images", "seconds", "best")
STEP_FIELDS = ("epoch", "step", "global_step", "loss", "acc", "lr", "images_per_sec")


class RunFolderError(UserError, ValueError):
    """A folder cannot take this run (it holds another run's files)."""


LOCK_NAME = "run.lock"
MAX_TEXT_BYTES = 64 * 1024**2
"""The largest run file read as text: a CSV of a very long run is a few MB."""


def regular_file(path: str | Path, missing_ok: bool = True) -> Path | None:
    """``path`` if it is a regular file (not a link, not a device or pipe), ``None`` if it is missing
    (and ``missing_ok``); else ``RunFolderError`` naming what it is."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise RunFolderError(f"{path} is missing") from None
    if stat.S_ISLNK(st.st_mode):
        raise RunFolderError(f"{path.name} in {path.parent} is a symbolic link (to {os.readlink(path)}): a run's files "
                             f"must be its own, so it is neither read nor written. Replace it by the real file.")
    if not stat.S_ISREG(st.st_mode):
        raise RunFolderError(f"{path.name} in {path.parent} is not a regular file (a folder, device or pipe), "
                             f"so it is neither read nor written.")
    return path


def read_bytes(path: str | Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a run's regular file, opened without following a link."""
    path = Path(path)
    regular_file(path, missing_ok=False)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise RunFolderError(f"{path} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RunFolderError(f"{path.name} is larger than {limit // 1024**2} MB: not a file this app wrote")
    return data


def open_for_writing(path: str | Path, mode: str = "w"):
    """A run file opened for writing text (``w`` or ``a``) without following a link."""
    path = Path(path)
    regular_file(path)
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o644), mode, newline="", encoding="utf-8")


def check_run_folder(path: str | Path) -> None:
    """Refuse a run folder holding links or special files (checked before a resume touches it)."""
    path = Path(path)
    if path.is_symlink():
        raise RunFolderError(f"{path} is a symbolic link: give the run folder itself")
    for entry in sorted(path.iterdir()):
        if entry.name == "tensorboard" and entry.is_dir() and not entry.is_symlink():
            continue
        if entry.name == "timelapse" and entry.is_dir() and not entry.is_symlink():  # train.timelapse's frames
            for frame in sorted(entry.iterdir()):
                regular_file(frame)
            continue
        regular_file(entry)


class RunLock:
    """``run.lock`` held with ``flock`` for as long as a run lives: a second process that claims the
    folder is refused and told who holds it; a killed process's lock goes with it."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        regular_file(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; the exclusive folder creation still holds
            self._fd = fd
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 400).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise RunFolderError(f"{self.path.parent} is in use by another run ({holder}). Wait for it to end, "
                                 f"or pick another folder.") from None
        self._fd = fd
        return self

    def sign(self) -> None:
        """Write who holds the lock into it (what a refused process is told)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"process {os.getpid()} on {socket.gethostname()}, since "
                                f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def is_locked(folder: str | Path) -> bool:
    """Whether a live run holds ``folder`` (a stale ``run.lock`` of a killed run does not count)."""
    path = Path(folder) / LOCK_NAME
    try:
        import fcntl
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (ImportError, OSError):
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def claim(folder: str | Path, new: bool) -> RunLock:
    """Take ``folder`` for a run: created if missing, locked, and for a new run empty (but for the
    lock) once locked, so two processes given one folder never both write into it."""
    folder = Path(folder)
    if folder.is_symlink():
        raise RunFolderError(f"{folder} is a symbolic link: give a real folder for the run")
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a folder")
    if new:
        check_empty(folder)  # before the lock: a refused run touches nothing
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder).acquire()
    if new:
        try:
            check_empty(folder)  # again, holding the lock: two processes that both saw it empty
        except RunFolderError:
            lock.release()
            raise
    lock.sign()
    return lock


def discard_run(folder: str | Path, remove_folder: bool) -> None:
    """Delete a run that holds nothing worth keeping: the files and folders in it (links are removed,
    never followed), then the folder itself when ``remove_folder``."""
    folder = Path(folder)
    for entry in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if entry.is_dir() and not entry.is_symlink():
            entry.rmdir()
        else:
            entry.unlink(missing_ok=True)
    if remove_folder:
        folder.rmdir()


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
    entries = sorted(p.name for p in path.iterdir() if p.name != LOCK_NAME) if path.is_dir() else []
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
        return read_json(Path(run_dir) / "config.json")

    @staticmethod
    def read_summary(run_dir: str | Path) -> dict:
        return read_json(Path(run_dir) / "summary.json")

    @staticmethod
    def read_metrics(run_dir: str | Path) -> list[dict]:
        return read_csv(Path(run_dir) / "metrics.csv")

    @staticmethod
    def read_steps(run_dir: str | Path) -> list[dict]:
        return read_csv(Path(run_dir) / "steps.csv")


class RunFileError(UserError, ValueError):
    """A run's file is damaged; the message names the file and what is wrong. ``rows``: the rows
    of a CSV file read before the damage."""

    def __init__(self, message: str, rows: list[dict] | None = None):
        super().__init__(message)
        self.rows = rows or []


def read_json(path: Path) -> dict:
    """A run's JSON file as a dict; ``RunFileError`` (or ``RunFolderError``) when it is not one."""
    data = read_bytes(path)
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RunFileError(f"{path.name} is damaged: not readable JSON ({exc})") from None
    if not isinstance(value, dict):
        raise RunFileError(f"{path.name} is damaged: it holds a {type(value).__name__}, not a JSON object")
    return value


_INT_COLUMNS = ("epoch", "step", "global_step", "best", "train_images")


def read_csv(path: Path) -> list[dict]:
    """Rows with numbers as numbers (``epoch``/``step`` as int) and empty cells as ``None``;
    ``RunFileError`` naming the line when the file is damaged."""
    if regular_file(path) is None:
        return []
    text = read_bytes(path).decode("utf-8", "replace")
    rows = []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if None in row or any(v is None for v in row.values()) or "\0" in "".join(row.values()):
                raise ValueError("a row with missing, extra or NUL cells")
            rows.append({k: (None if v == "" else int(v) if k in _INT_COLUMNS else float(v)) for k, v in row.items()})
    except (csv.Error, ValueError) as exc:
        raise RunFileError(f"{path.name} is damaged at line {reader.line_num}: {exc}", rows) from None
    return rows


# The fields of config.json and summary.json a reader relies on, with the types they must have.
_NUMBER = (int, float)
CONFIG_TYPES = {"model": str, "dataset": str, "epochs": (int, type(None)), "input_size": (list, int, type(None)),
                "classes": list}
SUMMARY_TYPES = {"status": str, "model": str, "dataset": str, "epochs": (int, type(None)),
                 "epochs_planned": (int, type(None)), "best_val_acc": (*_NUMBER, type(None)),
                 "best_epoch": (int, type(None)), "test_acc": (*_NUMBER, type(None)),
                 "test_loss": (*_NUMBER, type(None)), "images_per_sec": (*_NUMBER, type(None)),
                 "params": (int, type(None)), "macs": (int, type(None)), "seconds": (*_NUMBER, type(None)),
                 "device": (str, type(None)), "error": (str, type(None))}
EVAL_TYPES = {"classes": list, "images": int, "accuracy": _NUMBER, "matrix": list}


def checked(data: dict, types: dict, name: str, problems: list[str]) -> dict:
    """``data`` without the fields of the wrong type (each one a line in ``problems``)."""
    good = {}
    for key, value in data.items():
        want = types.get(key)
        if want is not None and (not isinstance(value, want) or isinstance(value, bool) and bool not in
                                 (want if isinstance(want, tuple) else (want,))):
            problems.append(f"{name}: {key} is {type(value).__name__} {str(value)[:40]!r}, not a {_type_words(want)}")
            continue
        good[key] = value
    return good


def _type_words(want) -> str:
    names = {str: "text", int: "whole number", float: "number", list: "list", type(None): "nothing"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in (want if isinstance(want, tuple) else (want,))))


@dataclass
class RunRecord:
    """What a reader could use of a run folder, and what is wrong with it (``problems``)."""

    dir: Path
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Run:
    """A run folder as the CLI and the window read it. Every reader checks the file it reads:
    ``read()`` never raises and lists what is wrong; the properties give what is usable."""

    dir: Path

    @property
    def name(self) -> str:
        return self.dir.name

    def _json(self, name: str, types: dict, problems: list[str]) -> dict:
        try:
            data = read_json(self.dir / name) if regular_file(self.dir / name) is not None else {}
        except (UserError, OSError) as exc:
            problems.append(str(exc))
            return {}
        return checked(data, types, name, problems)

    def _metrics(self, problems: list[str]) -> list[dict]:
        """The epoch rows of ``metrics.csv`` (those before any damage)."""
        try:
            rows = read_csv(self.dir / "metrics.csv")
        except RunFileError as exc:
            problems.append(str(exc))
            rows = exc.rows
        except (UserError, OSError) as exc:
            problems.append(str(exc))
            rows = []
        return [m for m in rows if isinstance(m.get("epoch"), int)]

    def read(self) -> RunRecord:
        record = RunRecord(self.dir)
        try:
            record.config = self._json("config.json", CONFIG_TYPES, record.problems)
            record.summary = self._json("summary.json", SUMMARY_TYPES, record.problems)
            record.metrics = self._metrics(record.problems)
        except Exception as exc:  # noqa: BLE001 - whatever else is wrong, it is this run's row
            record.problems.append(f"cannot be read: {exc}")
        return record

    @property
    def config(self) -> dict:
        return self._json("config.json", CONFIG_TYPES, [])

    @property
    def summary(self) -> dict:
        return self._json("summary.json", SUMMARY_TYPES, [])

    @property
    def metrics(self) -> list[dict]:
        return self._metrics([])

    def dataset_record(self) -> dict | None:
        """``dataset.json``: the data the run started with (``None`` for a run from before it)."""
        path = self.dir / "dataset.json"
        return read_json(path) if regular_file(path) is not None else None

    def evaluation(self, split: str) -> dict:
        """``{split}_eval.json`` checked; ``RunFileError`` when it is damaged, ``{}`` when missing."""
        name = f"{split}_eval.json"
        if regular_file(self.dir / name) is None:
            return {}
        problems: list[str] = []
        report = checked(read_json(self.dir / name), EVAL_TYPES, name, problems)
        missing = [k for k in EVAL_TYPES if k not in report]
        matrix = report.get("matrix") or []
        n = len(report.get("classes") or [])
        if not problems and not missing and not (len(matrix) == n and all(
                isinstance(r, list) and len(r) == n and all(isinstance(c, int) for c in r) for r in matrix)):
            problems.append(f"{name}: the confusion matrix is not {n}x{n} whole numbers")
        if problems or missing:
            raise RunFileError(f"{name} in {self.dir.name} is damaged: " + "; ".join(
                problems + ([f"it lacks {', '.join(missing)}"] if missing else [])))
        return report


def list_runs(root: str | Path | None = None) -> list[Run]:
    """Every run under ``root`` (newest first): real folders with a ``config.json`` (a damaged one too)."""
    root = Path(root) if root else default_runs_root()
    if not root.is_dir():
        return []

    def stamp(p: Path) -> float:
        try:
            return os.lstat(p / "config.json").st_mtime
        except OSError:
            return 0.0
    runs = [Run(p) for p in root.iterdir() if not p.is_symlink() and p.is_dir() and os.path.lexists(p / "config.json")]
    return sorted(runs, key=lambda r: stamp(r.dir), reverse=True)
