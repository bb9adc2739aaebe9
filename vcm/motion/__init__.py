"""Motion recognition and repetition counting per track, from poses and tracks.

Recognizers are looked up by name in :data:`MOTION_RECOGNIZERS` (``knn``, the embedded
default: no download, no GPU). :class:`MotionStage` is the per-frame component the batch
command (``vcm motion``), the evaluator and the live server run. See docs/motion.md.
"""

from vcm.motion.base import (
    MOTION_RECOGNIZERS,
    UNKNOWN,
    KnnMotion,
    MotionStage,
    TrackMotion,
    build_motion_recognizer,
    poses_by_track,
)
from vcm.motion.gallery import Gallery, read_gallery, write_gallery
from vcm.motion.labels import LabelRow, read_labels

__all__ = [
    "MOTION_RECOGNIZERS",
    "UNKNOWN",
    "Gallery",
    "KnnMotion",
    "LabelRow",
    "MotionStage",
    "TrackMotion",
    "build_motion_recognizer",
    "poses_by_track",
    "read_gallery",
    "read_labels",
    "write_gallery",
]
