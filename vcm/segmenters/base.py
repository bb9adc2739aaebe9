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

import logging
import sys
import time
from typing import Protocol, Sequence

import numpy as np
from tqdm import tqdm

from vcm.boxes import box_areas, clip_boxes
from vcm.detections import DetectionSequence
from vcm.errors import VcmError
from vcm.masks import PersonMask
from vcm.registry import Registry
from vcm.video import VideoSource, frame_batches

LOG = logging.getLogger(__name__)


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
) -> list[PersonMask]:
    """Segment every detected person in every frame of ``source``.

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``, their file). Frames
    are read one at a time and handed to the segmenter ``segmenter.frames_per_batch`` at a
    time, each box clipped to the frame; a box with no area inside the frame gets no mask.
    Returns one :class:`PersonMask` per box with a mask (``image_id`` = 1-based frame number,
    ``box`` = the clipped detection box, ``score`` = the detector's score), in frame order then
    box order; boxes without a mask are counted and logged. A progress bar goes to stderr
    unless ``progress`` is false.
    """
    info = source.info
    detections.check_fits(info.width, info.height, info.frames,
                          label=detections_label, video=str(info.path))
    batch_size = max(1, int(getattr(segmenter, "frames_per_batch", 1)))
    masks: list[PersonMask] = []
    missing = 0
    start = time.perf_counter()
    frame_number = 0
    with tqdm(total=info.frames, desc=f"segment {segmenter.name}", unit="frame",
              file=sys.stderr, disable=not progress) as bar:
        for numbers, batch in frame_batches(source, batch_size):
            frame_number = numbers[-1]
            if frame_number > len(detections):
                raise VcmError(f"{info.path}: has more than the {len(detections)} frames of "
                               f"{detections_label}")
            missing += _segment_batch(segmenter, batch, detections, numbers[0] - 1, masks)
            bar.update(len(batch))
    if frame_number != len(detections):
        raise VcmError(f"{info.path}: decoded {frame_number} frames but {detections_label} "
                       f"has {len(detections)}")
    seconds = time.perf_counter() - start
    LOG.info(
        "%s on %s: %d frames, %d boxes, %d masks, %d boxes without a mask, %.1f s, %.1f boxes/s",
        segmenter.name, info.path, frame_number, detections.count, len(masks), missing,
        seconds, detections.count / seconds if seconds > 0 else float("inf"),
    )
    return masks


def _segment_batch(
    segmenter: Segmenter,
    frames: list[np.ndarray],
    detections: DetectionSequence,
    frames_before: int,
    masks: list[PersonMask],
) -> int:
    """Segment ``frames`` (frame numbers ``frames_before + 1``...), append to ``masks``;
    return the number of boxes without a mask."""
    frame_detections = detections.frames[frames_before:frames_before + len(frames)]
    clipped = [clip_boxes(detection.boxes, frame.shape[1], frame.shape[0])
               for frame, detection in zip(frames, frame_detections, strict=True)]
    inside = [box_areas(boxes) > 0 for boxes in clipped]
    per_frame = segmenter.segment_batch(
        frames,
        [boxes[keep] for boxes, keep in zip(clipped, inside)],
        [detection.scores[keep] for detection, keep in zip(frame_detections, inside)],
    )
    missing = 0
    for frame_number, frame, detection, boxes, keep, segmented in zip(
        range(frames_before + 1, frames_before + len(frames) + 1),
        frames, frame_detections, clipped, inside, per_frame, strict=True,
    ):
        if len(segmented) != int(keep.sum()):
            raise RuntimeError(f"{segmenter.name} returned {len(segmented)} masks for "
                               f"{int(keep.sum())} boxes in frame {frame_number}")
        missing += int((~keep).sum())
        for box, score, mask in zip(boxes[keep], detection.scores[keep], segmented):
            if mask is None:
                missing += 1
                continue
            if tuple(mask["size"]) != frame.shape[:2]:
                raise RuntimeError(f"{segmenter.name} returned a mask of size {mask['size']} "
                                   f"for a frame of {list(frame.shape[:2])}")
            masks.append(PersonMask(image_id=frame_number, mask=mask, score=float(score),
                                    box=box))
    return missing
