"""A guard against a reference-counting bug in some PySide6 releases.

PySide6 6.12.0 drops one reference to ``True`` on every ``Signal.emit`` from
Python, and one to ``None`` on every C++ signal delivered to a Python slot
(and when an invalid ``QVariant`` is returned to Python). After a few
thousand signals the count of ``True`` or ``None`` reaches zero and CPython
aborts ("bool_dealloc: deallocating True or False"), typically at exit.

:func:`guard` measures whether the running PySide6 leaks and, if so, raises
the counts of the three singletons far out of reach, which is what CPython
3.12 does for every build anyway (PEP 683, immortal objects). Without the
bug, it does nothing. The real fix is a PySide6 without the bug; this keeps
the console (and its test suite) alive meanwhile.
"""

from __future__ import annotations

import ctypes
import logging
import sys

__all__ = ["guard", "leaks"]

log = logging.getLogger("frontdesk.console.ui")

_BALLAST = 1 << 40
_applied = False


def leaks() -> bool:
    """True when emitting a signal from Python loses references to True or None."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal(int)

    probe = _Probe()
    probe.fired.connect(lambda value: None)
    before = (sys.getrefcount(True), sys.getrefcount(None))
    for _ in range(20):
        probe.fired.emit(1)
    after = (sys.getrefcount(True), sys.getrefcount(None))
    return after[0] < before[0] - 10 or after[1] < before[1] - 10


def guard() -> bool:
    """Apply the workaround if this PySide6 leaks; True when it was applied."""
    global _applied
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not leaks():
        return False
    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object (Py_ssize_t).
        ctypes.c_ssize_t.from_address(id(obj)).value += _BALLAST
    _applied = True
    import PySide6

    log.warning("PySide6 %s loses references on signals; applied a workaround", PySide6.__version__)
    return True
