"""What the student did in the app, recorded for the missions' checks (Qt-free).

A mission checks the student's own results: most of them are in the run folders (run.json,
metrics.csv), but some are things done in the window: "opened the merges player", "switched a
head off", "scored a training line and a validation line". The window records those here with
one call where the thing happens::

    activity.record(activity.LOGIT_LENS, run="tiny-copy")

Each entry is a small dict ``{"kind": ..., "at": unix time, **details}`` kept in the user's
settings (key ``activity``), so progress survives a restart. The same action with the same
details is kept once (its first time): the list stays short however often a view is opened,
and a busy signal (one per generated batch) costs no disk write after its first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# The kinds the missions read; the words say what the student did (the panel shows them).
BPE_TRAINED = "bpe_trained"  # vocab_size
MERGES_PLAYER = "merges_player"  # vocab_size
RUNS_OVERLAID = "runs_overlaid"  # runs: names on one loss plot; bits_per_char: the units shown
RUNS_COMPARED = "runs_compared"  # runs: the Generate tab's "Compare two models"
ABLATION = "ablation"  # run, parts: what was switched off
LOGIT_LENS = "logit_lens"  # run
LOSS_STEP = "loss_step"  # run: "The math" scrolled to step 17, the loss of one token
GENERATED = "generated"  # run, temperature, top_k, top_p, greedy, step_mode
PICKED_TOKEN = "picked_token"  # run: a token chosen by hand in step mode
SCORED = "scored"  # run, train_vs_val: True for "Train vs validation", train_loss, val_loss
POSITIONS_COMPARED = "positions_compared"  # corpus, positionals, p_last, p_last_shuffled

WORDS = {
    BPE_TRAINED: "trained a BPE tokenizer",
    MERGES_PLAYER: "opened the BPE merges player",
    RUNS_OVERLAID: "overlaid runs on the loss plot",
    RUNS_COMPARED: "compared two models on the Generate tab",
    ABLATION: "switched part of a model off",
    LOGIT_LENS: "opened the logit lens",
    LOSS_STEP: "opened the loss step of the math",
    GENERATED: "generated text",
    PICKED_TOKEN: "picked a token by hand",
    SCORED: "scored a text",
    POSITIONS_COMPARED: "compared positions none / learned / sinusoidal",
}

MAX_ENTRIES = 400  # the oldest go first; a mission needs a handful
SCALARS = (str, int, float, bool, type(None))

_listeners: list[Callable[[dict], None]] = []
# (settings file, the last entry recorded there): a repeat costs no settings read.
_last: tuple[str, dict] | None = None


def _plain(value: Any) -> Any:
    """A JSON-plain value: scalars and lists of scalars (tuples become lists)."""
    if isinstance(value, SCALARS):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, SCALARS) for v in value):
        return list(value)
    raise TypeError(f"an activity detail must be a scalar or a list of scalars, not {value!r}")


def same(a: dict, b: dict) -> bool:
    """The same action with the same details (the time does not count)."""
    return {k: v for k, v in a.items() if k != "at"} == {k: v for k, v in b.items() if k != "at"}


def record(kind: str, **details: Any) -> bool:
    """Keep that the student did ``kind`` (with ``details``); False when it was already kept.

    Listeners (the lessons panel) hear of a new entry at once, so a step turns green as the
    student does it."""
    global _last
    from playground import settings  # not at import: the core stays cheap to import

    entry = {"kind": str(kind), **{k: _plain(v) for k, v in details.items()}}
    where = str(settings.settings_path())
    if _last is not None and _last[0] == where and same(_last[1], entry):
        return False
    _last = (where, dict(entry))
    entries = list(settings.get("activity"))
    if any(same(e, entry) for e in entries):
        return False
    entry["at"] = round(time.time(), 3)
    entries.append(entry)
    settings.update(activity=entries[-MAX_ENTRIES:])
    for listener in list(_listeners):
        listener(entry)
    return True


def entries() -> list[dict]:
    """Everything recorded so far, oldest first."""
    from playground import settings

    return list(settings.get("activity"))


def add_listener(fn: Callable[[dict], None]) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def remove_listener(fn: Callable[[dict], None]) -> None:
    if fn in _listeners:
        _listeners.remove(fn)


def of_kind(found: list[dict], kind: str, **match: Any) -> list[dict]:
    """The entries of ``kind`` whose details include ``match``."""
    return [e for e in found if e.get("kind") == kind and all(e.get(k) == v for k, v in match.items())]


def describe(entry: dict) -> str:
    """One line for an entry: what was done, and on which run."""
    words = WORDS.get(entry.get("kind", ""), str(entry.get("kind")))
    run = entry.get("run")
    return f"{words} ({run})" if run else words
