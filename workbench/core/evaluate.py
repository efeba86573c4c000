"""Evaluation: per-image predictions over a set, then everything derived from them: loss,
top-1 and top-5 accuracy, a confusion matrix that keeps the dataset index behind every count,
per-class precision and recall, and the most confidently wrong images.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

MISTAKES = 24
"""How many of the most confidently wrong images a report lists."""


def main_output(output) -> torch.Tensor:
    """The main logits of a network; ones with auxiliary heads (GoogLeNet in training) return several."""
    return output[0] if isinstance(output, (tuple, list)) else output


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 batches (0-255) become float in [0, 1]; float batches pass as they are."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


@dataclass
class Predictions:
    """One row per image, in dataset-index order."""

    indices: torch.Tensor
    targets: torch.Tensor
    predicted: torch.Tensor
    confidence: torch.Tensor
    """Softmax probability of the predicted class."""
    loss: torch.Tensor
    """Cross-entropy of each image."""
    top5: torch.Tensor
    """Whether the target is among the five most likely classes."""

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def accuracy(self) -> float:
        return int((self.predicted == self.targets).sum()) / len(self) if len(self) else math.nan

    @property
    def mean_loss(self) -> float:
        return float(self.loss.double().mean()) if len(self) else math.nan

    @property
    def top5_accuracy(self) -> float:
        return int(self.top5.sum()) / len(self) if len(self) else math.nan

    @staticmethod
    def cat(parts: list["Predictions"]) -> "Predictions":
        fields = {name: torch.cat([getattr(p, name) for p in parts]) for name in
                  ("indices", "targets", "predicted", "confidence", "loss", "top5")}
        order = fields["indices"].argsort()
        return Predictions(**{k: v[order] for k, v in fields.items()})


@torch.no_grad()
def predict_batches(model: nn.Module, batches, preprocess: nn.Module, device: torch.device,
                    should_stop=lambda: False, autocast=None, channels_last: bool = False) -> Predictions:
    """Run ``model`` in eval mode over ``(indices, images, labels)`` batches."""
    model.eval()
    parts = []
    for indices, images, targets in batches:
        if should_stop():
            break
        images = preprocess(to_float(images.to(device, non_blocking=True)))
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with autocast or nullcontext():
            logits = main_output(model(images))
        logits = logits.float()
        probs = logits.softmax(1)
        confidence, predicted = probs.max(1)
        k = min(5, logits.shape[1])
        top5 = (logits.topk(k, 1).indices == targets[:, None]).any(1)
        loss = F.cross_entropy(logits, targets, reduction="none")
        parts.append(Predictions(indices.cpu(), targets.cpu(), predicted.cpu(), confidence.cpu(), loss.cpu(),
                                 top5.cpu()))
    if not parts:
        empty = torch.empty(0, dtype=torch.long)
        return Predictions(empty, empty, empty, torch.empty(0), torch.empty(0), torch.empty(0, dtype=torch.bool))
    return Predictions.cat(parts)


def confusion_report(predictions: Predictions, classes: list[str], split: str, files: list[str] | None = None,
                     mistakes: int = MISTAKES) -> dict:
    """A JSON-ready report. ``matrix[t][p]`` counts images of class ``t`` predicted as ``p`` and
    ``cells[t][p]`` lists their dataset indices (into that split), so a viewer can open them."""
    n = len(classes)
    targets, predicted = predictions.targets.tolist(), predictions.predicted.tolist()
    matrix = [[0] * n for _ in range(n)]
    cells = [[[] for _ in range(n)] for _ in range(n)]
    for index, t, p in zip(predictions.indices.tolist(), targets, predicted):
        matrix[t][p] += 1
        cells[t][p].append(index)
    per_class = []
    for c, name in enumerate(classes):
        true_positive = matrix[c][c]
        actual = sum(matrix[c])
        claimed = sum(matrix[r][c] for r in range(n))
        per_class.append({
            "class": name, "support": actual,
            "precision": true_positive / claimed if claimed else None,
            "recall": true_positive / actual if actual else None,
        })
    wrong = (predictions.predicted != predictions.targets).nonzero().flatten()
    wrong = wrong[predictions.confidence[wrong].argsort(descending=True)][:mistakes]
    worst = []
    for row in wrong.tolist():
        index = int(predictions.indices[row])
        entry = {"index": index, "true": classes[int(predictions.targets[row])],
                 "predicted": classes[int(predictions.predicted[row])],
                 "confidence": round(float(predictions.confidence[row]), 6)}
        if files is not None and index < len(files):
            entry["file"] = files[index]
        worst.append(entry)
    report = {
        "split": split, "images": len(predictions), "accuracy": predictions.accuracy, "loss": predictions.mean_loss,
        "classes": list(classes), "matrix": matrix, "cells": cells, "per_class": per_class,
        "most_confident_mistakes": worst,
    }
    if n > 10:
        report["top5_accuracy"] = predictions.top5_accuracy
    if files is not None:  # an image folder: the viewer names every image by its file
        report["files"] = list(files)
    return report
