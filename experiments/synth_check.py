"""Do off-the-shelf models see people in a synthetic sequence? HOG boxes and MediaPipe poses.

Usage: ``.venv/bin/python experiments/synth_check.py data/sample [--frames N]``

Written for ``vcm.synth.synthesize_sequence`` folders (``gt/gt.txt`` and ``gt/keypoints.json``)
and prints, as JSON on stdout:

- HOG (OpenCV's default people detector, ``winStride=(8, 8), padding=(8, 8), scale=1.05``):
  recall of ground-truth boxes with visibility > 0.7 and precision of its boxes against all
  ground-truth boxes, at IoU 0.5 and 0.3 (HOG boxes include the 64x128 window's margin), and
  at IoU 0.5 after trimming that margin as OpenCV's ``peopledetect.py`` sample does.
- MediaPipe pose (``model_complexity=1``) run on each ground-truth box padded by 25%: how many
  crops gave a pose, and the COCO keypoint AP (OKS) over all people and with people whose
  visibility is at most 0.7 ignored, plus each keypoint's median error in body heights.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import cv2
import numpy as np

from vcm.datasets.mot import read_mot_txt, read_seqinfo
from vcm.keypoints import COCO_KEYPOINT_NAMES

# MediaPipe's 33 landmarks that correspond to COCO's 17 keypoints, in COCO order.
MEDIAPIPE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
VISIBLE = 0.7


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every ``x1, y1, x2, y2`` box in ``boxes_a`` (N, 4) with every one in ``boxes_b``."""
    top_left = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = np.minimum(boxes_a[:, None, 2:], boxes_b[None, :, 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(boxes_a[:, 2:] - boxes_a[:, :2], axis=1)
    area_b = np.prod(boxes_b[:, 2:] - boxes_b[:, :2], axis=1)
    return intersection / np.maximum(area_a[:, None] + area_b[None, :] - intersection, 1e-9)


def greedy_matches(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs, best IoU first, each at least ``threshold``."""
    pairs = []
    iou = iou.copy()
    while iou.size and iou.max() >= threshold:
        row, column = np.unravel_index(np.argmax(iou), iou.shape)
        pairs.append((int(row), int(column)))
        iou[row, :] = -1
        iou[:, column] = -1
    return pairs


def trim_hog_margin(boxes: np.ndarray) -> np.ndarray:
    """Shrink HOG windows to the person inside, as OpenCV's samples/python/peopledetect.py."""
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    pad = np.stack([0.15 * width, 0.05 * height, -0.15 * width, -0.05 * height], axis=1)
    return boxes + pad


def hog_check(frames: list[np.ndarray], truth: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """HOG recall and precision; ``truth`` holds each frame's gt boxes and visibilities."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    counts = {name: {"found": 0, "visible": 0, "correct": 0, "detections": 0}
              for name in ("iou0.5", "iou0.3", "trimmed_iou0.5")}
    scores = []
    for image, (gt_boxes, visibility) in zip(frames, truth):
        rects, weights = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        rects = np.asarray(rects, np.float64).reshape(-1, 4)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        scores += np.asarray(weights, np.float64).reshape(-1).tolist()
        for name, threshold, candidates in (
            ("iou0.5", 0.5, boxes), ("iou0.3", 0.3, boxes),
            ("trimmed_iou0.5", 0.5, trim_hog_margin(boxes)),
        ):
            visible = visibility > VISIBLE
            found = greedy_matches(iou_matrix(gt_boxes[visible], candidates), threshold)
            correct = greedy_matches(iou_matrix(gt_boxes, candidates), threshold)
            counts[name]["found"] += len(found)
            counts[name]["visible"] += int(visible.sum())
            counts[name]["correct"] += len(correct)
            counts[name]["detections"] += len(candidates)
    result = {
        name: {
            "recall_visible": round(count["found"] / max(count["visible"], 1), 3),
            "precision": round(count["correct"] / max(count["detections"], 1), 3),
        }
        for name, count in counts.items()
    }
    result["detections"] = counts["iou0.5"]["detections"]
    result["median_score"] = round(float(np.median(scores)), 3) if scores else None
    return result


def pose_detections(frames: list[np.ndarray], annotations: list[dict]) -> list[dict]:
    """MediaPipe poses on 25%-padded gt box crops, as COCO keypoint results."""
    import mediapipe as mp

    results = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                min_detection_confidence=0.5) as pose:
        for annotation in annotations:
            image = frames[annotation["image_id"] - 1]
            x, y, w, h = annotation["bbox"]
            x0, y0 = max(int(x - 0.25 * w), 0), max(int(y - 0.25 * h), 0)
            x1 = min(int(np.ceil(x + 1.25 * w)), image.shape[1])
            y1 = min(int(np.ceil(y + 1.25 * h)), image.shape[0])
            crop = image[y0:y1, x0:x1]
            found = pose.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)).pose_landmarks
            if found is None:
                continue
            landmarks = [found.landmark[index] for index in MEDIAPIPE_TO_COCO]
            keypoints = []
            for landmark in landmarks:
                keypoints += [x0 + landmark.x * (x1 - x0), y0 + landmark.y * (y1 - y0), 1.0]
            results.append({
                "image_id": annotation["image_id"],
                "category_id": 1,
                "keypoints": keypoints,
                "score": float(np.mean([landmark.visibility for landmark in landmarks])),
                "gt_id": annotation["id"],
            })
    return results


def keypoint_ap(dataset: dict, detections: list[dict]) -> float:
    """COCO keypoint AP (mean over OKS 0.50:0.95) of ``detections`` against ``dataset``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        results = [{key: value for key, value in detection.items() if key != "gt_id"}
                   for detection in detections]
        coco_dt = coco_gt.loadRes(results)
        evaluation = COCOeval(coco_gt, coco_dt, "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return round(float(evaluation.stats[0]), 3)


def keypoint_errors(dataset: dict, detections: list[dict]) -> dict[str, float]:
    """Median distance of each keypoint from its truth, in units of the person's box height."""
    by_id = {annotation["id"]: annotation for annotation in dataset["annotations"]}
    errors: dict[str, list[float]] = {name: [] for name in COCO_KEYPOINT_NAMES}
    for detection in detections:
        truth = by_id[detection["gt_id"]]
        expected = np.reshape(truth["keypoints"], (-1, 3))
        found = np.reshape(detection["keypoints"], (-1, 3))
        for name, (ex, ey, v), (fx, fy, _) in zip(COCO_KEYPOINT_NAMES, expected, found):
            if v > 0:
                errors[name].append(np.hypot(fx - ex, fy - ey) / truth["bbox"][3])
    return {name: round(float(np.median(values)), 3) for name, values in errors.items() if values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sequence", type=Path, help="synthetic MOTChallenge sequence folder")
    parser.add_argument("--frames", type=int, default=0, help="check only the first N frames")
    arguments = parser.parse_args()

    info = read_seqinfo(arguments.sequence)
    length = min(arguments.frames or info.length, info.length)
    frames = [cv2.imread(str(info.image_path(frame))) for frame in range(1, length + 1)]
    gt = read_mot_txt(arguments.sequence / "gt" / "gt.txt")
    visibility_column = np.loadtxt(arguments.sequence / "gt" / "gt.txt", delimiter=",",
                                   ndmin=2)[:, 8]
    truth = [(gt.at_frame(frame).boxes, visibility_column[gt.frame == frame])
             for frame in range(1, length + 1)]
    dataset = json.loads((arguments.sequence / "gt" / "keypoints.json").read_text())
    dataset["images"] = [image for image in dataset["images"] if image["id"] <= length]
    dataset["annotations"] = [a for a in dataset["annotations"] if a["image_id"] <= length]
    visibility = {(int(f), int(i)): v for f, i, v in zip(gt.frame, gt.ids, visibility_column)}

    started = time.perf_counter()
    hog = hog_check(frames, truth)
    hog_seconds = time.perf_counter() - started

    started = time.perf_counter()
    detections = pose_detections(frames, dataset["annotations"])
    pose_seconds = time.perf_counter() - started
    mostly_visible = dict(dataset, annotations=[
        dict(a, iscrowd=int(visibility[(a["image_id"], a["track_id"])] <= VISIBLE))
        for a in dataset["annotations"]
    ])
    report = {
        "sequence": str(arguments.sequence),
        "frames": length,
        "gt_boxes": len(dataset["annotations"]),
        "hog": hog,
        "mediapipe": {
            "poses_found": len(detections),
            "crops": len(dataset["annotations"]),
            "keypoint_ap": keypoint_ap(dataset, detections),
            "keypoint_ap_visible": keypoint_ap(mostly_visible, detections),
            "median_error_per_height": keypoint_errors(dataset, detections),
        },
        "seconds": {"hog": round(hog_seconds, 1), "mediapipe": round(pose_seconds, 1)},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
