"""Appearance embeddings of person boxes, for re-identification in tracking.

An embedder turns the pixels inside each person box into one vector, so that the same person
seen in two frames gives two close vectors and two different people give distant ones.
Distances are cosine distances, ``1 - a . b`` of L2-normalised vectors, in [0, 2] (in [0, 1]
for the non-negative histograms of the default).

Backends are looked up by name in :data:`EMBEDDERS`: ``EMBEDDERS.build("histogram")``. A
backend is a class (or factory) whose instances have

* ``name``: the registered name;
* ``dimension``: D, the length of every embedding;
* ``embed(frame_bgr, boxes) -> (N, D) float32``: ``frame_bgr`` uint8 (H, W, 3) BGR pixels,
  ``boxes`` float (N, 4) ``x1, y1, x2, y2`` in pixels of that frame (right and bottom edges
  exclusive, parts outside the frame ignored); one L2-normalised row per box, in box order
  (a box with no pixel inside the frame gives a row of zeros, which :func:`cosine_distances`
  puts at distance 1 from everything);
* ``describe() -> dict``: name and parameters, for the run record;

and declares its keyword options as ``option_schema`` (see :mod:`vcm.registry`).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from vcm.registry import Registry


class Embedder(Protocol):
    """What the tracker needs of an appearance embedder (see the module docstring)."""

    name: str
    dimension: int

    def embed(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, D) float32 L2-normalised embeddings of the N ``boxes`` of ``frame_bgr``."""

    def describe(self) -> dict:
        """Name and parameters, for the run record."""


EMBEDDERS: Registry[Embedder] = Registry("appearance embedder")


def normalised(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` (N, D) with each row scaled to unit L2 norm (a zero row stays zero), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def cosine_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(M, N) cosine distances ``1 - a . b`` between the rows of two L2-normalised arrays
    (M, D) and (N, D), float64; a zero row is at distance 1 from every row."""
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise ValueError(f"embeddings of shapes {first.shape} and {second.shape}")
    return 1.0 - first @ second.T


def clipped_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer ``x1, y1, x2, y2`` (N, 4) of ``boxes`` clipped to a ``width`` x ``height``
    frame: the pixels a box covers at least half of (an empty box has x2 <= x1 or y2 <= y1)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = np.nan_to_num(boxes, nan=0.0, posinf=0.0, neginf=0.0)
    rounded = np.rint(boxes).astype(np.int64)
    rounded[:, [0, 2]] = np.clip(rounded[:, [0, 2]], 0, width)
    rounded[:, [1, 3]] = np.clip(rounded[:, [1, 3]], 0, height)
    return rounded


# Imported last: the backends register themselves in EMBEDDERS defined above.
from vcm.appearance import histogram, networks  # noqa: E402,F401
