"""What every top-down pose estimator shares: the registry, crop windows, rescoring, the video loop.

A pose backend is a class registered in :data:`POSE_ESTIMATORS`, built from plain keyword
arguments, with

* ``name``: the registry name;
* ``keypoint_names``: the K keypoints it predicts (COCO's 17 for every backend so far);
* ``frames_per_batch``: how many frames :func:`estimate_video` hands it at once;
* ``estimate(frame_bgr, boxes, scores) -> list[np.ndarray | None]``: for each of the N person
  boxes (N, 4) ``x1, y1, x2, y2`` in pixels of ``frame_bgr`` (H, W, 3 uint8 BGR) with detector
  scores (N,), a float array (K, 3) of ``x, y`` in pixels of that frame and a keypoint
  confidence in [0, 1], or ``None`` where the crop shows no pose; a backend clips the boxes
  to the frame (:func:`vcm.boxes.clip_boxes`) before it sizes any crop, so a crop is never
  larger than the frame times the backend's padding;
* ``estimate_batch(frames, boxes, scores)``: the same for several frames (lists of per-frame
  arguments); :class:`BatchByFrame` gives the frame-by-frame version;
* ``describe() -> dict``: model, file checksums and parameters, for the run log.

A backend that runs a network on fixed-size crops (e.g. HRNet through mmpose) can stack all
crops of ``frames_per_batch`` frames into one batch inside ``estimate_batch``.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from vcm.boxtasks import found_per_box
from vcm.detections import DetectionSequence
from vcm.keypoints import PersonPose
from vcm.registry import Registry
from vcm.video import VideoSource


class PoseEstimator(Protocol):
    """The interface :func:`estimate_video` needs (see the module docstring)."""

    name: str
    keypoint_names: tuple[str, ...]
    frames_per_batch: int

    def estimate(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[np.ndarray | None]:
        ...

    def estimate_batch(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
    ) -> list[list[np.ndarray | None]]:
        ...

    def describe(self) -> dict:
        ...


POSE_ESTIMATORS: Registry[PoseEstimator] = Registry("pose estimator")


def build_pose_estimator(name: str, **options) -> PoseEstimator:
    """Build the pose estimator registered as ``name`` with keyword ``options``."""
    return POSE_ESTIMATORS.build(name, **options)


class BatchByFrame:
    """Mixin: ``estimate_batch`` as one ``estimate`` call per frame, ``frames_per_batch`` 1."""

    frames_per_batch = 1

    def estimate_batch(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
    ) -> list[list[np.ndarray | None]]:
        return [
            self.estimate(frame, frame_boxes, frame_scores)
            for frame, frame_boxes, frame_scores in zip(frames_bgr, boxes, scores, strict=True)
        ]


def crop_windows(boxes: np.ndarray, *, padding: float = 1.25, aspect: float = 1.0) -> np.ndarray:
    """Crop windows around person boxes, as top-down pose estimators take them.

    Each box (N, 4) ``x1, y1, x2, y2`` is grown about its centre to the aspect ratio
    ``aspect`` (width / height) by lengthening its short side, then scaled by ``padding``
    (1.25: 12.5 % margin each side, mmpose's and HRNet's default). Returns float64 (N, 4)
    windows ``x1, y1, x2, y2`` in pixels; they may extend past the frame.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if padding <= 0 or aspect <= 0:
        raise ValueError(f"padding and aspect must be positive, got {padding}, {aspect}")
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    height = np.maximum(height, width / aspect)
    width = height * aspect
    half = np.column_stack([width, height]) * padding / 2
    return np.column_stack([centre - half, centre + half])


def extract_crop(frame: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``window`` (``x1, y1, x2, y2``, pixels) out of ``frame``; black outside the frame.

    The window is rounded outwards to whole pixels. Returns ``(crop, origin)``: the crop
    (h, w, 3) of the frame's dtype and the frame coordinates ``(x, y)`` of the crop's top-left
    pixel, so a crop point ``(u, v)`` is frame point ``(x + u, y + v)``.
    """
    height, width = frame.shape[:2]
    x1, y1 = int(np.floor(window[0])), int(np.floor(window[1]))
    x2, y2 = int(np.ceil(window[2])), int(np.ceil(window[3]))
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    crop = np.zeros((y2 - y1, x2 - x1) + frame.shape[2:], dtype=frame.dtype)
    # The part of the window inside the frame; the rest stays black, like the background of
    # a foreground video, so the person keeps the same place in the crop as in the window.
    inside_x1, inside_y1 = max(x1, 0), max(y1, 0)
    inside_x2, inside_y2 = min(x2, width), min(y2, height)
    if inside_x2 > inside_x1 and inside_y2 > inside_y1:
        crop[inside_y1 - y1:inside_y2 - y1, inside_x1 - x1:inside_x2 - x1] = frame[
            inside_y1:inside_y2, inside_x1:inside_x2
        ]
    return crop, np.array([x1, y1], dtype=np.float64)


def person_score(
    keypoint_scores: np.ndarray, detector_score: float, *, threshold: float = 0.2
) -> float:
    """The person confidence COCO evaluation ranks by: detector score x mean keypoint score.

    As mmpose's top-down COCO evaluation: the mean is over keypoints whose score exceeds
    ``threshold`` (0.2), and it is 0 when none does.
    """
    keypoint_scores = np.asarray(keypoint_scores, dtype=np.float64).reshape(-1)
    confident = keypoint_scores[keypoint_scores > threshold]
    mean = float(confident.mean()) if len(confident) else 0.0
    return float(detector_score) * mean


def estimate_video(
    source: VideoSource,
    detections: DetectionSequence,
    estimator: PoseEstimator,
    *,
    progress: bool = True,
    detections_label: str = "detections",
    times=None,
) -> list[PersonPose]:
    """Estimate the pose of every detected person in every frame of ``source``.

    ``detections`` must be for this video: same frame size and frame count, else
    :class:`VcmError` naming both (the detections as ``detections_label``, their file). Frames are read one at a time and handed to the estimator
    ``estimator.frames_per_batch`` at a time. Returns one :class:`PersonPose` per box with a
    pose (``image_id`` = 1-based frame number, ``box`` = the detection box, ``score`` =
    :func:`person_score`), in frame order then box order; boxes without a pose are counted
    and logged. A progress bar goes to stderr unless ``progress`` is false. The estimator sees
    each box clipped to the frame; a box with no area inside the frame has no pose and is not
    handed to it (:func:`vcm.boxtasks.outputs_per_box`). The estimator's seconds (reading
    frames excepted) are added to ``times`` (a :class:`vcm.pipeline.StageTimes`) as ``pose``
    when given.
    """
    from vcm.pipeline import PoseStage, video_frames

    frames = video_frames(source, detections, detections_label=detections_label,
                          description=f"pose {estimator.name}", progress=progress)
    return found_per_box(PoseStage(estimator), frames, source=str(source.info.path),
                         frames_total=len(detections), boxes_total=detections.count,
                         times=times)
