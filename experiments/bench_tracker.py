"""Tracker speed: frames per second of a registered tracker on one CPU core.

Synthetic people (default 20) walk at constant velocity through a 1920x1080 frame, bouncing
off its edges, for ``--frames`` frames (default 2000). Detections are their boxes moved by
1 px Gaussian noise; each box is missed with probability ``--drop`` (default 2%), and one
false positive appears in every tenth frame, so the lost, re-found, unconfirmed and removed
paths all run. Prints, as one JSON object on stdout, the best of ``--repeats`` timings of
:func:`vcm.trackers.track_sequence` (detections are generated before timing).

    .venv/bin/python experiments/bench_tracker.py
    .venv/bin/python experiments/bench_tracker.py --people 50 --frames 1000

The process pins itself to one core and limits BLAS to one thread before numpy loads.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from vcm.datasets.mot import MotRows  # noqa: E402
from vcm.detections import DetectionSequence, FrameDetections  # noqa: E402
from vcm.metrics.tracking import evaluate_tracking  # noqa: E402
from vcm.trackers import TRACKERS, track_sequence  # noqa: E402
from vcm.tracks import TrackSequence  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def synthetic_detections(
    people: int, frames: int, *, drop: float, seed: int = 0
) -> DetectionSequence:
    """Noisy boxes of ``people`` constant-velocity walkers over ``frames`` frames."""
    rng = np.random.default_rng(seed)
    heights = rng.uniform(60, 200, size=people)
    sizes = np.stack([heights * 0.4, heights], axis=1)
    positions = rng.uniform([0, 0], [WIDTH, HEIGHT], size=(people, 2)) - sizes / 2
    velocities = rng.uniform(-4, 4, size=(people, 2))
    sequence = []
    for number in range(1, frames + 1):
        positions = positions + velocities
        # Bounce: reverse the velocity of walkers that left the frame.
        outside = (positions < 0) | (positions + sizes > [WIDTH, HEIGHT])
        velocities = np.where(outside, -velocities, velocities)
        boxes = np.concatenate([positions, positions + sizes], axis=1)
        boxes = boxes + rng.normal(0, 1.0, size=boxes.shape)
        boxes = boxes[rng.random(people) >= drop]
        if number % 10 == 0:
            corner = rng.uniform([0, 0], [WIDTH - 50, HEIGHT - 120])
            boxes = np.concatenate([boxes, [[*corner, *(corner + [50, 120])]]])
        scores = rng.uniform(0.6, 1.0, size=len(boxes))
        sequence.append(FrameDetections(number, boxes, scores))
    return DetectionSequence(WIDTH, HEIGHT, sequence, source="synthetic")


def time_evaluation(tracks, *, frames: int) -> float:
    """Seconds motmetrics takes to score the first ``frames`` frames of ``tracks`` against a
    ground truth of the same size (the tracks themselves: the values do not matter here)."""
    rows = [(track_frame.frame, track_id, box)
            for track_frame in tracks.frames[:frames]
            for track_id, box in zip(track_frame.ids, track_frame.boxes)]
    ground_truth = MotRows(
        frame=np.array([row[0] for row in rows]), ids=np.array([row[1] for row in rows]),
        boxes=np.array([row[2] for row in rows]).reshape(-1, 4),
        confidence=np.ones(len(rows)), classes=np.full(len(rows), -1),
    )
    start = time.perf_counter()
    evaluate_tracking(ground_truth, TrackSequence(tracks.frames[:frames]))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="iou", help="registered tracker name")
    parser.add_argument("--people", type=int, default=20, help="people per frame")
    parser.add_argument("--frames", type=int, default=2000, help="frames per run")
    parser.add_argument("--drop", type=float, default=0.02, help="probability a box is missed")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate given the tracker")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is kept")
    arguments = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    detections = synthetic_detections(arguments.people, arguments.frames, drop=arguments.drop)
    tracker = TRACKERS.build(arguments.tracker)
    timings = []
    for _ in range(arguments.repeats):
        start = time.perf_counter()
        tracks = track_sequence(detections, tracker, fps=arguments.fps)
        timings.append(time.perf_counter() - start)
    seconds = min(timings)
    evaluation_seconds = time_evaluation(tracks, frames=1000)
    results = {
        "name": f"{arguments.tracker} tracker speed",
        "description": (
            f"{arguments.people} synthetic walkers, {arguments.frames} frames, "
            f"{arguments.drop:.0%} missed boxes, one core; best of {arguments.repeats} runs"
        ),
        "results": {
            "frames": [arguments.frames],
            "detections": [detections.count],
            "track_boxes": [tracks.count],
            "track_ids": [len(tracks.track_ids)],
            "seconds": [round(seconds, 4)],
            "fps": [round(arguments.frames / seconds, 1)],
            "evaluation_seconds_1000_frames": [round(evaluation_seconds, 3)],
        },
    }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
