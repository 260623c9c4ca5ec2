"""User settings: one JSON file with a schema version under the config folder.

Every value is checked on load against its key's rule (``SCHEMA``): a file edited by hand or
written by another version must never stop the app nor be saved back garbled. Good keys are
kept, unknown keys are dropped without a word. A file that is not JSON, or holds a value of
the wrong kind, is moved aside (never deleted) and rewritten with what was good; the app tells
the student once (:func:`take_notices`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
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
    # Lessons (issue 15): what the student did in the window (core.activity), each mission's
    # progress {"started": time, "passed": bool} and answer to "what do you notice?", by mission id.
    "activity": [],
    "mission_progress": {},
    "mission_answers": {},
    "tour_seen": False,
}


class BadValue(ValueError):
    """A settings value of the wrong kind; the message says what was expected."""


def _url(value: Any) -> str:
    if isinstance(value, str) and value.split("://", 1)[0] in ("http", "https", "file") \
            and "://" in value:
        return value
    raise BadValue("a web address (http://, https:// or file://)")


def _optional_spec(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise BadValue("a corpus (\"builtin:NAME\" or a path) or null")


def _int_or_none(value: Any) -> int | None:
    # bool is an int in Python: "vocab_size": true is not a size.
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise BadValue("a positive whole number or null")


def _tokenizer_choice(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    from playground.core.tokenizers import TOKENIZER_KINDS  # only when there is one to check

    expected = (f"{{\"kind\": one of {', '.join(TOKENIZER_KINDS)}, \"vocab_size\": a positive "
                "whole number or null} or null")
    if not isinstance(value, dict) or value.get("kind") not in TOKENIZER_KINDS:
        raise BadValue(expected)
    try:
        return {"kind": value["kind"], "vocab_size": _int_or_none(value.get("vocab_size"))}
    except BadValue:
        raise BadValue(expected) from None


def _spec_list(value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    raise BadValue("a list of corpora (texts in quotes)")


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


def _activity(value: Any) -> list[dict[str, Any]]:
    expected = ("a list of {\"kind\": a text, ...} entries whose values are texts, numbers, "
                "true/false, null or lists of those")
    if not isinstance(value, list):
        raise BadValue(expected)
    for entry in value:
        if not (isinstance(entry, dict) and isinstance(entry.get("kind"), str) and entry["kind"]
                and all(_plain(v) or (isinstance(v, list) and all(_plain(x) for x in v))
                        for v in entry.values())):
            raise BadValue(expected)
    return [dict(entry) for entry in value]


def _mission_progress(value: Any) -> dict[str, dict[str, Any]]:
    expected = "{mission id: {\"started\": a time, \"passed\": true or false}}"
    if not isinstance(value, dict):
        raise BadValue(expected)
    for key, item in value.items():
        if not (isinstance(key, str) and isinstance(item, dict) and set(item) <= {"started", "passed"}
                and isinstance(item.get("passed", False), bool)
                and isinstance(item.get("started", 0), (int, float))
                and not isinstance(item.get("started", 0), bool)):
            raise BadValue(expected)
    return {k: dict(v) for k, v in value.items()}


def _mission_answers(value: Any) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise BadValue("{mission id: the answer, a text}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise BadValue("true or false")


# One rule per key: returns the value (normalised) or raises BadValue.
SCHEMA: dict[str, Callable[[Any], Any]] = {
    "tiny_shakespeare_url": _url,
    "last_corpus": _optional_spec,
    "last_tokenizer": _tokenizer_choice,
    "recent_corpora": _spec_list,
    "activity": _activity,
    "mission_progress": _mission_progress,
    "mission_answers": _mission_answers,
    "tour_seen": _bool,
}
assert SCHEMA.keys() == DEFAULTS.keys()

_notices: list[str] = []  # what the student has not been told yet
_lock = threading.Lock()  # the GUI thread and a download worker may both load at start


def settings_path() -> Path:
    return paths.config_dir() / "settings.json"


def take_notices() -> list[str]:
    """What went wrong with the settings file since the last call (each said once)."""
    with _lock:
        taken = list(_notices)
        _notices.clear()
    return taken


def validate(stored: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the good values of known keys, one line per bad value). Unknown keys are dropped."""
    good: dict[str, Any] = {}
    problems = []
    for key, rule in SCHEMA.items():
        if key not in stored:
            continue
        try:
            good[key] = rule(stored[key])
        except BadValue as exc:
            problems.append(f"{key}: expected {exc}, found {json.dumps(stored[key])[:60]}")
    return good, problems


def _set_aside(path: Path, why: str) -> Path | None:
    """Move a bad settings file out of the way (kept for the student to look at)."""
    aside = path.with_name(f"settings.corrupt-{int(time.time())}.json")
    try:
        path.replace(aside)
    except OSError:  # already moved by another thread, or a read-only folder: defaults anyway
        return None
    _notices.append(f"Your settings file could not be used as it was ({why}). The app started "
                    f"with the default for those settings; the old file was kept as {aside}.")
    return aside


def load() -> dict[str, Any]:
    path = settings_path()
    values = dict(DEFAULTS)
    with _lock:
        if not path.exists():
            return values
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(stored, dict) or stored.get("schema_version") != SCHEMA_VERSION:
                raise ValueError("unknown settings format")
        except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
            _set_aside(path, f"not a settings file: {exc}")
            return values
        good, problems = validate(stored)
        values.update(good)
        if problems and _set_aside(path, "; ".join(problems)) is not None:
            _write(values)  # keep what was good
    return values


def _write(values: dict[str, Any]) -> None:
    data = {k: values.get(k, v) for k, v in DEFAULTS.items()}
    data["schema_version"] = SCHEMA_VERSION
    try:
        atomic.write_json(settings_path(), data)
    except OSError:  # a full disk or read-only folder: the settings are only a convenience
        pass


def save(values: dict[str, Any]) -> None:
    """Write the known keys; a value of the wrong kind is a bug in the caller (BadValue)."""
    good, problems = validate({k: values.get(k, v) for k, v in DEFAULTS.items()})
    if problems:
        raise BadValue("; ".join(problems))
    with _lock:
        _write(good)


def get(key: str) -> Any:
    return load()[key]


def update(**changes: Any) -> dict[str, Any]:
    values = load()
    values.update(changes)
    save(values)
    return values
