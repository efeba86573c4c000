"""Names a package exports but loads on first use (PEP 562), so a light module of it can be imported while
torch is still loading: ``__getattr__, __dir__ = exports(__name__, WHERE, globals())``."""

from __future__ import annotations

from importlib import import_module
from typing import Callable


def exports(package: str, where: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """``where`` maps each exported name to the module it lives in (relative to ``package``, ``..`` for a
    sibling of the package)."""
    names = sorted(where)

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = where[name]
        found = import_module(module, package) if module.startswith(".") else import_module(f"{package}.{module}")
        value = getattr(found, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))
    return __getattr__, __dir__
