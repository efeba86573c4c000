"""The import rules that keep the zoo, the core and the window apart."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = {"PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6"}

RULES = {
    # package folder: top-level modules it may not import
    "models": QT | {"workbench", "resources"},
    "workbench/core": QT | {"workbench.ui", "workbench.cli"},
    "workbench/cli": QT | {"workbench.ui"},
}


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def violations(source: str, forbidden: set[str]) -> list[str]:
    return sorted(
        name for name in imported_modules(source)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    )


def test_checker_catches_forbidden_imports():
    source = "import os\nfrom PySide6.QtCore import QObject\nimport workbench.ui.app\nif True:\n    import pyqtgraph as pg\n"
    assert violations(source, RULES["workbench/core"]) == ["PySide6.QtCore", "pyqtgraph", "workbench.ui.app"]
    assert violations("from workbench.core import engine", RULES["models"]) == ["workbench.core"]
    assert violations("import torch, torchvision", RULES["models"]) == []


@pytest.mark.parametrize("folder", sorted(RULES))
def test_layer_imports(folder):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    bad = {str(f.relative_to(ROOT)): v for f in files if (v := violations(f.read_text(), RULES[folder]))}
    assert not bad, f"forbidden imports: {bad}"


def test_qt_lives_only_in_ui():
    outside = [f for f in (ROOT / "workbench").rglob("*.py") if "ui" not in f.relative_to(ROOT / "workbench").parts]
    outside += list((ROOT / "resources").rglob("*.py"))
    bad = {str(f.relative_to(ROOT)): v for f in outside if (v := violations(f.read_text(), QT))}
    assert not bad, f"Qt imported outside workbench/ui: {bad}"


def test_core_imports_headless():
    """Importing the whole core in a fresh interpreter loads no Qt module."""
    import subprocess
    import sys

    code = ("import sys, workbench.core.train, workbench.cli, workbench.core.inspect, models;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6','pyqtgraph','shiboken6'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_every_package_is_shipped():
    """A sub-package missing from pyproject's list works in an editable install and is absent from
    the wheel a user installs."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for top in ("models", "workbench", "resources")
             for p in (root / top).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
