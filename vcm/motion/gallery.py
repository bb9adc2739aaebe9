"""A gallery of labelled motion windows, nearest-neighbour classification, and its file.

A *window* is one person's per-frame features (:func:`vcm.motion.features.frame_features`)
over the last ``window_seconds``, resampled to :data:`STEPS` time steps, so galleries fitted
at one frame rate classify clips at another. Distances between windows (:data:`DISTANCES`):

* ``stats``: Euclidean distance between the per-feature mean and standard deviation over the
  window; blind to where in its cycle the window starts (the default, see docs/motion.md);
* ``plain``: Euclidean distance between the resampled windows, step by step, over sqrt(steps);
* ``dtw``: dynamic time warping between the resampled windows (per-step Euclidean costs),
  over the steps.

The model file (``vcm motion fit``) is JSON::

    {"format": "vcm-motion-gallery", "version": 1, "features": "bones", "distance": "stats",
     "window_seconds": 2.0, "steps": 16, "k": 5, "labels": ["squat", ...],
     "windows": [[[f1, f2, ...] * steps] * n]}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcm.errors import VcmError
from vcm.fileio import atomic_output, read_input_bytes
from vcm.motion.features import FEATURE_SETS, feature_size

STEPS = 16
"""Time steps a window is resampled to."""

DISTANCES = ("stats", "plain", "dtw")

MODEL_FORMAT = "vcm-motion-gallery"
MAX_MODEL_BYTES = 256 * 2**20
"""Largest model file read: 256 MiB (a gallery of about 100 000 windows)."""
MAX_LABEL_LENGTH = 100


def resample_window(frames: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """A window of per-frame features (T, C), T >= 1, as (``steps``, C): missing values
    (NaN) take the last known value before them (the first known one at the start, 0 when a
    feature is never known), then the time axis is linearly interpolated."""
    frames = np.array(frames, dtype=np.float64, ndmin=2)
    known = ~np.isnan(frames)
    rows = np.arange(len(frames))[:, None]
    index = np.where(known, rows, -1)
    np.maximum.accumulate(index, axis=0, out=index)
    first = np.argmax(known, axis=0)
    index = np.where(index < 0, first[None, :], index)
    filled = np.take_along_axis(frames, index, axis=0)
    filled[:, ~known.any(axis=0)] = 0.0
    if len(filled) == 1:
        return np.repeat(filled, steps, axis=0)
    times = np.linspace(0, len(filled) - 1, steps)
    low = np.minimum(times.astype(int), len(filled) - 2)
    weight = (times - low)[:, None]
    return filled[low] * (1 - weight) + filled[low + 1] * weight


def window_statistics(windows: np.ndarray) -> np.ndarray:
    """(N, steps, C) windows -> (N, 2C): each feature's mean, then standard deviation."""
    return np.concatenate([windows.mean(axis=1), windows.std(axis=1)], axis=1)


def dtw_distances(window: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Dynamic time warping distances (N,) between a (steps, C) window and (N, steps, C)
    others: each the cheapest monotone alignment's sum of per-step Euclidean costs, over the
    number of steps."""
    cost = np.linalg.norm(window[None, :, None, :] - others[:, None, :, :], axis=3)
    steps, other_steps = cost.shape[1:]
    total = np.full((len(others), steps + 1, other_steps + 1), np.inf)
    total[:, 0, 0] = 0.0
    for i in range(1, steps + 1):
        for j in range(1, other_steps + 1):
            total[:, i, j] = cost[:, i - 1, j - 1] + np.minimum(
                np.minimum(total[:, i - 1, j], total[:, i, j - 1]), total[:, i - 1, j - 1])
    return total[:, -1, -1] / steps


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`dtw_distances` of two (steps, C) windows."""
    return float(dtw_distances(a, b[None])[0])


@dataclass(frozen=True)
class Gallery:
    """Labelled windows and how to compare them.

    Attributes:
        labels: one label per window.
        windows: float64 (N, steps, C) resampled windows.
        features: the feature set (:data:`vcm.motion.features.FEATURE_SETS`).
        distance: one of :data:`DISTANCES`.
        window_seconds: the window's length in seconds.
        k: neighbours that vote.
    """

    labels: tuple[str, ...]
    windows: np.ndarray
    features: str = "bones"
    distance: str = "stats"
    window_seconds: float = 2.0
    k: int = 5

    def __post_init__(self) -> None:
        windows = np.asarray(self.windows, dtype=np.float64)
        if windows.ndim != 3 or len(windows) != len(self.labels):
            raise ValueError(f"{len(self.labels)} labels for windows of shape {windows.shape}")
        object.__setattr__(self, "windows", windows)
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "_statistics", window_statistics(windows) if len(windows)
                           else np.zeros((0, 0)))

    def distances(self, window: np.ndarray) -> np.ndarray:
        """Distances (N,) of a resampled (steps, C) window to every gallery window."""
        if self.distance == "stats":
            return np.linalg.norm(self._statistics - window_statistics(window[None])[0], axis=1)
        if self.distance == "plain":
            return np.linalg.norm((self.windows - window).reshape(len(self.windows), -1),
                                  axis=1) / math.sqrt(window.shape[0])
        return dtw_distances(window, self.windows)

    def classify(self, window: np.ndarray, *, leave_out: np.ndarray | None = None
                 ) -> tuple[str, float]:
        """The label most of the ``k`` nearest windows carry (ties: the nearer one's), and
        the share of the ``k`` votes it got; ``("unknown", 0.0)`` for an empty gallery.
        ``leave_out``: bool (N,) of gallery windows not to use."""
        distances = self.distances(window)
        if leave_out is not None:
            distances = np.where(leave_out, np.inf, distances)
        usable = int(np.isfinite(distances).sum())
        if usable == 0:
            return "unknown", 0.0
        nearest = np.argsort(distances, kind="stable")[: min(self.k, usable)]
        votes: dict[str, int] = {}
        for index in nearest:
            votes[self.labels[index]] = votes.get(self.labels[index], 0) + 1
        best = max(votes.values())
        label = next(self.labels[index] for index in nearest if votes[self.labels[index]] == best)
        return label, best / len(nearest)

    def to_dict(self) -> dict:
        return {"format": MODEL_FORMAT, "version": 1, "features": self.features,
                "distance": self.distance, "window_seconds": self.window_seconds,
                "steps": int(self.windows.shape[1]) if len(self.windows) else STEPS,
                "k": self.k, "labels": list(self.labels),
                "windows": np.round(self.windows, 4).tolist()}


def write_gallery(gallery: Gallery, path: str | Path) -> None:
    """Write ``gallery`` as the model JSON at ``path``, atomically."""
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(gallery.to_dict(), separators=(",", ":")) + "\n",
                             encoding="utf-8")


def read_gallery(path: str | Path) -> Gallery:
    """Read a model JSON (``vcm motion fit``); anything malformed or over
    :data:`MAX_MODEL_BYTES` is a :class:`VcmError` naming ``path``."""
    path = Path(path)
    data = read_input_bytes(path, max_bytes=MAX_MODEL_BYTES, what="motion model")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise VcmError(f"{path}: not a motion model (not valid JSON: {error})") from None
    try:
        if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} file")
        if document.get("version") != 1:
            raise ValueError(f"version {document.get('version')!r}; this vcm reads version 1")
        features, distance = document["features"], document["distance"]
        if features not in FEATURE_SETS:
            raise ValueError(f"unknown features {features!r}")
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}")
        seconds, steps, k = document["window_seconds"], document["steps"], document["k"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0.1 <= seconds <= 60:
            raise ValueError("window_seconds must be a number from 0.1 to 60")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
            raise ValueError("k must be a whole number from 1 to 1000")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 1000:
            raise ValueError("steps must be a whole number from 2 to 1000")
        labels = document["labels"]
        if not isinstance(labels, list) or not all(
                isinstance(label, str) and 0 < len(label) <= MAX_LABEL_LENGTH for label in labels):
            raise ValueError(f"labels must be texts of 1 to {MAX_LABEL_LENGTH} characters")
        windows = np.array(document["windows"], dtype=np.float64)
        size = feature_size(features)
        if len(labels) == 0:
            windows = np.zeros((0, steps, size))
        if windows.shape != (len(labels), steps, size) or not np.isfinite(windows).all():
            raise ValueError(f"windows must be {len(labels)} x {steps} x {size} finite numbers")
    except KeyError as error:
        raise VcmError(f"{path}: not a motion model (missing {error})") from None
    except (TypeError, ValueError) as error:
        raise VcmError(f"{path}: not a motion model ({error})") from None
    return Gallery(tuple(labels), windows, features=features, distance=distance,
                   window_seconds=float(seconds), k=k)
