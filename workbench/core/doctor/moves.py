"""The doctor's fixes: every one is a file move inside the dataset folder (or a mark that a finding was
checked), recorded in a log inside that folder, and every batch of them can be undone. Nothing is deleted.

``apply_fixes(root, fixes)`` moves each file to another class folder (``move``), to ``_excluded/<its class
folder>/`` (``exclude``), or leaves it and marks the finding as checked (``keep``); the batch is written to
``.cnn-workbench-doctor.json`` after every single move, so the log is true even if the process dies halfway.
A move never overwrites: a name that is taken gets `` (2)``. ``undo(root)`` puts the last batch back,
file by file, checking each file's content on the way, and removes the folders the batch made."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..data.image_folder import DOCTOR_LOG, EXCLUDED_FOLDER, file_sha1
from ..errors import UserError, counted

__all__ = ["ACTIONS", "Fix", "Batch", "MoveError", "apply_fixes", "undo", "read_log", "checked_marks", "log_path"]

ACTIONS = ("move", "exclude", "keep")
LOG_VERSION = 1


class MoveError(UserError, RuntimeError):
    """A fix cannot be made or undone; the message says why and what to do."""


@dataclass
class Fix:
    file: str
    """Relative to the dataset folder, with forward slashes."""
    action: str
    """``move`` (to ``to_class``), ``exclude`` (to ``_excluded/``) or ``keep`` (mark as checked)."""
    to_class: str = ""
    finding: str = ""
    """The kind of finding this answers (``label``, ``near-duplicate``, ``outlier``, ``conflict``)."""
    sha1: str = ""
    """The content the doctor looked at: a file that changed since is not moved."""


@dataclass
class Batch:
    id: int
    time: str
    source: str
    moves: list[dict] = field(default_factory=list)
    """``{"from", "to", "sha1", "finding", "action"}`` for each file moved, in order."""
    checked: list[dict] = field(default_factory=list)
    """``{"file", "sha1", "finding"}`` for each finding kept as it is."""
    made: list[str] = field(default_factory=list)
    """Folders the batch created (removed again by its undo when empty)."""
    undone: bool = False
    problems: list[str] = field(default_factory=list)
    """Fixes of the batch that could not be made."""

    def describe(self) -> str:
        parts = []
        moved = [m for m in self.moves if m["action"] == "move"]
        excluded = [m for m in self.moves if m["action"] == "exclude"]
        if moved:
            parts.append(f"moved {counted(len(moved), 'file')} to another class")
        if excluded:
            parts.append(f"set {counted(len(excluded), 'file')} aside in {EXCLUDED_FOLDER}/")
        if self.checked:
            parts.append(f"marked {counted(len(self.checked), 'finding')} as checked")
        return ", ".join(parts) or "nothing"


def log_path(root: str | Path) -> Path:
    return Path(root) / DOCTOR_LOG


def _entry_ok(entry, keys: tuple[str, ...]) -> bool:
    return isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in keys)


def read_log(root: str | Path) -> tuple[list[Batch], str | None]:
    """The batches of the folder's log, oldest first, and — when a log was there but damaged — a notice:
    the damaged log is kept beside under another name (never deleted) and a new one starts."""
    path = log_path(root)
    if path.is_symlink():
        raise MoveError(f"{path} is a link: the doctor's log is never read or written through a link. Remove it.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError) as exc:
        return [], _set_aside(path, f"not readable ({exc})")
    problem = None
    if not isinstance(data, dict) or data.get("version") != LOG_VERSION or not isinstance(data.get("batches"), list):
        problem = "not a log of this version"
    batches = []
    for b in data.get("batches", []) if problem is None else []:
        if not (isinstance(b, dict) and isinstance(b.get("id"), int) and isinstance(b.get("moves"), list)
                and all(_entry_ok(m, ("from", "to", "sha1", "action")) for m in b["moves"])
                and all(_entry_ok(c, ("file", "sha1", "finding")) for c in b.get("checked", []))
                and all(isinstance(d, str) for d in b.get("made", []))):
            problem = "a batch has missing or wrong fields"
            break
        batches.append(Batch(b["id"], str(b.get("time", "")), str(b.get("source", "")), b["moves"],
                             list(b.get("checked", [])), list(b.get("made", [])), bool(b.get("undone")),
                             [str(p) for p in b.get("problems", [])]))
    if problem:
        return [], _set_aside(path, problem)
    return batches, None


def _set_aside(path: Path, problem: str) -> str:
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, aside)
    except OSError as exc:
        raise MoveError(f"The doctor's log {path} is damaged ({problem}) and cannot be set aside ({exc}): "
                        f"move it away by hand, then try again.") from exc
    return (f"The doctor's log {path.name} was damaged ({problem}): it was kept as {aside.name} and a new log "
            f"started; the fixes it recorded can no longer be undone from the app.")


def _write_log(root: Path, batches: list[Batch]) -> None:
    data = {"version": LOG_VERSION, "batches": [b.__dict__ for b in batches]}
    paths.atomic_write_text(log_path(root), json.dumps(data, indent=1))


def checked_marks(root: str | Path) -> set[tuple[str, str]]:
    """``(sha1, finding)`` of every finding kept and marked as checked (and not undone)."""
    batches, _ = read_log(root)
    return {(c["sha1"], c["finding"]) for b in batches if not b.undone for c in b.checked}


def _inside(root: Path, rel: str) -> Path:
    path = root / rel
    if ".." in Path(rel).parts or Path(rel).is_absolute() or not path.resolve().is_relative_to(root):
        raise MoveError(f"{rel} is not a file inside {root}")
    return path


def _free_name(path: Path) -> Path:
    n = 2
    candidate = path
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def _move(src: Path, dst: Path) -> None:
    """Move without ever replacing a file: a hard link then an unlink (a rename where links are refused)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(dst):
            raise FileExistsError(dst)
        os.rename(src, dst)
        return
    os.unlink(src)


def _make_folders(root: Path, folder: Path, made: list[str]) -> None:
    missing = []
    here = folder
    while here != root and not here.exists():
        missing.append(here)
        here = here.parent
    for d in reversed(missing):
        d.mkdir()
        made.append(d.relative_to(root).as_posix())


def apply_fixes(root: str | Path, fixes: list[Fix], classes: list[str] | None = None, source: str = "window") -> Batch:
    """Make ``fixes`` as one batch (one undo). A fix that cannot be made is left out and said in
    ``batch.problems``; the others go ahead. ``classes``: the folder's classes (a move goes to one of them)."""
    root = Path(root).expanduser().resolve()
    batches, _ = read_log(root)
    batch = Batch(max((b.id for b in batches), default=0) + 1, time.strftime("%Y-%m-%d %H:%M:%S"), source)
    batches.append(batch)
    for fix in fixes:
        try:
            _apply(root, fix, classes, batch)
        except FileExistsError:
            batch.problems.append(f"{fix.file}: a file appeared where it was to go; nothing was moved")
        except (MoveError, OSError) as exc:
            batch.problems.append(f"{fix.file}: {exc}")
        if batch.moves or batch.checked:
            _write_log(root, batches)  # after every move: the log is true whenever the process stops
    return batch


def _apply(root: Path, fix: Fix, classes: list[str] | None, batch: Batch) -> None:
    if fix.action not in ACTIONS:
        raise MoveError(f"unknown action {fix.action!r}: use {', '.join(ACTIONS)}")
    src = _inside(root, fix.file)
    if src.is_symlink() or not src.is_file():
        raise MoveError("no such file (moved or removed since the doctor looked: examine the folder again)")
    digest = file_sha1(src)
    if fix.sha1 and digest != fix.sha1:
        raise MoveError("the file changed since the doctor looked at it: examine the folder again")
    rel_parts = Path(fix.file).parts
    if fix.action == "keep":
        batch.checked.append({"file": fix.file, "sha1": digest, "finding": fix.finding or "any"})
        return
    if len(rel_parts) < 2 or rel_parts[0] == EXCLUDED_FOLDER:
        raise MoveError(f"only images in a class folder can be moved (this one is in {rel_parts[0]}/)")
    if fix.action == "move":
        target = fix.to_class
        if not target or target == EXCLUDED_FOLDER or "/" in target or "\\" in target or target.startswith(".") \
                or (classes is not None and target not in classes) or not (root / target).is_dir():
            raise MoveError(f"{target!r} is not a class folder of {root.name}")
        if target == rel_parts[0]:
            raise MoveError(f"it is in {target} already")
        folder = root / target
    else:
        folder = root / EXCLUDED_FOLDER / Path(*rel_parts[:-1])
    _make_folders(root, folder, batch.made)
    dst = _free_name(folder / rel_parts[-1])
    _move(src, dst)
    batch.moves.append({"from": fix.file, "to": dst.relative_to(root).as_posix(), "sha1": digest,
                        "finding": fix.finding, "action": fix.action})


def undo(root: str | Path, batch_id: int | None = None) -> Batch:
    """Put the last batch (or batch ``batch_id``) back: each file to where it was, when it is still
    where the batch put it with the same content and its old place is free. What cannot be put back
    is said in ``batch.problems`` and stays where it is."""
    root = Path(root).expanduser().resolve()
    batches, notice = read_log(root)
    if notice:
        raise MoveError(notice)
    live = [b for b in batches if not b.undone and (batch_id is None or b.id == batch_id)]
    if not live:
        raise MoveError(f"There is no fix to undo in {root}" + (f" (batch {batch_id})" if batch_id else ""))
    batch = live[-1]
    problems = []
    for move in reversed(batch.moves):
        try:
            src, dst = _inside(root, move["to"]), _inside(root, move["from"])
            if src.is_symlink() or not src.is_file():
                problems.append(f"{move['to']} is no longer there: it stays wherever it went")
                continue
            if file_sha1(src) != move["sha1"]:
                problems.append(f"{move['to']} changed since it was moved: it stays there")
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            _move(src, dst)
        except FileExistsError:
            problems.append(f"{move['from']} is taken by another file: {move['to']} stays where it is")
        except (MoveError, OSError) as exc:
            problems.append(f"{move['to']}: {exc}")
    for rel in reversed(batch.made):
        try:
            (root / rel).rmdir()  # only when empty
        except OSError:
            pass
    batch.undone = True
    batch.problems = problems
    _write_log(root, batches)
    return batch
