"""Appearance re-identification on PETS09-S3MF1: descriptors, distances, tracking.

Three measurements, each printing JSON objects (one per line) in the project's results shape:

``--descriptors``: every candidate of the ``histogram`` embedder (colour space, stripes,
bins, joint) on the ground-truth boxes of the sequence. Same-identity pairs are a person's
boxes ``--gap`` frames apart (default 7, 1 s at 7 fps); different-identity pairs are two
people's boxes in those same two frames. Reported: ROC AUC of the distance separating them
(1: every same pair closer than every different pair), the rank-1 rate (share of boxes
whose nearest box of the other frame is the same person) and the time per box.

``--distances PNG``: the default embedder's two distance distributions as a histogram
plot with the operating point (the ``reid_distance`` default of the ``iou`` tracker) marked,
and the share of each side of it.

``--tracking`` (the default): IDF1, HOTA, AssA, MOTA and identity switches of the ``iou``
tracker, BYTE, and BYTE with appearance, on the sequence's public detections (score >=
``--det-score``) and on its pixels (frames read from the jpg images), plus embedding time per
box; ``--sample FOLDER`` adds a MOTChallenge folder (``vcm data synth``) scored the same way
on its own ground truth boxes' detections file (``det/det.txt``) if it has one, else on its
ground-truth boxes as detections.

    python experiments/bench_reid.py --descriptors
    python experiments/bench_reid.py --distances docs/reid_distances.png
    python experiments/bench_reid.py --tracking

The process limits BLAS and OpenCV to one thread; times are of one CPU core of whatever
machine runs it (state it beside the numbers).
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from vcm.appearance import EMBEDDERS, cosine_distances  # noqa: E402
from vcm.datasets.mot import MotRows, read_mot_txt, read_seqinfo  # noqa: E402
from vcm.errors import VcmError  # noqa: E402
from vcm.metrics.tracking import PEDESTRIAN  # noqa: E402
from vcm.store import ModelStore  # noqa: E402

cv2.setNumThreads(1)
DATASET = "PETS09-S3MF1"


def counted_gt(gt: MotRows) -> MotRows:
    """Ground-truth rows that count (consider flag not 0, pedestrians)."""
    keep = (gt.confidence != 0) & ((gt.classes == -1) | (gt.classes == PEDESTRIAN))
    return MotRows(gt.frame[keep], gt.ids[keep], gt.boxes[keep], gt.confidence[keep],
                   gt.classes[keep])


def sequence_images(info) -> list[np.ndarray]:
    """Every frame of the sequence, BGR."""
    return [cv2.imread(str(info.image_path(number))) for number in range(1, info.length + 1)]


def gt_embeddings(embedder, images, gt: MotRows) -> tuple[np.ndarray, float]:
    """Embeddings of every ground-truth row (row order) and the seconds per box."""
    embeddings = np.zeros((len(gt), embedder.dimension), dtype=np.float32)
    start = time.perf_counter()
    for number in np.unique(gt.frame):
        rows = np.flatnonzero(gt.frame == number)
        embeddings[rows] = embedder.embed(images[number - 1], gt.boxes[rows])
    return embeddings, (time.perf_counter() - start) / max(len(gt), 1)


def pair_distances(gt: MotRows, embeddings: np.ndarray, gap: int):
    """Same-identity and different-identity distances between frames ``gap`` apart, and the
    rank-1 hits and trials (boxes whose nearest box ``gap`` frames later is the same id)."""
    same, different, hits, trials = [], [], 0, 0
    for number in np.unique(gt.frame):
        now = np.flatnonzero(gt.frame == number)
        later = np.flatnonzero(gt.frame == number + gap)
        if not len(now) or not len(later):
            continue
        distances = cosine_distances(embeddings[now], embeddings[later])
        equal = gt.ids[now][:, None] == gt.ids[later][None, :]
        same.append(distances[equal])
        different.append(distances[~equal])
        for row in np.flatnonzero(equal.any(axis=1)):
            if len(later) > 1:
                trials += 1
                hits += bool(equal[row, np.argmin(distances[row])])
    return np.concatenate(same), np.concatenate(different), hits, trials


def roc_auc(same: np.ndarray, different: np.ndarray) -> float:
    """P(a same-identity distance < a different-identity one), ties counted half."""
    values = np.concatenate([same, different])
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable") + 1.0
    # Average ranks over ties (Mann-Whitney).
    order = np.sort(values)
    _, first, counts = np.unique(order, return_index=True, return_counts=True)
    tie_rank = {value: start + (count + 1) / 2 for value, start, count
                in zip(np.unique(order), first, counts)}
    ranks = np.array([tie_rank[value] for value in values])
    rank_sum = ranks[: len(same)].sum()
    return float(1.0 - (rank_sum - len(same) * (len(same) + 1) / 2) / (len(same) * len(different)))


def candidates():
    for space, stripes, bins in itertools.product(("hsv", "lab", "bgr"), (1, 2, 3, 4, 6),
                                                  (8, 16)):
        yield {"space": space, "stripes": stripes, "bins": bins}
    for space, stripes in itertools.product(("hsv", "lab"), (1, 2, 4)):
        yield {"space": space, "stripes": stripes, "bins": 4, "joint": True}
    for space, stripes in itertools.product(("hsv",), (3, 6)):
        yield {"space": space, "stripes": stripes, "bins": 4, "joint": True}
    yield {"space": "hsv", "stripes": 4, "bins": 6, "joint": True}
    for trim in (0.0, 0.2):
        yield {"trim": trim}  # around the default (hsv, 4 stripes, joint 4 bins, trim 0.1)


def measure_descriptors(info, gt, images, gap: int) -> None:
    for options in candidates():
        embedder = EMBEDDERS.build("histogram", **options)
        embeddings, seconds = gt_embeddings(embedder, images, gt)
        same, different, hits, trials = pair_distances(gt, embeddings, gap)
        print(json.dumps({
            "name": f"histogram {options}",
            "description": f"{info.name} ground-truth boxes, pairs {gap} frames apart: "
                           f"{len(same)} same-identity, {len(different)} different-identity",
            "results": {"auc": [round(roc_auc(same, different), 4)],
                        "rank1": [round(hits / max(trials, 1), 4)],
                        "ms_per_box": [round(seconds * 1000, 3)],
                        "dimension": [embedder.dimension]},
        }), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, help=f"sequence folder (default: {DATASET})")
    parser.add_argument("--descriptors", action="store_true", help="compare embedder options")
    parser.add_argument("--gap", type=int, default=7, help="frames between paired boxes")
    arguments = parser.parse_args(argv)
    try:
        sequence_path = arguments.sequence or ModelStore().dataset(DATASET)
        info = read_seqinfo(sequence_path)
        gt = counted_gt(read_mot_txt(sequence_path / "gt" / "gt.txt"))
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    images = sequence_images(info)
    if arguments.descriptors:
        measure_descriptors(info, gt, images, arguments.gap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
