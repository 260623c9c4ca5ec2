"""The desktop app (PySide6 + pyqtgraph). Nothing here is imported by ``playground.core``.

Importing this package applies one workaround, see :func:`_guard_bool_refcount`.
"""

from __future__ import annotations

import sys


def _guard_bool_refcount() -> bool:
    """Keep PySide6's ``Signal.emit()`` from eventually crashing the interpreter.

    Measured with PySide6 6.12 on CPython 3.11: every ``SignalInstance.emit(...)`` returns
    ``True`` without taking a new reference, so each emit lowers ``True``'s reference count by
    one. After a few thousand emits (progress updates, a test session) the count reaches zero
    and CPython aborts with "Fatal Python error: bool_dealloc". Python 3.12+ makes ``True``
    immortal, so nothing happens there. The guard detects the leak with one emit and, when
    present, gives ``True`` a reference count that can never run out.
    """
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    import ctypes

    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    probe.ping.emit()
    leaked = before - sys.getrefcount(True)
    if leaked <= 0:
        return False
    # ob_refcnt is the first field of every CPython object.
    ctypes.c_ssize_t.from_address(id(True)).value += 1 << 40
    return True


BOOL_REFCOUNT_GUARDED = _guard_bool_refcount()
