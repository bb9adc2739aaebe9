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
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterable, Iterator

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


@contextlib.contextmanager
def all_or_nothing(paths: Iterable[str | os.PathLike]) -> Iterator[None]:
    """Commit a command's output files together: if the block fails (an exception or a
    signal), each of ``paths`` that the block wrote (it appeared or was replaced during the
    block) is removed; files the block did not touch, and folders, are left alone."""
    watched = [Path(path) for path in paths]
    before = {path: _identity(path) for path in watched}
    try:
        yield
    except BaseException:
        for path in watched:
            now = _identity(path)
            if now is not None and now != before[path] and not path.is_dir():
                with contextlib.suppress(OSError):
                    path.unlink()
        raise


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
