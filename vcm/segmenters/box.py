"""The trivial baseline segmenter: each box, filled, is the mask.

It needs no model and shows what a segmenter adds over the shared boxes alone: a real
segmenter must beat its mask AP (docs/backends.md, "Segmentation").
"""

from __future__ import annotations

import numpy as np

from vcm.masks import encode_mask
from vcm.segmenters.base import SEGMENTERS, SegmentByFrame


@SEGMENTERS.register("box")
class BoxSegmenter(SegmentByFrame):
    """The mask of each box is every frame pixel whose centre lies inside the box."""

    name = "box"
    option_schema: dict = {}

    def segment(
        self, frame_bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray
    ) -> list[dict | None]:
        """One frame-sized COCO RLE per box (``x1, y1, x2, y2`` pixels); ``None`` for a box
        that holds no pixel centre. ``scores`` are not used."""
        height, width = frame_bgr.shape[:2]
        masks: list[dict | None] = []
        for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
            # Pixel c spans [c, c + 1); its centre c + 0.5 is inside when x1 <= c + 0.5 < x2.
            columns = slice(max(int(np.ceil(x1 - 0.5)), 0), max(int(np.ceil(x2 - 0.5)), 0))
            rows = slice(max(int(np.ceil(y1 - 0.5)), 0), max(int(np.ceil(y2 - 0.5)), 0))
            mask = np.zeros((height, width), dtype=bool)
            mask[rows, columns] = True
            masks.append(encode_mask(mask) if mask.any() else None)
        return masks

    def describe(self) -> dict:
        return {"name": self.name, "model": "none: the box is the mask",
                "pixels": "centre inside the box"}
