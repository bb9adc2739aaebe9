"""Appearance re-identification on PETS09-S3MF1: descriptors, distances, tracking.

Three measurements, each printing JSON objects (one per line) in the project's results shape:

``--descriptors``: every candidate of the ``histogram`` embedder (colour space, stripes,
bins, joint) on the ground-truth boxes of the sequence. Same-identity pairs are a person's
boxes ``--gap`` frames apart (default 7, 1 s at 7 fps); different-identity pairs are two
people's boxes in those same two frames. Reported: ROC AUC of the distance separating them
(1: every same pair closer than every different pair), the rank-1 rate (share of boxes
whose nearest box of the other frame is the same person) and the time per box.

``--distances PNG``: what the ``iou`` tracker compares, measured with the default embedder:
a person's track embedding (smoothed as the tracker smooths it) against the same person's
box and against other people's boxes, in the next frame (the first association's
``appearance_gate``) and 1 to 5 s later (re-identification, ``reid_distance``). Boxes are
yolo-fastest's matched to the ground truth (``--distance-boxes gt``: the ground-truth boxes).
A histogram plot of both distributions with the operating points marked, the share of each
side of them, and the value each default's rule gives.

``--tracking``: IDF1, HOTA, AssA, MOTA and identity switches of the ``iou``
tracker, BYTE, and BYTE with appearance, on the sequence's public detections (score >=
``--det-score``) and on its pixels (frames read from the jpg images); ``--yolo`` adds
yolo-fastest's boxes (body, 416, scoring >= 0.1, BYTE's track threshold ``--track-score``);
``--sample FOLDER`` adds a MOTChallenge folder (``vcm data synth``) scored the same way
on its own ground truth boxes' detections file (``det/det.txt``) if it has one, else on its
ground-truth boxes as detections.

    python experiments/bench_reid.py --descriptors
    python experiments/bench_reid.py --distances docs/reid_distances.png
    python experiments/bench_reid.py --tracking --yolo --sample /tmp/sample

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
        yield {"space": space, "stripes": stripes, "bins": bins, "joint": False}
    for space, stripes in itertools.product(("hsv", "lab"), (1, 2, 4)):
        yield {"space": space, "stripes": stripes, "bins": 4, "joint": True}
    for space, stripes in itertools.product(("hsv",), (3, 6)):
        yield {"space": space, "stripes": stripes, "bins": 4, "joint": True}
    yield {"space": "hsv", "stripes": 4, "bins": 6, "joint": True}
    for trim in (0.1, 0.2):
        yield {"trim": trim}  # around the default (hsv, 4 stripes, joint 4 bins, trim 0)


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


def track_distances(gt: MotRows, embeddings: np.ndarray, gaps, momentum: float = 0.9
                    ) -> tuple[np.ndarray, np.ndarray]:
    """What the tracker compares: each identity's smoothed embedding after frame t (the
    ``iou`` tracker's average, ``momentum`` on the old value, over its boxes up to t) against
    the boxes of frame t + gap, for each of ``gaps``. Returns the same-identity and the
    different-identity distances."""
    from vcm.appearance import normalised

    smoothed: dict[int, np.ndarray] = {}
    history: dict[int, dict[int, np.ndarray]] = {}  # frame -> id -> smoothed after it
    for number in np.unique(gt.frame):
        rows = np.flatnonzero(gt.frame == number)
        for row in rows:
            identity = int(gt.ids[row])
            old = smoothed.get(identity)
            new = embeddings[row] if old is None else normalised(
                (momentum * old + (1 - momentum) * embeddings[row])[None])[0]
            smoothed[identity] = new
        history[int(number)] = dict(smoothed)
    same, different = [], []
    for number, known in history.items():
        for gap in gaps:
            rows = np.flatnonzero(gt.frame == number + gap)
            if not len(rows) or not known:
                continue
            ids = np.array(list(known))
            distances = cosine_distances(np.stack([known[i] for i in ids]), embeddings[rows])
            equal = ids[:, None] == gt.ids[rows][None, :]
            same.append(distances[equal])
            different.append(distances[~equal])
    return np.concatenate(same), np.concatenate(different)


def detector_rows(sequence_path: Path, gt: MotRows, score: float) -> MotRows:
    """yolo-fastest's boxes (body, 416) scoring at least ``score``, each matched to a
    ground-truth box at IoU >= 0.5 (one-to-one, Hungarian) and given its identity; boxes
    matching no one are left out. These are the boxes the tracker sees, misaligned and cut
    as a detector cuts them."""
    from scipy.optimize import linear_sum_assignment

    from vcm.boxes import pairwise_iou
    from vcm.detectors import build_detector, detect_video
    from vcm.video import open_video

    detector = build_detector("yolo-fastest", variant="body", input_size=416)
    detections = detect_video(open_video(sequence_path), detector, score_threshold=score,
                              progress=False)
    frames, ids, boxes = [], [], []
    for frame in detections:
        truth = np.flatnonzero(gt.frame == frame.frame)
        overlap = pairwise_iou(frame.boxes, gt.boxes[truth])
        if not overlap.size:
            continue
        rows, columns = linear_sum_assignment(-overlap)
        keep = overlap[rows, columns] >= 0.5
        frames += [frame.frame] * int(keep.sum())
        ids += gt.ids[truth[columns[keep]]].tolist()
        boxes += frame.boxes[rows[keep]].tolist()
    count = len(frames)
    return MotRows(np.array(frames, dtype=np.int64), np.array(ids, dtype=np.int64),
                   np.array(boxes, dtype=np.float64).reshape(-1, 4), np.ones(count),
                   np.full(count, -1))


def measure_distances(info, gt, images, plot: Path, boxes_label: str) -> None:
    """Distances of the default embedder one frame apart (the first association's gate) and
    1 to 5 s apart (re-identification) between the boxes ``gt`` (``boxes_label``); the
    histogram plot at ``plot``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vcm.trackers.iou import APPEARANCE_GATE, REID_DISTANCE

    embedder = EMBEDDERS.build("histogram")
    embeddings, _ = gt_embeddings(embedder, images, gt)
    fps = round(info.fps)
    # The rules the defaults follow: the gate lets through 99.5% of the distances between a
    # person's track and their box in the next frame (it only has to refuse clear mismatches; overlap decides the rest), and a
    # re-identification, which has no overlap to help, accepts at most 1% of the distances
    # between different people 1 to 5 s apart.
    panels = (("next frame (first association)", [1], APPEARANCE_GATE, "appearance_gate",
               lambda same, different: np.percentile(same, 99.5)),
              ("1 to 5 s apart (re-identification)", range(fps, 5 * fps + 1, fps),
               REID_DISTANCE, "reid_distance",
               lambda same, different: np.percentile(different, 1)))
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=False)
    for axis, (title, gaps, threshold, option, rule) in zip(axes, panels):
        same, different = track_distances(gt, embeddings, gaps)
        bins = np.linspace(0, max(same.max(), different.max()), 50)
        axis.hist(same, bins=bins, density=True, alpha=0.6, label=f"same person ({len(same)})")
        axis.hist(different, bins=bins, density=True, alpha=0.6,
                  label=f"different people ({len(different)})")
        axis.axvline(threshold, color="black", linestyle="--", label=f"{option} {threshold:g}")
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("cosine distance")
        axis.legend(fontsize=7)
        print(json.dumps({
            "name": f"histogram distances, {title}",
            "description": f"{info.name} {boxes_label}, frame gaps {list(gaps)}; "
                           f"operating point {option} = {threshold:g}",
            "results": {
                "same_accepted": [round(float(np.mean(same <= threshold)), 4)],
                "different_accepted": [round(float(np.mean(different <= threshold)), 4)],
                "same_p50_p95_p99": [round(float(np.percentile(same, q)), 4) for q in (50, 95, 99)],
                "different_p1_p5_p50": [round(float(np.percentile(different, q)), 4)
                                        for q in (1, 5, 50)],
                "auc": [round(roc_auc(same, different), 4)],
                "rule_threshold": [round(float(rule(same, different)), 4)],
            },
        }), flush=True)
    axes[0].set_ylabel("density")
    figure.suptitle(f"{info.name}, {boxes_label}: distances of the histogram embedder",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(plot, dpi=80)


TRACKERS_COMPARED = {
    "iou": {},
    "byte": {"byte_track_score": None},
    "byte+appearance": {"byte_track_score": None, "appearance": "histogram",
                        "lost_seconds": 5.0},
}
"""The trackers compared; BYTE's track threshold is filled in with ``--det-score``."""


def measure_tracking(label: str, sequence_path: Path, detections, gt: MotRows, fps: float,
                     det_score: float, description: str) -> None:
    from vcm.metrics.tracking import evaluate_tracking
    from vcm.trackers import TRACKERS, track_sequence
    from vcm.video import open_video

    for name, options in TRACKERS_COMPARED.items():
        options = dict(options)
        if "byte_track_score" in options:
            options["byte_track_score"] = det_score
        else:
            options["min_score"] = det_score
        tracker = TRACKERS.build("iou", **options)
        start = time.perf_counter()
        tracks = track_sequence(detections, tracker, fps=fps, video=open_video(sequence_path))
        seconds = time.perf_counter() - start
        metrics = evaluate_tracking(gt, tracks)
        print(json.dumps({
            "name": f"{name}, {label}",
            "description": f"{description}; iou tracker {options}; {fps:g} fps; IoU 0.5; "
                           "seconds include reading the frames",
            "results": {
                **{key: [round(float(metrics[key]), 4)] for key in
                   ("idf1", "hota", "assa", "mota", "num_switches")},
                "track_ids": [len(tracks.track_ids)],
                "seconds": [round(seconds, 3)],
            },
        }), flush=True)


def tracking_runs(arguments, sequence_path: Path, info) -> None:
    from experiments.pets_tracking import detections_from_rows, oracle_rows

    gt = read_mot_txt(sequence_path / "gt" / "gt.txt")
    det = read_mot_txt(sequence_path / "det" / "det.txt")
    embedder = EMBEDDERS.build("histogram")
    counted = counted_gt(gt)
    images = sequence_images(info)
    best = min(gt_embeddings(embedder, images, counted)[1] for _ in range(3))
    print(json.dumps({
        "name": "histogram embedder, time per box",
        "description": f"{info.name}: {len(counted)} ground-truth boxes, best of 3 passes, one "
                       f"thread; {embedder.describe()}",
        "results": {"ms_per_box": [round(best * 1000, 4)]},
    }), flush=True)
    detections = detections_from_rows(det, width=info.width, height=info.height,
                                      frames=info.length, source=info.name)
    measure_tracking(f"public detections, {info.name}", sequence_path, detections, gt,
                     info.fps, arguments.det_score,
                     f"det/det.txt, {info.length} frames {info.width}x{info.height}")
    if arguments.yolo:
        from vcm.detectors import build_detector, detect_video
        from vcm.video import open_video

        detector = build_detector("yolo-fastest", variant="body", input_size=416)
        yolo = detect_video(open_video(sequence_path), detector, score_threshold=0.1,
                            progress=False)
        measure_tracking(f"yolo-fastest detections, {info.name}", sequence_path, yolo, gt,
                         info.fps, arguments.track_score,
                         f"yolo-fastest body 416 boxes scoring >= 0.1, {info.length} frames "
                         f"{info.width}x{info.height}")
    if arguments.sample:
        sample_info = read_seqinfo(arguments.sample)
        sample_gt = read_mot_txt(arguments.sample / "gt" / "gt.txt")
        sample_detections = detections_from_rows(
            oracle_rows(sample_gt), width=sample_info.width, height=sample_info.height,
            frames=sample_info.length, source=sample_info.name)
        measure_tracking(f"ground-truth boxes, {sample_info.name}", arguments.sample,
                         sample_detections, sample_gt, sample_info.fps, arguments.det_score,
                         f"ground-truth boxes as detections (score 1), {sample_info.length} "
                         f"frames {sample_info.width}x{sample_info.height}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, help=f"sequence folder (default: {DATASET})")
    parser.add_argument("--descriptors", action="store_true", help="compare embedder options")
    parser.add_argument("--gap", type=int, default=7, help="frames between paired boxes")
    parser.add_argument("--distance-boxes", choices=("yolo", "gt"), default="yolo",
                        help="--distances: on yolo-fastest's boxes matched to the ground truth "
                             "(what the tracker sees) or on the ground-truth boxes")
    parser.add_argument("--tracking", action="store_true",
                        help="IDF1, HOTA, AssA and switches of iou, BYTE, BYTE+appearance")
    parser.add_argument("--det-score", type=float, default=0.5,
                        help="--tracking: public detections' score threshold (BYTE's track "
                             "threshold; BYTE's low boxes from 0.1)")
    parser.add_argument("--yolo", action="store_true",
                        help="--tracking: also on yolo-fastest's boxes (the sweep's detector)")
    parser.add_argument("--track-score", type=float, default=0.6,
                        help="--yolo: the sweep's score threshold and BYTE's track threshold")
    parser.add_argument("--sample", type=Path, help="--tracking: a `vcm data synth` folder too")
    parser.add_argument("--distances", type=Path, metavar="PNG",
                        help="plot the distance distributions and the operating points here")
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
    if arguments.distances:
        if arguments.distance_boxes == "yolo":
            rows = detector_rows(sequence_path, gt, arguments.track_score)
            label = f"yolo-fastest boxes >= {arguments.track_score:g} with ground-truth ids"
        else:
            rows, label = gt, "ground-truth boxes"
        measure_distances(info, rows, images, arguments.distances, label)
    if arguments.tracking:
        tracking_runs(arguments, sequence_path, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
