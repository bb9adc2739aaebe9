"""Geometry of ``x1, y1, x2, y2`` pixel boxes (right and bottom edges exclusive)."""

from __future__ import annotations

import numpy as np


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) float64 boxes cut to a ``width`` x ``height`` frame: x to [0, width], y to
    [0, height]. Done in float, so any finite coordinate (1e308 included) clips exactly; a box
    wholly outside the frame becomes empty (area 0)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    limits = np.array([width, height, width, height], dtype=np.float64)
    return np.clip(boxes, 0.0, limits)


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas in square pixels of (N, 4) boxes; an inverted box has area 0."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def pairwise_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union (N, M) of (N, 4) ``boxes_a`` and (M, 4) ``boxes_b``.

    Area is width x height; a pair whose union is empty has IoU 0.
    """
    boxes_a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    boxes_b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    if len(boxes_a) == 0 or len(boxes_b) == 0:
        return np.zeros((len(boxes_a), len(boxes_b)))
    a = boxes_a[:, None, :]
    b = boxes_b[None, :, :]
    overlap_width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    overlap_height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    intersection = np.maximum(overlap_width, 0) * np.maximum(overlap_height, 0)
    union = box_areas(boxes_a)[:, None] + box_areas(boxes_b)[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def merged_boxes(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` (K, 4) ``x1, y1, x2, y2`` with every group of overlapping ones (sharing
    area, directly or through others) replaced by the box around the group, in order of
    each group's first box (float64, (M, 4)): two searches that find the same face give one
    region (:mod:`vcm.anonymise`); regions scaled in place never share a pixel
    (:mod:`vcm.spatial`)."""
    merged = [box for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)]
    changed = True
    while changed:
        changed = False
        for first in range(len(merged)):
            for second in range(first + 1, len(merged)):
                a, b = merged[first], merged[second]
                if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]):
                    merged[first] = np.concatenate([np.minimum(a[:2], b[:2]),
                                                    np.maximum(a[2:], b[2:])])
                    del merged[second]
                    changed = True
                    break
            if changed:
                break
    return np.asarray(merged, dtype=np.float64).reshape(-1, 4)
