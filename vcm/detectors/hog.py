"""HOG + linear SVM people detector (Dalal & Triggs), OpenCV's default model; no download."""

from __future__ import annotations

import cv2
import numpy as np

from vcm.detectors.base import DETECTORS, non_maximum_suppression
from vcm.registry import THREADS, Option

# OpenCV's default people detector is trained on INRIA 64x128 windows in which the person is
# about 96 pixels tall and 32 wide, with 16-pixel margins all round. The detector returns
# the whole window; trimming these margins gives a box around the person (on PETS09-S3MF1,
# score >= 0.6, it raises detections matching the ground truth at IoU 0.5 from 4 of 402
# to 363 of 403).
_WINDOW_MARGIN_X = 16 / 64
_WINDOW_MARGIN_Y = 16 / 128


def margin_to_score(margins: np.ndarray) -> np.ndarray:
    """Map SVM margins (signed distances to the decision boundary) to scores in (0, 1).

    The logistic function ``1 / (1 + exp(-margin))``: monotone, 0.5 exactly at the SVM's own
    decision boundary (margin 0, where HOG detection stops by default), so the default
    threshold 0.6 means margin >= ln(1.5) = 0.405. It is no calibrated probability, but the
    cut is sensible: on PETS09-S3MF1 (IoU 0.5) 9 of the 21 detections scoring 0.5 to 0.6 are
    wrong, against 40 of the 403 scoring 0.6 or more (recall 0.60 -> 0.59, precision
    0.88 -> 0.90).
    """
    margins = np.asarray(margins, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-margins))


@DETECTORS.register("hog")
class HogDetector:
    """Multi-scale HOG people detection, then NMS on the person boxes.

    Arguments (pixels unless said otherwise): ``win_stride`` and ``padding`` as (x, y),
    ``scale`` the factor between pyramid levels, ``hit_threshold`` the minimum SVM margin
    (0: every score is at least 0.5),
    ``group_threshold`` OpenCV's rectangle grouping (minimum neighbours - 1),
    ``nms_iou`` the IoU above which a lower-scoring box is suppressed, ``trim_window``
    whether to trim the training margins from the detection window (see module notes),
    ``threads`` OpenCV threads for the detection (``None``: OpenCV's default).

    One thread by default because OpenCV's parallel HOG is not reproducible: in a sweep, two
    jobs running it on the same decoded frames gave one box different scores (SVM margin
    2.13 against 1.12), which moved a pose AP. A sweep runs several jobs at once anyway.
    """

    name = "hog"
    option_schema = {
        "win_stride": Option(int, low=1, high=512, length=2, help="window step (x, y) in pixels"),
        "padding": Option(int, low=0, high=512, length=2, help="window padding (x, y) in pixels"),
        # A factor of 1 or less would never shrink the pyramid.
        "scale": Option(float, above=1.0, high=4.0, help="factor between pyramid levels"),
        "hit_threshold": Option(float, low=-100.0, high=100.0, help="minimum SVM margin"),
        "group_threshold": Option(int, low=0, high=100, help="OpenCV grouping (neighbours - 1)"),
        "nms_iou": Option(float, low=0.0, high=1.0, help="NMS IoU"),
        "trim_window": Option(bool, help="trim the training margins from the window"),
        "threads": THREADS,
    }

    def __init__(
        self,
        *,
        win_stride: tuple[int, int] = (8, 8),
        padding: tuple[int, int] = (8, 8),
        scale: float = 1.05,
        hit_threshold: float = 0.0,
        group_threshold: int = 2,
        nms_iou: float = 0.45,
        trim_window: bool = True,
        threads: int | None = 1,
    ) -> None:
        self.win_stride = (int(win_stride[0]), int(win_stride[1]))
        self.padding = (int(padding[0]), int(padding[1]))
        self.scale = float(scale)
        self.hit_threshold = float(hit_threshold)
        self.group_threshold = int(group_threshold)
        self.nms_iou = float(nms_iou)
        self.trim_window = bool(trim_window)
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1 or None, got {threads}")
        self.threads = threads
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (N, 4) ``x1, y1, x2, y2`` in frame pixels and scores (N,) in (0, 1).

        Frames smaller than the 64x128 detection window have no detections.
        """
        window_width, window_height = self._hog.winSize
        if frame_bgr.shape[0] < window_height or frame_bgr.shape[1] < window_width:
            # OpenCV 4.11 corrupts memory (segfault or abort) on such frames, e.g. 200 wide
            # and 80 tall, although no window fits in them.
            return np.zeros((0, 4)), np.zeros(0)
        previous_threads = cv2.getNumThreads()
        if self.threads is not None:
            cv2.setNumThreads(self.threads)
        try:
            windows, margins = self._hog.detectMultiScale(
                frame_bgr,
                hitThreshold=self.hit_threshold,
                winStride=self.win_stride,
                padding=self.padding,
                scale=self.scale,
                groupThreshold=self.group_threshold,
            )
        finally:
            cv2.setNumThreads(previous_threads)
        windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
        scores = margin_to_score(np.asarray(margins, dtype=np.float64).reshape(-1))
        x, y, width, height = windows.T
        if self.trim_window:
            margin_x, margin_y = _WINDOW_MARGIN_X * width, _WINDOW_MARGIN_Y * height
        else:
            margin_x, margin_y = np.zeros_like(width), np.zeros_like(height)
        boxes = np.column_stack(
            [x + margin_x, y + margin_y, x + width - margin_x, y + height - margin_y]
        )
        kept = non_maximum_suppression(boxes, scores, iou_threshold=self.nms_iou)
        return boxes[kept], scores[kept]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model": "OpenCV HOGDescriptor default people detector (INRIA, 64x128)",
            "opencv": cv2.__version__,
            "score": "logistic(svm_margin)",
            "win_stride": list(self.win_stride),
            "padding": list(self.padding),
            "scale": self.scale,
            "hit_threshold": self.hit_threshold,
            "group_threshold": self.group_threshold,
            "nms_iou": self.nms_iou,
            "trim_window": self.trim_window,
            "threads": self.threads,
        }
