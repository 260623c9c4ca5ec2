"""`playground bench …`: the speed figures of the README, each printed as one JSON object.

One module per subcommand. ``speed`` (train, generate) is headless and Qt-free; ``startup``
launches the app in a subprocess; ``gui_train``, ``gui_generate`` and ``attention`` drive
the real tabs offscreen and import Qt only when they run. They live in the package (not in a
scripts folder) so `playground bench …` works from an installed wheel or a bundled app too.

Every benchmark that creates runs does so under :func:`scratch_home`, so none shows up in the
student's runs list.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_home(prefix: str = "playground-bench-") -> Iterator[Path]:
    """Point PLAYGROUND_HOME at a fresh temporary folder for the block; restore it after."""
    old = os.environ.get("PLAYGROUND_HOME")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.environ["PLAYGROUND_HOME"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("PLAYGROUND_HOME", None)
            else:
                os.environ["PLAYGROUND_HOME"] = old


def load_average() -> list[float] | None:
    """The machine's load (1, 5, 15 min), reported beside GUI timings: a busy machine is slower."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
