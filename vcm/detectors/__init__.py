"""Person detectors, looked up by name in :data:`DETECTORS` (``hog``, ``yolo-fastest``, ``oracle``, ``torchvision``, ``detectron2``, ``jde``).

Importing this package imports every backend module, which registers it.
"""

from vcm.detectors.base import (
    DETECTORS,
    Detector,
    build_detector,
    detect_video,
    non_maximum_suppression,
    postprocess,
)
from vcm.detectors import detectron2, hog, jde, oracle, torchvision_rcnn, yolo_fastest  # noqa: F401  (registration)

__all__ = [
    "DETECTORS",
    "Detector",
    "build_detector",
    "detect_video",
    "non_maximum_suppression",
    "postprocess",
]
