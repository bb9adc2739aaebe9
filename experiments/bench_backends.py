"""Latency of the paper-grade backends with random weights: seconds per frame and per crop.

Detectors run on ``--width`` x ``--height`` frames (default 1920x1080, HiEve's size; the
models resize them to 800 on the short side, at most 1333 on the long one); HRNet runs on
``--crops`` person boxes of one such frame (each warped to 192x256, flip test on as in its
config); the segmenters (``sam`` ViT-B, ``detectron2-mask``) and the ``osnet`` re-ID
embedder (each box cropped to 128x256) take the same ``--crops`` boxes of one frame. ``jde``
letterboxes every frame to 1088x608 whatever its size. Weights are random (the published ones cannot be downloaded here): the
networks do the same arithmetic, though the number of boxes after the heads, and so the time
of the last steps, can differ. Each backend runs once to warm up, then ``--repeats`` times; the median is
printed. A backend whose framework is not installed, or fails to import, is listed as such.
``--backends`` picks some (``torchvision``, ``detectron2``, ``jde``, ``hrnet``, ``sam``,
``detectron2-mask``, ``osnet``; default all).

Run: ``make bench-backends`` (or ``.venv-heavy/bin/python experiments/bench_backends.py
--device cuda`` on a GPU machine; ``--backends detectron2`` for detectron2 alone).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from vcm.detectors import DETECTORS, build_detector
from vcm.errors import VcmError
from vcm.frameworks import require
from vcm.pose import POSE_ESTIMATORS, build_pose_estimator
from vcm.segmenters import SEGMENTERS, build_segmenter

DETECTOR_CASES = [
    ("torchvision", {"model": "fasterrcnn_resnet50_fpn_v2"}),
    ("torchvision", {"model": "fasterrcnn_mobilenet_v3_large_fpn"}),
    ("detectron2", {"config": "COCO-Detection/faster_rcnn_X_101_32x8d_FPN_3x"}),
    ("detectron2", {"config": "COCO-Detection/faster_rcnn_R_50_FPN_3x"}),
    ("jde", {"input_width": 1088, "input_height": 608}),
]
SEGMENTER_CASES = [("sam", {"encoder": "vit_b"}), ("detectron2-mask", {})]


def median_seconds(run, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (all threads of this process) of ``run()`` after one
    warm-up call. On a shared machine the wall clock grows with the load; CPU seconds much
    less."""
    run()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def person_boxes(count: int, width: int, height: int) -> np.ndarray:
    """``count`` standing-person boxes (1:2.5) spread over the frame."""
    rng = np.random.default_rng(0)
    heights = rng.uniform(0.2, 0.6, count) * height
    widths = heights / 2.5
    left = rng.uniform(0, width - widths)
    top = rng.uniform(0, height - heights)
    return np.column_stack([left, top, left + widths, top + heights])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--crops", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--backends", nargs="+",
                        default=["torchvision", "detectron2", "jde", "hrnet", "sam",
                                 "detectron2-mask", "osnet"])
    args = parser.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    frame = np.random.default_rng(0).integers(0, 256, (args.height, args.width, 3), np.uint8)

    print(f"frame {args.width}x{args.height}, device {args.device}, threads "
          f"{args.threads or 'torch default'}, random weights, median of {args.repeats}")
    print(f"{'backend':<58} {'s/frame':>9} {'frames/s':>9} {'CPU s/frame':>12}")
    for name, options in DETECTOR_CASES:
        if name not in args.backends:
            continue
        label = f"{name} " + " ".join(str(value) for value in options.values())
        try:
            require(name, DETECTORS.get(name).requirements)
        except VcmError as error:
            print(f"{label:<58} not usable: {error}")
            continue
        try:
            detector = build_detector(name, weights="random", device=args.device, **options)
        except VcmError as error:
            print(f"{label:<58} cannot build: {error}")
            continue
        seconds, cpu_seconds = median_seconds(lambda: detector.detect(frame, 1), args.repeats)
        print(f"{label:<58} {seconds:9.3f} {1 / seconds:9.2f} {cpu_seconds:12.3f}")

    boxes = person_boxes(args.crops, args.width, args.height)
    scores = np.ones(len(boxes))
    for name, options in SEGMENTER_CASES:
        if name not in args.backends:
            continue
        label = f"{name} " + " ".join(str(value) for value in options.values())
        label += f", {args.crops} boxes in one frame"
        try:
            require(name, SEGMENTERS.get(name).requirements)
        except VcmError as error:
            print(f"{label:<58} not usable: {error}")
            continue
        segmenter = build_segmenter(name, weights="random", device=args.device, **options)
        seconds, cpu_seconds = median_seconds(
            lambda: segmenter.segment(frame, boxes, scores), args.repeats)
        print(f"{label:<58} {seconds:9.3f} {1 / seconds:9.2f} {cpu_seconds:12.3f}")

    print(f"{'backend':<58} {'s/crop':>9} {'crops/s':>9} {'CPU s/crop':>12}")
    if "osnet" in args.backends:
        bench_osnet(frame, boxes, args)
    if "hrnet" not in args.backends:
        return
    label = f"hrnet w32 256x192, {args.crops} crops in one batch"
    try:
        require("hrnet", POSE_ESTIMATORS.get("hrnet").requirements)
    except VcmError as error:
        print(f"{label:<58} not usable: {error}")
        return
    estimator = build_pose_estimator("hrnet", weights="random", device=args.device)
    seconds, cpu_seconds = median_seconds(
        lambda: estimator.estimate(frame, boxes, scores), args.repeats
    )
    per_crop = seconds / args.crops
    print(f"{label + f' (flip test {estimator.flip_test})':<58} {per_crop:9.3f} "
          f"{1 / per_crop:9.2f} {cpu_seconds / args.crops:12.3f}")


def bench_osnet(frame: np.ndarray, boxes: np.ndarray, args: argparse.Namespace) -> None:
    """Seconds per box of the OSNet-x1.0 embedder, all boxes of one frame in one batch."""
    from vcm.nets.osnet import OSNetEmbedder

    label = f"osnet x1.0 256x128, {len(boxes)} crops in one batch"
    try:
        require("osnet", OSNetEmbedder.requirements)
    except VcmError as error:
        print(f"{label:<58} not usable: {error}")
        return
    embedder = OSNetEmbedder(weights="random", device=args.device, crops_per_batch=len(boxes))
    seconds, cpu_seconds = median_seconds(lambda: embedder.embed(frame, boxes), args.repeats)
    per_crop = seconds / len(boxes)
    print(f"{label:<58} {per_crop:9.3f} {1 / per_crop:9.2f} {cpu_seconds / len(boxes):12.3f}")


if __name__ == "__main__":
    main()
