"""What every box-prompted segmenter shares: the registry, the record it returns, the video loop.

A segmenter is a class registered in :data:`SEGMENTERS`, built from plain keyword arguments,
with

* ``name``: the registry name;
* ``frames_per_batch``: how many frames :func:`segment_video` hands it at once;
* ``segment(frame_bgr, boxes, scores) -> list[dict | None]``: for each of the N person boxes
  (N, 4) ``x1, y1, x2, y2`` in pixels of ``frame_bgr`` (H, W, 3 uint8 BGR), already clipped to
  the frame, with detector scores (N,), the person's mask as COCO compressed RLE over the
  whole frame (:func:`vcm.masks.encode_mask`, size ``[H, W]``), or ``None`` where the
  segmenter finds no person in the box;
* ``segment_batch(frames, boxes, scores)``: the same for several frames (lists of per-frame
  arguments); :class:`SegmentByFrame` gives the frame-by-frame version;
* ``describe() -> dict``: model, file checksums and parameters, for the run log.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from vcm.boxtasks import found_per_box
from vcm.detections import DetectionSequence
from vcm.masks import PersonMask
from vcm.registry import Registry
from vcm.video import VideoSource


class Segmenter(Protocol):
    """The interface :func:`segment_video` needs (see the module docstring)."""

    name: str
    frames_per_batch: int

    def segment(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[dict | None]:
        ...

    def segment_batch(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
    ) -> list[list[dict | None]]:
        ...

    def describe(self) -> dict:
        ...


SEGMENTERS: Registry[Segmenter] = Registry("segmenter")


def build_segmenter(name: str, **options) -> Segmenter:
    """Build the segmenter registered as ``name`` with keyword ``options``."""
    return SEGMENTERS.build(name, **options)


class SegmentByFrame:
    """Mixin: ``segment_batch`` as one ``segment`` call per frame, ``frames_per_batch`` 1."""

    frames_per_batch = 1

    def segment_batch(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
    ) -> list[list[dict | None]]:
        return [
            self.segment(frame, frame_boxes, frame_scores)
            for frame, frame_boxes, frame_scores in zip(frames_bgr, boxes, scores, strict=True)
        ]


def segment_video(
    source: VideoSource,
    detections: DetectionSequence,
    segmenter: Segmenter,
    *,
    progress: bool = True,
    detections_label: str = "detections",
    times=None,
) -> list[PersonMask]:
    """Segment every detected person in every frame of ``source``.

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``, their file). Frames
    are read one at a time and handed to the segmenter ``segmenter.frames_per_batch`` at a
    time, each box clipped to the frame; a box with no area inside the frame gets no mask.
    Returns one :class:`PersonMask` per box with a mask (``image_id`` = 1-based frame number,
    ``box`` = the clipped detection box, ``score`` = the detector's score), in frame order then
    box order; boxes without a mask are counted and logged. A progress bar goes to stderr
    unless ``progress`` is false. The segmenter's seconds (reading frames excepted) are added
    to ``times`` (a :class:`vcm.pipeline.StageTimes`) as ``segment`` when given.
    """
    from vcm.pipeline import SegmentStage, video_frames

    frames = video_frames(source, detections, detections_label=detections_label,
                          description=f"segment {segmenter.name}", progress=progress)
    return found_per_box(SegmentStage(segmenter), frames, source=str(source.info.path),
                         frames_total=len(detections), boxes_total=detections.count,
                         times=times)
