"""Pose-stage speed: BlazePose crops per second, and COCO keypoint evaluation time.

1. BlazePose on the mirror's coco-keypoints-mini images with their ground-truth boxes (the
   12 people with keypoints), ``--repeats`` passes after one warm-up pass; prints crops/s
   and the AP those poses reach (person score = mean keypoint visibility, box score 1).
2. :func:`vcm.metrics.pose.evaluate_keypoints` on a synthetic video: ``--frames`` frames with
   ``--people`` people each, predictions = ground truth moved by Gaussian noise (3 px).
3. ``--crops``: BlazePose crop modes (``crop`` box / square / fixed width:height, ``padding``)
   on ground-truth boxes: COCO keypoint AP on coco-keypoints-mini (12 people with keypoints)
   and on its ochuman/ images (5 heavily occluded people), and, on PETS09-S3MF1 (no pose
   ground truth; every ``--pets-step``-th frame), how often a pose lands on another person:
   its torso centre (mean of shoulders and hips) is nearer the centre of another person's
   ground-truth box than its own.

Run: ``.venv/bin/python experiments/bench_pose.py`` (the mirror from $VCM_MIRROR, else
../shared/mirror beside the repository); ``--crops`` for the crop table only.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vcm.datasets.coco import read_coco_keypoints
from vcm.datasets.mot import read_mot_txt
from vcm.keypoints import COCO_KEYPOINT_NAMES, PersonPose, ground_truth_coco
from vcm.metrics.pose import evaluate_keypoints
from vcm.pose import build_pose_estimator, person_score

REPOSITORY = Path(__file__).resolve().parents[1]
CROP_MODES = (
    {"crop": "square", "padding": 0.25}, {"crop": "box", "padding": 0.0},
    {"crop": "box", "padding": 0.15}, {"crop": "box", "padding": 0.25},
    {"crop": "box", "padding": 0.4}, {"crop": "aspect", "aspect": 0.5, "padding": 0.25},
    {"crop": "aspect", "aspect": 0.75, "padding": 0.25},
)
"""The BlazePose options the crop study measures; square with 0.25 was the old default."""
TORSO = [5, 6, 11, 12]  # COCO shoulders and hips


def coco_work(annotations: Path) -> tuple:
    """(ground truth, [(image id, BGR image, GT boxes of the people with keypoints)])."""
    ground_truth = read_coco_keypoints(annotations)
    work = []
    for image in ground_truth.coco["images"]:
        frame = cv2.imread(str(annotations.parent / image["file_name"]))
        boxes = np.array([
            person.box for person in ground_truth.people
            if person.image_id == image["id"] and (person.keypoints[:, 2] > 0).any()
        ])
        work.append((image["id"], frame, boxes))
    return ground_truth, work


def coco_ap(estimator, ground_truth, work) -> tuple[float, int]:
    """COCO keypoint AP of ``estimator`` on ground-truth boxes, and the number of poses found."""
    poses = []
    for image_id, frame, boxes in work:
        for keypoints in estimator.estimate(frame, boxes, np.ones(len(boxes))):
            if keypoints is not None:
                poses.append(PersonPose(image_id, keypoints, person_score(keypoints[:, 2], 1.0)))
    return evaluate_keypoints(ground_truth, poses)["AP"], len(poses)


def on_another_person(keypoints: np.ndarray, boxes: np.ndarray, own: int) -> bool:
    """Whether the pose's torso centre is nearer another box's centre than box ``own``'s."""
    torso = keypoints[TORSO, :2].mean(axis=0)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - torso, axis=1))) != own


def bench_crops(mirror: Path, pets_step: int) -> None:
    """Print the crop-mode table (Markdown) of COCO AP, OCHuman AP and PETS09 wrong-person rate."""
    dataset = mirror / "datasets" / "coco-keypoints-mini"
    coco = coco_work(dataset / "test_coco.json")
    ochuman = coco_work(dataset / "ochuman" / "test_ochuman.json")
    pets = mirror / "datasets" / "PETS09-S3MF1"
    gt = read_mot_txt(pets / "gt" / "gt.txt")
    pets_work = []
    for frame in range(1, int(gt.frame.max()) + 1, pets_step):
        boxes = gt.at_frame(frame).boxes
        if len(boxes):
            pets_work.append((cv2.imread(str(pets / "img1" / f"{frame:06d}.jpg")), boxes))
    pets_boxes = sum(len(boxes) for _, boxes in pets_work)
    print(f"| crop | padding | COCO AP (12 people) | OCHuman AP (5) | PETS09: pose on another "
          f"person / poses found ({pets_boxes} boxes, every {pets_step}th frame) |")
    print("|---|---|---|---|---|")
    for options in CROP_MODES:
        estimator = build_pose_estimator("blazepose", **options)
        crop = f"aspect {options['aspect']}" if options["crop"] == "aspect" else options["crop"]
        padding = options["padding"]
        coco_ap_value, _ = coco_ap(estimator, *coco)
        ochuman_ap_value, _ = coco_ap(estimator, *ochuman)
        found = wrong = 0
        for frame, boxes in pets_work:
            poses = estimator.estimate(frame, boxes, np.ones(len(boxes)))
            for own, keypoints in enumerate(poses):
                if keypoints is not None:
                    found += 1
                    wrong += on_another_person(keypoints, boxes, own)
        estimator.close()
        print(f"| {crop} | {padding} | {coco_ap_value:.3f} | {ochuman_ap_value:.3f} | "
              f"{wrong}/{found} = {wrong / max(found, 1):.3f} |", flush=True)


def bench_blazepose(mirror: Path, repeats: int) -> None:
    ground_truth, work = coco_work(mirror / "datasets" / "coco-keypoints-mini" / "test_coco.json")
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
    parser.add_argument("--crops", action="store_true", help="only the BlazePose crop study")
    parser.add_argument("--pets-step", type=int, default=2,
                        help="crop study: use every n-th PETS09 frame")
    arguments = parser.parse_args()
    mirror = Path(os.environ.get("VCM_MIRROR", REPOSITORY.parent / "shared" / "mirror"))
    if arguments.crops:
        bench_crops(mirror, arguments.pets_step)
        return
    bench_blazepose(mirror, arguments.repeats)
    bench_evaluation(arguments.frames, arguments.people)


if __name__ == "__main__":
    main()
