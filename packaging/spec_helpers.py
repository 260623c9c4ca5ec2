"""What playground.spec puts in the bundle and leaves out; tests/cli/test_packaging.py checks it.

Plain Python without PyInstaller, so the test suite can check the lists without building.
"""

from __future__ import annotations

from pathlib import Path

# Left out of the bundle: nothing in playground/ imports these (test_packaging checks that), but
# PyInstaller's hooks would follow optional imports into them (pyqtgraph tries every Qt binding
# and OpenGL; torch's hooks reach its test and tooling packages). Each one costs megabytes.
EXCLUDES = [
    # other Qt bindings pyqtgraph would pick up if they happen to be installed
    "PyQt5", "PyQt6", "PySide2",
    # Qt modules neither the app nor pyqtgraph imports (the app: QtCore, QtGui, QtWidgets and the
    # svg icon plugin; pyqtgraph: QtOpenGL and QtOpenGLWidgets always, QtTest when it is there)
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtNetwork",
    "PySide6.QtSql",
    "PySide6.QtDBus", "PySide6.QtDesigner", "PySide6.QtUiTools", "PySide6.QtHelp",
    "PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtCharts",
    "PySide6.QtPdf", "PySide6.QtConcurrent", "PySide6.QtXml",
    # pyqtgraph's 3-D and Jupyter parts
    "pyqtgraph.opengl", "pyqtgraph.jupyter", "OpenGL",
    # test suites and notebooks
    "pytest", "pytestqt", "_pytest", "IPython", "jupyter_client", "ipykernel",
    # (not torch.testing._internal: torch.utils.checkpoint imports it when torch loads)
    "numpy.tests", "numpy.f2py", "tkinter", "matplotlib",
    "playground_tests", "tests",
]


# Files torch's wheel carries that the app never needs (bundle paths, "/" separated): C++ headers
# and cmake files (for building extensions; torch.compile without them falls back to plain
# training with a note, as on any machine without a compiler), test programs and test libraries.
# With EXCLUDES: the bundle went from 876 to 759 MB.
DROP_PREFIXES = (
    "torch/include/", "torch/share/", "torch/test/",  # torch/test/: C++ test programs, 83 MB
    # torch/bin/ minus torch_shm_manager, which torch starts when it loads
    "torch/bin/test_", "torch/bin/FileStoreTest", "torch/bin/HashStoreTest", "torch/bin/TCPStoreTest",
    "torch/bin/protoc",
    "torch/lib/libtorchbind_test.so", "torch/lib/libjitbackend_test.so",
    "torch/lib/libaoti_custom_ops.so", "torch/lib/libbackend_with_compiler.so",
)


def dropped(dest: str) -> bool:
    """True for a bundle file (its path inside the bundle) that DROP_PREFIXES leaves out."""
    return dest.replace("\\", "/").startswith(DROP_PREFIXES)


def playground_modules(root: Path) -> list[str]:
    """Every module and package under ``root/playground``, as dotted names, found on disk.

    The files decide, not an import: PyInstaller's collect_submodules imports each module and
    silently skips one that fails to import in the build venv, and the app imports most of its
    modules lazily (the tabs, the bench harnesses, the child processes' targets), which the
    analysis of the entry script cannot see.
    """
    names = []
    for path in sorted((root / "playground").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names
