"""Segmentation accuracy: COCO mask AP/AR (mask intersection over union) via pycocotools.

A predicted mask matches a ground-truth person when their mask IoU (shared pixels / pixels in
either) reaches the threshold; AP averages precision over IoU thresholds 0.50:0.05:0.95 with
at most 100 masks per image (COCOeval's ``iouType="segm"``, as COCO's instance segmentation
challenge).
"""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Iterable, Sequence

from vcm.errors import VcmError
from vcm.masks import (
    PersonMask,
    image_sizes,
    pycocotools_rle,
    read_instance_ground_truth,
    read_mask_results,
    rle_problem,
    to_coco_result,
)

MASK_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR", "ARs", "ARm", "ARl")
"""Names of the values :func:`evaluate_masks` returns, in COCOeval's ``stats`` order (AR is
COCO's AR at 100 masks per image)."""


def evaluate_masks(
    ground_truth: dict | str | Path,
    results: Iterable[PersonMask] | str | Path,
    *,
    image_ids: Iterable[int] | None = None,
) -> dict[str, float]:
    """COCO mask AP and AR (fractions in [0, 1]) of ``results`` against ``ground_truth``.

    ``ground_truth`` is a COCO instances dict or the path of a COCO instances JSON file
    (checked by :func:`vcm.masks.read_instance_ground_truth`); ``results`` are
    :class:`PersonMask` records or the path of a results JSON file. Every result must be for
    an image of the ground truth and have that image's size. ``image_ids`` restricts the
    evaluation to those images (default: all of the ground truth's).

    Returns a dict with the keys of :data:`MASK_METRICS`: AP (IoU 0.50:0.95), AP50, AP75,
    APs/APm/APl (small < 32^2, medium, large > 96^2 pixel areas), AR at 1, 10 and 100 masks,
    and ARs/ARm/ARl. A value pycocotools leaves undefined (-1: no ground-truth person to find)
    is NaN; with ground truth but no results, AP and AR are 0.0.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    label = "ground truth" if isinstance(ground_truth, dict) else str(ground_truth)
    dataset = read_instance_ground_truth(ground_truth, label)
    sizes = image_sizes(dataset)
    if isinstance(results, (str, Path)):
        results = read_mask_results(results, image_sizes=sizes)
    results = list(results)
    _check_results(results, sizes, label)
    if image_ids is not None:
        image_ids = sorted({int(image_id) for image_id in image_ids})
        unknown = sorted(set(image_ids) - set(sizes))
        if unknown:
            raise VcmError(f"{label}: no images with ids {unknown[:5]} to evaluate")
    detections = [to_coco_result(person) for person in results]
    for number, entry in enumerate(detections, start=1):
        entry["id"] = number
        entry["iscrowd"] = 0
    # pycocotools prints progress to stdout; the numbers come from COCOeval.stats instead.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_ground_truth = COCO()
        coco_ground_truth.dataset = dataset
        coco_ground_truth.createIndex()
        coco_detections = coco_ground_truth.loadRes(detections) if detections else _empty(dataset)
        evaluation = COCOeval(coco_ground_truth, coco_detections, iouType="segm")
        if image_ids is not None:
            evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {name: (math.nan if value < 0 else float(value))
            for name, value in zip(MASK_METRICS, evaluation.stats)}


def mask_iou(predicted: dict, ground_truth: dict) -> float:
    """Intersection over union in [0, 1] of two COCO RLE masks of the same size (0 if both are
    empty); pycocotools' ``maskUtils.iou`` for one pair."""
    from pycocotools import mask as mask_utils

    value = mask_utils.iou([pycocotools_rle(predicted)], [pycocotools_rle(ground_truth)], [0])
    return float(value[0][0])


def _empty(dataset: dict):
    """A pycocotools COCO object with the ground truth's images and no annotations
    (``loadRes`` refuses an empty list)."""
    from pycocotools.coco import COCO

    empty = COCO()
    empty.dataset = {"images": dataset["images"], "categories": dataset["categories"],
                     "annotations": []}
    empty.createIndex()
    return empty


def _check_results(results: Sequence[PersonMask], sizes: dict[int, tuple[int, int]],
                   label: str) -> None:
    for index, person in enumerate(results):
        if person.image_id not in sizes:
            raise VcmError(f"result {index}: image_id {person.image_id} is not an image of "
                           f"{label} (results for another video or image set?)")
        problem = rle_problem(_as_text(person.mask), sizes[person.image_id])
        if problem:
            raise VcmError(f"result {index} (image {person.image_id}): {problem}")


def _as_text(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]),
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}

