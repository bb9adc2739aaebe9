"""Termination signals as exceptions, so every stage cleans up the same way on Ctrl-C,
``timeout``, Slurm's ``scancel`` (SIGTERM) or a closed terminal (SIGHUP).

The exception unwinds through :func:`vcm.fileio.atomic_output` (temporaries removed),
:func:`vcm.ffmpeg.run_command` (the child encoder or decoder killed and reaped) and the CLI's
error handler (outputs already in place removed, exit code 128 + the signal number).
"""

from __future__ import annotations

import signal
import threading


class Interrupted(BaseException):
    """Raised in the main thread when the process receives a termination signal.

    A ``BaseException`` (like ``KeyboardInterrupt``), so ``except Exception`` does not swallow it.
    """

    def __init__(self, number: int) -> None:
        self.number = number
        self.name = signal.Signals(number).name
        super().__init__(self.name)


HANDLED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _raise(number: int, frame) -> None:
    # Ignore further signals while unwinding: a second SIGTERM must not interrupt clean-up.
    for handled in HANDLED:
        signal.signal(handled, signal.SIG_IGN)
    raise Interrupted(number)


def stop_on_termination() -> None:
    """Make SIGTERM, SIGHUP and SIGINT raise :class:`Interrupted` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in HANDLED:
        signal.signal(number, _raise)
