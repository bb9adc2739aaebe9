"""Logging set-up, the 'what ran' record every stage writes at its start, and the native
libraries' own lines (MediaPipe's TFLite and absl) kept off the console."""

from __future__ import annotations

import atexit
import json
import logging
import os
import platform
import sys
import tempfile
from importlib import metadata

import vcm

LOG = logging.getLogger("vcm")


def configure(verbose: bool = False) -> None:
    """Log to stderr: stdout stays free for results (JSON) that callers parse."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("vcm")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def log_run(stage: str, **parameters) -> None:
    """Log one line naming the stage, its parameters and the versions it ran with, at DEBUG
    level (``vcm -v``): the run record (``<output>.run.json``) keeps the same facts."""
    record = {
        "stage": stage,
        "vcm": vcm.__version__,
        "python": platform.python_version(),
        **parameters,
    }
    LOG.debug("run %s", json.dumps(record, default=str, sort_keys=True))


_native_stderr: tuple[int, object] | None = None


def quiet_native_stderr() -> None:
    """From now on until exit, send what native code writes to file descriptor 2 to a
    temporary file, while Python's ``sys.stderr`` (logs, progress bars, ``error:`` lines) keeps
    the console.

    MediaPipe's C++ (TFLite's "Created TensorFlow Lite XNNPACK delegate", absl's
    "All log messages before absl::InitializeLog()", "W0000 ... inference_feedback_manager")
    writes there directly; no environment variable silences it. At exit the captured lines are
    written to the real stderr where that is a file (a sweep job's log) or the log level is
    DEBUG (``vcm -v``), and dropped on a terminal. Does nothing where ``sys.stderr`` is not the
    process's own (under pytest or click's test runner), or the second time.
    """
    global _native_stderr
    if _native_stderr is not None or sys.stderr is not sys.__stderr__:
        return
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    console_fd = os.dup(2)
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    console = open(console_fd, "w", buffering=1, encoding=sys.stderr.encoding,
                   errors=sys.stderr.errors)
    for handler in logging.getLogger("vcm").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
            handler.setStream(console)
    sys.stderr = console
    _native_stderr = (console_fd, capture)
    atexit.register(_replay_native_stderr, console, capture)


def _replay_native_stderr(console, capture) -> None:
    shown = not console.isatty() or LOG.isEnabledFor(logging.DEBUG)
    capture.seek(0)
    text = capture.read().decode("utf-8", errors="replace")
    if text and shown:
        console.write(text if text.endswith("\n") else text + "\n")
    console.flush()
    # MediaPipe writes more while its graphs close, after this: to the log, or nowhere.
    if shown:
        os.dup2(console.fileno(), 2)
    else:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
