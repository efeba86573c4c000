"""What the zoo and the built-in datasets are, read without importing torch.

The window's form and the command line's ``--help`` need the names, families, years and
one-line ideas of the models and the titles of the datasets, nothing that computes. Importing
torch and torchvision takes seconds, so these come from ``resources/catalog.json``, a file
written from the live registries (``python -m workbench.core.catalog --write``); a test checks
that the file and the registries agree, so a new model or dataset cannot be forgotten in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .paths import looks_like_path

__all__ = ["DatasetCard", "ModelCard", "build", "dataset_card", "dataset_names", "is_folder_dataset", "model_card",
           "model_cards", "model_names"]


@dataclass(frozen=True)
class ModelCard:
    name: str
    family: str
    year: int
    idea: str
    pretrained: bool
    """torchvision has ImageNet weights for it (transfer learning is offered)."""


@dataclass(frozen=True)
class DatasetCard:
    name: str
    title: str
    description: str


def _path() -> Path:
    from resources import resource_path  # resources/ imports nothing heavy

    return resource_path("catalog.json")


@lru_cache(maxsize=1)
def _read() -> tuple[dict[str, ModelCard], dict[str, DatasetCard]]:
    data = json.loads(_path().read_text(encoding="utf-8"))
    cards = {m["name"]: ModelCard(**m) for m in data["models"]}
    sets = {d["name"]: DatasetCard(**d) for d in data["datasets"]}
    return cards, sets


def model_names() -> list[str]:
    """The zoo in natural order (resnet18 before resnet101), as ``models.list_models()``."""
    return list(_read()[0])


def model_cards() -> list[ModelCard]:
    return list(_read()[0].values())


def model_card(name: str) -> ModelCard | None:
    """The card of a zoo model, or ``None`` for a name the catalogue lacks (a model registered by
    the user's own code: ask ``models`` then)."""
    return _read()[0].get(name)


def dataset_names() -> list[str]:
    return list(_read()[1])


def dataset_card(name: str) -> DatasetCard | None:
    return _read()[1].get(name)


def is_folder_dataset(name: str) -> bool:
    """A dataset given as a path (an image folder) rather than a built-in name."""
    return name not in _read()[1] and looks_like_path(name)


def build() -> dict:
    """The catalogue as the live registries say it is (imports torch: for the writer and the test)."""
    import models
    from models._pretrained import TORCHVISION_WEIGHTS
    from workbench.core.data import get_dataset_info, list_datasets

    cards = []
    for name in models.list_models():
        info = models.get_model_info(name)
        cards.append(dict(name=name, family=info.family, year=info.year, idea=info.idea,
                          pretrained=name in TORCHVISION_WEIGHTS))
    sets = [dict(name=n, title=get_dataset_info(n).title, description=get_dataset_info(n).description)
            for n in list_datasets()]
    return {"models": cards, "datasets": sets}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Check or write resources/catalog.json from the registries.")
    parser.add_argument("--write", action="store_true", help="write the file (else: say whether it is current)")
    args = parser.parse_args(argv)
    text = json.dumps(build(), indent=1, ensure_ascii=False) + "\n"
    if args.write:
        _path().write_text(text, encoding="utf-8")
        print(f"wrote {_path()}")
        return 0
    current = _path().is_file() and _path().read_text(encoding="utf-8") == text
    print("catalog.json is current" if current else "catalog.json is out of date: run with --write")
    return 0 if current else 1


if __name__ == "__main__":
    raise SystemExit(main())
