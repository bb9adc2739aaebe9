"""The one structure the per-frame components exchange, and what a component is.

A component (a *stage*) takes frames one at a time, or a few at a time where its backend
batches, and hands back the frames it has finished, each carrying the stage's record. State
that spans frames (the tracker's tracks, a foreground's ``hold`` window) lives inside the
component instance, never in a module, so one process can run many streams side by side,
each with its own instances. Drivers (:mod:`vcm.pipeline.driver`) move frames through a list
of stages: the batch commands and the sweep read a file, a live server reads a stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from vcm.detections import FrameDetections


@dataclass(frozen=True, eq=False)  # arrays have no one truth value: frames compare by identity
class Frame:
    """One video frame, its person boxes and the records the stages so far have attached.

    Attributes:
        number: 1-based frame number in its video or stream.
        image: uint8 (H, W, 3) BGR pixels, or ``None`` for a stage that needs none (tracking
            reads only the boxes).
        boxes: float64 (N, 4) ``x1, y1, x2, y2`` in pixels of the original frame (right and
            bottom edges exclusive); a detect stage replaces them.
        scores: float64 (N,) the detector's score of each box, in [0, 1].
        records: each stage's record of this frame by the stage's ``name`` (read-only):
            ``FrameDetections`` (detect), a list of ``PersonPose`` (pose), a list of
            ``PersonMask`` (segment), ``FrameTracks`` (track), the kept region (foreground).
    """

    number: int
    image: np.ndarray | None
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,)))
    records: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = FrameDetections(self.number, self.boxes, self.scores)  # shapes, as there
        object.__setattr__(self, "boxes", checked.boxes)
        object.__setattr__(self, "scores", checked.scores)
        object.__setattr__(self, "records", MappingProxyType(dict(self.records)))

    @classmethod
    def of(cls, image: np.ndarray | None, detections: FrameDetections) -> Frame:
        """The frame ``detections.frame`` with ``image`` and the boxes of ``detections``."""
        return cls(detections.frame, image, detections.boxes, detections.scores)

    @property
    def detections(self) -> FrameDetections:
        """The frame's boxes and scores as the detection record."""
        return FrameDetections(self.number, self.boxes, self.scores)

    def with_record(self, name: str, record: Any, **changes: Any) -> Frame:
        """A copy with ``record`` attached as ``name`` and the given fields (``image``,
        ``boxes``, ``scores``) replaced."""
        return replace(self, records={**self.records, name: record}, **changes)


class FrameComponent(Protocol):
    """What a driver needs of a stage.

    * ``name``: the stage's name: the key of its record on each frame and of its seconds.
    * ``frames_per_batch``: how many frames the batch driver hands ``process_batch`` at once
      (a network's batch); a live driver hands one.
    * ``process_batch(frames)``: the frames (in order) this call finishes, each with the
      stage's record attached. Usually the frames given; a stage that looks ahead (a
      foreground's ``hold`` window) holds frames back and returns them later, in order.
    * ``process(frame)``: ``process_batch([frame])``.
    * ``flush()``: at the end of the video or stream, the frames still held back.
    * ``describe() -> dict``: backend, model and parameters, for the run record.
    * ``close()``: release what the backend holds open, once the stage is done.
    """

    name: str
    frames_per_batch: int

    def process(self, frame: Frame) -> list[Frame]:
        ...

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        ...

    def flush(self) -> list[Frame]:
        ...

    def describe(self) -> dict:
        ...

    def close(self) -> None:
        ...


class Stage:
    """Base of the stages: ``process`` by ``process_batch``, nothing held back at the end.

    A subclass sets ``name`` and implements ``process_batch`` (and ``flush`` if it holds
    frames back) and ``describe``.
    """

    name: str = "stage"
    frames_per_batch: int = 1

    def process(self, frame: Frame) -> list[Frame]:
        return self.process_batch([frame])

    def process_batch(self, frames: Sequence[Frame]) -> list[Frame]:
        raise NotImplementedError

    def flush(self) -> list[Frame]:
        return []

    def close(self) -> None:
        """Release what the backend holds open (a model session); nothing here."""

    def describe(self) -> dict:
        return {"stage": self.name}
