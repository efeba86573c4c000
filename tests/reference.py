"""Independent reference computations for the tests.

Expected values in the tests come from here (plain PyTorch written out by hand), from the papers
or from torchvision, never from the code under test: a test that asks the implementation what
the answer is cannot fail when the implementation is wrong.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def preprocess_by_hand(images: torch.Tensor, size, mean, std) -> torch.Tensor:
    """What the network should see: bilinear resize to ``size`` then ``(x - mean) / std``."""
    if tuple(images.shape[-2:]) != tuple(size):
        images = F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)
    mean = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - mean) / std


@torch.no_grad()
def predictions_by_hand(model, images: torch.Tensor, size, mean, std) -> torch.Tensor:
    model.eval()
    out = model(preprocess_by_hand(images, size, mean, std))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.argmax(1)


def split_tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of a split, in order."""
    if hasattr(dataset, "tensors"):
        return dataset.tensors[0], dataset.tensors[1].long()
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images), torch.tensor([int(y) for y in labels])


@torch.no_grad()
def loss_by_hand(model, dataset, size, mean, std) -> float:
    """Mean cross-entropy over a split, in eval mode."""
    images, labels = split_tensors(dataset)
    model.eval()
    out = model(preprocess_by_hand(images, size, mean, std))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return float(F.cross_entropy(out, labels))


@torch.no_grad()
def accuracy_by_hand(model, dataset, size, mean, std) -> float:
    images, labels = split_tensors(dataset)
    return float((predictions_by_hand(model, images, size, mean, std) == labels).float().mean())


@torch.no_grad()
def hook_output(model, layer: str, network_input: torch.Tensor) -> torch.Tensor:
    """The output of the module named ``layer`` for one network input (``C×H×W``), caught with
    a forward hook on that very module and copied there (an in-place activation after it would
    overwrite it later in the forward pass)."""
    caught = []
    handle = model.get_submodule(layer).register_forward_hook(
        lambda m, a, out: caught.append((out[0] if isinstance(out, (tuple, list)) else out).clone()))
    was_training = model.training
    try:
        model.eval()
        model(network_input.unsqueeze(0))
    finally:
        handle.remove()
        model.train(was_training)
    return caught[0][0]


def image_keys(images: torch.Tensor) -> list[bytes]:
    """One hashable key per image (its exact bytes), to compare splits by content."""
    return [img.contiguous().numpy().tobytes() for img in images]
