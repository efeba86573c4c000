"""What a run trained on, recorded when it starts (``dataset.json``) and compared whenever the run
is resumed or evaluated: the dataset (a folder's absolute path), its classes in order, and for an
image folder every file's content key and split. A renamed class, an added, removed or edited
file, or a split that moved is refused with what changed, unless the user asks to go on with the
data as it is now; the run then records the change."""

from __future__ import annotations

from .registry import DataBundle, DatasetError

__all__ = ["DataChangedError", "identity", "differences", "describe"]

VERSION = 1


class DataChangedError(DatasetError):
    """The data differs from what the run started with; the message says what changed."""


def identity(bundle: DataBundle, dataset: str) -> dict:
    """The ``dataset.json`` of a run on ``bundle``."""
    record = {"version": VERSION, "dataset": dataset, "classes": list(bundle.classes),
              "sizes": {"train": len(bundle.train), "val": len(bundle.val), "test": len(bundle.test)}}
    split = bundle.split_files or {}
    if "keys" in split:
        record.update(method=split.get("method", "rank"), ratios=split.get("ratios"), seed=split.get("seed"),
                      files={name: {p: split["keys"][p] for p in split[name]} for name in ("train", "val", "test")})
    return record


def differences(before: dict, now: dict, parts: tuple[str, ...] = ("train", "val", "test")) -> list[str]:
    """What changed from ``before`` (recorded) to ``now`` in the splits ``parts``, one sentence a
    change; empty when nothing did."""
    changes = []
    if before.get("dataset") != now.get("dataset"):
        changes.append(f"the dataset was {before.get('dataset')} and is now {now.get('dataset')}")
    old, new = list(before.get("classes") or []), list(now.get("classes") or [])
    if old != new:
        gone, came = [c for c in old if c not in new], [c for c in new if c not in old]
        if gone or came:
            changes.append("the classes changed: " + "; ".join(filter(None, [
                f"{_few(gone)} {'is' if len(gone) == 1 else 'are'} gone" if gone else "",
                f"{_few(came)} {'is' if len(came) == 1 else 'are'} new" if came else ""])) +
                " (a renamed class folder gives other labels to the same images)")
        else:
            changes.append(f"the classes are in another order ({', '.join(new)} instead of {', '.join(old)})")
    if "files" in before and "files" in now:
        where_before = {p: (part, key) for part, files in before["files"].items() for p, key in files.items()
                        if part in parts}
        where_now = {p: (part, key) for part, files in now["files"].items() for p, key in files.items()
                     if part in parts}
        added = sorted(set(where_now) - set(where_before))
        removed = sorted(set(where_before) - set(where_now))
        both = set(where_now) & set(where_before)
        edited = sorted(p for p in both if where_now[p][1] != where_before[p][1])
        moved = sorted(p for p in both if where_now[p][0] != where_before[p][0] and p not in edited)
        for items, what in ((added, "added"), (removed, "removed"), (edited, "changed"),
                            (moved, "in another split")):
            if items:
                changes.append(f"{len(items)} {'file' if len(items) == 1 else 'files'} {what} ({_few(items)})")
    elif before.get("sizes") and now.get("sizes") and any(before["sizes"].get(k) != now["sizes"].get(k) for k in parts):
        changes.append("the splits have other sizes: " + ", ".join(
            f"{k} {before['sizes'].get(k)} -> {now['sizes'].get(k)}" for k in parts))
    return changes


def describe(changes: list[str], run: str, action: str) -> str:
    return (f"The data of {run} changed since the run started: " + "; ".join(changes) + f". {action} would "
            f"mix two datasets, so it is refused. Put the data back as it was, or go on with the data as it is now "
            f"(--accept-data-change; the run records the change).")


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")
