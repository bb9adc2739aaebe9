"""Top-down pose estimators, looked up by name in :data:`POSE_ESTIMATORS` (``blazepose``, ``hrnet``).

Importing this package imports every backend module, which registers it; a backend imports
its framework (e.g. mediapipe) only when it is built.
"""

from vcm.pose.base import (
    POSE_ESTIMATORS,
    BatchByFrame,
    PoseEstimator,
    build_pose_estimator,
    crop_windows,
    estimate_video,
    extract_crop,
    person_score,
)
from vcm.pose import blazepose, hrnet  # noqa: F401  (registration)

__all__ = [
    "POSE_ESTIMATORS",
    "BatchByFrame",
    "PoseEstimator",
    "build_pose_estimator",
    "crop_windows",
    "estimate_video",
    "extract_crop",
    "person_score",
]
