"""playground.core must never import Qt: the CLI and the training child process rely on it."""

import subprocess
import sys
import textwrap
from pathlib import Path

import playground.core

CORE_DIR = Path(playground.core.__file__).parent


def core_modules():
    return sorted(f"playground.core.{p.stem}" for p in CORE_DIR.glob("*.py") if p.stem != "__init__")


def test_core_has_modules():
    assert {"playground.core.model", "playground.core.corpus"} <= set(core_modules())


def test_every_core_module_imports_with_qt_blocked():
    # A fresh interpreter in which importing PySide6 (or pyqtgraph) raises ImportError.
    script = textwrap.dedent(
        f"""
        import importlib, sys
        for name in ("PySide6", "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "pyqtgraph"):
            sys.modules[name] = None
        for mod in {core_modules()!r}:
            importlib.import_module(mod)
        leaked = [m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph")) and sys.modules[m] is not None]
        assert not leaked, leaked
        print("ok", len({core_modules()!r}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")
