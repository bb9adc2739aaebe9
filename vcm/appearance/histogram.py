"""The ``histogram`` embedder: colour histograms of horizontal body stripes (no download).

Each box is cropped (``trim`` of its width cut from each side, where background shows
beside a walking person), resized to 32 x 64 pixels (so every box costs the same whatever
its size), converted to a perceptual colour space (``hsv`` or ``lab``; ``bgr`` for
comparison) and cut into ``stripes`` horizontal stripes of equal height (2: upper and lower
body). Per stripe, the histogram of each channel (``bins`` bins; ``joint``: one histogram of
``bins``^3 colour cells instead) is counted and divided by the stripe's pixel count. The
stripes' histograms are concatenated, square-rooted (the Hellinger mapping, so the cosine
distance of two embeddings is 1 - their Bhattacharyya coefficient averaged over stripes and
channels) and L2-normalised.

The defaults were chosen on PETS09-S3MF1 by ``experiments/bench_reid.py --descriptors``
(docs/reid.md gives the numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from vcm.appearance import EMBEDDERS, clipped_boxes, normalised
from vcm.registry import Option

CROP_WIDTH, CROP_HEIGHT = 32, 64
"""Pixels of the resized crop: a person box is about twice as tall as wide."""

_CONVERSIONS = {"hsv": cv2.COLOR_BGR2HSV, "lab": cv2.COLOR_BGR2LAB, "bgr": None}
# OpenCV's 8-bit HSV keeps hue in 0..179; every other channel spans 0..255.
_CHANNEL_RANGES = {"hsv": (180, 256, 256), "lab": (256, 256, 256), "bgr": (256, 256, 256)}


@EMBEDDERS.register("histogram")
@dataclass(frozen=True, kw_only=True)
class HistogramEmbedder:
    """Per-stripe colour histograms (see the module docstring).

    Attributes:
        space: ``hsv``, ``lab`` or ``bgr``.
        stripes: horizontal stripes of the box, 1 to 8.
        bins: bins per channel, 2 to 32 (with ``joint``: 2 to 8, cells per channel).
        joint: one joint histogram of the 3 channels per stripe instead of 3 marginal ones.
        trim: fraction of the box width cut from each side, 0 to 0.4.
    """

    option_schema: ClassVar[dict[str, Option]] = {
        "space": Option(str, choices=tuple(_CONVERSIONS), help="colour space"),
        "stripes": Option(int, low=1, high=8, help="horizontal stripes"),
        "bins": Option(int, low=2, high=32, help="bins per channel"),
        "joint": Option(bool, help="joint colour histogram per stripe"),
        "trim": Option(float, low=0.0, high=0.4, help="fraction of width cut from each side"),
    }
    name: ClassVar[str] = "histogram"

    space: str = "hsv"
    stripes: int = 4
    bins: int = 4
    joint: bool = True
    trim: float = 0.0

    def __post_init__(self) -> None:
        if self.joint and self.bins > 8:
            raise ValueError(f"a joint histogram takes at most 8 bins per channel, got {self.bins}")

    @property
    def cells(self) -> int:
        """Values per stripe."""
        return self.bins ** 3 if self.joint else 3 * self.bins

    @property
    def dimension(self) -> int:
        return self.stripes * self.cells

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, ``dimension``) float32 L2-normalised embeddings of ``boxes`` in ``frame_bgr``."""
        height, width = frame_bgr.shape[:2]
        pixel_boxes = clipped_boxes(boxes, width, height)
        cut = np.rint((pixel_boxes[:, 2] - pixel_boxes[:, 0]) * self.trim).astype(np.int64)
        pixel_boxes[:, 0] += cut
        pixel_boxes[:, 2] -= cut
        embeddings = np.zeros((len(pixel_boxes), self.dimension), dtype=np.float32)
        ranges = np.array(_CHANNEL_RANGES[self.space])
        # Stripe of each crop row, and each row's base offset into the embedding.
        stripe_of_row = np.arange(CROP_HEIGHT) * self.stripes // CROP_HEIGHT
        stripe_offset = (stripe_of_row * self.cells)[:, None]
        for row, (x1, y1, x2, y2) in enumerate(pixel_boxes):
            if x2 <= x1 or y2 <= y1:
                continue
            crop = cv2.resize(np.ascontiguousarray(frame_bgr[y1:y2, x1:x2]),
                              (CROP_WIDTH, CROP_HEIGHT), interpolation=cv2.INTER_AREA)
            conversion = _CONVERSIONS[self.space]
            if conversion is not None:
                crop = cv2.cvtColor(crop, conversion)
            levels = crop.astype(np.int64) * self.bins // ranges  # (64, 32, 3) bin per channel
            if self.joint:
                codes = stripe_offset + (levels[..., 0] * self.bins + levels[..., 1]) * self.bins \
                    + levels[..., 2]
            else:
                codes = stripe_offset[..., None] + np.arange(3) * self.bins + levels
            counts = np.bincount(codes.ravel(), minlength=self.dimension).astype(np.float32)
            counts = counts.reshape(self.stripes, self.cells)
            # Stripes differ by a row when 64 is not a multiple of their count: per pixel.
            embeddings[row] = np.sqrt(counts / counts.sum(axis=1, keepdims=True)).ravel()
        return normalised(embeddings)

    def describe(self) -> dict:
        return {"name": self.name, "space": self.space, "stripes": self.stripes,
                "bins": self.bins, "joint": self.joint, "trim": self.trim}
