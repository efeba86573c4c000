"""Where the app keeps things, in one place, and one way to write a file atomically.

Everything lives under ``$CNN_WORKBENCH_HOME`` when it is set, else ``~/.cnn-workbench``:
``data/`` (downloaded datasets), ``cache/`` (folder indexes and decoded image tensors) and
``runs/``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["home", "data_root", "cache_root", "runs_root", "atomic_write_bytes", "atomic_write_text"]


def home() -> Path:
    value = os.environ.get("CNN_WORKBENCH_HOME")
    return Path(value).expanduser() if value else Path.home() / ".cnn-workbench"


def data_root() -> Path:
    return home() / "data"


def cache_root() -> Path:
    return home() / "cache"


def runs_root() -> Path:
    return home() / "runs"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file beside ``path``, then rename it over ``path``: a crash leaves
    either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
