"""Box-prompted person segmenters, looked up by name in :data:`SEGMENTERS` (``mediapipe``,
``sam``, ``detectron2-mask``; ``box`` is the trivial baseline).

Each segmenter takes the shared detection boxes (no detector of its own, like top-down pose)
and returns one mask per box. Importing this package imports every backend module, which
registers it; a backend imports its framework (e.g. mediapipe) only when it is built.
"""

from vcm.segmenters.base import (
    SEGMENTERS,
    SegmentByFrame,
    Segmenter,
    build_segmenter,
    segment_video,
)
from vcm.segmenters import box, detectron2_mask, mediapipe_backend, sam  # noqa: F401  (registration)

__all__ = ["SEGMENTERS", "SegmentByFrame", "Segmenter", "build_segmenter", "segment_video"]
