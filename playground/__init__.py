"""LLM Playground: train a small GPT on your own text and look inside it."""

from __future__ import annotations

DIST_NAME = "llm-playground"


def _version() -> str:
    """The version has one home, pyproject.toml's ``[project] version``.

    In a source checkout (editable install or none) pyproject.toml sits next to the package and
    is read directly: an editable install's metadata keeps the version of its last ``pip
    install``. Installed from a wheel, or frozen with its metadata, the package metadata says it.
    """
    import re
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        text = ""
    project = re.search(r"^\[project\]$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    if project and re.search(rf'^name\s*=\s*"{DIST_NAME}"', project.group(1), re.MULTILINE):
        found = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.MULTILINE)
        if found:
            return found.group(1)
    from importlib import metadata

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
