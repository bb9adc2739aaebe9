"""Person detection accuracy and speed on PETS09-S3MF1 (or any MOTChallenge sequence).

Runs one detector over the sequence with :func:`vcm.detectors.detect_video` and prints, as
one JSON object on stdout, recall and precision at IoU 0.5 against ``gt/gt.txt`` and the
detection speed. Matching is one-to-one per frame with the Hungarian algorithm
(scipy ``linear_sum_assignment``): it maximises the number of detection/ground-truth pairs
with IoU >= 0.5, ties broken by total IoU, so scores play no part in matching.

    python experiments/pets_detection.py                      # yolo-fastest body, score 0.6
    python experiments/pets_detection.py --detector hog
    python experiments/pets_detection.py --variant coco-xl --input-size 416

The sequence defaults to the store's dataset ``PETS09-S3MF1`` (``$VCM_MIRROR/datasets/``).
Frames per second cover the whole loop: JPEG decoding, detection and post-processing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from vcm import logs
from vcm.detections import DetectionSequence
from vcm.boxes import pairwise_iou
from vcm.detectors import build_detector, detect_video
from vcm.detectors.oracle import load_ground_truth
from vcm.errors import VcmError
from vcm.store import ModelStore
from vcm.video import open_video

LOG = logging.getLogger("vcm.experiments.pets_detection")

DATASET = "PETS09-S3MF1"
IOU_THRESHOLD = 0.5


def count_matches(detections: np.ndarray, ground_truth: np.ndarray, iou_threshold: float) -> int:
    """Most one-to-one pairs of (N, 4) ``detections`` and (M, 4) ``ground_truth`` boxes with
    IoU >= ``iou_threshold``."""
    if len(detections) == 0 or len(ground_truth) == 0:
        return 0
    iou = pairwise_iou(detections, ground_truth)
    allowed = iou >= iou_threshold
    # A forbidden pair costs more than all allowed pairs together, so the assignment first
    # maximises the number of allowed pairs, then their IoU.
    cost = np.where(allowed, 1.0 - iou, float(len(detections) + len(ground_truth) + 1))
    rows, columns = linear_sum_assignment(cost)
    return int(np.count_nonzero(allowed[rows, columns]))


def recall_precision(
    sequence: DetectionSequence, ground_truth: dict[int, np.ndarray], iou_threshold: float
) -> dict[str, float]:
    """Matched, ground-truth and detected box counts over all frames, recall and precision."""
    matched = detected = 0
    for frame in sequence:
        detected += len(frame)
        truth = ground_truth.get(frame.frame, np.zeros((0, 4)))
        matched += count_matches(frame.boxes, truth, iou_threshold)
    truths = sum(len(boxes) for boxes in ground_truth.values())
    return {
        "matched": matched,
        "ground_truth": truths,
        "detections": detected,
        "recall": matched / truths if truths else float("nan"),
        "precision": matched / detected if detected else float("nan"),
    }


def detector_options(arguments: argparse.Namespace, sequence_path: Path) -> dict:
    if arguments.detector == "yolo-fastest":
        return {"variant": arguments.variant, "input_size": arguments.input_size}
    if arguments.detector == "oracle":
        return {"sequence": sequence_path}
    return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="yolo-fastest", help="registered detector name")
    parser.add_argument("--variant", default="body", help="yolo-fastest: body, coco or coco-xl")
    parser.add_argument("--input-size", type=int, default=320, help="yolo-fastest input, pixels")
    parser.add_argument("--score-threshold", type=float, default=0.6)
    parser.add_argument("--sequence", type=Path, help=f"sequence folder (default: {DATASET})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    arguments = parser.parse_args(argv)
    logs.configure()
    try:
        sequence_path = arguments.sequence or ModelStore().dataset(DATASET)
        detector = build_detector(arguments.detector, **detector_options(arguments, sequence_path))
        logs.log_run("pets_detection", detector=detector.describe(), sequence=sequence_path,
                     score_threshold=arguments.score_threshold)
        source = open_video(sequence_path)
        start = time.perf_counter()
        detections = detect_video(
            source, detector, score_threshold=arguments.score_threshold,
            progress=not arguments.no_progress,
        )
        seconds = time.perf_counter() - start
        ground_truth = load_ground_truth(sequence_path)
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    counts = recall_precision(detections, ground_truth, IOU_THRESHOLD)
    label = detector.name
    if arguments.detector == "yolo-fastest":
        label += f"-{arguments.variant}"
    results = {
        "name": f"{label} on {sequence_path.name}",
        "description": (
            f"person detection, score >= {arguments.score_threshold}, Hungarian one-to-one "
            f"matching per frame at IoU >= {IOU_THRESHOLD}; fps over decode + detect"
        ),
        "results": {
            **{key: [value] for key, value in counts.items()},
            "frames": [len(detections)],
            "seconds": [round(seconds, 3)],
            "fps": [round(len(detections) / seconds, 2)],
        },
    }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
