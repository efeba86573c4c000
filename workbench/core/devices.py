"""Which device to train on: CUDA when present, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    devices = []
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` picks the first of CUDA, MPS, CPU; a named device must be available."""
    if preference in ("auto", "", None):
        return torch.device(available_devices()[0])
    device = torch.device(preference)
    names = available_devices()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"CUDA was asked for but is not available here; available: {', '.join(names)}")
    if device.type == "mps" and "mps" not in names:
        raise ValueError(f"MPS was asked for but is not available here; available: {', '.join(names)}")
    return device


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def choices() -> list[tuple[str, str]]:
    """What a device picker offers: ``(label, name)``, "auto" first with the device it would pick."""
    return [(f"auto ({describe(pick_device())})", "auto")] + [(describe(pick_device(n)), n) for n in available_devices()]
