"""Safe outputs: write-then-rename, no replacing what vcm did not write, all-or-nothing commands.

Rules every writer here follows (docs/safety.md, "Safety"):

* An output is written under a temporary sibling name (``.NAME.partial-PID-RANDOM``) and
  renamed to its final name only when complete, so an interrupted or failed stage never leaves
  a file that looks finished, and the temporary is removed on any failure or signal.
* A file output may replace an existing *file* of that name, never a folder.
* A folder output may replace an existing folder only if vcm wrote it: every folder vcm writes
  holds the marker file :data:`OUTPUT_MARK`. Any other folder is left alone and reported.
* An output path must name something (``.``, ``..`` and a trailing ``/..`` are refused), and
  no part of its parent may be a regular file.
* Folders created for an output's parent are removed again if the output fails.
* A command's outputs (the output, its run record, its sidecar) are committed together by
  :func:`all_or_nothing`: if the command fails after one of them was renamed into place, the
  ones it wrote are removed, so a failed command leaves nothing under the final names.
* No output is ever one of the command's inputs (:class:`Inputs`): the same resolved path
  (``x``, ``./x``, ``dir/../x``, a symbolic link) or the same device and inode (a hard link),
  or, for an input folder such as a MOTChallenge sequence, a file inside it. The command line
  checks the outputs it knows before running; :func:`atomic_output` checks every other file a
  command writes before writing it, and :func:`all_or_nothing` never removes an input.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from vcm.errors import VcmError

OUTPUT_MARK = ".vcm-output"
"""Marker file inside every folder vcm writes; only such a folder may be replaced."""

# Errors of the output's file system, reported as "OUTPUT: reason" (the failing write inside a
# stage usually has no file name of its own).
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def input_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path` when it names an existing regular file (or a link to
    one); else :class:`VcmError` ``"<path>: file does not exist"`` or ``"<path>: not a
    file"``."""
    path = Path(path)
    if not path.exists():
        raise VcmError(f"{path}: file does not exist")
    if not path.is_file():
        raise VcmError(f"{path}: not a file")
    return path


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


def check_output_path(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path` if vcm may write an output there, else :class:`VcmError`.

    Refuses names that are no name (``.``, ``..``, empty) and parents that are regular files.
    Does not look at the output itself (see :func:`atomic_output`).
    """
    final = Path(path)
    if final.name in ("", ".", "..") or str(path).endswith(("/", os.sep)):
        raise VcmError(f"{path}: not a name to write an output to (name a file or folder)")
    for parent in final.parents:
        if parent.exists() and not parent.is_dir():
            raise VcmError(f"{path}: {parent} is not a folder")
    return final


def _new_temporary(final: Path) -> Path:
    # Keep the suffix: ffmpeg picks the container from the file extension. PID and a random
    # part make the name unique, so no existing file is ever reused or removed.
    while True:
        candidate = final.with_name(
            f".{final.stem}.partial-{os.getpid()}-{secrets.token_hex(4)}{final.suffix}"
        )
        if not candidate.exists() and not candidate.is_symlink():
            return candidate


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created, deepest first."""
    created: list[Path] = []
    current = folder
    while not current.exists():
        created.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def is_vcm_folder(path: Path) -> bool:
    """True if ``path`` is a real folder (not a link) that vcm wrote (holds :data:`OUTPUT_MARK`)."""
    return path.is_dir() and not path.is_symlink() and (path / OUTPUT_MARK).is_file()


def output_error(final: Path, error: OSError) -> VcmError | None:
    """A one-line :class:`VcmError` naming ``final`` for a file-system error of the output
    (disk full, quota, read-only, too large), else ``None``."""
    if error.errno in _OUTPUT_ERRNOS:
        return VcmError(f"{final}: cannot write: {os.strerror(error.errno)}")
    return None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    ``folder=False``: the block writes a file at the temporary path; an existing folder at
    ``path`` is an error. ``folder=True``: the block creates a folder there; it gets the
    :data:`OUTPUT_MARK` marker, and an existing folder at ``path`` is replaced only if it has
    one. On any exception or signal the temporary (and parent folders created for it) are
    removed and the exception re-raised; a disk-full error becomes a :class:`VcmError` naming
    ``path``.
    """
    final = check_output_path(path)
    command = _COMMAND.get()
    if command is not None:
        command.inputs.refuse(final)
    if final.is_dir() and not final.is_symlink():
        if not folder:
            raise VcmError(f"{final}: is a folder; vcm writes a file here and never replaces a folder")
        if not is_vcm_folder(final):
            raise VcmError(
                f"{final}: folder exists and was not written by vcm (no {OUTPUT_MARK} in it); "
                "remove it yourself or choose another output"
            )
    elif folder and (final.exists() or final.is_symlink()):
        raise VcmError(f"{final}: exists and is not a folder vcm wrote; choose another output")
    created = _make_parents(final.parent)
    remove_stale_temporaries(final)
    temporary = _new_temporary(final)
    try:
        yield temporary
        if not temporary.exists():
            raise VcmError(f"{final}: nothing was written")
        if folder:
            (temporary / OUTPUT_MARK).write_text("written by vcm; vcm may replace this folder\n")
            _replace_folder(temporary, final)
        else:
            os.replace(temporary, final)
        if command is not None:
            command.written.append(final)
            command.folders += created
    except OSError as error:
        _remove(temporary)
        _remove_empty(created)
        converted = output_error(final, error)
        if converted is not None:
            raise converted from None
        raise
    except BaseException:
        _remove(temporary)
        _remove_empty(created)
        raise


def _replace_folder(temporary: Path, final: Path) -> None:
    if not final.exists():
        os.replace(temporary, final)
        return
    # A folder cannot be renamed over a non-empty one: move the old (vcm-written) one aside
    # first, then remove it.
    old = _new_temporary(final)
    os.replace(final, old)
    try:
        os.replace(temporary, final)
    except BaseException:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a temporary this module created (a file, or a folder with everything in it)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.lstat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a link loop: compare the spelling made absolute
        return Path(os.path.abspath(path))


def _device_inode(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except (OSError, ValueError):
        return None
    return (status.st_dev, status.st_ino)


class Inputs:
    """The files and folders a command reads, as they are when it starts, to keep its outputs
    off them. A file is matched by resolved path or by device and inode; a folder (a
    MOTChallenge sequence, a HiEve pose folder) by any existing file an output would replace
    inside it. Names that differ only in case are different files where the file system says
    so (Linux), the same where it does (the inode)."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.files: list[tuple[Path, Path, tuple[int, int] | None]] = []
        self.folders: list[tuple[Path, Path]] = []
        for path in map(Path, paths):
            if path.is_dir():
                self.folders.append((path, _resolved(path)))
            else:
                self.files.append((path, _resolved(path), _device_inode(path)))

    def input_file(self, path: str | os.PathLike) -> Path | None:
        """The input file that ``path`` names (not looking inside input folders), or ``None``."""
        resolved, identity = _resolved(Path(path)), _device_inode(Path(path))
        for input_path, input_resolved, input_identity in self.files:
            if resolved == input_resolved or (identity is not None and identity == input_identity):
                return input_path
        return None

    def clash(self, output: str | os.PathLike) -> Path | None:
        """The input that writing ``output`` would replace, or ``None``."""
        output = Path(output)
        resolved = _resolved(output)
        same = self.input_file(output)
        if same is not None:
            return same
        replaces_a_file = os.path.lexists(output) and not output.is_dir()
        for path, path_resolved in self.folders:
            if resolved == path_resolved or (replaces_a_file and path_resolved in resolved.parents):
                return path
        return None

    def refuse(self, output: str | os.PathLike) -> None:
        """:class:`VcmError` ``"OUTPUT: is also an input (INPUT)"`` if ``output`` clashes."""
        clash = self.clash(output)
        if clash is not None:
            raise VcmError(f"{output}: is also an input ({clash})")


class _Command:
    """What :func:`all_or_nothing` knows while a command runs (see :data:`_COMMAND`)."""

    def __init__(self, inputs: Inputs):
        self.inputs = inputs
        self.written: list[Path] = []
        self.folders: list[Path] = []  # made for what was written, removed again if empty


# The running command: atomic_output refuses to write over its inputs and notes what it put
# in place, so that all_or_nothing can take back files no caller listed (a report's tables).
_COMMAND: contextvars.ContextVar[_Command | None] = contextvars.ContextVar("vcm_command", default=None)


def refuse_inputs_as_outputs(outputs: Iterable[str | os.PathLike], inputs: Inputs) -> None:
    """:class:`VcmError` for the first of ``outputs`` that is also one of ``inputs``."""
    for output in outputs:
        inputs.refuse(output)


@contextlib.contextmanager
def all_or_nothing(
    paths: Iterable[str | os.PathLike], inputs: Sequence[str | os.PathLike] | Inputs = ()
) -> Iterator[None]:
    """Commit a command's output files together: if the block fails (an exception or a
    signal), each of ``paths`` that the block wrote (it appeared or was replaced during the
    block), and each file :func:`atomic_output` put in place during it, is removed with the
    folders made for it; files the block did not touch, other folders, and ``inputs`` are left
    alone. Inside the block
    :func:`atomic_output` refuses to write over any of ``inputs``."""
    watched = [Path(path) for path in paths]
    before = {path: _identity(path) for path in watched}
    command = _Command(inputs if isinstance(inputs, Inputs) else Inputs(inputs))
    token = _COMMAND.set(command)
    try:
        yield
    except BaseException:
        changed = [path for path in watched if _identity(path) != before[path]]
        for path in dict.fromkeys(changed + command.written):
            # A file put in place inside an input folder was new: atomic_output refuses to
            # replace one there, so only the input files themselves need keeping.
            if _identity(path) is None or path.is_dir() or command.inputs.input_file(path) is not None:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
        _remove_empty(sorted(command.folders, key=lambda folder: len(folder.parts), reverse=True))
        raise
    finally:
        _COMMAND.reset(token)


def work_folder(output: Path) -> contextlib.AbstractContextManager[str]:
    """A temporary folder for intermediate files of ``output``, beside it (same file system,
    so large intermediates do not fill ``/tmp``), removed when the block ends."""
    import tempfile

    return tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.work-{os.getpid()}-")


def remove_stale_temporaries(final: Path) -> list[Path]:
    """Remove temporaries that an earlier, killed vcm process left beside ``final``
    (``.NAME.partial-PID-*`` and ``.NAME.work-PID-*`` whose process no longer runs).
    Returns what was removed. Only names of this module's own patterns are considered."""
    removed: list[Path] = []
    parent = final.parent
    if not parent.is_dir():
        return removed
    prefixes = (f".{final.stem}.partial-", f".{final.name}.work-")
    for candidate in parent.iterdir():
        prefix = next((p for p in prefixes if candidate.name.startswith(p)), None)
        if prefix is None:
            continue
        pid_text = candidate.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        _remove(candidate)
        removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
