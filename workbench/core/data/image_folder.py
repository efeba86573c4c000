"""Class-per-folder image sets: scan, check, split and load a user's folder of images.

``root/<class>/**/<image>``: every non-hidden sub-folder of ``root`` is a class and every image
below it (nested folders included) belongs to that class. Hidden files and files that are not
images are *ignored* and listed; images that cannot be used are *skipped* and listed with the
reason. The scan is remembered in the app's cache, so a second scan of an unchanged folder
decodes nothing, and a changed folder is reported (files added, removed or edited).

The split is a function of each image's own content and the split seed (``split_folder``): the
same folder gives the same split on every machine, exact duplicates stay together, and adding,
removing or renaming files never moves another file between train, validation and test.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .. import paths
from ..errors import UserError
from .decode import IMAGE_EXTENSIONS, DecodeError, decode

__all__ = ["ImageFile", "FolderScan", "FolderSplit", "SPLIT_METHODS", "scan_folder", "split_folder", "check_ratios",
           "FolderError", "DOCTOR_LOG", "EXCLUDED_FOLDER"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called while a folder is scanned or decoded."""


class FolderError(UserError, ValueError):
    """The folder cannot be used as a dataset; the message says why and what to do."""


@dataclass
class ImageFile:
    path: str
    """Relative to the folder, with forward slashes."""
    label: int
    sha1: str
    width: int
    height: int
    bytes: int
    mtime: float


@dataclass
class FolderScan:
    root: str
    classes: list[str]
    files: list[ImageFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(relative path, reason) of image files that cannot be used."""
    ignored: list[tuple[str, str]] = field(default_factory=list)
    """(relative path, reason) of what is not an image file, or hidden."""
    left_out_classes: list[tuple[str, str]] = field(default_factory=list)
    """(class folder, reason) of classes without a usable image."""
    changes: str = ""
    """How the folder differs from the last scan, in a sentence; empty when unchanged or new."""
    reused: int = 0
    """How many files the last scan's index vouched for (not decoded again)."""
    notices: list[str] = field(default_factory=list)
    """What the scan had to repair (a damaged index discarded and rebuilt)."""

    @property
    def fingerprint(self) -> str:
        """Identifies the folder's usable content: labels and bytes of every image."""
        h = hashlib.sha1()
        for f in sorted(self.files, key=lambda f: f.path):
            h.update(f"{f.path}\0{self.classes[f.label]}\0{f.sha1}\n".encode())
        return h.hexdigest()

    def counts(self) -> list[int]:
        counts = [0] * len(self.classes)
        for f in self.files:
            counts[f.label] += 1
        return counts


@dataclass
class FolderSplit:
    train: list[int]
    val: list[int]
    test: list[int]
    """Indices into ``FolderScan.files``."""
    ratios: tuple[float, float, float]
    seed: int
    method: str = "content"

    def paths(self, scan: FolderScan) -> dict[str, list[str]]:
        return {name: [scan.files[i].path for i in getattr(self, name)] for name in ("train", "val", "test")}


_FIELDS = ("path", "label", "sha1", "width", "height", "bytes", "mtime")
INDEX_VERSION = 2
_INDEX_TYPES = {"path": str, "label": int, "sha1": str, "width": int, "height": int, "bytes": int,
                "mtime": (int, float), "ctime_ns": int, "ino": int}

MAX_CLASSES = 5000
"""More class folders than this and the folder is not one image set (ImageNet has 1000)."""
MAX_FILES = 5_000_000
"""More files than this below the classes and the folder is not one image set (ImageNet: 1.3 million)."""
SYSTEM_FOLDERS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/opt", "/proc", "/root",
                            "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/home", "/Users", "/Volumes",
                            "/System", "/Library", "/Applications", "/private", "/mnt", "/media"})


def _index_path(root: Path) -> Path:
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return paths.cache_root() / "folders" / f"{key}.json"


def file_sha1(path: Path) -> str:
    """The SHA-1 of a file's bytes: an image's content key."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


DOCTOR_LOG = ".cnn-workbench-doctor.json"
"""The dataset doctor's log of the files it moved, in the folder itself (``core.doctor.moves``); not an image."""
EXCLUDED_FOLDER = "_excluded"
"""Where the doctor sets images aside inside the folder: not a class."""


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("__MACOSX") or name == "Thumbs.db" or name == "desktop.ini"


def _candidates(root: Path) -> tuple[list[str], list[tuple[Path, int]], list[tuple[str, str]], dict[str, str]]:
    """Class names, (image path, label) candidates, ignored entries, and why class folders without
    image files have none."""
    ignored: list[tuple[str, str]] = []
    class_dirs = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        rel = entry.name
        if rel == DOCTOR_LOG:
            continue
        if _hidden(entry.name):
            ignored.append((rel, "hidden"))
        elif rel == EXCLUDED_FOLDER and entry.is_dir():
            ignored.append((rel + "/", "set aside by the dataset doctor, not a class"))
        elif entry.is_dir():
            class_dirs.append(entry)
        else:
            ignored.append((rel, "not in a class folder"))
    if len(class_dirs) > MAX_CLASSES:
        raise FolderError(f"{root} has {len(class_dirs):,} sub-folders, more than any image set has classes "
                          f"(at most {MAX_CLASSES:,}): it is not a folder of one image set. Pick the folder whose "
                          f"sub-folders are the classes.")
    candidates: list[tuple[Path, int]] = []
    empty: dict[str, str] = {}
    seen = 0
    for label, folder in enumerate(class_dirs):
        found = 0
        anything = False
        for dirpath, dirnames, filenames in os.walk(folder):
            seen += len(filenames) + len(dirnames)
            if seen > MAX_FILES:
                raise FolderError(f"{root} holds more than {MAX_FILES:,} files and folders below its sub-folders, "
                                  f"more than any image set: it is not a folder of one image set. Pick the folder "
                                  f"whose sub-folders are the classes.")
            here = Path(dirpath)
            for d in sorted(dirnames):
                if _hidden(d):
                    ignored.append(((here / d).relative_to(root).as_posix() + "/", "hidden folder"))
            dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
            for name in sorted(filenames):
                anything = True
                path = here / name
                rel = path.relative_to(root).as_posix()
                if _hidden(name):
                    ignored.append((rel, "hidden"))
                elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                    ignored.append((rel, f"not an image file ({path.suffix or 'no extension'})"))
                else:
                    candidates.append((path, label))
                    found += 1
        if not found:
            empty[folder.name] = "no image files" if anything else "empty folder"
    return [d.name for d in class_dirs], candidates, ignored, empty


def scan_folder(root: str | Path, progress: Progress | None = None,
                should_stop: Callable[[], bool] = lambda: False) -> FolderScan:
    """Find, hash and check every image of a class-per-folder set. Never raises for a bad file;
    raises ``FolderError`` when the folder itself cannot be used."""
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise FolderError(f"No folder at {root}")
    if not root.is_dir():
        raise FolderError(f"{root} is a file: pick a folder with one sub-folder per class")
    _refuse_system_folder(root)
    started = time.time()
    classes, candidates, ignored, empty = _candidates(root)
    if not classes:
        raise FolderError(f"{root} has no sub-folders: put each class's images in a folder named after the class")
    previous, notice = _read_index(root)
    notices = [notice] if notice else []
    known = {f["path"]: f for f in previous.get("files", [])} if previous else {}
    racy_after = (previous or {}).get("scanned_at", 0.0) - 2.0
    known_skips = {p: (reason, size, mtime, ctime) for p, reason, size, mtime, ctime in previous.get("skipped", [])} \
        if previous else {}
    file_marks: dict[str, dict] = {}
    files: list[ImageFile] = []
    skipped: list[tuple[str, str]] = []
    reused = 0
    total = len(candidates)
    for i, (path, label) in enumerate(candidates):
        if should_stop():
            raise FolderError("Scan cancelled")
        rel = path.relative_to(root).as_posix()
        if progress and (i % 25 == 0 or i == total - 1):
            progress(i + 1, total, rel)
        try:
            stat = path.stat()
        except OSError as exc:
            skipped.append((rel, f"unreadable ({exc.strerror or exc})"))
            continue
        marks = {"ctime_ns": stat.st_ctime_ns, "ino": stat.st_ino}
        old = known.get(rel)
        if old and old["bytes"] == stat.st_size and old["mtime"] == stat.st_mtime and \
                old["ctime_ns"] == stat.st_ctime_ns and old["ino"] == stat.st_ino and \
                stat.st_ctime_ns / 1e9 < racy_after:  # unchanged since well before the last scan
            files.append(ImageFile(**{**{k: old[k] for k in _FIELDS}, "label": label}))
            file_marks[rel] = marks
            reused += 1
            continue
        old_skip = known_skips.get(rel)
        if old_skip and old_skip[1:] == (stat.st_size, stat.st_mtime, stat.st_ctime_ns):
            skipped.append((rel, old_skip[0]))
            continue
        try:
            digest = file_sha1(path)
            if old and old["sha1"] == digest and old["bytes"] == stat.st_size:  # touched, or scanned moments ago
                files.append(ImageFile(**{**{k: old[k] for k in _FIELDS}, "label": label, "mtime": stat.st_mtime}))
                file_marks[rel] = marks
                reused += 1
                continue
            image = decode(path)
            files.append(ImageFile(rel, label, digest, image.width, image.height, stat.st_size, stat.st_mtime))
            file_marks[rel] = marks
        except DecodeError as exc:
            skipped.append((rel, exc.reason))
        except OSError as exc:
            skipped.append((rel, f"unreadable ({exc.strerror or exc})"))
    counts = [0] * len(classes)
    for f in files:
        counts[f.label] += 1
    left_out = [(c, empty.get(c, "no usable image")) for c, n in zip(classes, counts) if n == 0]
    kept = [c for c, n in zip(classes, counts) if n > 0]
    relabel = {classes.index(c): i for i, c in enumerate(kept)}
    files = [ImageFile(**{**asdict(f), "label": relabel[f.label]}) for f in files]
    scan = FolderScan(str(root), kept, files, skipped, ignored, left_out, reused=reused, notices=notices)
    if len(kept) < 2:
        why = "; ".join(f"{c}: {r}" for c, r in left_out) or "only one class folder"
        raise FolderError(f"{root} needs at least two classes with usable images, it has {len(kept)} "
                          f"({why}). Put each class's images in its own sub-folder.")
    if previous:
        scan.changes = _describe_changes(previous, scan)
    _write_index(root, scan, [(p, r, *_stat(root / p)) for p, r in skipped], file_marks, started)
    return scan


def _refuse_system_folder(root: Path) -> None:
    home = Path.home().resolve()
    system = {str(Path(p).resolve()) for p in SYSTEM_FOLDERS} | {str(home), str(paths.home().resolve())}
    if str(root) in system or root == Path(root.anchor):
        raise FolderError(f"{root} is a system folder, not an image set: scanning it would read every file below it. "
                          f"Pick the folder whose sub-folders are the classes (such as {home / 'pokemon'}).")


def _stat(path: Path) -> tuple[int, float, int]:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime, st.st_ctime_ns
    except OSError:
        return -1, -1.0, -1


def _index_checksum(data: dict) -> str:
    return hashlib.sha256(json.dumps({k: v for k, v in data.items() if k != "checksum"}, sort_keys=True).encode()).hexdigest()


def _index_problem(data) -> str | None:
    """Why a folder index cannot be trusted, or ``None``."""
    if not isinstance(data, dict):
        return f"it holds a {type(data).__name__}, not an index"
    if data.get("checksum") != _index_checksum(data):
        return "its checksum does not match its content"
    if not isinstance(data.get("files"), list) or not isinstance(data.get("skipped"), list) or \
            not isinstance(data.get("scanned_at"), (int, float)):
        return "it lacks its lists of files"
    for f in data["files"]:
        if not isinstance(f, dict) or any(not isinstance(f.get(k), t) or isinstance(f.get(k), bool)
                                          for k, t in _INDEX_TYPES.items()):
            return "a file's entry has missing or wrong fields"
    for s in data["skipped"]:
        if not (isinstance(s, list) and len(s) == 5 and isinstance(s[0], str) and isinstance(s[1], str)):
            return "a skipped file's entry has the wrong shape"
    return None


def _read_index(root: Path) -> tuple[dict | None, str | None]:
    """The last scan's index and, when one was there but could not be trusted, a notice naming it."""
    path = _index_path(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        data, problem = None, f"not readable ({exc})"
    else:
        if isinstance(data, dict) and "version" not in data and isinstance(data.get("files"), list) and \
                isinstance(data.get("skipped"), list):
            return None, None  # the first version's index: rebuilt without fuss
        problem = _index_problem(data)
    if problem is None:
        return (data, None) if data.get("root") == str(root) else (None, None)
    path.unlink(missing_ok=True)
    return None, (f"The folder index {path} was damaged ({problem}): it was discarded and every image was "
                  f"checked again.")


def _write_index(root: Path, scan: FolderScan, skipped: list, marks: dict[str, dict], started: float) -> None:
    data = {"version": INDEX_VERSION, "root": str(root), "scanned_at": started, "classes": scan.classes,
            "fingerprint": scan.fingerprint, "files": [{**asdict(f), **marks[f.path]} for f in scan.files],
            "skipped": [list(s) for s in skipped]}
    data["checksum"] = _index_checksum(data)
    try:
        paths.atomic_write_text(_index_path(root), json.dumps(data))
    except OSError:  # a read-only cache only costs speed next time
        pass


def _describe_changes(previous: dict, scan: FolderScan) -> str:
    before = {f["path"]: f["sha1"] for f in previous.get("files", [])}
    now = {f.path: f.sha1 for f in scan.files}
    added = sorted(set(now) - set(before))
    removed = sorted(set(before) - set(now))
    edited = sorted(p for p in set(now) & set(before) if now[p] != before[p])
    if not (added or removed or edited):
        return ""
    parts = []
    for what, items in (("added", added), ("removed", removed), ("changed", edited)):
        if items:
            shown = ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
            parts.append(f"{len(items)} {'file' if len(items) == 1 else 'files'} {what} ({shown})")
    return "The folder changed since the last scan: " + "; ".join(parts) + ". The split was made anew."


from .choices import SPLIT_METHODS  # noqa: E402,F401 - where the split is made


def _content_draw(seed: int, sha1: str) -> float:
    """A number in [0, 1) that depends on the image's content and the seed alone."""
    return int(hashlib.sha256(f"{seed}:{sha1}".encode()).hexdigest()[:15], 16) / 16 ** 15


def check_ratios(ratios) -> None:
    if len(ratios) != 3 or min(ratios) < 0 or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6) or ratios[0] <= 0:
        raise FolderError(f"split ratios must be three non-negative numbers adding up to 1 with some training, not {ratios}")
    if ratios[1] <= 0 or ratios[2] <= 0:
        empty = " and ".join(n for n, r in (("validation", ratios[1]), ("test", ratios[2])) if r <= 0)
        raise FolderError(f"the split {'/'.join(f'{r:.0%}' for r in ratios)} leaves {empty} empty: without a validation "
                          f"set there is no best checkpoint, without a test set no test score. Give both a share, "
                          f"such as 60/20/20.")


def split_folder(scan: FolderScan, ratios: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0,
                 method: str = "content") -> FolderSplit:
    """A train/val/test split decided by content and seed alone (``SPLIT_METHODS``).

    ``content``: an image goes to test when its draw (a hash of seed and content) falls below the
    test share, to validation below test + validation, else to training; exact duplicates share a
    draw and so a split. Each class gets its shares up to chance (a binomial spread). In a set so
    small that chance leaves test or validation empty, the training image of the lowest draw goes
    there (the one case where a change elsewhere can move a file). Raises ``FolderError`` when
    validation or test would still be empty."""
    check_ratios(ratios)
    if method not in SPLIT_METHODS:
        raise FolderError(f"unknown split method {method!r}; this version knows {', '.join(SPLIT_METHODS)}")
    if method == "rank":
        split = _split_by_rank(scan, ratios, seed)
    else:
        parts: tuple[list[int], list[int], list[int]] = ([], [], [])
        draws = [_content_draw(seed, f.sha1) for f in scan.files]
        for i, u in enumerate(draws):
            parts[2 if u < ratios[2] else 1 if u < ratios[2] + ratios[1] else 0].append(i)
        for empty in (2, 1):  # a set so small that chance left test or validation empty: the training
            if not parts[empty] and len(parts[0]) > 1:  # image of the lowest draw (and its duplicates) moves over
                sha = scan.files[min(parts[0], key=lambda i: draws[i])].sha1
                moving = [i for i in parts[0] if scan.files[i].sha1 == sha]
                if len(moving) < len(parts[0]):
                    parts[empty].extend(moving)
                    parts[0][:] = [i for i in parts[0] if i not in moving]
        split = FolderSplit(*(sorted(p) for p in parts), tuple(ratios), seed, method)
    for name, part in (("validation", split.val), ("test", split.test)):
        if not part:
            raise FolderError(f"the split left the {name} set empty: {len(scan.files)} images are too few for "
                              f"{'/'.join(f'{r:.0%}' for r in ratios)}. Add images, give {name} a larger share, "
                              f"or try another split seed.")
    return split


def _split_by_rank(scan: FolderScan, ratios: tuple[float, float, float], seed: int) -> FolderSplit:
    """The ``rank`` split: a stratified split decided by content and seed alone.

    Within each class the images are grouped by content hash (exact duplicates stay in one
    split), groups are ordered by hash, shuffled with ``seed``, and dealt out so each split gets
    its share of the class (at least one image each for val and test when the class has three)."""
    train, val, test = [], [], []
    for label in range(len(scan.classes)):
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(scan.files):
            if f.label == label:
                groups.setdefault(f.sha1, []).append(i)
        ordered = [groups[k] for k in sorted(groups)]
        g = torch.Generator().manual_seed(seed * 1_000_003 + label)
        ordered = [ordered[i] for i in torch.randperm(len(ordered), generator=g).tolist()]
        n = sum(len(grp) for grp in ordered)
        want_test = round(n * ratios[2])
        want_val = round(n * ratios[1])
        if n >= 3:
            want_test = max(want_test, 1 if ratios[2] > 0 else 0)
            want_val = max(want_val, 1 if ratios[1] > 0 else 0)
        in_test = in_val = 0
        for grp in ordered:
            if in_test < want_test:
                test.extend(grp)
                in_test += len(grp)
            elif in_val < want_val:
                val.extend(grp)
                in_val += len(grp)
            else:
                train.extend(grp)
    return FolderSplit(sorted(train), sorted(val), sorted(test), tuple(ratios), seed, "rank")
