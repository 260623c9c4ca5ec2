"""pyqtgraph, configured once for the whole app (white background, antialiasing).

Importing pyqtgraph takes about half a second, so plot widgets are created after the window
is visible and go through :func:`pyqtgraph` here instead of importing it at module level.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def pyqtgraph():
    import pyqtgraph as pg

    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    return pg
