"""The headless command line: ``cnn-workbench train|resume|predict|export|models|summary|data``."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
