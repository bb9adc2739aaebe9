"""Anonymised foregrounds: the faces inside the kept person boxes blurred, pixelated or filled
on the edge, before the foreground is coded, so no face leaves it (issue 22).

Faces are searched on the *original* frame inside each person box (the box grown by the
foreground's margins and clipped to the frame, as the ``mask`` segmenter sees it) with
MediaPipe's face detection (``mp.solutions.face_detection``, both models in the mediapipe
0.10.21 wheel, nothing downloaded), two searches per box whose faces are united:

* the short-range model (128x128 input) on the box's upper part: a square window, top-aligned
  with the box, of side ``max(box width, UPPER_PART x box height)`` centred on the box's
  centre column, enlarged ``UPSCALE`` times;
* the full-range model (192x192, faces up to about 5 m) on the whole box.

Measured with ground-truth boxes on the mirror's COCO keypoint images (10 people whose nose
and an eye are labelled; a face counts when its box holds the nose): the short-range model
on the upper half enlarged 2x found 8 of 10 (7 without enlarging, 4 on the whole box), the
full-range model on the whole box 6; together 9 of 10 (the tenth lies on its side). On the
whole image without boxes the two models found 0 and 1 (``experiments/bench_anonymise.py``
prints the search's share on its footage; docs/anonymise.md).

Each face box grows by ``margin`` x its width (left and right) and x its height (top and
bottom) (MediaPipe's box is tight around eyes, nose and mouth; hair, ears and chin lie
outside it). A box in which no face is found has the top ``head`` fraction of it (full
width) anonymised instead, unless ``head`` is 0: on the COCO images every labelled face
keypoint (nose, eyes, ears: 46 of 46) lies in the top 0.2 of its person's box, and 13 of 135
body keypoints do. What the face region shows:

* ``blur``: a Gaussian of sigma ``long side / blocks`` pixels over the region's own pixels
  (edges replicated, so nothing outside leaks in and nothing inside survives unblurred);
* ``pixelate``: the region in a grid of square blocks of ``ceil(long side / blocks)``
  pixels from its top-left corner (cut at its right and bottom edges), each block the mean
  of its pixels, rounded to the nearest integer;
* ``fill``: every pixel :data:`FILL_VALUE` (mid-grey, RGB 128).

Rectangles are ``c0, r0, c1, r1`` whole pixels (end exclusive) inside the frame; boxes are
``x1, y1, x2, y2`` pixels of the original frame.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from vcm.boxes import merged_boxes
from vcm.frameworks import import_mediapipe
from vcm.masking import ANONYMISE

FILL_VALUE = 128
"""The value of every channel of a ``fill`` face region (mid-grey)."""

UPPER_PART = 0.5
"""The share of the box's height the short-range search window starts from (measured)."""

UPSCALE = 2
"""How many times the short-range search window is enlarged (measured: 8 faces of 10 found
on the COCO images against 7 unenlarged)."""

MIN_CONFIDENCE = 0.5
"""MediaPipe's face score threshold (its default; 0.3 found no more faces on the COCO images)."""


def upper_window(box: np.ndarray) -> np.ndarray:
    """The short-range search window (4,) ``x1, y1, x2, y2`` of a person ``box``: a square
    of side ``max(width, UPPER_PART x height)`` with the box's top edge and centre column."""
    x1, y1, x2, y2 = (float(value) for value in box)
    side = max(x2 - x1, UPPER_PART * (y2 - y1))
    centre = (x1 + x2) / 2
    return np.array([centre - side / 2, y1, centre + side / 2, y1 + side])


def grown_faces(faces: np.ndarray, margin: float) -> np.ndarray:
    """Face boxes (K, 4) ``x1, y1, x2, y2`` grown by ``margin`` x their width on the left
    and right and x their height on the top and bottom (float pixels)."""
    faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4).copy()
    grow = np.column_stack([faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1]]) * margin
    faces[:, :2] -= grow
    faces[:, 2:] += grow
    return faces


def head_box(box: np.ndarray, fraction: float) -> np.ndarray:
    """The head region (4,) assumed in a person ``box`` with no face found: its top
    ``fraction`` of the height, its full width."""
    x1, y1, x2, y2 = (float(value) for value in box)
    return np.array([x1, y1, x2, y1 + fraction * (y2 - y1)])


def pixel_rectangles(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """The whole-pixel rectangles (M, 4) int64 ``c0, r0, c1, r1`` (end exclusive) that
    ``boxes`` (M, 4) touch inside a ``width`` x ``height`` frame; empty ones left out."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    limits = np.array([width, height, width, height], dtype=np.float64)
    boxes = np.clip(boxes, 0.0, limits)
    rectangles = np.column_stack([np.floor(boxes[:, :2]), np.ceil(boxes[:, 2:])]).astype(np.int64)
    return rectangles[(rectangles[:, 2] > rectangles[:, 0]) & (rectangles[:, 3] > rectangles[:, 1])]


def face_rectangles(faces_per_box: Sequence[np.ndarray], boxes: np.ndarray, width: int,
                    height: int, *, margin: float, head: float) -> np.ndarray:
    """The rectangles (M, 4) ``c0, r0, c1, r1`` to anonymise in a frame: each box's faces
    (``faces_per_box``, one (K, 4) array per box of ``boxes``) grown by ``margin``; for a
    box with none, its :func:`head_box` of ``head`` (nothing when ``head`` is 0)."""
    regions = []
    for faces, box in zip(faces_per_box, np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
                          strict=True):
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
        if len(faces):
            regions.append(grown_faces(faces, margin))
        elif head > 0:
            regions.append(head_box(box, head)[None])
    if not regions:
        return np.zeros((0, 4), dtype=np.int64)
    return pixel_rectangles(np.concatenate(regions), width, height)


def block_side(rectangle: np.ndarray, blocks: int) -> int:
    """The side in pixels of a ``pixelate`` block of ``rectangle`` ``c0, r0, c1, r1``:
    ``ceil(long side / blocks)``."""
    c0, r0, c1, r1 = (int(value) for value in rectangle)
    return max(1, math.ceil(max(c1 - c0, r1 - r0) / blocks))


def pixelate(region: np.ndarray, side: int) -> np.ndarray:
    """``region`` (h, w, C) uint8 in blocks of ``side`` x ``side`` pixels from its top-left
    (cut at the right and bottom), each block the rounded mean of its pixels."""
    height, width = region.shape[:2]
    rows, columns = np.arange(0, height, side), np.arange(0, width, side)
    sums = np.add.reduceat(np.add.reduceat(region.astype(np.int64), rows, axis=0), columns, axis=1)
    counts = np.outer(np.diff(np.append(rows, height)), np.diff(np.append(columns, width)))
    means = np.rint(sums / counts[..., None]).astype(np.uint8)
    return np.repeat(np.repeat(means, side, axis=0), side, axis=1)[:height, :width]


def anonymise_image(image: np.ndarray, rectangles: np.ndarray, how: str, blocks: int) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with each of ``rectangles`` (M, 4) ``c0, r0, c1,
    r1`` blurred, pixelated or filled (``how``; module docstring). Overlapping rectangles
    are treated one after the other, in order."""
    if how not in ANONYMISE:
        raise ValueError(f"anonymise must be one of {', '.join(ANONYMISE)}, got {how!r}")
    result = image.copy()
    if how == "none":
        return result
    for rectangle in np.asarray(rectangles, dtype=np.int64).reshape(-1, 4):
        c0, r0, c1, r1 = (int(value) for value in rectangle)
        region = result[r0:r1, c0:c1]
        if how == "fill":
            region[...] = FILL_VALUE
        elif how == "pixelate":
            region[...] = pixelate(region, block_side(rectangle, blocks))
        else:
            sigma = max(c1 - c0, r1 - r0) / blocks
            region[...] = cv2.GaussianBlur(np.ascontiguousarray(region), (0, 0), sigmaX=sigma,
                                           sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    return result


class FaceFinder:
    """MediaPipe face detection inside person boxes (module docstring: the two searches).

    One graph per model is built per instance and reused; not safe to share between threads.
    :meth:`close` frees them."""

    name = "mediapipe-face"

    def __init__(self, *, min_confidence: float = MIN_CONFIDENCE) -> None:
        if not 0.0 < min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {min_confidence}")
        self.min_confidence = float(min_confidence)
        mediapipe, self._mediapipe_version, modules = import_mediapipe("anonymise")
        self.files = [modules / "face_detection" / "face_detection_short_range.tflite",
                      modules / "face_detection" / "face_detection_full_range_sparse.tflite"]
        detection = mediapipe.solutions.face_detection
        self._short = detection.FaceDetection(model_selection=0,
                                              min_detection_confidence=self.min_confidence)
        self._full = detection.FaceDetection(model_selection=1,
                                             min_detection_confidence=self.min_confidence)

    def detect(self, image_bgr: np.ndarray, *, full_range: bool) -> np.ndarray:
        """Face boxes (K, 4) ``x1, y1, x2, y2`` in pixels of ``image_bgr`` (h, w, 3 uint8),
        cut to the image, with the short- or the full-range model."""
        graph = self._full if full_range else self._short
        result = graph.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        height, width = image_bgr.shape[:2]
        faces = []
        for detection in result.detections or []:
            box = detection.location_data.relative_bounding_box
            faces.append([box.xmin * width, box.ymin * height, (box.xmin + box.width) * width,
                          (box.ymin + box.height) * height])
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
        return np.clip(faces, 0.0, np.array([width, height, width, height], dtype=np.float64))

    def faces(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """For each person box (``x1, y1, x2, y2`` pixels inside the frame), the faces found
        in it, (K, 4) ``x1, y1, x2, y2`` frame pixels (K may be 0); overlapping faces of the
        two searches are merged (:func:`merged_boxes`)."""
        from vcm.pose.base import extract_crop

        found = []
        for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            crop, origin = extract_crop(frame_bgr, upper_window(box))
            enlarged = cv2.resize(crop, None, fx=UPSCALE, fy=UPSCALE,
                                  interpolation=cv2.INTER_LINEAR)
            upper = self.detect(enlarged, full_range=False) / UPSCALE + np.tile(origin, 2)
            crop, origin = extract_crop(frame_bgr, box)
            whole = self.detect(crop, full_range=True) + np.tile(origin, 2)
            found.append(merged_boxes(np.concatenate([upper, whole])))
        return found

    def describe(self) -> dict:
        from vcm.store import file_sha256

        return {
            "name": self.name,
            "mediapipe": self._mediapipe_version,
            "files": {path.name: file_sha256(path) for path in self.files if path.is_file()},
            "min_confidence": self.min_confidence,
            "search": f"short-range model on the box's upper square (side max(width, "
                      f"{UPPER_PART} x height)) enlarged {UPSCALE}x, and full-range model on "
                      "the whole box; faces of both",
        }

    def close(self) -> None:
        """Free the MediaPipe graphs; the finder cannot be used afterwards."""
        self._short.close()
        self._full.close()
