"""Every package under playground/ is in pyproject's list, so a wheel or bundle has all of them."""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_every_subpackage_is_listed_in_pyproject():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "playground").rglob("__init__.py")}
    assert "playground.bench" in on_disk
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {"playground.resources"}  # mapped from resources/


# ----------------------------------------------------------------------------- the PyInstaller spec

sys.path.insert(0, str(ROOT / "packaging"))
import spec_helpers  # noqa: E402  (packaging/spec_helpers.py: what playground.spec bundles)


@functools.cache
def _parsed() -> list[tuple[Path, ast.Module]]:
    files = [*(ROOT / "playground").rglob("*.py"), ROOT / "packaging" / "launch.py"]
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in files]


def _module_name_in_string(node: ast.Constant, calls: set[int]) -> bool:
    """A string that names a module for a lazy import: any string given to import_module(), and
    dotted names in a subpackage elsewhere ("playground.gui.tabs.corpus_tab" in the tabs' list;
    not "playground.log", a file name)."""
    if not isinstance(node.value, str) or not re.fullmatch(r"playground(\.[a-z_][a-z0-9_]*)+", node.value):
        return False
    return id(node) in calls or node.value.count(".") >= 2


def _imported_playground_modules() -> dict[str, str]:
    """Every playground module some code imports, by ``import``, ``from ... import`` (relative
    too), or by name in a string (importlib.import_module, the tabs' list): {module: where}."""
    on_disk = set(spec_helpers.playground_modules(ROOT))
    found: dict[str, str] = {}
    for path, tree in _parsed():
        calls = {id(arg) for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
                 for arg in node.args}
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        if path.name == "__init__.py":
            package = ".".join(path.relative_to(ROOT).parts[:-1])
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                # `from playground.gui import smoke`: smoke is a module when a file says so
                names = [base, *(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in on_disk)]
            elif isinstance(node, ast.Constant) and _module_name_in_string(node, calls):
                names = [node.value]
            for name in names:
                if name == "playground" or name.startswith("playground."):
                    found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_the_spec_bundles_every_module_that_is_imported_anywhere():
    """The issue's bug: lazily imported tabs were missing from the bundle. The spec takes every
    module on disk (spec_helpers.playground_modules), so no import can be forgotten."""
    spec = (ROOT / "packaging" / "playground.spec").read_text(encoding="utf-8")
    assert "hiddenimports = sorted(set(playground_modules(root))" in spec
    assert "hiddenimports=hiddenimports" in spec and "excludes=EXCLUDES" in spec
    bundled = set(spec_helpers.playground_modules(ROOT))
    imported = _imported_playground_modules()
    assert {"playground.gui.tabs.corpus_tab", "playground.gui.smoke", "playground.gui.training_process",
            "playground.core.builtin_corpora"} <= imported.keys()
    missing = {name: where for name, where in imported.items() if name not in bundled}
    assert missing == {}, "imported, but no such module on disk"
    assert len(bundled) == len(list((ROOT / "playground").rglob("*.py")))


def test_the_spec_excludes_nothing_the_app_imports():
    excluded = tuple(spec_helpers.EXCLUDES)
    used = set()
    for _path, tree in _parsed():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                used |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                used |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    hit = {name for name in used if any(name == ex or name.startswith(ex + ".") for ex in excluded)}
    assert hit == set()
    assert "PySide6.QtWidgets" in used and "torch" in used  # the walk saw real imports


# ----------------------------------------------------------------------------- version, changelog


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_version_has_one_home_and_the_changelog_names_it(capsys):
    import tomllib

    import playground
    from playground import cli

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert playground.__version__ == version
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"LLM Playground {version}"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = next(line for line in changelog.splitlines() if line.startswith("## "))
    assert first.startswith(f"## {version}") or first.startswith("## Unreleased"), first
    assert f"## {version}" in changelog
    # No other file states the version (the About box and error log read __version__).
    stated = [p for p in (ROOT / "playground").rglob("*.py") if f'"{version}"' in p.read_text(encoding="utf-8")]
    assert stated == []


# ----------------------------------------------------------------------------- install-desktop


def test_install_desktop_writes_the_entry_and_icons_for_this_user_and_removes_them(tmp_path, monkeypatch, capsys):
    from playground import cli, desktop

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    if not sys.platform.startswith("linux"):
        assert cli.main(["install-desktop"]) == 2
        return
    assert cli.main(["install-desktop"]) == 0
    entry = tmp_path / "share" / "applications" / "llm-playground.desktop"
    svg = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "llm-playground.svg"
    png = tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / "llm-playground.png"
    assert svg.read_bytes() == (ROOT / "resources" / "icon.svg").read_bytes()
    assert png.read_bytes() == (ROOT / "resources" / "icon.png").read_bytes()
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]" and "Icon=llm-playground" in lines
    (exec_line,) = [line for line in lines if line.startswith("Exec=")]
    assert exec_line == f"Exec={desktop.launch_command()}"
    assert f"wrote {entry}" in capsys.readouterr().out
    assert cli.main(["install-desktop", "--uninstall"]) == 0
    assert not entry.exists() and not svg.exists() and not png.exists()


def test_desktop_exec_quoting_follows_the_specification():
    from playground import desktop

    assert desktop._quote("/opt/llm-playground/llm-playground") == "/opt/llm-playground/llm-playground"
    assert desktop._quote("/home/a b/x") == '"/home/a b/x"'
    assert desktop._quote('/x/"$`\\%y') == '"/x/\\"\\$\\`\\\\%%y"'
    text = desktop.entry_text("[Desktop Entry]\nExec=llm-playground\nIcon=x\n", '"/a b/run"')
    assert text == '[Desktop Entry]\nExec="/a b/run"\nIcon=x\n'


def test_the_spec_excludes_nothing_the_window_imports_on_start():
    """The app's own imports are not enough: pyqtgraph imports QtOpenGL whatever the app uses,
    torch imports torch.testing._internal (bundles without them stopped at the first plot, and
    could not load torch). The window's modules, every tab's, pyqtgraph and the trainer (torch)
    are imported in a fresh interpreter; none of what they load may be an excluded module."""
    import subprocess

    code = ("import sys; from playground.gui import app; from playground.gui.tabs import tab_classes; "
            "tab_classes(); from playground.gui.widgets.plots import pyqtgraph; pyqtgraph(); "
            "import playground.core.train; print('\\n'.join(sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(proc.stdout.split())
    assert {"PySide6.QtWidgets", "pyqtgraph", "PySide6.QtOpenGL", "torch.testing._internal"} <= loaded
    excluded = tuple(spec_helpers.EXCLUDES)
    hit = {name for name in loaded if any(name == ex or name.startswith(ex + ".") for ex in excluded)}
    assert hit == set()


def test_the_spec_drops_torchs_headers_and_test_files_only():
    assert spec_helpers.dropped("torch/include/ATen/Tensor.h") and spec_helpers.dropped("torch\\bin\\protoc")
    assert spec_helpers.dropped("torch/lib/libtorchbind_test.so") and spec_helpers.dropped("torch/bin/test_jit")
    assert spec_helpers.dropped("torch/test/Dict_test")
    for kept in ("torch/bin/torch_shm_manager", "torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so",
                 "torch/lib/libc10.so", "resources/icon.svg", "tiktoken_ext/data/cl100k_base.tiktoken",
                 "torch/_inductor/x.py"):
        assert not spec_helpers.dropped(kept), kept
