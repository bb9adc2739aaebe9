"""Labelled motion examples: the CSV that ``vcm motion fit`` and ``vcm motion evaluate`` read.

One row per labelled stretch of a clip, after the header ``clip,label,start_frame,end_frame,reps``:

* ``clip``: the video file or MOTChallenge sequence folder, relative to the CSV's folder;
* ``label``: the motion (``squat``, ``jumping_jack``, ...), 1 to 100 characters;
* ``start_frame``, ``end_frame``: the stretch's first and last frame, 1-based, inclusive;
* ``reps``: repetitions completed in the stretch, or empty when unknown.

Every person tracked in the stretch is taken to perform the motion.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from vcm.errors import VcmError
from vcm.fileio import read_input_bytes

HEADER = ("clip", "label", "start_frame", "end_frame", "reps")
MAX_LABELS_BYTES = 16 * 2**20
"""Largest labels file read: 16 MiB (some 300 000 rows)."""
MAX_FRAME = 10**8
MAX_LABEL_LENGTH = 100


@dataclass(frozen=True)
class LabelRow:
    """One labelled stretch: ``clip`` resolved against the CSV's folder, frames 1-based and
    inclusive, ``reps`` ``None`` when unknown; ``line`` its line in the file."""

    clip: Path
    label: str
    start_frame: int
    end_frame: int
    reps: int | None
    line: int

    def __contains__(self, frame: int) -> bool:
        return self.start_frame <= frame <= self.end_frame


def _whole(text: str, name: str, low: int) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{name} must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= MAX_FRAME:
        raise ValueError(f"{name} must be from {low} to {MAX_FRAME}, got {value}")
    return value


def read_labels(path: str | Path) -> list[LabelRow]:
    """The rows of the labels CSV at ``path``; a missing file, one over
    :data:`MAX_LABELS_BYTES`, a wrong header or a malformed row is a :class:`VcmError`
    naming ``path`` (and the row's line)."""
    path = Path(path)
    data = read_input_bytes(path, max_bytes=MAX_LABELS_BYTES, what="labels file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise VcmError(f"{path}: not UTF-8 text (byte {error.start})") from None
    # No field is longer than the file; csv's own limit (128 KiB) is the cap.
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[LabelRow] = []
    try:
        header = next(reader, None)
        if header is None or tuple(field.strip() for field in header) != HEADER:
            raise VcmError(f"{path}:1: the header must be {','.join(HEADER)}")
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            try:
                if len(fields) != len(HEADER):
                    raise ValueError(f"expected {len(HEADER)} fields, got {len(fields)}")
                clip, label, start, end, reps = (field.strip() for field in fields)
                if not clip:
                    raise ValueError("clip is empty")
                if not 0 < len(label) <= MAX_LABEL_LENGTH:
                    raise ValueError(f"label must be 1 to {MAX_LABEL_LENGTH} characters")
                start_frame = _whole(start, "start_frame", 1)
                end_frame = _whole(end, "end_frame", start_frame)
                count = _whole(reps, "reps", 0) if reps else None
            except ValueError as error:
                raise VcmError(f"{path}:{line}: {error}") from None
            rows.append(LabelRow(path.parent / clip, label, start_frame, end_frame, count, line))
    except csv.Error as error:
        raise VcmError(f"{path}:{reader.line_num}: not CSV ({error})") from None
    if not rows:
        raise VcmError(f"{path}: no labelled rows")
    return rows


def write_labels(rows: list[tuple[str, str, int, int, int | None]], path: Path) -> None:
    """Write ``(clip, label, start_frame, end_frame, reps)`` rows with the header to the open
    folder's file ``path`` (not atomically: the caller writes into a temporary folder)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for clip, label, start, end, reps in rows:
        writer.writerow([clip, label, start, end, "" if reps is None else reps])
    path.write_text(buffer.getvalue(), encoding="utf-8")
