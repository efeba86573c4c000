"""The Qt window. The only package that imports PySide6 and pyqtgraph.

Nothing heavy is imported here: ``app`` shows a window before torch and pyqtgraph load.

One thing is done here, before any view imports Qt: PySide6 (6.x, ``shibokensupport.feature``) asks of
every module imported after it whether it "uses PySide" by reading its whole source
(``inspect.getsource``), which stays in ``linecache``. The window imports torch and torchvision after
PySide6 (the form shows first), so it read 1,769 files, 38 MB of text, and its peak memory was 115 MB
higher than with torch imported first. ``read_no_sources`` makes ``_uses_pyside`` answer from the module's
namespace instead."""

from __future__ import annotations

import sys
import types


def _home(value) -> str:
    """The module a value comes from, read without calling anything of the value's own (no ``__getattr__``)."""
    kind = type(value)  # not isinstance: that reads ``__class__``, which a deprecated object warns about
    if issubclass(kind, types.ModuleType):
        return str(types.ModuleType.__dict__["__dict__"].__get__(value).get("__name__", ""))
    if issubclass(kind, type):
        return str(type.__dict__["__module__"].__get__(value))
    return str(type.__dict__["__module__"].__get__(kind) or "")


def _uses_pyside(module) -> bool:
    """Whether a module holds anything from PySide6 (what the source search was for), without reading it."""
    try:
        values = list(vars(module).values())
    except TypeError:
        return False
    return any(_home(value).startswith("PySide6") for value in values)


def read_no_sources() -> None:
    """Once PySide6 is imported (``app`` and ``main_window`` call this right after), stop it reading the
    source of every module imported after it. Imports nothing itself: the session stays free of Qt."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = _uses_pyside
