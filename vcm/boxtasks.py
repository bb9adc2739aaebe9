"""The video loop every task on the shared boxes runs: frames and their detections, checked.

Top-down pose and box-prompted segmentation both read a video frame by frame, hand a backend
a few frames at a time with each frame's person boxes, and collect one output per box.
:func:`outputs_per_box` is that loop, with the checks they share: the detections must be
for this video (frame size and count), boxes are clipped to the frame, and a box with no area
inside the frame is never handed to the backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

from vcm.boxes import box_areas, clip_boxes
from vcm.detections import DetectionSequence, FrameDetections
from vcm.video import VideoSource

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
    frames = [frame_scoring_at_least(frame, min_score) for frame in detections.frames]
    return DetectionSequence(detections.width, detections.height, frames,
                             source=detections.source, fps=detections.fps)


def frame_scoring_at_least(frame: FrameDetections, min_score: float) -> FrameDetections:
    """One frame's ``frame`` with only the boxes scoring at least ``min_score`` (all of them
    when it is 0 or less)."""
    if min_score <= 0:
        return frame
    keep = frame.scores >= min_score
    return FrameDetections(frame.frame, frame.boxes[keep], frame.scores[keep])


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
    then box order (the batch driver with one :class:`vcm.pipeline.BoxTaskStage`).

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``). A video that
    decodes more or fewer frames than the detections have is an error too. A progress bar
    (``description``) goes to stderr unless ``progress`` is false.
    """
    from vcm.pipeline import BoxTaskStage, run_frames, video_frames

    stage = BoxTaskStage(run_batch, frames_per_batch=frames_per_batch)
    frames = video_frames(source, detections, detections_label=detections_label,
                          description=description, progress=progress)
    for frame in run_frames(frames, [stage]):
        yield from frame.records[stage.name]


def found_per_box(stage, frames, *, source: str, frames_total: int, boxes_total: int,
                  times=None) -> list:
    """The records of ``stage`` (a :class:`vcm.pipeline.BoxTaskStage`) over ``frames``
    (the batch driver), concatenated in frame order; logs one line: frames, boxes, outputs
    (the stage's ``noun``, e.g. "pose"), boxes without one, seconds and boxes per second."""
    from vcm.pipeline import StageTimes, run_frames

    times = times if times is not None else StageTimes()
    found = [record for frame in run_frames(frames, [stage], times=times)
             for record in frame.records[stage.name]]
    seconds = times.seconds.get(stage.name, 0.0)
    LOG.info(
        "%s on %s: %d frames, %d boxes, %d %ss, %d boxes without a %s, %.1f s, %.1f boxes/s",
        stage.backend_name, source, frames_total, boxes_total, len(found), stage.noun,
        stage.missing, stage.noun, seconds,
        boxes_total / seconds if seconds > 0 else float("inf"),
    )
    return found


def outputs_of_batch(run_batch: BatchFunction, frames: Sequence[np.ndarray],
                     frame_detections: Sequence[FrameDetections]) -> list[list[BoxOutput]]:
    """For each of ``frames`` (BGR uint8) and its detections, one :class:`BoxOutput` per
    box from one ``run_batch`` call: the boxes are clipped to the frame, and those with no
    area inside it are not handed over (their output is ``None``). A backend that returns
    another number of outputs than boxes is a bug (``RuntimeError``)."""
    clipped = [clip_boxes(detection.boxes, frame.shape[1], frame.shape[0])
               for frame, detection in zip(frames, frame_detections, strict=True)]
    inside = [box_areas(boxes) > 0 for boxes in clipped]
    outputs = run_batch(
        list(frames),
        [boxes[keep] for boxes, keep in zip(clipped, inside)],
        [detection.scores[keep] for detection, keep in zip(frame_detections, inside)],
    )
    per_frame = []
    for detection, boxes, keep, produced in zip(frame_detections, clipped, inside, outputs,
                                                strict=True):
        if len(produced) != int(keep.sum()):
            raise RuntimeError(f"{len(produced)} outputs for {int(keep.sum())} boxes in "
                               f"frame {detection.frame}")
        per_box: list[object | None] = [None] * len(detection)
        for index, output in zip(np.flatnonzero(keep), produced):
            per_box[index] = output
        per_frame.append([BoxOutput(detection.frame, box, clipped_box, float(score), output)
                          for box, clipped_box, score, output in zip(
                              detection.boxes, boxes, detection.scores, per_box)])
    return per_frame
