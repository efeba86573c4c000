"""Text tables for the terminal, drawn by rich: columns sized to their contents, numbers aligned right,
and every cell printed as it is (a class or file name with brackets is not read as markup)."""

from __future__ import annotations

import sys
from typing import Iterable, TextIO

from rich import box
from rich.table import Table
from rich.text import Text

from .progress import console


def print_table(headers: Iterable[str], rows: Iterable[Iterable], right: Iterable[int] = (),
                stream: TextIO | None = None, indent: int = 0) -> None:
    """``right``: the columns (by position) aligned right."""
    right = set(right)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 2, 0, 0))
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    out = console(stream or sys.stdout)
    if indent:
        from rich.padding import Padding

        out.print(Padding(table, (0, 0, 0, indent)))
    else:
        out.print(table)
