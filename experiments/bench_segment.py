"""Segmenter accuracy and speed: COCO mask AP of box-prompted segmenters with ground-truth boxes.

Three sets of people with exact masks, each segmented from its ground-truth boxes (score 1):

1. the mirror's coco-keypoints-mini (4 COCO val2017 images, 14 people, polygon masks);
2. its OCHuman subset (3 images, 5 heavily occluded people, polygon masks);
3. the synthetic sample (``vcm data synth`` defaults: 60 frames 640x360, 4 people, seed 0;
   exact visible masks from ``gt/instances.json``; boxes from gt.txt as the ``oracle``
   detector gives them).

For each segmenter set-up it prints mask AP, AP50, AP75, AR (COCO, IoU 0.50:0.95) and the
milliseconds per box; ``box`` (the filled box as the mask) is the trivial baseline.

Run: ``.venv/bin/python experiments/bench_segment.py`` (the mirror from $VCM_MIRROR, else
../shared/mirror beside the repository); ``--quick`` runs the default set-up and the baseline
only.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vcm.detectors import build_detector, detect_video
from vcm.masks import PersonMask, read_instance_ground_truth
from vcm.metrics.segmentation import evaluate_masks
from vcm.segmenters import build_segmenter, segment_video
from vcm.synth import synthesize_sequence
from vcm.video import open_video

REPOSITORY = Path(__file__).resolve().parents[1]

SETUPS = {
    "box (baseline)": ("box", {}),
    "selfie t=0.5": ("mediapipe", {"model": "selfie", "threshold": 0.5, "restrict": "window"}),
    "selfie t=0.3": ("mediapipe", {"model": "selfie", "threshold": 0.3, "restrict": "window"}),
    "selfie t=0.7": ("mediapipe", {"model": "selfie", "threshold": 0.7, "restrict": "window"}),
    "selfie t=0.5 pad 1.5": ("mediapipe", {"model": "selfie", "threshold": 0.5, "padding": 1.5,
                                           "restrict": "window"}),
    "selfie t=0.5 in box": ("mediapipe", {"model": "selfie", "threshold": 0.5, "restrict": "box"}),
    "selfie t=0.3 in box": ("mediapipe", {"model": "selfie", "threshold": 0.3, "restrict": "box"}),
    "selfie t=0.7 in box": ("mediapipe", {"model": "selfie", "threshold": 0.7, "restrict": "box"}),
    "selfie pad 1.0 in box": ("mediapipe", {"model": "selfie", "threshold": 0.5, "padding": 1.0,
                                            "restrict": "box"}),
    "selfie pad 1.5 in box": ("mediapipe", {"model": "selfie", "threshold": 0.5, "padding": 1.5,
                                            "restrict": "box"}),
    "pose t=0.5": ("mediapipe", {"model": "pose", "threshold": 0.5, "restrict": "window"}),
    "pose t=0.3": ("mediapipe", {"model": "pose", "threshold": 0.3, "restrict": "window"}),
    "pose t=0.7": ("mediapipe", {"model": "pose", "threshold": 0.7, "restrict": "window"}),
    "pose t=0.5 in box": ("mediapipe", {"model": "pose", "threshold": 0.5, "restrict": "box"}),
}
"""Set-ups compared; every option is spelled out, so a change of the defaults does not change
what a row measures."""
QUICK = ("box (baseline)", "mediapipe (default)")


def image_set(folder: Path, annotations: str):
    """(ground truth, [(image id, BGR frame, (N, 4) boxes)]) of a COCO image folder."""
    ground_truth = read_instance_ground_truth(folder / annotations)
    work = []
    for image in ground_truth["images"]:
        boxes = np.array([
            [x, y, x + width, y + height]
            for annotation in ground_truth["annotations"] if annotation["image_id"] == image["id"]
            for x, y, width, height in [annotation["bbox"]]
        ]).reshape(-1, 4)
        work.append((image["id"], cv2.imread(str(folder / image["file_name"])), boxes))
    return ground_truth, work


def segment_images(segmenter, work) -> tuple[list[PersonMask], int, float]:
    masks, boxes_total, start = [], 0, time.perf_counter()
    for image_id, frame, boxes in work:
        boxes_total += len(boxes)
        for box, mask in zip(boxes, segmenter.segment(frame, boxes, np.ones(len(boxes)))):
            if mask is not None:
                masks.append(PersonMask(image_id, mask, 1.0, box))
    return masks, boxes_total, time.perf_counter() - start


def show(dataset: str, setup: str, scores: dict, boxes: int, seconds: float) -> None:
    print(f"{dataset:<12} {setup:<22} AP {scores['AP']:.3f}  AP50 {scores['AP50']:.3f}  "
          f"AP75 {scores['AP75']:.3f}  AR {scores['AR']:.3f}  "
          f"{1000 * seconds / max(boxes, 1):6.1f} ms/box", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path(
        os.environ.get("VCM_MIRROR", REPOSITORY.parent / "shared" / "mirror")))
    parser.add_argument("--quick", action="store_true", help="default set-up and baseline only")
    parser.add_argument("--setup", action="append", choices=tuple(SETUPS) + ("mediapipe (default)",),
                        help="run only this set-up (repeatable)")
    arguments = parser.parse_args()
    logging.disable(logging.INFO)
    setups = dict(SETUPS, **{"mediapipe (default)": ("mediapipe", {})})
    names = tuple(arguments.setup or (QUICK if arguments.quick else SETUPS))
    coco = arguments.mirror / "datasets" / "coco-keypoints-mini"
    image_sets = {"coco-mini": image_set(coco, "test_coco.json"),
                  "ochuman": image_set(coco / "ochuman", "test_ochuman.json")}
    with tempfile.TemporaryDirectory() as temporary:
        sample = Path(temporary) / "sample"
        synthesize_sequence(sample, frames=60, width=640, height=360, fps=10, people=4, seed=0)
        source = open_video(sample)
        oracle = detect_video(source, build_detector("oracle", sequence=sample),
                              score_threshold=0.0, progress=False)
        for name in names:
            backend, options = setups[name]
            segmenter = build_segmenter(backend, **options)
            for dataset, (ground_truth, work) in image_sets.items():
                masks, boxes, seconds = segment_images(segmenter, work)
                show(dataset, name, evaluate_masks(ground_truth, masks), boxes, seconds)
            start = time.perf_counter()
            masks = segment_video(open_video(sample), oracle, segmenter, progress=False)
            seconds = time.perf_counter() - start
            show("sample", name, evaluate_masks(sample / "gt" / "instances.json", masks),
                 oracle.count, seconds)


if __name__ == "__main__":
    main()
