"""Where the app keeps things, in one place, and one way to write a file atomically.

Everything lives under ``$CNN_WORKBENCH_HOME`` when it is set, else ``~/.cnn-workbench``:
``data/`` (downloaded datasets), ``cache/`` (folder indexes and decoded image tensors) and
``runs/``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import DiskFullError, human_bytes

__all__ = ["home", "data_root", "cache_root", "runs_root", "settings_path", "atomic_write", "atomic_write_bytes",
           "atomic_write_text", "sweep_temporaries", "human_bytes"]


def home() -> Path:
    value = os.environ.get("CNN_WORKBENCH_HOME")
    return Path(value).expanduser() if value else Path.home() / ".cnn-workbench"


def data_root() -> Path:
    return home() / "data"


def cache_root() -> Path:
    return home() / "cache"


def runs_root() -> Path:
    return home() / "runs"


def settings_path() -> Path:
    """The window's settings (an INI file), so a test or a second home never inherits another's."""
    return home() / "settings.ini"


TMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a file that replaces ``path`` in one rename once it is complete, so
    ``path`` always holds the old content or the new, whole.

    On Linux the bytes go to an unnamed file (``O_TMPFILE``) that gets a name only when it is
    complete: a process killed at any moment leaves no temporary behind. Elsewhere a named
    temporary ``.NAME.PID.XXXXXXXX.tmp`` is used, removed on any error, and swept away by the next
    write into that folder once its process is gone.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = _unnamed_file(path.parent)
        named = fd is None
        if not named:
            try:
                with os.fdopen(fd, "wb") as fh:
                    _write_synced(fh, write)
                    _link_open_file(fh.fileno(), tmp)  # the complete file gets its name only now
            except OSError:
                named = True  # linking refused (an unusual file system): write a named temporary
        if named:
            with open(tmp, "xb") as fh:
                _write_synced(fh, write)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _disk_full(path, write) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _disk_full(path: Path, write) -> DiskFullError:
    needed = getattr(write, "size", None)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    room = f" ({human_bytes(needed)} needed, {human_bytes(free)} free)" if needed is not None and free is not None \
        else f" ({human_bytes(free)} free)" if free is not None else ""
    error = DiskFullError(f"Disk full: could not write {path}{room}. The earlier file there is "
                         f"untouched. Free some space (`cnn-workbench cache --clear` empties the image cache) and "
                         f"try again, or resume the run.")
    error.errno, error.filename = errno.ENOSPC, str(path)
    return error


def _write_synced(fh: BinaryIO, write: Callable[[BinaryIO], object]) -> None:
    write(fh)
    fh.flush()
    os.fsync(fh.fileno())


def _unnamed_file(folder: Path) -> int | None:
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not Path("/proc/self/fd").is_dir():
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:  # a file system without O_TMPFILE
        return None


def _link_open_file(fd: int, target: Path) -> None:
    # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file without privileges;
    # Python 3.11 calls plain link() unless a dir_fd is given, so give one.
    root = os.open("/", os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", target, src_dir_fd=root, follow_symlinks=True)
    finally:
        os.close(root)


def sweep_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries of writers that were killed (their process is gone)."""
    removed = []
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = TMP_PATTERN.match(entry.name)
        if match and not _alive(int(match["pid"])):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _Bytes:
    """A ``write`` for ``atomic_write`` that knows its size (for the disk-full message)."""

    def __init__(self, data: bytes):
        self.data, self.size = data, len(data)

    def __call__(self, fh: BinaryIO) -> None:
        fh.write(self.data)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, _Bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def looks_like_path(name: str) -> bool:
    """A dataset named by a path (``~/pokemon``, ``./photos``, an existing folder) rather than by a name."""
    return os.sep in name or "/" in name or Path(name).expanduser().is_dir()
