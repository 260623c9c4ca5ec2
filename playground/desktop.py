"""The app's resources (icon, .desktop entry) and ``playground install-desktop`` (Linux).

No Qt here: the command line installs the menu entry without starting a window.

The entry goes where the freedesktop.org specifications say a user's own entries go:
``$XDG_DATA_HOME/applications/llm-playground.desktop`` and the icons under
``$XDG_DATA_HOME/icons/hicolor/`` (``$XDG_DATA_HOME`` defaults to ``~/.local/share``). Its
``Exec`` line is the program that ran the command: the bundle's own executable, or the
``llm-playground`` launcher pip put beside this Python, so the menu starts the same app.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from playground.errors import PlaygroundError

APP_ID = "llm-playground"
DESKTOP_FILE = f"{APP_ID}.desktop"
# (resource file, folder under icons/hicolor/): the svg for any size, the png where svg is not read
ICONS = (("icon.svg", "scalable/apps"), ("icon.png", "256x256/apps"))


def resource_dirs() -> list[Path]:
    """Where the icon and other resources may live: frozen bundle, installed package, checkout."""
    here = Path(__file__).resolve()
    dirs = []
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        dirs.append(Path(sys._MEIPASS) / "resources")  # type: ignore[attr-defined]
    dirs += [here.parent / "resources", here.parents[1] / "resources"]
    return dirs


def resource_path(name: str) -> Path | None:
    for folder in resource_dirs():
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    # The specification: a relative path is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def launch_command() -> str:
    """The Exec line's program: this bundle, the pip-installed launcher, or ``python -m playground``."""
    if getattr(sys, "frozen", False):
        return _quote(sys.executable)
    script = Path(sys.executable).parent / APP_ID
    found = str(script) if script.is_file() else shutil.which(APP_ID)
    if found:
        return _quote(str(Path(found).resolve()))
    return f"{_quote(sys.executable)} -m playground"


def _quote(arg: str) -> str:
    """One Exec argument, quoted as the Desktop Entry specification asks."""
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`%"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    return f'"{escaped}"'


def entry_text(template: str, command: str) -> str:
    """The shipped .desktop file with its Exec line naming ``command``."""
    lines = template.splitlines()
    return "\n".join(f"Exec={command}" if line.startswith("Exec=") else line for line in lines) + "\n"


def targets(home: Path | None = None) -> list[Path]:
    """The files install() writes (and uninstall() removes)."""
    home = home or data_home()
    return [home / "applications" / DESKTOP_FILE,
            *(home / "icons" / "hicolor" / folder / f"{APP_ID}{Path(name).suffix}" for name, folder in ICONS)]


def install(home: Path | None = None, command: str | None = None) -> list[Path]:
    """Write the menu entry and the icons for the current user; returns the files written."""
    template = resource_path(DESKTOP_FILE)
    icons = [resource_path(name) for name, _folder in ICONS]
    if template is None or None in icons:
        raise PlaygroundError("The app's icon or menu entry is missing from this installation.",
                              f"looked in {', '.join(str(d) for d in resource_dirs())}")
    entry, *icon_targets = targets(home)
    try:
        for source, target in zip(icons, icon_targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        entry.parent.mkdir(parents=True, exist_ok=True)
        entry.write_text(entry_text(template.read_text(encoding="utf-8"), command or launch_command()),
                         encoding="utf-8")
    except OSError as exc:
        raise PlaygroundError(f"Could not write {exc.filename or entry}: {exc.strerror or exc}.",
                              "check that your home folder is writable") from exc
    return [entry, *icon_targets]


def uninstall(home: Path | None = None) -> list[Path]:
    """Remove what install() wrote; returns the files removed."""
    removed = []
    for path in targets(home):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def cmd_install_desktop(args) -> int:
    """``playground install-desktop [--uninstall]``."""
    if not sys.platform.startswith("linux"):
        raise PlaygroundError("install-desktop sets up a Linux desktop menu entry.",
                              "on Windows and macOS, see packaging/README.md")
    if args.uninstall:
        removed = uninstall()
        print("\n".join(f"removed {p}" for p in removed) or "nothing to remove")
        return 0
    written = install()
    print("\n".join(f"wrote {p}" for p in written))
    print("LLM Playground is in your applications menu now (log out and in if it does not show yet).")
    return 0
