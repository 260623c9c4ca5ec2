"""The only module that knows where files live.

``PLAYGROUND_HOME``, when set, replaces every user folder with ``data/``, ``config/``,
``cache/`` and ``logs/`` under it (tests always set it, so they never touch the real home).
Otherwise the platformdirs folders for "llm-playground" are used.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "llm-playground"


def _home() -> Path | None:
    home = os.environ.get("PLAYGROUND_HOME")
    return Path(home).expanduser() if home else None


def _dir(sub: str, platform_attr: str) -> Path:
    home = _home()
    if home is not None:
        path = home / sub
    else:
        import platformdirs

        path = Path(getattr(platformdirs, platform_attr)(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    return _dir("data", "user_data_dir")


def config_dir() -> Path:
    return _dir("config", "user_config_dir")


def cache_dir() -> Path:
    return _dir("cache", "user_cache_dir")


def log_dir() -> Path:
    return _dir("logs", "user_log_dir")


def runs_dir() -> Path:
    path = data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def trash_dir() -> Path:
    path = data_dir() / "trash"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _point_env(var: str, path: Path) -> Path:
    """Set a library's cache variable to our folder: always under PLAYGROUND_HOME (nothing may
    land outside it), otherwise only when the user has not chosen one. Returns the one in use."""
    if _home() is not None or var not in os.environ:
        os.environ[var] = str(path)
    return Path(os.environ[var])


def configure_tiktoken_cache() -> Path:
    """Point tiktoken's download cache into our cache folder (read by tiktoken at load time)."""
    path = cache_dir() / "tiktoken"
    path.mkdir(parents=True, exist_ok=True)
    return _point_env("TIKTOKEN_CACHE_DIR", path)


def configure_compile_cache() -> Path:
    """Keep torch.compile's generated code in our cache folder instead of the system temp dir,
    so a second run starts in seconds and nothing is written outside PLAYGROUND_HOME."""
    path = cache_dir() / "torch-compile"
    path.mkdir(parents=True, exist_ok=True)
    _point_env("TRITON_CACHE_DIR", path / "triton")
    return _point_env("TORCHINDUCTOR_CACHE_DIR", path)
