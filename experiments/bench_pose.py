"""Pose-stage speed: BlazePose crops per second, and COCO keypoint evaluation time.

1. BlazePose on the mirror's coco-keypoints-mini images with their ground-truth boxes (the
   12 people with keypoints), ``--repeats`` passes after one warm-up pass; prints crops/s
   and the AP those poses reach (person score = mean keypoint visibility, box score 1).
2. :func:`vcm.metrics.pose.evaluate_keypoints` on a synthetic video: ``--frames`` frames with
   ``--people`` people each, predictions = ground truth moved by Gaussian noise (3 px).

Run: ``.venv/bin/python experiments/bench_pose.py`` (the mirror from $VCM_MIRROR, else
../shared/mirror beside the repository).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vcm.datasets.coco import read_coco_keypoints
from vcm.keypoints import COCO_KEYPOINT_NAMES, PersonPose, ground_truth_coco
from vcm.metrics.pose import evaluate_keypoints
from vcm.pose import build_pose_estimator, person_score

REPOSITORY = Path(__file__).resolve().parents[1]


def bench_blazepose(mirror: Path, repeats: int) -> None:
    dataset = mirror / "datasets" / "coco-keypoints-mini"
    ground_truth = read_coco_keypoints(dataset / "test_coco.json")
    work = []
    for image in ground_truth.coco["images"]:
        frame = cv2.imread(str(dataset / image["file_name"]))
        boxes = np.array([
            person.box for person in ground_truth.people
            if person.image_id == image["id"] and (person.keypoints[:, 2] > 0).any()
        ])
        work.append((image["id"], frame, boxes))
    crops = sum(len(boxes) for _, _, boxes in work)
    estimator = build_pose_estimator("blazepose")
    poses = []
    for image_id, frame, boxes in work:  # warm-up pass; its poses give the AP
        for keypoints in estimator.estimate(frame, boxes, np.ones(len(boxes))):
            if keypoints is not None:
                poses.append(PersonPose(image_id, keypoints, person_score(keypoints[:, 2], 1.0)))
    start = time.perf_counter()
    for _ in range(repeats):
        for _, frame, boxes in work:
            estimator.estimate(frame, boxes, np.ones(len(boxes)))
    seconds = time.perf_counter() - start
    metrics = evaluate_keypoints(ground_truth, poses)
    print(f"blazepose: {crops * repeats} crops in {seconds:.2f} s = "
          f"{crops * repeats / seconds:.1f} crops/s ({len(poses)}/{crops} people found)")
    print(f"blazepose on coco-keypoints-mini, ground-truth boxes: AP {metrics['AP']:.3f} "
          f"AP50 {metrics['AP50']:.3f} AR {metrics['AR']:.3f}")
    print(f"  {estimator.describe()}")


def bench_evaluation(frames: int, people: int) -> None:
    rng = np.random.default_rng(0)
    ground_truth_people, predictions = [], []
    for frame in range(1, frames + 1):
        for person in range(people):
            left, top = 50 + 150 * person, 40 + rng.uniform(0, 20)
            keypoints = np.column_stack([
                left + rng.uniform(0, 100, 17), top + rng.uniform(0, 250, 17), np.full(17, 2.0)
            ])
            ground_truth_people.append(
                PersonPose(frame, keypoints, box=[left, top, left + 100, top + 250])
            )
            noisy = keypoints + np.column_stack([rng.normal(0, 3, (17, 2)), np.zeros(17)])
            noisy[:, 2] = 0.9
            predictions.append(PersonPose(frame, noisy, rng.uniform(0.5, 1.0)))
    ground_truth = ground_truth_coco(
        ground_truth_people, image_ids=range(1, frames + 1), keypoint_names=COCO_KEYPOINT_NAMES
    )
    start = time.perf_counter()
    metrics = evaluate_keypoints(ground_truth, predictions)
    seconds = time.perf_counter() - start
    print(f"evaluate_keypoints: {frames} frames x {people} people in {seconds:.2f} s "
          f"(AP {metrics['AP']:.3f} with 3 px noise)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the images")
    parser.add_argument("--frames", type=int, default=1000, help="synthetic evaluation frames")
    parser.add_argument("--people", type=int, default=4, help="people per synthetic frame")
    arguments = parser.parse_args()
    mirror = Path(os.environ.get("VCM_MIRROR", REPOSITORY.parent / "shared" / "mirror"))
    bench_blazepose(mirror, arguments.repeats)
    bench_evaluation(arguments.frames, arguments.people)


if __name__ == "__main__":
    main()
