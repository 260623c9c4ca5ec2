"""Work that runs in a child process when the text is big. No Qt here (the child never needs it).

Why: CPython holds the GIL during one long C call, and the core's tokenizer training makes such
calls on the whole text (``re.findall`` and ``set`` on 50 MB take 10 s and 1 s). In a worker
*thread* that froze the window for that long (measured); in a child process the window stays
live. Small texts stay in a thread: starting a process costs about half a second.
The Model tab's positions experiment always runs here: the window's process never trains.

Every function takes plain arguments, a ``progress(done, total)`` callback, and returns
JSON-able data (tokenizers as ``to_json()`` dicts).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from playground.errors import Cancelled, PlaygroundError
from playground.gui import child_process

BIG_TEXT = 4_000_000  # characters; above this, training runs in a child process


# ``text`` below is a str or a core.corpus.Corpus: a big file's Corpus pickles without its text
# and is read again, chunk by chunk, in the child.


def train_corpus_tokenizers(text: Any, word_cap: int, progress=None) -> tuple[dict, dict]:
    from playground.core import tokenizers as tk

    char = tk.CharTokenizer.train(text)
    word = tk.WordTokenizer.train(text, word_cap)
    return char.to_json(), word.to_json()


def train_word(text: Any, word_cap: int, progress=None) -> dict:
    from playground.core import tokenizers as tk

    return tk.WordTokenizer.train(text, word_cap).to_json()


def train_bpe(text: Any, vocab_size: int, progress=None) -> dict:
    from playground.core import tokenizers as tk

    return tk.BPETokenizer.train(text, vocab_size, progress=progress).to_json()


def positions_experiment(text: str, tokenizer_json: dict, iters: int, progress=None) -> dict:
    """core.positions_experiment.compare for the Model tab's "Why positions matter" dialog:
    ``{"curves": {positional: [(step, val loss), ...]}, "shuffles": [ShuffleScore as a dict]}``."""
    import dataclasses

    import torch

    from playground.core import positions_experiment as pe
    from playground.core import tokenizers as tk

    # Its 64-wide one-layer models are too small to split across threads: measured on 2 busy
    # cores, 100 steps took 4 s on one thread and 32 s on two (OpenMP waits for the other core).
    torch.set_num_threads(1)
    result = pe.compare(text, tk.tokenizer_from_json(tokenizer_json), iters, progress=progress)
    return {"curves": result.curves, "shuffles": [dataclasses.asdict(s) for s in result.shuffles]}


# ----------------------------------------------------------------------------- the child


def _child_main(conn, lifeline, parent_pid: int, fn: Callable, args: tuple) -> None:
    # The window is gone (crashed, killed): nobody wants the result, stop computing at once.
    threading.Thread(target=child_process.watch_parent, args=(lifeline, parent_pid, lambda: os._exit(1)),
                     daemon=True, name="parent-watchdog").start()
    last = [0.0]

    def progress(done: int, total: int | None = None) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.05 or (total is not None and done >= total):
            last[0] = now
            conn.send(("progress", int(done), -1 if total is None else int(total)))

    try:
        result = fn(*args, progress=progress)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        hint = getattr(exc, "hint", None)
        conn.send(("error", type(exc), str(getattr(exc, "message", exc)), hint,
                   traceback.format_exc()))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


def run_in_child(fn: Callable, *args: Any, progress=None, cancel=None, poll_s: float = 0.05) -> Any:
    """Call ``fn(*args, progress=...)`` in a fresh child process and return its result.

    Meant to be called from a worker thread (it blocks, without holding the GIL). ``cancel``
    (a threading.Event) terminates the child; an error in the child is raised here again
    (a PlaygroundError keeps its message and hint).
    """

    def keep_going() -> bool:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        return True

    child = child_process.ChildProcess(_child_main, os.getpid(), fn, args, name=f"playground-{fn.__name__}")
    try:
        for message in child.messages(keep_going, poll_s):
            kind = message[0]
            if kind == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif kind == "result":
                return message[1]
            else:
                _kind, cls, text, hint, details = message
                if isinstance(cls, type) and issubclass(cls, PlaygroundError):
                    raise cls(text, hint)
                raise RuntimeError(f"{cls.__name__}: {text}\n(in the helper process)\n{details}")
    finally:
        child.close()  # no grace: the answer is in (or unwanted), the child may go
    raise PlaygroundError(
        f"The helper process ended without an answer (exit code {child.exitcode}).",
        "The computer may be out of memory; try a smaller text.")
