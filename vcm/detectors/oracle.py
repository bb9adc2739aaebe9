"""Ground truth as a detector: boxes from a MOTChallenge ``gt/gt.txt``, optionally degraded.

It gives an upper bound for the pipeline (perfect detections) and, with ``jitter`` and
``drop``, a controlled way to study how detection errors propagate to pose and tracking.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vcm.datasets.mot import read_mot_txt
from vcm.detectors.base import DETECTORS
from vcm.errors import VcmError
from vcm.registry import SEED, Option
from vcm.store import file_sha256

PEDESTRIAN_CLASS = 1


def load_ground_truth(sequence: str | Path) -> dict[int, np.ndarray]:
    """Person boxes of ``sequence/gt/gt.txt`` by 1-based frame: float64 (N, 4) ``x1, y1, x2, y2``.

    Rows whose consider flag (column 7) is 0 are left out, and so are rows of the 9-column
    MOT16/17/20 layout whose class is not 1 (pedestrian). Boxes keep the file's row order.
    """
    rows = read_mot_txt(Path(sequence) / "gt" / "gt.txt")
    # MotRows.classes is -1 for layouts without a class column (MOT15 and PETS).
    keep = (rows.confidence != 0) & ((rows.classes == PEDESTRIAN_CLASS) | (rows.classes == -1))
    frames, boxes = rows.frame[keep], rows.boxes[keep]
    return {int(frame): boxes[frames == frame] for frame in np.unique(frames)}


@DETECTORS.register("oracle")
class OracleDetector:
    """Ground-truth boxes of a MOTChallenge sequence folder, score 1.0.

    Arguments: ``sequence`` the folder holding ``gt/gt.txt``; ``jitter`` the standard
    deviation of Gaussian noise added to each coordinate, as a fraction of the box width
    (x1, x2) or height (y1, y2); ``drop`` the probability of removing each box; ``seed``.
    Noise depends only on (seed, frame number), not on which frames ran before.
    """

    name = "oracle"
    option_schema = {
        "sequence": Option(os.PathLike, help="MOTChallenge sequence folder with gt/gt.txt"),
        "jitter": Option(float, low=0.0, high=10.0, help="noise, fraction of box size"),
        "drop": Option(float, low=0.0, high=1.0, help="probability of dropping a box"),
        "seed": SEED,
    }

    def __init__(
        self, *, sequence: str | Path, jitter: float = 0.0, drop: float = 0.0, seed: int = 0
    ) -> None:
        if jitter < 0:
            raise VcmError(f"oracle jitter must be >= 0, got {jitter}")
        if not 0 <= drop <= 1:
            raise VcmError(f"oracle drop must be a probability in [0, 1], got {drop}")
        self.sequence = Path(sequence)
        self.jitter = float(jitter)
        self.drop = float(drop)
        self.seed = int(seed)
        self._boxes = load_ground_truth(self.sequence)

    def detect(self, frame_bgr: np.ndarray, frame_number: int) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth boxes (N, 4) ``x1, y1, x2, y2`` of ``frame_number``, scores (N,) all 1."""
        boxes = self._boxes.get(frame_number, np.zeros((0, 4)))
        rng = np.random.default_rng([self.seed, frame_number])
        # Both draws happen whatever jitter and drop are, so that for one seed the same boxes
        # are dropped at every jitter level and the same noise is added at every drop level.
        kept = rng.random(len(boxes)) >= self.drop
        noise = rng.standard_normal((len(boxes), 4))
        sizes = np.column_stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]])
        boxes = boxes + self.jitter * noise * np.tile(sizes, 2)
        return boxes[kept], np.ones(int(np.count_nonzero(kept)))

    def describe(self) -> dict:
        gt_path = self.sequence / "gt" / "gt.txt"
        return {
            "name": self.name,
            "sequence": str(self.sequence),
            "gt_sha256": file_sha256(gt_path),
            "jitter": self.jitter,
            "drop": self.drop,
            "seed": self.seed,
        }
