"""Person detections: the record every stage exchanges.

Boxes are ``x1, y1, x2, y2`` in pixels of the original (unpadded) frame, 0-based, with
``x2``/``y2`` the right/bottom edges (a box covering pixel columns 10..19 has x1=10, x2=20).
Frames are numbered from 1, as in MOTChallenge. The files that hold these records (zipped
Pascal-VOC XML, the compact ``vcmd`` format) are read and written by :mod:`vcm.detformats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from vcm.errors import VcmError


PERSON = "person"
"""The one class name the record holds (VOC ``<name>``, the SEI's label); objects of other
classes are skipped on reading."""


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame.

    Attributes:
        frame: 1-based frame number.
        boxes: float64 array of shape (N, 4): ``x1, y1, x2, y2`` in pixels.
        scores: float64 array of shape (N,): detector confidence in [0, 1].
    """

    frame: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,)))

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(boxes) != len(scores):
            raise ValueError(f"frame {self.frame}: {len(boxes)} boxes but {len(scores)} scores")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class DetectionSequence:
    """Detections of a whole video: one :class:`FrameDetections` per frame, frames 1..N.

    ``width``/``height`` are the original frame size in pixels; ``source`` names the video
    (informative only: no detection file vcm writes stores it, since a host path would change
    the file's size); ``fps`` is its frame rate in frames per second, 0 when unknown.
    """

    width: int
    height: int
    frames: list[FrameDetections]
    source: str = ""
    fps: float = 0.0

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[FrameDetections]:
        return iter(self.frames)

    @property
    def count(self) -> int:
        """Total number of boxes over all frames."""
        return sum(len(frame) for frame in self.frames)

    def check_fits(self, width: int, height: int, frames: int, *, label: str, video: str) -> None:
        """Raise :class:`VcmError` unless these detections were made for a ``width`` x ``height``
        video of ``frames`` frames; the message names ``label`` (the detections) and ``video``."""
        if (self.width, self.height) != (width, height):
            raise VcmError(
                f"{label}: detections are for {self.width}x{self.height} frames but {video} "
                f"is {width}x{height}"
            )
        if len(self) != frames:
            raise VcmError(f"{label}: detections cover {len(self)} frames but {video} has {frames}")
