"""``cnn-workbench``: with no arguments opens the window, otherwise runs the headless CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):  # answers at once: no torch, no Qt
        from workbench import __version__

        print(f"cnn-workbench {__version__}")
        return 0
    if not argv:
        from workbench.ui.app import run_app

        return run_app()
    from workbench.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
