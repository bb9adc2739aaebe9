"""Threads of the live edge and server, named where the operating system shows them.

Python (before 3.14) names a thread only for itself: ``top -H``, ``ps -L`` and
``/proc/PID/task/TID/comm`` show every thread as ``python``. The live stages each run in a
thread of their own, so their CPU can only be told apart (by ``experiments/bench_live.py``,
or by an operator) once the kernel knows their names.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
from typing import Callable

PR_SET_NAME = 15
"""``prctl(2)`` option that names the calling thread (at most 15 bytes are kept)."""

_libc = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        _libc = None


def name_this_thread(name: str) -> None:
    """Give the calling thread ``name`` (cut to 15 bytes) in the OS's thread list; nothing
    where the OS has no such call."""
    if _libc is not None:
        _libc.prctl(PR_SET_NAME, name.encode("ascii", "replace")[:15], 0, 0, 0)


def spawn(name: str, target: Callable, *args) -> threading.Thread:
    """Start a daemon thread running ``target(*args)``, named ``name`` for Python and the OS."""

    def run() -> None:
        name_this_thread(name)
        target(*args)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
