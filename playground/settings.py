"""User settings: one JSON file with a schema version under the config folder.

A corrupt or unreadable file is moved aside (never deleted) and defaults are used, so a
bad edit can't stop the app from starting.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playground import paths
from playground.core import atomic

SCHEMA_VERSION = 1
TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)

DEFAULTS: dict[str, Any] = {
    "tiny_shakespeare_url": TINY_SHAKESPEARE_URL,
    "last_corpus": None,  # a corpus spec: "builtin:NAME" or a path
    "last_tokenizer": None,  # {"kind": ..., "vocab_size": ...}
    "recent_corpora": [],
}


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def load() -> dict[str, Any]:
    path = settings_path()
    values = dict(DEFAULTS)
    if not path.exists():
        return values
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get("schema_version") != SCHEMA_VERSION:
            raise ValueError("unknown settings format")
    except (OSError, ValueError):
        path.replace(path.with_name(f"settings.corrupt-{int(time.time())}.json"))
        return values
    values.update({k: v for k, v in stored.items() if k in DEFAULTS})
    return values


def save(values: dict[str, Any]) -> None:
    data = {k: values.get(k, v) for k, v in DEFAULTS.items()}
    data["schema_version"] = SCHEMA_VERSION
    atomic.write_json(settings_path(), data)


def get(key: str) -> Any:
    return load()[key]


def update(**changes: Any) -> dict[str, Any]:
    values = load()
    values.update(changes)
    save(values)
    return values
