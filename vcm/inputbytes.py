"""Reading an untrusted input file whole, within a size limit.

A reader that takes a whole file into memory (a ``vcmd`` file, a bitstream whose SEIs are
parsed) goes through :func:`read_input_bytes`: only a regular file is opened, so a FIFO never
blocks and ``/dev/zero`` is never read, and no more than the limit is read, whatever the file
system says about the size.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vcm.errors import VcmError


def read_input_bytes(path: str | os.PathLike, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path`` (a link to one counts), at most ``max_bytes``.

    Raises :class:`VcmError` naming ``path`` for a missing file, anything but a regular file
    (folder, FIFO, device, socket), a file of more than ``max_bytes`` bytes or one that
    cannot be read; ``what`` names the kind of file in the size message (``"bitstream"``).
    """
    path = Path(path)
    try:
        # Looked at before opening: opening a FIFO for reading waits for a writer, and opening
        # a device may have effects of its own.
        status = os.stat(path)
    except FileNotFoundError:
        raise VcmError(f"{path}: file does not exist") from None
    except OSError as error:
        raise VcmError(f"{path}: cannot read ({error.strerror})") from None
    _check_regular(path, status, max_bytes, what)
    try:
        # O_NONBLOCK: should the name be swapped for a FIFO after the check, opening it still
        # returns at once, and the check on the opened file refuses it.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise VcmError(f"{path}: cannot read ({error.strerror})") from None
    with os.fdopen(descriptor, "rb", buffering=0) as stream:
        status = os.fstat(descriptor)
        _check_regular(path, status, max_bytes, what)
        size = status.st_size
        try:
            # As many bytes as the file holds, plus one to see it end: a read of the limit
            # itself would allocate the limit.
            data = stream.read(size + 1)
            if len(data) > size:  # it grew since: the rest, up to the limit
                data += stream.read(max_bytes + 1 - len(data))
        except OSError as error:
            raise VcmError(f"{path}: cannot read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise VcmError(f"{path}: the {what} grew past the limit of {max_bytes} bytes while read")
    return data


def _check_regular(path: Path, status: os.stat_result, max_bytes: int, what: str) -> None:
    if stat.S_ISDIR(status.st_mode):
        raise VcmError(f"{path}: not a file (a folder)")
    if not stat.S_ISREG(status.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(status.st_mode) else
                "a device" if stat.S_ISCHR(status.st_mode) or stat.S_ISBLK(status.st_mode) else
                "a socket" if stat.S_ISSOCK(status.st_mode) else "not regular")
        raise VcmError(f"{path}: not a regular file ({kind}); vcm reads only regular files")
    if status.st_size > max_bytes:
        raise VcmError(f"{path}: {status.st_size} bytes, more than the limit of {max_bytes} "
                       f"bytes for a {what}")
