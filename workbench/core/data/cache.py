"""Decoded images as one uint8 tensor, kept on disk in the app's cache.

Decoding a folder of JPEGs costs far more than training a small network on it, so a folder is
decoded once per (content, size, channels) into an ``N×C×S×S`` uint8 tensor and saved; the next
run loads it in a fraction of a second. The file is keyed by the folder's content fingerprint,
so an edited folder never reads stale pixels. Each file carries its version, the folder's
fingerprint and a SHA-256 of its pixels: a file that fails any check is discarded and rebuilt
with a notice. The tensors together stay under ``cache_limit()`` (least recently used go first),
and no cache file is written when it would leave the disk short of space.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import torch

from .. import paths
from ..errors import human_bytes
from .decode import DecodeError, decode, fit_square, to_tensor
from .image_folder import FolderScan, Progress

__all__ = ["MEMORY_BUDGET", "decoded_size", "load_decoded", "decode_file", "cache_entries", "cache_limit",
           "clear_cache", "evict"]

CACHE_VERSION = 2
RESERVE = 1024**3
"""Space left free on the cache's disk after writing a cache file."""

MEMORY_BUDGET = 2 * 1024**3
"""Sets whose decoded tensor would be larger stream from disk through DataLoader workers."""


def decoded_size(scan: FolderScan, size: int, channels: int) -> int:
    return len(scan.files) * channels * size * size


def decode_file(root: str | Path, rel: str, size: int, channels: int) -> torch.Tensor:
    """One image as the ``C×S×S`` uint8 tensor the datasets hold."""
    return to_tensor(fit_square(decode(Path(root) / rel, channels), size))


def _cache_path(scan: FolderScan, size: int, channels: int) -> Path:
    return tensors_root() / f"{scan.fingerprint[:20]}-{size}px-{channels}ch-{_folder_key(scan)}.pt"


def _folder_key(scan: FolderScan) -> str:
    return hashlib.sha1(str(scan.root).encode()).hexdigest()[:8]


def _earlier(scan: FolderScan, size: int, channels: int, path: Path) -> dict[str, torch.Tensor]:
    """The images of the newest earlier cache of the same folder (same size and channels), by content key:
    after a few files are moved, added or edited, the others need no decoding again."""
    def used(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0
    candidates = sorted((p for p in tensors_root().glob(f"*-{size}px-{channels}ch-{_folder_key(scan)}.pt") if p != path),
                        key=used, reverse=True)
    for old in candidates[:1]:
        try:
            cached = torch.load(old, map_location="cpu", weights_only=True)
            images, keys = cached["images"], cached["keys"]
            if cached.get("version") == CACHE_VERSION and cached.get("sha256") == _digest(images) and \
                    isinstance(keys, list) and len(keys) == len(images) and images.dtype == torch.uint8 and \
                    tuple(images.shape[1:]) == (channels, size, size):
                return {k: images[i] for i, k in enumerate(keys) if isinstance(k, str)}
        except Exception:  # noqa: BLE001 - an unusable earlier cache only costs decoding
            pass
    return {}


def tensors_root() -> Path:
    return paths.cache_root() / "tensors"


def cache_limit() -> int:
    """Bytes the decoded tensors may take together: ``$CNN_WORKBENCH_CACHE_MB``, else 4 GB."""
    try:
        return max(0, int(float(os.environ.get("CNN_WORKBENCH_CACHE_MB", "4096")) * 1024**2))
    except ValueError:
        return 4 * 1024**3


def _digest(images: torch.Tensor) -> str:
    return hashlib.sha256(images.contiguous().view(-1).numpy().tobytes()).hexdigest()


def _read_cached(path: Path, scan: FolderScan, size: int, channels: int) -> tuple[torch.Tensor | None, str | None]:
    """The cached tensor if it is whole and for this folder; else ``None`` and, when a file was there
    but failed its checks, why."""
    if not path.is_file():
        return None, None
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, overwritten, not a torch file
        return None, f"not readable ({str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__})"
    if not isinstance(cached, dict) or cached.get("version") != CACHE_VERSION:
        return None, "not a cache file of this version"
    images = cached.get("images")
    if cached.get("fingerprint") != scan.fingerprint or not isinstance(images, torch.Tensor) or \
            images.dtype != torch.uint8 or tuple(images.shape) != (len(scan.files), channels, size, size):
        return None, "it is for other images"
    if cached.get("sha256") != _digest(images):
        return None, "its checksum does not match its pixels"
    return images, None


def load_decoded(scan: FolderScan, size: int, channels: int, progress: Progress | None = None,
                 notices: list[str] | None = None) -> torch.Tensor:
    """All usable images of ``scan`` as an ``N×C×S×S`` uint8 tensor, from the cache when it has
    them and they pass their checks, else decoded now (and cached). A damaged cache file is
    discarded, with a line in ``notices``."""
    path = _cache_path(scan, size, channels)
    cached, problem = _read_cached(path, scan, size, channels)
    if cached is not None:
        _touch(path)
        return cached
    if problem is not None:
        path.unlink(missing_ok=True)
        if notices is not None:
            notices.append(f"The image cache {path} was damaged ({problem}): it was discarded and the images "
                           f"decoded again.")
    images = torch.empty(len(scan.files), channels, size, size, dtype=torch.uint8)
    earlier = _earlier(scan, size, channels, path) if tensors_root().is_dir() else {}
    total = len(scan.files)
    for i, f in enumerate(scan.files):
        if progress and (i % 25 == 0 or i == total - 1):
            progress(i + 1, total, f.path)
        if f.sha1 in earlier:
            images[i] = earlier[f.sha1]
            continue
        try:
            images[i] = decode_file(scan.root, f.path, size, channels)
        except (DecodeError, OSError) as exc:  # changed on disk since the scan
            raise DecodeError(Path(scan.root) / f.path, f"changed since the scan ({exc}); scan the folder again") from exc
    _store(path, {"version": CACHE_VERSION, "fingerprint": scan.fingerprint, "images": images,
                  "keys": [f.sha1 for f in scan.files], "sha256": _digest(images)}, images.numel(), notices)
    return images


def _touch(path: Path) -> None:
    try:
        os.utime(path)  # the eviction goes by last use
    except OSError:
        pass


def _store(path: Path, payload: dict, nbytes: int, notices: list[str] | None) -> None:
    limit = cache_limit()
    if nbytes > limit:
        return
    evict(limit - nbytes, keep=path)
    try:
        free = shutil.disk_usage(path.parent if path.parent.exists() else paths.cache_root().parent).free
    except OSError:
        free = 0
    if free < nbytes + RESERVE:  # the run's checkpoints need the space more than the cache does
        if notices is not None:
            notices.append(f"The decoded images were not cached: {human_bytes(free)} free on the disk of "
                           f"{path.parent}, and checkpoints come first.")
        return
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        paths.atomic_write_bytes(path, buffer.getvalue())
    except OSError:  # a full or read-only cache only costs time next run
        pass


def evict(budget: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used tensors until the rest take at most ``budget`` bytes."""
    entries = cache_entries()["tensors"]
    total = sum(e["bytes"] for e in entries)
    removed = []
    for entry in sorted(entries, key=lambda e: e["used"]):
        if total <= budget:
            break
        if keep is not None and entry["path"] == keep:
            continue
        Path(entry["path"]).unlink(missing_ok=True)
        total -= entry["bytes"]
        removed.append(entry["path"])
    return removed


def cache_entries() -> dict[str, list[dict]]:
    """What the cache holds: ``tensors`` and ``folders`` (indexes), each with path, bytes and last use."""
    out: dict[str, list[dict]] = {"tensors": [], "folders": []}
    for kind, folder, pattern in (("tensors", tensors_root(), "*.pt"), ("folders", paths.cache_root() / "folders", "*.json")):
        if not folder.is_dir():
            continue
        for p in folder.glob(pattern):
            try:
                st = p.lstat()
            except OSError:
                continue
            if p.is_file() and not p.is_symlink():
                out[kind].append({"path": p, "bytes": st.st_size, "used": st.st_mtime})
    return out


def clear_cache() -> tuple[int, int]:
    """Remove every cached tensor and folder index; returns (files, bytes) removed."""
    files = size = 0
    for entries in cache_entries().values():
        for entry in entries:
            Path(entry["path"]).unlink(missing_ok=True)
            files += 1
            size += entry["bytes"]
    return files, size
