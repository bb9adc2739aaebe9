"""MediaPipe person segmentation (0.10.21, CPU) run on a square crop around each person box.

Two MediaPipe models give a per-pixel person probability for an image, and both ship inside
the mediapipe wheel (nothing is downloaded):

* ``selfie``: Selfie Segmentation (``mp.solutions.selfie_segmentation``, the general 256x256
  model), a small encoder-decoder that labels every pixel person / background;
* ``pose``: MediaPipe Pose with ``enable_segmentation=True``: BlazePose finds the person in
  the crop, then its landmark model also predicts a mask of that person. Where the pose
  detector finds nobody there is no mask.

Each box's crop (a square window around the box, ``padding`` x its long side, black outside
the frame) is segmented on its own, so each box gets the mask of the person it frames. The
probability map is thresholded at ``threshold`` and kept only inside the crop window (and,
with ``restrict="box"``, inside the box), then pasted into a frame-sized mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from vcm.boxes import clip_boxes
from vcm.frameworks import import_mediapipe
from vcm.masks import box_pixel_mask, encode_mask, paste_window_mask
from vcm.pose.base import crop_windows, extract_crop
from vcm.registry import Option
from vcm.segmenters.base import SEGMENTERS, SegmentByFrame
from vcm.store import file_sha256

MODELS = ("selfie", "pose")
"""The MediaPipe models the ``mediapipe`` segmenter can run (see the module docstring)."""

RESTRICTIONS = ("window", "box")
"""Where a mask may have pixels: the crop window, or the box itself."""


@SEGMENTERS.register("mediapipe")
class MediaPipeSegmenter(SegmentByFrame):
    """MediaPipe segmentation of one square crop per person box.

    Arguments: ``model`` ``"selfie"`` or ``"pose"`` (see the module docstring); ``threshold``
    the person probability in (0, 1) above which a pixel belongs to the mask; ``padding`` the
    crop's side relative to the box's long side (1.25 leaves 12.5 % each side);
    ``restrict`` ``"window"`` (mask pixels anywhere in the crop window) or ``"box"`` (only
    inside the box); ``min_detection_confidence`` the pose model's person-detector threshold
    in [0, 1] (``model="pose"`` only).

    The defaults were measured with ground-truth boxes on the mirror's COCO images (14
    people), its OCHuman images (5 occluded people) and the synthetic sample (README,
    "Segmentation"; ``experiments/bench_segment.py``): ``selfie`` reached mask AP 0.55 / 0.17
    / 0.40 at 17 ms per box, ``pose`` 0.54 / 0.25 / 0.33 at 120 ms per box (it finds no
    person in some crops); keeping the mask inside the box matters most, because the selfie
    model marks every person in the crop (COCO AP 0.51 -> 0.55, sample 0.11 -> 0.40);
    threshold 0.7 beat 0.5 and 0.3 on both sets of real images.

    One MediaPipe graph is built per instance and reused for every crop; it is not safe to
    share between threads. :meth:`close` (or a ``with`` block) frees it.
    """

    name = "mediapipe"
    option_schema = {
        "model": Option(str, choices=MODELS, help="selfie or pose"),
        "threshold": Option(float, above=0.0, high=0.999, help="person probability, (0, 1)"),
        "padding": Option(float, above=0.0, high=4.0, help="crop side / box long side"),
        "restrict": Option(str, choices=RESTRICTIONS, help="mask pixels inside window or box"),
        "min_detection_confidence": Option(float, low=0.0, high=1.0),
    }

    def __init__(
        self,
        *,
        model: str = "selfie",
        threshold: float = 0.7,
        padding: float = 1.25,
        restrict: str = "box",
        min_detection_confidence: float = 0.5,
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        if restrict not in RESTRICTIONS:
            raise ValueError(f"restrict must be one of {', '.join(RESTRICTIONS)}, got {restrict!r}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if not 0.0 < padding <= 4.0:
            raise ValueError(f"padding must be in (0, 4], got {padding}")
        if not 0.0 <= min_detection_confidence <= 1.0:
            raise ValueError(
                f"min_detection_confidence must be in [0, 1], got {min_detection_confidence}"
            )
        self.model = model
        self.threshold = float(threshold)
        self.padding = float(padding)
        self.restrict = restrict
        self.min_detection_confidence = float(min_detection_confidence)
        mediapipe, self._mediapipe_version, modules = import_mediapipe("segmenter mediapipe")
        if model == "selfie":
            self.files = [modules / "selfie_segmentation" / "selfie_segmentation.tflite"]
            # model_selection 0: the general model on 256x256 inputs, which square crops fit;
            # 1 is the 144x256 landscape model for video calls.
            self._graph = mediapipe.solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=0
            )
        else:
            self.files = [modules / "pose_detection" / "pose_detection.tflite",
                          modules / "pose_landmark" / "pose_landmark_full.tflite"]
            self._graph = mediapipe.solutions.pose.Pose(
                static_image_mode=True, model_complexity=1, smooth_landmarks=False,
                enable_segmentation=True, smooth_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
            )

    def probabilities(self, crop_bgr: np.ndarray) -> np.ndarray | None:
        """Person probability in [0, 1] for each pixel of ``crop_bgr`` (h, w, 3 uint8 BGR),
        a float32 (h, w) array, or ``None`` where the pose model finds no person."""
        result = self._graph.process(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB))
        if result.segmentation_mask is None:
            return None
        return np.asarray(result.segmentation_mask, dtype=np.float32)

    def segment(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[dict | None]:
        """COCO RLE frame masks for each box (``x1, y1, x2, y2`` pixels inside the frame), or
        ``None`` where no pixel of the crop passes the threshold. ``scores`` are not used."""
        return [None if mask is None else encode_mask(mask)
                for mask in self.person_masks(frame_bgr, boxes)]

    def person_masks(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> list[np.ndarray | None]:
        """For each box (``x1, y1, x2, y2`` pixels inside the frame), the person's (H, W) bool
        frame mask, or ``None`` where no pixel of the crop passes the threshold."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 BGR frame, got "
                             f"{frame_bgr.shape} {frame_bgr.dtype}")
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        frame_size = frame_bgr.shape[:2]
        masks: list[np.ndarray | None] = []
        for box, window in zip(boxes, crop_windows(boxes, padding=self.padding, aspect=1.0)):
            crop, origin = extract_crop(frame_bgr, window)
            probabilities = self.probabilities(crop)
            if probabilities is None:
                masks.append(None)
                continue
            window_mask = probabilities > self.threshold
            if self.restrict == "box":
                window_mask &= box_pixel_mask(box, window_mask.shape, origin)
            frame_mask = paste_window_mask(window_mask, (int(origin[0]), int(origin[1])),
                                           frame_size)
            masks.append(frame_mask if frame_mask.any() else None)
        return masks

    def crop_windows_for(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """The crop windows (N, 4) ``x1, y1, x2, y2`` pixels this segmenter reads around
        ``boxes`` (N, 4) in a ``width`` x ``height`` frame (boxes clipped first, as
        :func:`vcm.boxtasks.outputs_per_box` hands them)."""
        return crop_windows(clip_boxes(boxes, width, height), padding=self.padding, aspect=1.0)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "model": ("mediapipe selfie segmentation (general, 256x256)" if self.model == "selfie"
                      else "mediapipe pose segmentation (pose_landmark_full)"),
            "mediapipe": self._mediapipe_version,
            "files": {path.name: file_sha256(path) for path in self.files if path.is_file()},
            "threshold": self.threshold,
            "padding": self.padding,
            "restrict": self.restrict,
            "min_detection_confidence": self.min_detection_confidence,
            "crop": "square window around the box centre, black outside the frame",
            "score": "detector score",
        }

    def close(self) -> None:
        """Free the MediaPipe graph; the segmenter cannot be used afterwards."""
        self._graph.close()

    def __enter__(self) -> "MediaPipeSegmenter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

