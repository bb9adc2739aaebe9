"""The video loop every task on the shared boxes runs: frames and their detections, checked.

Top-down pose and box-prompted segmentation both read a video frame by frame, hand a backend
a few frames at a time with each frame's person boxes, and collect one output per box.
:func:`outputs_per_box` is that loop, with the checks they share: the detections must be
for this video (frame size and count), boxes are clipped to the frame, and a box with no area
inside the frame is never handed to the backend.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from vcm.boxes import box_areas, clip_boxes
from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.video import VideoSource, frame_batches

LOG = logging.getLogger(__name__)

BatchFunction = Callable[
    [Sequence[np.ndarray], Sequence[np.ndarray], Sequence[np.ndarray]], list[list[object]]
]
"""``(frames_bgr, boxes, scores) -> outputs``: for each frame, one output (or ``None``) per
box; boxes (N, 4) are clipped to the frame and have area, scores are (N,)."""


@dataclass(frozen=True)
class BoxOutput:
    """A backend's output for one detection box.

    Attributes:
        frame: 1-based frame number.
        box: float64 (4,) the detection's ``x1, y1, x2, y2`` as read (pixels).
        clipped_box: float64 (4,) the same box clipped to the frame, as the backend saw it.
        score: the detector's score.
        output: what the backend returned for the box, or ``None`` (nothing found, or the
            box has no area inside the frame and was not handed to it).
    """

    frame: int
    box: np.ndarray
    clipped_box: np.ndarray
    score: float
    output: object | None


def boxes_scoring_at_least(detections: DetectionSequence, min_score: float) -> DetectionSequence:
    """``detections`` with only the boxes scoring at least ``min_score`` (a detection file
    written for BYTE association also holds low-score boxes, which only the tracker uses)."""
    if min_score <= 0:
        return detections
    frames = [FrameDetections(frame.frame, frame.boxes[frame.scores >= min_score],
                              frame.scores[frame.scores >= min_score])
              for frame in detections.frames]
    return DetectionSequence(detections.width, detections.height, frames,
                             source=detections.source, fps=detections.fps)


def outputs_per_box(
    source: VideoSource,
    detections: DetectionSequence,
    run_batch: BatchFunction,
    *,
    frames_per_batch: int = 1,
    description: str = "",
    progress: bool = True,
    detections_label: str = "detections",
) -> Iterator[BoxOutput]:
    """Run ``run_batch`` over ``source`` ``frames_per_batch`` frames at a time, with each
    frame's boxes of ``detections``; yield one :class:`BoxOutput` per box, in frame order
    then box order.

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``). A video that
    decodes more or fewer frames than the detections have is an error too. A progress bar
    (``description``) goes to stderr unless ``progress`` is false.
    """
    info = source.info
    detections.check_fits(info.width, info.height, info.frames,
                          label=detections_label, video=str(info.path))
    frame_number = 0
    with tqdm(total=info.frames, desc=description, unit="frame", file=sys.stderr,
              disable=not progress) as bar:
        for numbers, frames in frame_batches(source, max(1, int(frames_per_batch))):
            frame_number = numbers[-1]
            if frame_number > len(detections):
                raise VcmError(f"{info.path}: has more than the {len(detections)} frames of "
                               f"{detections_label}")
            yield from _run_batch(run_batch, frames, detections.frames[numbers[0] - 1:frame_number])
            bar.update(len(frames))
    if frame_number != len(detections):
        raise VcmError(f"{info.path}: decoded {frame_number} frames but {detections_label} "
                       f"has {len(detections)}")


def found_per_box(
    source: VideoSource,
    detections: DetectionSequence,
    backend,
    run_batch: BatchFunction,
    *,
    task: str,
    noun: str,
    progress: bool = True,
    detections_label: str = "detections",
) -> list[BoxOutput]:
    """:func:`outputs_per_box` with ``backend``'s ``frames_per_batch`` (1 when it has none),
    keeping the boxes the backend gave an output for; logs one line: frames, boxes, outputs
    (``noun``, e.g. "pose"), boxes without one, seconds and boxes per second."""
    start = time.perf_counter()
    found: list[BoxOutput] = []
    missing = 0
    for result in outputs_per_box(
        source, detections, run_batch,
        frames_per_batch=getattr(backend, "frames_per_batch", 1),
        description=f"{task} {backend.name}", progress=progress,
        detections_label=detections_label,
    ):
        if result.output is None:
            missing += 1
        else:
            found.append(result)
    seconds = time.perf_counter() - start
    LOG.info(
        "%s on %s: %d frames, %d boxes, %d %ss, %d boxes without a %s, %.1f s, %.1f boxes/s",
        backend.name, source.info.path, len(detections), detections.count, len(found), noun,
        missing, noun, seconds, detections.count / seconds if seconds > 0 else float("inf"),
    )
    return found


def _run_batch(run_batch: BatchFunction, frames: list[np.ndarray],
               frame_detections: list) -> Iterator[BoxOutput]:
    clipped = [clip_boxes(detection.boxes, frame.shape[1], frame.shape[0])
               for frame, detection in zip(frames, frame_detections, strict=True)]
    inside = [box_areas(boxes) > 0 for boxes in clipped]
    outputs = run_batch(
        frames,
        [boxes[keep] for boxes, keep in zip(clipped, inside)],
        [detection.scores[keep] for detection, keep in zip(frame_detections, inside)],
    )
    for detection, boxes, keep, produced in zip(frame_detections, clipped, inside, outputs,
                                                strict=True):
        if len(produced) != int(keep.sum()):
            raise RuntimeError(f"{len(produced)} outputs for {int(keep.sum())} boxes in "
                               f"frame {detection.frame}")
        per_box: list[object | None] = [None] * len(detection)
        for index, output in zip(np.flatnonzero(keep), produced):
            per_box[index] = output
        for box, clipped_box, score, output in zip(detection.boxes, boxes, detection.scores,
                                                   per_box):
            yield BoxOutput(detection.frame, box, clipped_box, float(score), output)
