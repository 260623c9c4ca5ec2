"""Loaded checkpoints shared by every view that reads a run's weights (Attention, Generate).

Keyed by (run folder, step); a cached model is used only while its checkpoint file is the one
it was loaded from (same modification time), so a run that trained further is reloaded. Jobs
pass a path and a step, never a ``Run`` the GUI thread is also reading. Workers may call
``get`` from any thread: a lock keeps the table consistent, and loading happens outside it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.checkpoint import weights_file

DEFAULT_SIZE = 6  # models kept: a few checkpoints of one run, or the last step of a few runs


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # torch.nn.Module in eval mode, on the CPU
    tokenizer: Any
    run_path: str
    step: int | None  # None: the run's latest weights


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


class ModelCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, int | None], tuple[int, LoadedModel]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # checkpoints read from disk (tests count reloads with it)

    @staticmethod
    def _key(run_path: str | os.PathLike, step: int | None) -> tuple[str, int | None]:
        return str(Path(run_path).resolve()), None if step is None else int(step)

    def peek(self, run_path: str | os.PathLike, step: int | None = None) -> LoadedModel | None:
        """The cached model if it is still current; never loads (safe on the GUI thread)."""
        key = self._key(run_path, step)
        with self._lock:
            item = self._items.get(key)
        if item is None or item[0] != _stamp(weights_file(Path(key[0]), step)):
            return None
        return item[1]

    def get(self, run_path: str | os.PathLike, step: int | None = None) -> LoadedModel:
        """The model of ``run_path`` at ``step`` (None: latest), loading it when needed (a worker's job)."""
        from playground.core.checkpoint import Run

        key = self._key(run_path, step)
        stamp = _stamp(weights_file(Path(key[0]), step))
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == stamp:
                self._items.move_to_end(key)
                return item[1]
        run = Run(key[0])
        loaded = LoadedModel(run.load_model(step=step, device="cpu"), run.tokenizer, key[0], key[1])
        with self._lock:
            self.loads += 1
            self._items[key] = (stamp, loaded)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return loaded

    def forget(self, run_path: str | os.PathLike | None = None) -> None:
        """Drop one run's models (renamed, deleted), or all of them."""
        with self._lock:
            if run_path is None:
                self._items.clear()
                return
            root = str(Path(run_path).resolve())
            for key in [k for k in self._items if k[0] == root]:
                del self._items[key]


MODELS = ModelCache()  # the one cache of the app's process
