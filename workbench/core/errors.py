"""The user-facing error text: one place that turns any exception into a sentence for the
window's banner or the command line, with advice where there is some (out of memory, NaN).

Errors written for the user derive from ``UserError`` (datasets, folders, checkpoints, configs,
pretrained weights, run folders, training faults): their message is shown as it is. This module
imports nothing of the app, so every layer can use it."""

from __future__ import annotations

__all__ = ["DiskFullError", "OOM_TEXT", "TrainingFault", "UserError", "counted", "human_bytes", "user_message"]


class UserError(Exception):
    """An error whose message is meant for the user as it stands."""


class TrainingFault(UserError, RuntimeError):
    """Training cannot go on; the message is meant for the user."""


class DiskFullError(UserError, OSError):
    """A write ran out of space (or quota); the message names the path and the space needed."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "Disk full"


def counted(n: int, word: str, many: str | None = None) -> str:
    """``1 epoch``, ``2 epochs``; ``many`` for an irregular plural."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def human_duration(seconds: float) -> str:
    """"40 s", "12 min", "2 h 5 min", "3 days 4 h": as precise as an estimate deserves."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{max(1, seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(round(seconds / 3600), 24)  # a day or more: to the nearest hour
    return f"{counted(days, 'day')} {hours} h" if hours else counted(days, "day")


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


OOM_TEXT = ("can't allocate memory", "not enough memory", "DefaultCPUAllocator", "out of memory")


def user_message(exc: BaseException, batch_size: int | None = None) -> str:
    """What to tell the user about ``exc`` (``batch_size``: the run's, for out-of-memory advice)."""
    import torch

    if isinstance(exc, KeyboardInterrupt):
        return "Interrupted; last.pt holds the last finished epoch (continue with --resume)."
    if isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, (RuntimeError, MemoryError))
                                                    and any(t in str(exc) for t in OOM_TEXT)):
        where = "the GPU" if isinstance(exc, torch.OutOfMemoryError) else "the computer"
        smaller = f"a smaller batch size ({max(1, batch_size // 2)})" if batch_size else "a smaller batch size"
        return (f"{where.capitalize()} ran out of memory with batch size {batch_size}. Try {smaller}, a smaller "
                f"input or image size, mixed precision (bf16) or a smaller model.")
    if isinstance(exc, OSError) and exc.errno in (28, 122) and not isinstance(exc, DiskFullError):  # ENOSPC, EDQUOT
        return f"Disk full: could not write {exc.filename or 'a file'} ({exc.strerror}). Free some space and try again."
    if "enforce fail at inline_container" in str(exc) or "unexpected pos" in str(exc):
        return f"Disk full or file system error while saving: {str(exc).splitlines()[0]}. Free some space and resume."
    if isinstance(exc, (UserError, ValueError, KeyError)):
        return str(exc).strip("'\"")
    return f"Training failed: {type(exc).__name__}: {exc}"
