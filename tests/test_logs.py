"""vcm.logs: the run line at DEBUG level, and native libraries' lines on fd 2 kept off a
terminal but in a log file (quiet_native_stderr), in a Python process of their own."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys

from vcm import logs

PROGRAM = """
import os, sys
from vcm import logs
logs.configure(verbose={verbose})
logs.quiet_native_stderr()
os.write(2, b"native line\\n")  # as MediaPipe's C++ writes
logs.LOG.info("python log line")
sys.stderr.write("python stderr line\\n")
"""


def run_program(stderr, verbose: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM.format(verbose=verbose)],
                          stdout=subprocess.PIPE, stderr=stderr, timeout=60)


def test_native_lines_go_after_the_python_ones_in_a_log_file():
    completed = run_program(subprocess.PIPE)
    lines = completed.stderr.decode().splitlines()
    assert completed.returncode == 0
    assert [line.split(": ", 1)[-1] for line in lines] == [
        "python log line", "python stderr line", "native line"]


def terminal_stderr(verbose: bool) -> str:
    controller, terminal = pty.openpty()
    try:
        completed = run_program(terminal, verbose=verbose)
        assert completed.returncode == 0
        os.set_blocking(controller, False)
        try:
            return os.read(controller, 65536).decode()
        except BlockingIOError:
            return ""
    finally:
        os.close(controller)
        os.close(terminal)


def test_native_lines_are_dropped_on_a_terminal_unless_verbose():
    quiet = terminal_stderr(verbose=False)
    assert "python log line" in quiet and "python stderr line" in quiet
    assert "native line" not in quiet
    assert "native line" in terminal_stderr(verbose=True)


def test_run_line_is_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="vcm"):
        logs.log_run("detect", video="v.mp4")
    [record] = caplog.records
    assert record.levelno == logging.DEBUG and '"stage": "detect"' in record.getMessage()


def test_nothing_is_rerouted_under_a_replaced_stderr(capsys):
    # pytest has replaced sys.stderr here: fd 2 is left alone.
    before = os.fstat(2)
    logs.quiet_native_stderr()
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    assert logs._native_stderr is None
