"""Tracker output: track ids and boxes per frame, and its MOTChallenge txt form.

Boxes are ``x1, y1, x2, y2`` in pixels of the original frame, 0-based, with ``x2``/``y2`` the
right/bottom edges (exclusive), as in :mod:`vcm.detections`. Frames are numbered from 1.

The txt form (:func:`write_tracks_txt`, :func:`read_tracks_txt`) is the MOTChallenge results
layout, one row per track and frame: ``frame,id,x,y,w,h,score,-1,-1,-1`` with ``x, y`` the
top-left corner and ``w, h`` the size in pixels, written with 2 decimals, and the score with 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from vcm.datasets.mot import read_mot_txt, text_lines
from vcm.errors import VcmError
from vcm.fileio import atomic_output


@dataclass(frozen=True)
class FrameTracks:
    """The confirmed tracks present in one frame.

    Attributes:
        frame: 1-based frame number.
        ids: int64 array of shape (N,): track ids, 1 or more, distinct within the frame.
        boxes: float64 array of shape (N, 4): ``x1, y1, x2, y2`` in pixels.
        scores: float64 array of shape (N,): confidence of the detection each track was matched
            with in this frame.
    """

    frame: int
    ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype=np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,)))

    def __post_init__(self) -> None:
        ids = _shaped(self.ids, np.int64, (-1,))
        boxes = _shaped(self.boxes, np.float64, (-1, 4))
        scores = _shaped(self.scores, np.float64, (-1,))
        if not len(ids) == len(boxes) == len(scores):
            raise ValueError(
                f"frame {self.frame}: {len(ids)} ids, {len(boxes)} boxes and {len(scores)} scores"
            )
        if len(ids) and (ids.min() < 1 or len(set(ids.tolist())) != len(ids)):
            raise ValueError(f"frame {self.frame}: track ids must be distinct and 1 or more")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return len(self.ids)


def _shaped(values: object, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` as an array of ``dtype`` and ``shape`` (-1: any length); an array that
    already is one is kept as is, so frames can share one empty array (no copy per frame)."""
    array = np.asarray(values, dtype=dtype)
    if array.ndim == len(shape) and all(want in (-1, have) for want, have in
                                        zip(shape, array.shape)):
        return array
    return array.reshape(shape)


_NO_IDS = np.zeros((0,), dtype=np.int64)
_NO_BOXES = np.zeros((0, 4))
_NO_SCORES = np.zeros((0,))
for _empty in (_NO_IDS, _NO_BOXES, _NO_SCORES):
    _empty.flags.writeable = False


@dataclass(frozen=True)
class TrackSequence:
    """Tracks of a whole video: one :class:`FrameTracks` per frame, frames 1..N in order.

    ``source`` names the video.
    """

    frames: list[FrameTracks]
    source: str = ""

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[FrameTracks]:
        return iter(self.frames)

    @property
    def count(self) -> int:
        """Total number of boxes over all frames."""
        return sum(len(frame) for frame in self.frames)

    @property
    def track_ids(self) -> np.ndarray:
        """The distinct track ids of the sequence, sorted."""
        if not self.frames:
            return np.zeros((0,), dtype=np.int64)
        return np.unique(np.concatenate([frame.ids for frame in self.frames]))


def format_track_rows(frame: FrameTracks) -> list[str]:
    """The MOTChallenge txt lines (without newline) of one frame's tracks."""
    lines = []
    for track_id, (x1, y1, x2, y2), score in zip(frame.ids, frame.boxes, frame.scores):
        lines.append(
            f"{frame.frame},{track_id},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
            f"{score:.4f},-1,-1,-1"
        )
    return lines


def write_tracks_txt(tracks: TrackSequence, path: str | Path) -> None:
    """Write ``tracks`` as a MOTChallenge results txt at ``path``, atomically.

    Rows follow the frames and, within a frame, the record's order; frames without tracks
    write no row.
    """
    lines = [line for frame in tracks.frames for line in format_track_rows(frame)]
    with atomic_output(path) as temporary:
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_tracks_txt(path: str | Path, *, num_frames: int | None = None) -> TrackSequence:
    """Read a MOTChallenge results txt into a :class:`TrackSequence` of frames 1..N.

    N is ``num_frames`` if given (a row beyond it is an error), else the last frame with a row.
    Rows whose id is below 1, whose width or height is not positive, or that repeat an id
    within a frame, like rows :func:`~vcm.datasets.mot.read_mot_txt` rejects, raise
    :class:`VcmError` naming ``path:line``; so does a missing file. ``source`` is the file's
    stem (MOTChallenge names a results file after its sequence).
    """
    path = Path(path)
    rows = read_mot_txt(path)
    widths = rows.boxes[:, 2] - rows.boxes[:, 0]
    heights = rows.boxes[:, 3] - rows.boxes[:, 1]
    _reject_first(path, rows.ids < 1, "track id must be 1 or more")
    _reject_first(path, ~((widths > 0) & (heights > 0)), "width and height must be positive")
    order = np.lexsort((rows.ids, rows.frame))
    repeated = np.zeros(len(rows), dtype=bool)
    repeated[order[1:]] = (np.diff(rows.frame[order]) == 0) & (np.diff(rows.ids[order]) == 0)
    _reject_first(path, repeated, "track id repeated within its frame")
    last = int(rows.frame.max()) if len(rows) else 0
    if num_frames is not None:
        _reject_first(path, rows.frame > num_frames, f"frame beyond the {num_frames} frames")
        last = num_frames
    # A stable sort by frame keeps each frame's rows in file order.
    by_frame = np.argsort(rows.frame, kind="stable")
    sorted_frames = rows.frame[by_frame]
    starts = np.searchsorted(sorted_frames, np.arange(1, last + 2))
    frames = []
    for number in range(1, last + 1):
        take = by_frame[starts[number - 1] : starts[number]]
        if len(take):
            frames.append(
                FrameTracks(number, rows.ids[take], rows.boxes[take], rows.confidence[take])
            )
        else:
            # Frames without rows share one set of empty arrays: memory grows with the rows.
            frames.append(FrameTracks(number, _NO_IDS, _NO_BOXES, _NO_SCORES))
    return TrackSequence(frames, source=path.stem)


def _reject_first(path: Path, bad: np.ndarray, problem: str) -> None:
    """Raise for the first row flagged in ``bad``, naming its line in ``path``."""
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    raise VcmError(f"{path}:{_line_of_row(path, row)}: malformed row ({problem})")


def _line_of_row(path: Path, row: int) -> int:
    """1-based line number of the ``row``-th (0-based) row: read_mot_txt skips blank lines."""
    seen = -1
    for line_number, line in enumerate(text_lines(path), start=1):
        if line.strip():
            seen += 1
            if seen == row:
                return line_number
    raise AssertionError(f"{path} has no row {row}")
