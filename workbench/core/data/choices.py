"""The values the data settings can take, importable without torch (the form and ``--help`` read
them while torch loads): the augmentation presets, the split methods and the largest image side."""

from __future__ import annotations

__all__ = ["MAX_IMAGE_SIZE", "PRESETS", "SPLIT_METHODS"]

PRESETS: dict[str, str] = {
    "none": "no augmentation",
    "flip_crop": "random horizontal flip, and a random crop of 87.5–100 % of the image moved by up to 1/8 of its size",
    "pokemon": "the Pokemon tutorial's: resize to 1.25×, random rotation within ±15°, centre crop",
    "cifar": "CIFAR's: pad 4 pixels, random crop back to size, random horizontal flip",
    "color_jitter": "random horizontal flip and brightness, contrast and saturation each within ±40 %",
}
"""Augmentation of training batches (``augment.BatchAugment``), name → what it does."""

SPLIT_METHODS = ("content", "rank")
"""``content`` (since issue #20): each image's split follows from its own content hash and the seed,
so adding, removing or renaming files never moves another. ``rank``: the first way, kept so runs
made with it resume and evaluate on the same split; images were dealt out by their rank within
their class, so any change moved others."""

MAX_IMAGE_SIZE = 1024
"""The largest side an image is decoded to or a network takes (the zoo's largest input is 299):
checked before anything is allocated, for settings and for a checkpoint's stated input."""
