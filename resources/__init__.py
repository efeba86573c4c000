"""Files that ship with CNN Workbench: bundled sample data, icons and styles.

Kept as a package so ``importlib.resources`` finds the files the same way from a
source checkout, an editable install and a wheel.
"""

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("data", "digits.csv.gz")``."""
    return Path(str(files(__name__).joinpath(*parts)))
