"""Locating ffmpeg and running external commands (encoders, decoders) with a kept log."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from vcm.errors import VcmError

LOG = logging.getLogger(__name__)
LOG_TAIL_LINES = 20

# Matroska otherwise gets a random segment UID, the date and the muxer's version: with these
# output options, equal frames give equal bytes.
BITEXACT_MATROSKA = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]


def ffmpeg_executable() -> str:
    """The ffmpeg to use: ``$VCM_FFMPEG`` if set, else the static build inside imageio-ffmpeg.

    ``$VCM_FFMPEG`` is a path or a name on ``PATH``; one that names no executable file raises
    :class:`VcmError`."""
    configured = os.environ.get("VCM_FFMPEG")
    if configured:
        found = shutil.which(configured)
        if found is None or not os.path.isfile(found):
            raise VcmError(f"VCM_FFMPEG={configured}: not an executable file (unset it to use "
                           "the ffmpeg that comes with imageio-ffmpeg)")
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version``, for run logs and manifests."""
    executable = ffmpeg_executable()
    try:
        completed = subprocess.run(
            [executable, "-hide_banner", "-version"], capture_output=True, text=True,
            errors="replace",
        )
    except OSError as error:
        raise VcmError(f"{executable}: cannot run it ({error.strerror})") from None
    return completed.stdout.splitlines()[0] if completed.stdout else "unknown"


@dataclass(frozen=True)
class CommandResult:
    """One finished external command: what ran, how long it took (s) and where its log is."""

    argv: list[str]
    seconds: float
    log_path: Path | None


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_command(
    argv: list[str],
    *,
    log_path: Path | None = None,
    frames: Iterable[np.ndarray] | None = None,
    what: str = "command",
) -> CommandResult:
    """Run ``argv``; stream ``frames`` (uint8 arrays, written raw) into its stdin if given.

    stdout and stderr go to ``log_path`` (appended, after a line with the command itself), or
    to a buffer. A non-zero exit raises :class:`VcmError` with the tail of the log.
    """
    LOG.info("running %s", shlex.join(argv))
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "a", encoding="utf-8", errors="replace")
    else:
        import tempfile

        log_file = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
    start = time.perf_counter()
    with log_file:
        log_file.write(f"$ {shlex.join(argv)}\n")
        log_file.flush()
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if frames is not None else subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError as error:
            raise VcmError(f"{what}: executable not found: {argv[0]}") from error
        except OSError as error:
            # Not executable (permissions), or not a program the kernel can run.
            raise VcmError(f"{what}: cannot run {argv[0]} ({error.strerror})") from None
        broken_pipe = False
        try:
            if frames is not None:
                assert process.stdin is not None
                try:
                    for frame in frames:
                        process.stdin.write(np.ascontiguousarray(frame).tobytes())
                except BrokenPipeError:
                    broken_pipe = True
                finally:
                    try:
                        process.stdin.close()
                    except BrokenPipeError:
                        broken_pipe = True
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - start
        if returncode != 0 or broken_pipe:
            log_file.flush()
            if log_path is not None:
                text = log_path.read_text(encoding="utf-8", errors="replace")
            else:
                log_file.seek(0)
                text = log_file.read()
            where = f" (log: {log_path})" if log_path is not None else ""
            raise VcmError(
                f"{what} failed with exit code {returncode}{where}:\n{log_tail(text)}"
            )
    return CommandResult(argv=list(argv), seconds=seconds, log_path=log_path)
