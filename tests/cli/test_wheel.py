"""The wheel a student would `pip install`: it holds every module and the resources, and once
installed in a fresh venv `playground --version` and the full `playground --smoke` work.

The fresh venv borrows this venv's site-packages (torch, PySide6...) through a .pth line rather
than downloading 200 MB of torch again: only the wheel's own files are installed into it, and
the test checks that `playground` is imported from there, not from this checkout. This is the
suite's one full `--smoke` run (every tab, a Tiny model trained in the child process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("wheel")  # one worker builds the wheel once for both tests
sys.path.insert(0, str(ROOT / "packaging"))
from spec_helpers import playground_modules  # noqa: E402


def _pyproject_version() -> str:
    import playground

    return playground.__version__  # read from pyproject.toml in a checkout


def _setuptools_builds_wheels() -> bool:
    """setuptools >= 70.1 builds wheels by itself; older needs the `wheel` package."""
    try:
        import setuptools
    except ImportError:
        return False
    try:
        import wheel  # noqa: F401
        return True
    except ImportError:
        return tuple(int(p) for p in setuptools.__version__.split(".")[:2]) >= (70, 1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a clean copy of the checkout (setuptools' build/ folder in the
    checkout may hold files of modules deleted since, which would end up in the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("playground", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    # Without build isolation when this venv can build wheels: no download, a few seconds.
    flags = ["--no-build-isolation"] if _setuptools_builds_wheels() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *flags, "-w", str(tmp / "out"),
                           str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = (tmp / "out").glob("llm_playground-*.whl")
    return built


def test_the_wheel_holds_every_module_the_resources_and_the_version(wheel):
    version = _pyproject_version()
    assert wheel.name.startswith(f"llm_playground-{version}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    paths = [name.replace(".", "/") for name in playground_modules(ROOT)]
    expected = {f"{p}/__init__.py" if (ROOT / p).is_dir() else f"{p}.py" for p in paths}
    assert "playground/gui/tabs/corpus_tab.py" in expected and "playground/core/builtin_corpora.py" in expected
    assert expected - names == set(), "modules missing from the wheel"
    for resource in ("icon.svg", "icon.png", "llm-playground.desktop"):
        assert f"playground/resources/{resource}" in names
    metadata = zipfile.ZipFile(wheel).read(f"llm_playground-{version}.dist-info/METADATA").decode()
    assert f"\nVersion: {version}\n" in metadata
    scripts = zipfile.ZipFile(wheel).read(f"llm_playground-{version}.dist-info/entry_points.txt").decode()
    assert "playground = playground.cli:main" in scripts and "llm-playground = playground.cli:main_gui" in scripts


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new venv with only the wheel installed in it; the dependencies come from this venv."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Appended after the venv's own site-packages: the wheel's playground comes first, and this
    # venv's .pth files (among them the editable install's finder) are not run from there.
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(purelib, "borrowed-dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", PLAYGROUND_HOME=str(home))
    return env


@pytest.mark.skipif(os.name == "nt", reason="the venv layout below is the POSIX one")
def test_installed_wheel_runs_version_and_the_full_smoke_check(fresh_venv, tmp_path):
    bin_dir = fresh_venv / "bin"
    env = _env(tmp_path / "home")
    where = subprocess.run([str(bin_dir / "python"), "-c", "import playground; print(playground.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(fresh_venv), where.stdout + where.stderr

    version = subprocess.run([str(bin_dir / "playground"), "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"LLM Playground {_pyproject_version()}"

    smoke = subprocess.run([str(bin_dir / "playground"), "--smoke"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert "Traceback" not in smoke.stderr
    assert "Generate tab wrote" in smoke.stderr and smoke.stderr.rstrip().endswith("passed")
    # The smoke check's training went to a scratch home: the user's home has no run.
    runs = tmp_path / "home" / "data" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
