"""A dataset's health report: what is in a folder, what is wrong with it, and what the run will
use. Built from a scan, its split and the decoded training images; printed by ``cnn-workbench
data`` (in full) and ``train`` (short), shown by the window's health view."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from ..errors import counted
from .image_folder import FolderScan, FolderSplit

__all__ = ["HealthReport", "build_report", "channel_stats"]


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 (or [0, 1] float) images, in [0, 1] units."""
    if len(images) == 0:
        return (0.5,) * images.shape[1], (0.25,) * images.shape[1]
    x = images.float()
    if images.dtype == torch.uint8:
        x = x / 255.0
    x = x.transpose(0, 1).reshape(images.shape[1], -1).double()
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-6).tolist())


@dataclass
class HealthReport:
    root: str
    classes: list[str]
    counts: list[int]
    split_counts: dict[str, list[int]]
    skipped: list[tuple[str, str]]
    ignored: list[tuple[str, str]]
    left_out_classes: list[tuple[str, str]]
    duplicates: list[list[str]]
    """Groups of files with identical bytes."""
    leaks: list[list[str]]
    """Duplicate groups with copies in both train and test."""
    sizes: dict[str, float]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    changes: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def imbalance(self) -> float:
        """Largest class over smallest class."""
        return max(self.counts) / max(1, min(self.counts))

    @property
    def usable(self) -> int:
        return sum(self.counts)

    def short(self) -> str:
        """A few lines for the start of ``train``."""
        lines = [f"{self.usable} images in {len(self.classes)} classes "
                 f"({', '.join(f'{c} {n}' for c, n in zip(self.classes, self.counts))}); "
                 f"imbalance {self.imbalance:.1f}×; split "
                 f"{'/'.join(str(sum(self.split_counts[s])) for s in ('train', 'val', 'test'))} train/val/test"]
        if self.skipped:
            lines.append(f"skipped {counted(len(self.skipped), 'unusable file')}: " +
                         "; ".join(f"{p} ({r})" for p, r in self.skipped))
        if self.ignored:
            lines.append(f"ignored {counted(len(self.ignored), 'file')} that are not images or are hidden: " +
                         ", ".join(p for p, _ in self.ignored[:8]) + (" …" if len(self.ignored) > 8 else ""))
        if self.left_out_classes:
            lines.append("left out: " + ", ".join(f"{c} ({r})" for c, r in self.left_out_classes))
        if self.leaks:
            lines.append(f"warning: {counted(len(self.leaks), 'duplicate image')} in both train and test (a leak)")
        if self.changes:
            lines.append(self.changes)
        return "\n".join(lines)

    def full(self) -> str:
        """The whole report, for ``cnn-workbench data``."""
        out = [f"Dataset: {self.root}", ""]
        width = max(len(c) for c in self.classes + ["class"])
        out.append(f"{'class'.ljust(width)}  {'images':>6}  {'train':>5}  {'val':>5}  {'test':>5}")
        for i, c in enumerate(self.classes):
            out.append(f"{c.ljust(width)}  {self.counts[i]:>6}  " + "  ".join(
                f"{self.split_counts[s][i]:>5}" for s in ("train", "val", "test")))
        out.append(f"{'total'.ljust(width)}  {self.usable:>6}  " + "  ".join(
            f"{sum(self.split_counts[s]):>5}" for s in ("train", "val", "test")))
        out.append(f"Imbalance: {self.imbalance:.2f}× (largest class / smallest)")
        s = self.sizes
        out.append(f"Image sizes: width {s['min_w']:.0f}–{s['max_w']:.0f} (median {s['median_w']:.0f}), "
                   f"height {s['min_h']:.0f}–{s['max_h']:.0f} (median {s['median_h']:.0f}); "
                   f"aspect ratio {s['min_aspect']:.2f}–{s['max_aspect']:.2f}")
        out.append("Channel mean " + ", ".join(f"{m:.4f}" for m in self.mean) +
                   "; std " + ", ".join(f"{v:.4f}" for v in self.std) + " (training images; a run from scratch normalises with these, pretrained weights bring their own)")
        for title, rows in (("Skipped (cannot be used)", self.skipped), ("Ignored (not images, or hidden)", self.ignored),
                            ("Classes left out", self.left_out_classes)):
            out.append(f"{title}: {len(rows)}")
            out += [f"  {p}: {r}" for p, r in rows]
        out.append(f"Exact duplicates: {counted(len(self.duplicates), 'group')}")
        out += ["  " + " = ".join(g) for g in self.duplicates]
        if self.leaks:
            out.append(f"LEAK: {counted(len(self.leaks), 'duplicate group')} {'has' if len(self.leaks) == 1 else 'have'} copies in both train and test:")
            out += ["  " + " = ".join(g) for g in self.leaks]
        if self.changes:
            out.append(self.changes)
        out += self.notes
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"root": self.root, "classes": self.classes, "counts": self.counts, "split_counts": self.split_counts,
                "imbalance": round(self.imbalance, 4), "skipped": self.skipped, "ignored": self.ignored,
                "left_out_classes": self.left_out_classes, "duplicates": self.duplicates, "leaks": self.leaks,
                "sizes": self.sizes, "mean": list(self.mean), "std": list(self.std), "changes": self.changes}


def build_report(scan: FolderScan, split: FolderSplit, train_images: torch.Tensor) -> HealthReport:
    which = {}
    for name in ("train", "val", "test"):
        for i in getattr(split, name):
            which[i] = name
    split_counts = {name: [0] * len(scan.classes) for name in ("train", "val", "test")}
    for i, f in enumerate(scan.files):
        split_counts[which[i]][f.label] += 1
    groups: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(scan.files):
        groups[f.sha1].append(i)
    duplicates = [[scan.files[i].path for i in g] for g in groups.values() if len(g) > 1]
    leaks = [[scan.files[i].path for i in g] for g in groups.values()
             if len(g) > 1 and {"train", "test"} <= {which[i] for i in g}]
    ws = [f.width for f in scan.files]
    hs = [f.height for f in scan.files]
    aspects = [f.width / f.height for f in scan.files]
    sizes = {"min_w": min(ws), "max_w": max(ws), "median_w": statistics.median(ws),
             "min_h": min(hs), "max_h": max(hs), "median_h": statistics.median(hs),
             "min_aspect": min(aspects), "max_aspect": max(aspects)}
    mean, std = channel_stats(train_images)
    counts = scan.counts()
    notes = []
    if max(counts) / max(1, min(counts)) > 3:
        notes.append("Note: the classes are very unequal; accuracy can look good while the small classes fail.")
    return HealthReport(scan.root, list(scan.classes), counts, split_counts, list(scan.skipped), list(scan.ignored),
                        list(scan.left_out_classes), duplicates, leaks, sizes, mean, std, scan.changes, notes)
