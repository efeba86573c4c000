"""``cnn-workbench install-desktop``: a launcher entry for the app, so nobody has to find the
``.venv/bin`` path again. On Linux (and other freedesktop systems) it writes
``$XDG_DATA_HOME/applications/cnn-workbench.desktop`` and the icon under
``$XDG_DATA_HOME/icons/hicolor/256x256/apps/``; elsewhere it says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from resources import resource_path

APP_ID = "cnn-workbench"


def entry_point() -> Path | None:
    """The installed ``cnn-workbench`` of this interpreter (a venv's or pipx's bin/), else on PATH."""
    here = Path(sys.executable).with_name("cnn-workbench.exe" if os.name == "nt" else "cnn-workbench")
    if here.is_file():
        return here
    found = shutil.which("cnn-workbench")
    return Path(found) if found else None


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _exec_quote(path: Path) -> str:
    """A path as the desktop entry spec quotes an ``Exec`` argument (double quotes; ``"`$\\`` escaped)."""
    text = str(path)
    if not any(c in text for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return text
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in text) + '"'


def desktop_file_text(exe: Path, icon: Path) -> str:
    return ("[Desktop Entry]\nType=Application\nVersion=1.0\nName=CNN Workbench\n"
            "GenericName=Convolutional network workbench\n"
            "Comment=Train the classic CNNs on your own images and look inside them\n"
            f"Exec={_exec_quote(exe)}\nTryExec={exe}\nIcon={icon}\nTerminal=false\n"
            "Categories=Education;Science;ArtificialIntelligence;Development;\n"
            "Keywords=CNN;deep learning;PyTorch;neural network;image classification;\n")


def install(uninstall: bool = False) -> tuple[int, str]:
    """Returns the exit status and what to tell the user."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        exe = entry_point()
        where = str(exe) if exe else "the cnn-workbench command (pip install cnn-workbench, or pipx install)"
        tip = ("on macOS: drag it onto the Dock from Finder, or make an Automator application that runs it"
               if sys.platform == "darwin" else "on Windows: right-click it, Send to > Desktop (create shortcut), "
               "or pin it to Start")
        return 1, f"Launcher entries are written for freedesktop systems (Linux) only. Start the app with {where}; {tip}."
    applications = data_home() / "applications"
    desktop = applications / f"{APP_ID}.desktop"
    icon = data_home() / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png"
    if uninstall:
        removed = [str(p) for p in (desktop, icon) if p.is_file()]
        for path in (desktop, icon):
            path.unlink(missing_ok=True)
        return 0, ("removed " + ", ".join(removed)) if removed else "no launcher entry was installed"
    exe = entry_point()
    if exe is None:
        return 1, "cnn-workbench is not installed as a command here: pip install . (or pipx install) first."
    source = resource_path("icons", f"{APP_ID}.png")
    if not source.is_file():
        return 1, f"the icon is missing from the installation ({source}): reinstall cnn-workbench"
    icon.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, icon)
    applications.mkdir(parents=True, exist_ok=True)
    desktop.write_text(desktop_file_text(exe.resolve(), icon), encoding="utf-8")
    desktop.chmod(0o755)
    if shutil.which("update-desktop-database"):  # menus that cache entries see the new one at once
        subprocess.run(["update-desktop-database", "-q", str(applications)], capture_output=True, check=False)
    return 0, (f"installed {desktop} (starts {exe}) and its icon {icon}; CNN Workbench is in the applications "
               f"menu now (remove it with: cnn-workbench install-desktop --uninstall)")
