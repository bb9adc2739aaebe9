"""What every person detector shares: the registry, box clean-up, NMS and the video loop.

A detector backend is a class registered in :data:`DETECTORS`, built from plain keyword
arguments, with

* ``name``: the registry name;
* ``detect(frame_bgr, frame_number) -> (boxes, scores)``: raw person boxes of one frame,
  float array (N, 4) of ``x1, y1, x2, y2`` in pixels of that frame, and scores (N,) in [0, 1];
* ``describe() -> dict``: model, file checksums and parameters, for the run log.

A backend that runs a network on batches of frames also has ``frames_per_batch`` (> 1) and
``detect_batch(frames_bgr, frame_numbers) -> list[(boxes, scores)]``; :func:`detect_video`
then hands it that many frames at a time. Without them it gets one frame per call.

:func:`detect_video` applies :func:`postprocess` (score threshold, clipping) to every frame,
so backends return boxes as their model produces them.
"""

from __future__ import annotations

import logging
from typing import Protocol

import cv2
import numpy as np

from vcm.detections import DetectionSequence
from vcm.detformats.voc_zip import as_written
from vcm.registry import Registry
from vcm.video import VideoSource

LOG = logging.getLogger(__name__)


class Detector(Protocol):
    """The interface :func:`detect_video` needs (see the module docstring)."""

    name: str

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        ...

    def describe(self) -> dict:
        ...


DETECTORS: Registry[Detector] = Registry("detector")


def build_detector(name: str, **options) -> Detector:
    """Build the detector registered as ``name`` with keyword ``options``."""
    return DETECTORS.build(name, **options)


def postprocess(
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    width: int,
    height: int,
    score_threshold: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Clean raw detections of a ``width`` x ``height`` frame.

    In this order: rows with a non-finite box coordinate or score are dropped; rows with
    ``score < score_threshold`` are discarded; boxes are clipped to ``[0, width] x
    [0, height]``; boxes empty after clipping are dropped, judged at the 2-decimal precision the XML file
    stores (:func:`vcm.detformats.voc_zip.as_written`), so every kept box is still a box once written.

    Returns ``(boxes, scores, dropped)``: float64 arrays (M, 4) and (M,) in the input order,
    and the number of non-finite plus empty rows (rows under the threshold are not counted,
    they are the detector working as intended).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    finite = np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
    dropped = int(np.count_nonzero(~finite))
    confident = finite & (scores >= score_threshold)
    boxes, scores = boxes[confident], scores[confident]
    boxes = np.clip(boxes, 0.0, [width, height, width, height])
    written = as_written(boxes)
    nonempty = (written[:, 2] > written[:, 0]) & (written[:, 3] > written[:, 1])
    dropped += int(np.count_nonzero(~nonempty))
    return boxes[nonempty], scores[nonempty], dropped


def non_maximum_suppression(
    boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float
) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, best score first.

    A box is suppressed when its IoU with a higher-scoring kept box exceeds
    ``iou_threshold``. ``boxes`` is (N, 4) ``x1, y1, x2, y2``; ``scores`` is (N,).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    # NMSBoxes drops scores <= its score threshold (which must be >= 0), but thresholding is
    # postprocess's job; NMS needs only the order of the scores, so pass ranks N..1 instead.
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores), 0, -1)
    kept = cv2.dnn.NMSBoxes(xywh.tolist(), ranks.tolist(), 0.0, float(iou_threshold))
    return np.asarray(kept, dtype=np.int64).reshape(-1)


def detect_video(
    source: VideoSource,
    detector: Detector,
    *,
    score_threshold: float = 0.6,
    progress: bool = True,
    times=None,
) -> DetectionSequence:
    """Run ``detector`` on every frame of ``source`` and keep boxes scoring >= ``score_threshold``.

    Frames are read as they are needed, ``frames_per_batch`` at a time for a batching
    detector (memory does not grow with the video). A progress bar goes
    to stderr unless ``progress`` is false; totals (frames, boxes, dropped, seconds, frames
    per second) are logged at the end. The detector's seconds (reading frames excepted) are
    added to ``times`` (a :class:`vcm.pipeline.StageTimes`) as ``detect`` when given.
    """
    from vcm.pipeline import DetectStage, StageTimes, run_frames, video_frames

    info = source.info
    stage = DetectStage(detector, score=score_threshold)
    times = times if times is not None else StageTimes()
    frames = run_frames(video_frames(source, description=f"detect {detector.name}",
                                     progress=progress), [stage], times=times)
    sequence = DetectionSequence(info.width, info.height,
                                 [frame.records[stage.name] for frame in frames],
                                 source=str(info.path), fps=info.fps)
    seconds = times.seconds.get(stage.name, 0.0)
    LOG.info(
        "%s on %s: %d frames, %d boxes, %d dropped (non-finite or empty), %.1f s, %.2f frames/s",
        detector.name, info.path, len(sequence), sequence.count, stage.dropped, seconds,
        len(sequence) / seconds if seconds > 0 else float("inf"),
    )
    return sequence


def frames_per_batch(detector: Detector) -> int:
    """How many frames ``detector`` takes per call: its ``frames_per_batch`` if it has
    ``detect_batch``, else 1."""
    if not hasattr(detector, "detect_batch"):
        return 1
    return max(1, int(getattr(detector, "frames_per_batch", 1)))

