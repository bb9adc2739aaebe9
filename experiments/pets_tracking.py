"""Tracking sanity check on PETS09-S3MF1 (or any MOTChallenge sequence folder).

Runs a registered tracker (default ``iou``) at the sequence's frame rate on two inputs and
scores it against ``gt/gt.txt`` with :func:`vcm.metrics.tracking.evaluate_tracking`:

- ``oracle``: the ground-truth boxes themselves as detections (score 1). Every box is
  available, so MOTA should be close to 1; what is lost is the first frame of every track
  (JDE confirms a track in its second frame) and any identity switch.
- ``public``: the sequence's public detections ``det/det.txt``, whose column 7 is a score
  (in PETS09-S3MF1 it ranges from about 3e-7 to 0.98), keeping scores >= ``--det-score``
  (default 0.5) as the detection stage would before the tracker.
- ``--byte``: yolo-fastest (``--variant`` body, ``--input-size`` 416) run once at
  ``--low-score`` (0.1), then tracked twice: ``plain``, the tracker keeping boxes scoring at
  least ``--track-score`` (0.6), i.e. what a zip detected at 0.6 holds (the detector applies
  NMS before any score threshold, so those boxes are the same); ``byte``, the same tracker
  with BYTE association at ``--track-score`` (ByteTrack's pass over the boxes between).

Prints one JSON object per input on stdout, in the project's results shape.

    .venv/bin/python experiments/pets_tracking.py
    .venv/bin/python experiments/pets_tracking.py --det-score 0.3 --gating
    .venv/bin/python experiments/pets_tracking.py --byte

The sequence defaults to the store's dataset ``PETS09-S3MF1`` (``$VCM_MIRROR/datasets/``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vcm.datasets.mot import MotRows, read_mot_txt, read_seqinfo
from vcm.detectors import build_detector, detect_video
from vcm.detections import DetectionSequence, FrameDetections
from vcm.errors import VcmError
from vcm.metrics.tracking import PEDESTRIAN, evaluate_tracking
from vcm.store import ModelStore
from vcm.trackers import TRACKERS, track_sequence
from vcm.video import open_video

DATASET = "PETS09-S3MF1"
REPORTED = ("mota", "idf1", "hota", "deta", "assa", "loca", "motp", "num_objects", "num_misses", "num_false_positives",
            "num_switches", "mostly_tracked", "mostly_lost", "precision", "recall")


def detections_from_rows(
    rows: MotRows, *, width: int, height: int, frames: int, source: str
) -> DetectionSequence:
    """One :class:`FrameDetections` per frame 1..``frames`` from MOTChallenge rows.

    Column 7 is the score, clipped to [0, 1] (ground truth writes -1 or 1 there).
    """
    order = np.argsort(rows.frame, kind="stable")
    starts = np.searchsorted(rows.frame[order], np.arange(1, frames + 2))
    scores = np.clip(rows.confidence, 0.0, 1.0)
    sequence = []
    for number in range(1, frames + 1):
        take = order[starts[number - 1] : starts[number]]
        sequence.append(FrameDetections(number, rows.boxes[take], scores[take]))
    return DetectionSequence(width, height, sequence, source=source)


def oracle_rows(gt: MotRows) -> MotRows:
    """Ground-truth rows that count (consider flag not 0, pedestrians), with score 1."""
    keep = (gt.confidence != 0) & ((gt.classes == -1) | (gt.classes == PEDESTRIAN))
    return MotRows(gt.frame[keep], gt.ids[keep], gt.boxes[keep], np.ones(int(keep.sum())),
                   gt.classes[keep])


def public_rows(det: MotRows, min_score: float) -> MotRows:
    keep = det.confidence >= min_score
    return MotRows(det.frame[keep], det.ids[keep], det.boxes[keep], det.confidence[keep],
                   det.classes[keep])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, help=f"sequence folder (default: {DATASET})")
    parser.add_argument("--tracker", default="iou", help="registered tracker name")
    parser.add_argument("--det-score", type=float, default=0.5,
                        help="keep public detections scoring at least this")
    parser.add_argument("--gating", action="store_true", help="iou tracker: Mahalanobis gating")
    parser.add_argument("--activate-first-frame", action="store_true",
                        help="iou tracker: output tracks born in frame 1 at once")
    parser.add_argument("--byte", action="store_true",
                        help="yolo-fastest detections tracked without and with BYTE")
    parser.add_argument("--variant", default="body", help="--byte: yolo-fastest variant")
    parser.add_argument("--input-size", type=int, default=416, help="--byte: yolo-fastest input")
    parser.add_argument("--low-score", type=float, default=0.1,
                        help="--byte: detection score threshold (BYTE's low boxes from here)")
    parser.add_argument("--track-score", type=float, default=0.6,
                        help="--byte: the sweep's score threshold and BYTE's track threshold")
    arguments = parser.parse_args(argv)
    try:
        sequence_path = arguments.sequence or ModelStore().dataset(DATASET)
        info = read_seqinfo(sequence_path)
        gt = read_mot_txt(sequence_path / "gt" / "gt.txt")
        det = read_mot_txt(sequence_path / "det" / "det.txt")
    except VcmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    parameters = {}
    if arguments.tracker == "iou":
        parameters = {"gating": arguments.gating,
                      "activate_first_frame": arguments.activate_first_frame}
    tracker = TRACKERS.build(arguments.tracker, **parameters)
    runs = []
    if arguments.byte:
        detector = build_detector("yolo-fastest", variant=arguments.variant,
                                  input_size=arguments.input_size)
        detections = detect_video(open_video(sequence_path), detector,
                                  score_threshold=arguments.low_score, progress=False)
        source = (f"yolo-fastest {arguments.variant} {arguments.input_size}, boxes scoring >= "
                  f"{arguments.low_score}")
        for label, options in (("plain", {"min_score": arguments.track_score}),
                               ("byte", {"byte_track_score": arguments.track_score,
                                         "byte_low_score": arguments.low_score})):
            runs.append((label, detections, TRACKERS.build("iou", **parameters, **options),
                         f"{source}; iou tracker {options}"))
    else:
        inputs = {
            "oracle": (oracle_rows(gt), "ground-truth boxes as detections"),
            "public": (public_rows(det, arguments.det_score),
                       f"det/det.txt detections with score >= {arguments.det_score} (scores in "
                       f"the file: {det.confidence.min():.3g}..{det.confidence.max():.3g})"),
        }
        for label, (rows, description) in inputs.items():
            detections = detections_from_rows(rows, width=info.width, height=info.height,
                                              frames=info.length, source=info.name)
            runs.append((label, detections, tracker, description))
    for label, detections, tracker, description in runs:
        start = time.perf_counter()
        tracks = track_sequence(detections, tracker, fps=info.fps)
        seconds = time.perf_counter() - start
        metrics = evaluate_tracking(gt, tracks)
        results = {
            "name": f"{arguments.tracker} tracker, {label} detections, {info.name}",
            "description": f"{description}; tracker {parameters}; {info.fps:g} fps; IoU 0.5",
            "results": {
                **{key: [round(metrics[key], 4)] for key in REPORTED},
                "detections": [detections.count],
                "track_ids": [len(tracks.track_ids)],
                "tracker_fps": [round(len(detections) / seconds, 1)],
            },
        }
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
