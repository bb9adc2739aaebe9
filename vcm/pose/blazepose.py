"""BlazePose (MediaPipe Pose 0.10.21, CPU) run top-down on a padded crop around each person box.

MediaPipe Pose finds one person per image: a detector locates the person, then a landmark
model predicts 33 BlazePose landmarks. Run on the crop of one detection box, it gives that
person's pose. Its landmarks map to the 17 COCO keypoints through :data:`BLAZEPOSE_TO_COCO`:
nose 0, eye centres 2 and 5 (not the inner/outer corners), ears 7 and 8, shoulders, elbows
and wrists 11-16, hips, knees and ankles 23-28; BlazePose's mouth, hand and foot landmarks
have no COCO counterpart.

The keypoint confidence is the landmark's ``visibility``: MediaPipe's estimate of the
probability that the landmark is in the image and not occluded. It is the closest BlazePose
output to a heatmap confidence, but it is not calibrated the same way as HRNet's scores.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from vcm.boxes import clip_boxes
from vcm.errors import VcmError
from vcm.frameworks import import_mediapipe
from vcm.keypoints import COCO_KEYPOINT_NAMES
from vcm.pose.base import POSE_ESTIMATORS, BatchByFrame, crop_windows, extract_crop
from vcm.registry import Option
from vcm.store import file_sha256

BLAZEPOSE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
"""For each COCO keypoint (in :data:`vcm.keypoints.COCO_KEYPOINT_NAMES` order), the index of
the BlazePose landmark that gives it."""

LANDMARK_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite",
                   2: "pose_landmark_heavy.tflite"}
"""MediaPipe's landmark model file for each ``model_complexity``; the wheel bundles only
``full`` (1) and downloads the others on first use."""


def landmarks_to_coco(landmarks: np.ndarray, window_origin: np.ndarray, window_size: np.ndarray):
    """COCO keypoints (17, 3) in frame pixels from BlazePose landmarks (33, 3) of one crop.

    ``landmarks`` rows are ``x, y`` normalized to the crop (0..1 across its width and
    height; a landmark outside the crop falls outside 0..1) and the visibility in [0, 1];
    ``window_origin`` is the frame position ``(x, y)`` of the crop's top-left corner and
    ``window_size`` its ``(width, height)``, in pixels.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    coco = landmarks[list(BLAZEPOSE_TO_COCO)].copy()
    coco[:, :2] = window_origin + coco[:, :2] * window_size
    return coco


CROP_MODES = ("box", "square", "aspect")
"""Crop shapes: the box's own, a square, or a fixed width / height (``aspect``)."""


def blazepose_windows(
    boxes: np.ndarray, *, crop: str, padding: float, aspect: float = 0.75
) -> np.ndarray:
    """Crop windows (N, 4) ``x1, y1, x2, y2`` in pixels around person boxes (N, 4), same units.

    ``crop`` sets the window's shape before padding: ``"box"`` the box itself (its own
    aspect ratio), ``"square"`` a square of the box's long side, or ``"aspect"`` the width /
    height ratio ``aspect``, reached by lengthening the box's short side. ``padding`` is the
    fraction added to each side length (0.25: 12.5 % margin each side). Windows are centred
    on the boxes and may extend past the frame.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if crop == "box":
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        half = (boxes[:, 2:] - boxes[:, :2]) * (1 + padding) / 2
        return np.column_stack([centre - half, centre + half])
    return crop_windows(boxes, padding=1 + padding, aspect=1.0 if crop == "square" else aspect)


@POSE_ESTIMATORS.register("blazepose")
class BlazePoseEstimator(BatchByFrame):
    """MediaPipe Pose on one padded crop per person box (the box's own shape by default).

    Arguments: ``crop`` the crop's shape, ``"box"`` (the box's aspect ratio), ``"square"``
    (the box's long side) or ``"aspect"`` (width / height ``aspect``); ``padding`` the fraction
    added to the crop's width and height (0.25 leaves 12.5 % each side, so the detector
    inside MediaPipe sees the whole person); ``min_detection_confidence`` MediaPipe's
    person-detector threshold in [0, 1], below which a crop yields no pose;
    ``model_complexity`` 0 (lite), 1 (full) or 2 (heavy).

    The default (``box``, 0.25) won on real people (docs/results.md, "Measured";
    ``experiments/bench_pose.py``): a square crop around a standing person takes in the
    neighbours beside them, and MediaPipe's own person detector then often fits the wrong
    one. The crop is cut around the box centre; where it leaves the frame it is black,
    which matches a foreground video's background.

    One MediaPipe graph is built per instance and reused for every crop
    (``static_image_mode=True``: every crop is detected afresh, nothing is tracked between
    calls). The graph is not safe to share between threads: use one instance per thread or
    process. :meth:`close` (or a ``with`` block) frees it.
    """

    name = "blazepose"
    keypoint_names = COCO_KEYPOINT_NAMES
    # Bounded so a crop is at most a few frames in size (see vcm.pose.base.crop_windows).
    option_schema = {
        "crop": Option(str, choices=CROP_MODES, help="crop shape: box, square or aspect"),
        "padding": Option(float, low=0.0, high=3.0,
                          help="fraction added to the crop's width and height"),
        "min_detection_confidence": Option(float, low=0.0, high=1.0),
        "model_complexity": Option(int, choices=tuple(LANDMARK_MODELS)),
        "aspect": Option(float, low=0.1, high=10.0, help="crop width / height with crop=aspect"),
    }

    def __init__(
        self,
        *,
        crop: str = "box",
        padding: float = 0.25,
        min_detection_confidence: float = 0.5,
        model_complexity: int = 1,
        aspect: float = 0.75,
    ) -> None:
        if padding < 0:
            raise ValueError(f"padding must be 0 or more, got {padding}")
        if crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {', '.join(CROP_MODES)}, got {crop!r}")
        if aspect <= 0:
            raise ValueError(f"aspect must be positive, got {aspect}")
        if not 0.0 <= min_detection_confidence <= 1.0:
            raise ValueError(
                f"min_detection_confidence must be in [0, 1], got {min_detection_confidence}"
            )
        if model_complexity not in LANDMARK_MODELS:
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
        self.crop = crop
        self.padding = float(padding)
        self.aspect = float(aspect)
        self.min_detection_confidence = float(min_detection_confidence)
        self.model_complexity = int(model_complexity)
        mediapipe, self._mediapipe_version, modules = import_mediapipe(
            "pose estimator blazepose")
        self.files = {
            "detector": modules / "pose_detection" / "pose_detection.tflite",
            "landmarks": modules / "pose_landmark" / LANDMARK_MODELS[self.model_complexity],
        }
        # MediaPipe fetches a missing model from the network inside its graph, which fails
        # offline with an opaque error; say which file is missing instead.
        if not self.files["landmarks"].is_file() and os.environ.get("VCM_OFFLINE", "") not in (
            "", "0",
        ):
            raise VcmError(
                f"{self.files['landmarks']}: missing and VCM_OFFLINE is set; mediapipe "
                f"bundles only model_complexity=1"
            )
        self._pose = mediapipe.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=self.model_complexity,
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=self.min_detection_confidence,
        )

    def estimate(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[np.ndarray | None]:
        """COCO keypoints (17, 3) in frame pixels for each box, or ``None`` where MediaPipe
        finds no person in the box's crop. ``scores`` are not used."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got "
                             f"{frame_bgr.shape} {frame_bgr.dtype}")
        height, width = frame_bgr.shape[:2]
        # Clipped before sizing the crop: a box of 1e6 pixels would otherwise ask for a
        # crop of terabytes.
        windows = self.crop_windows_for(boxes, width, height)
        poses: list[np.ndarray | None] = []
        for window in windows:
            crop, origin = extract_crop(frame_bgr, window)
            result = self._pose.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is None:
                poses.append(None)
                continue
            landmarks = np.array(
                [(mark.x, mark.y, mark.visibility) for mark in result.pose_landmarks.landmark]
            )
            size = np.array([crop.shape[1], crop.shape[0]], dtype=np.float64)
            poses.append(landmarks_to_coco(landmarks, origin, size))
        return poses

    def crop_windows_for(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """The crop windows (N, 4) ``x1, y1, x2, y2`` pixels this estimator reads around
        ``boxes`` (N, 4) in a ``width`` x ``height`` frame."""
        return blazepose_windows(clip_boxes(boxes, width, height), crop=self.crop,
                                 padding=self.padding, aspect=self.aspect)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model": f"mediapipe pose ({LANDMARK_MODELS[self.model_complexity]})",
            "mediapipe": self._mediapipe_version,
            "files": {
                path.name: file_sha256(path) for path in self.files.values() if path.is_file()
            },
            "model_complexity": self.model_complexity,
            "min_detection_confidence": self.min_detection_confidence,
            "crop": self.crop,
            "padding": self.padding,
            "aspect": self.aspect,
            "crop_window": "crop shape grown by padding about the box centre, black outside "
                           "the frame",
            "keypoint_score": "landmark visibility",
            "landmarks_to_coco": list(BLAZEPOSE_TO_COCO),
        }

    def close(self) -> None:
        """Free the MediaPipe graph; the estimator cannot be used afterwards."""
        self._pose.close()

    def __enter__(self) -> "BlazePoseEstimator":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
