"""Per-frame pose features and body signals for motion recognition, from COCO keypoints.

Features are normalised for position, scale and body proportions: each is the direction of
one bone (a unit vector in the image plane), so moving the person, scaling them, or giving
them longer legs leaves it unchanged; only the angles of the limbs remain. The alternative
``positions`` (keypoints relative to the hip centre in torso lengths) is normalised for
position and scale only; ``experiments/bench_motion.py`` compares the two.

Signals for repetition counting are single numbers per frame in radians (joint angles) or
torso lengths (keypoint heights), see :data:`SIGNALS`.
"""

from __future__ import annotations

import math

import numpy as np

from vcm.keypoints import COCO_KEYPOINT_NAMES

_INDEX = {name: number for number, name in enumerate(COCO_KEYPOINT_NAMES)}

MIN_CONFIDENCE = 0.3
"""A keypoint with a lower confidence (or COCO flag 0, not labelled) counts as missing."""

BONES = (
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("shoulder_centre", "hip_centre"),
)
"""The bones whose directions are the ``bones`` features, from first to second point."""

FEATURE_SETS = ("bones", "positions")
"""``bones``: 2 numbers (cos, sin of the bone's image direction) per bone of :data:`BONES`;
``positions``: x, y of the 17 keypoints minus the hip centre, in torso lengths."""


def _points(keypoints: np.ndarray) -> dict[str, np.ndarray]:
    """Keypoint positions (x, y pixels) by name, NaN where missing, with the shoulder and hip
    centres added."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    xy = keypoints[:, :2].copy()
    xy[~(keypoints[:, 2] >= MIN_CONFIDENCE)] = np.nan
    points = {name: xy[number] for name, number in _INDEX.items()}
    points["shoulder_centre"] = (points["left_shoulder"] + points["right_shoulder"]) / 2
    points["hip_centre"] = (points["left_hip"] + points["right_hip"]) / 2
    return points


def feature_size(features: str) -> int:
    """Numbers per frame of the feature set ``features``."""
    return 2 * len(BONES) if features == "bones" else 2 * len(COCO_KEYPOINT_NAMES)


def frame_features(keypoints: np.ndarray, features: str = "bones") -> np.ndarray:
    """The feature vector (float64, :func:`feature_size`) of one person's (17, 3) keypoints
    (``x, y`` pixels, confidence); NaN where a keypoint it needs is missing."""
    points = _points(keypoints)
    if features == "bones":
        values = []
        for start, end in BONES:
            vector = points[end] - points[start]
            length = math.hypot(*vector)
            # |x|: a person turned to the left and one turned to the right look the same.
            values += [abs(vector[0]) / length, vector[1] / length] if length > 0 \
                else [math.nan, math.nan]
        return np.array(values)
    if features == "positions":
        torso = math.hypot(*(points["shoulder_centre"] - points["hip_centre"]))
        xy = np.stack([points[name] for name in COCO_KEYPOINT_NAMES])
        if not torso > 0:
            return np.full(feature_size(features), math.nan)
        return ((xy - points["hip_centre"]) / torso).reshape(-1)
    raise ValueError(f"unknown feature set {features!r}; choose one of {', '.join(FEATURE_SETS)}")


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in radians between two image vectors (NaN when either is missing or zero)."""
    norms = math.hypot(*a) * math.hypot(*b)
    if not norms > 0:
        return math.nan
    return math.acos(max(-1.0, min(1.0, float(np.dot(a, b)) / norms)))


def _mean(values: list[float]) -> float:
    known = [value for value in values if not math.isnan(value)]
    return sum(known) / len(known) if known else math.nan


SIGNALS = {
    "knee_flexion": 1.5,
    "arm_elevation": 2.5,
    "ankle_alternation": 1.0,
}
"""The body signals repetitions are counted on, with each one's nominal peak-to-peak range
(radians, radians, torso lengths): the signal whose range over the recent past is the largest
share of its nominal range is the one counted. ``knee_flexion``: mean over both legs of
pi minus the hip-knee-ankle angle (0 straight; squats). ``arm_elevation``: mean over both arms
of the angle between the upper arm and straight down (0 down, pi up; arm raises, jumping
jacks). ``ankle_alternation``: left ankle height minus right ankle height in torso lengths
(one period per left-right step cycle; walking in place)."""


def body_signals(keypoints: np.ndarray) -> np.ndarray:
    """The :data:`SIGNALS` of one person's (17, 3) keypoints, in that order (NaN where a
    keypoint it needs is missing)."""
    points = _points(keypoints)
    flexion = [math.pi - _angle(points[f"{side}_hip"] - points[f"{side}_knee"],
                                points[f"{side}_ankle"] - points[f"{side}_knee"])
               for side in ("left", "right")]
    down = np.array([0.0, 1.0])  # image rows grow downwards
    elevation = [_angle(points[f"{side}_elbow"] - points[f"{side}_shoulder"], down)
                 for side in ("left", "right")]
    torso = math.hypot(*(points["shoulder_centre"] - points["hip_centre"]))
    # Rows grow downwards: the left ankle higher up gives a positive value.
    alternation = ((points["right_ankle"][1] - points["left_ankle"][1]) / torso
                   if torso > 0 else math.nan)
    return np.array([_mean(flexion), _mean(elevation), alternation])
