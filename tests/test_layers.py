"""The import rules that keep the zoo, the core and the window apart, checked by import-linter
(the contracts are in pyproject.toml): relative imports count, indirect imports count, and no
package may import in a cycle."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = {"PySide6", "pyqtgraph", "shiboken6"}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the tree at ``root`` (with that tree's pyproject.toml)."""
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root)}, timeout=300)


def test_the_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    kept = done.stdout.count(" KEPT")
    assert kept == len(contracts) >= 5, done.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory):
    """The project's packages and pyproject.toml, copied, to break the rules in."""
    root = tmp_path_factory.mktemp("tree")
    for name in ("models", "workbench", "resources"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.gz", "*.png"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("module,line,contract", [
    ("workbench/core/cost.py", "from ..ui import jobs", "The core imports no Qt"),  # relative, one level up
    ("workbench/core/data/decode.py", "from ...cli import progress", "The core imports no Qt"),
    ("workbench/core/export.py", "import pyqtgraph", "The core imports no Qt"),
    ("models/vgg.py", "from workbench.core import paths", "The zoo imports no workbench"),
    ("workbench/ui/state.py", "from PySide6.QtCore import QObject", "The session imports no Qt"),
    ("workbench/core/data/registry.py", "from .sources import folder", "No import cycles"),
])
def test_a_forbidden_import_breaks_a_contract(tree_copy, module, line, contract):
    path = tree_copy / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # a deliberate breach\n")
        done = lint_imports(tree_copy)
    finally:
        path.write_text(original)
    assert done.returncode != 0, done.stdout
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout.split(contract, 1)[1].splitlines()[0], done.stdout


def test_core_imports_headless():
    """Importing the whole core in a fresh interpreter loads no Qt module."""
    code = ("import sys, workbench.core.train, workbench.cli, workbench.core.inspect, workbench.core.predict, models;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'PySide6','pyqtgraph','shiboken6'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_session_loads_no_qt():
    code = "import sys, workbench.ui.state; print(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % QT
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_no_source_file_is_too_long_to_read_in_one_sitting():
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
               for top in ("workbench", "models") for p in (ROOT / top).rglob("*.py")}
    assert lengths["workbench/ui/main_window.py"] <= 300
    assert not {p: n for p, n in lengths.items() if n > 450}


def test_every_package_is_shipped():
    """A sub-package missing from pyproject's list works in an editable install and is absent from
    the wheel a user installs."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("models", "workbench", "resources")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
