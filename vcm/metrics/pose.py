"""Pose accuracy: COCO keypoint AP/AR (object keypoint similarity, OKS) via pycocotools.

OKS between a prediction and a ground-truth person is ``mean_i exp(-d_i^2 / (2 s^2 k_i^2))``
over the person's labelled keypoints, with ``d_i`` the pixel distance, ``s^2`` the person's
area and ``k_i = 2 sigma_i`` (pycocotools' convention). AP averages precision over OKS
thresholds 0.50:0.05:0.95, at most 20 people per image (COCO's keypoint setting).
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vcm.errors import VcmError, shown
from vcm.keypoints import (
    COCO_KEYPOINT_SIGMAS,
    PERSON_CATEGORY_ID,
    KeypointGroundTruth,
    PersonPose,
    box_from_coco_bbox,
    finite_numbers,
    keypoints_from_flat,
    load_json,
    read_pose_results,
    whole_number,
)

KEYPOINT_METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
"""Names of the values :func:`evaluate_keypoints` returns, in COCOeval's ``stats`` order."""


def evaluate_keypoints(
    ground_truth: KeypointGroundTruth | dict | str | Path,
    results: Iterable[PersonPose] | str | Path,
    *,
    sigmas: Sequence[float] | None = None,
    image_ids: Iterable[int] | None = None,
) -> dict[str, float]:
    """COCO keypoint AP and AR (fractions in [0, 1]) of ``results`` against ``ground_truth``.

    ``ground_truth`` is a :class:`KeypointGroundTruth`, a COCO keypoint dict or the path of a
    COCO keypoint JSON file; ``results`` are :class:`PersonPose` records or the path of a
    results JSON file. ``sigmas`` (one per keypoint) default to the ground truth's own, else
    COCO's 17 (:data:`COCO_KEYPOINT_SIGMAS`); another layout needs its own. ``image_ids``
    restricts evaluation to those images (default: the ground truth's ``image_ids``, else all
    its images); results on other ground-truth images are then ignored.

    Returns a dict with the keys of :data:`KEYPOINT_METRICS`: AP (OKS 0.50:0.95), AP50, AP75,
    APm/APl (medium 32^2..96^2 / large > 96^2 pixel areas) and the same for AR. A value
    pycocotools leaves undefined (-1: no ground-truth person to find, e.g. empty ground truth
    or no large person) is NaN; with ground truth but no results, AP and AR are 0.0.

    Raises :class:`VcmError` when results name images absent from the ground truth (a pose
    file for a different video) or have a different keypoint count, and ``ValueError`` for
    sigmas that do not match the keypoint count.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dataset, results, label, default_sigmas, default_image_ids = _inputs(ground_truth, results)
    keypoint_count = _keypoint_count(dataset, results)
    sigmas_given = sigmas if sigmas is not None else default_sigmas
    sigmas = np.asarray(
        sigmas if sigmas is not None
        else default_sigmas if default_sigmas is not None
        else COCO_KEYPOINT_SIGMAS,
        dtype=np.float64,
    ).reshape(-1)
    if len(sigmas) != keypoint_count and sigmas_given is None:
        raise VcmError(f"{label}: {keypoint_count} keypoints per person; without their own "
                       "sigmas vcm evaluates COCO's 17 (or HiEve's 14: `vcm data hieve-pose`)")
    if len(sigmas) != keypoint_count:
        raise ValueError(
            f"{len(sigmas)} sigmas for {keypoint_count} keypoints (a layout other than COCO's "
            "17 keypoints needs its own sigmas)"
        )
    if not (np.isfinite(sigmas).all() and (sigmas > 0).all()):
        raise ValueError(f"sigmas must be positive, got {sigmas.tolist()}")
    known_ids = {image["id"] for image in dataset["images"]}
    _check_results(results, known_ids, keypoint_count, label)
    if image_ids is None:
        image_ids = default_image_ids
    if image_ids is not None:
        image_ids = sorted({int(image_id) for image_id in image_ids})
        unknown = sorted(set(image_ids) - known_ids)
        if unknown:
            raise VcmError(f"{label}: no images with ids {_shorten(unknown)} to evaluate")

    detections = {
        "images": dataset["images"],
        "categories": dataset["categories"],
        "annotations": [_detection_annotation(pose, index) for index, pose in
                        enumerate(results, start=1)],
    }
    # pycocotools prints progress to stdout; the numbers come from COCOeval.stats instead.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_ground_truth = COCO()
        coco_ground_truth.dataset = dataset
        coco_ground_truth.createIndex()
        coco_detections = COCO()
        coco_detections.dataset = detections
        coco_detections.createIndex()
        evaluation = COCOeval(coco_ground_truth, coco_detections, iouType="keypoints")
        evaluation.params.kpt_oks_sigmas = sigmas
        if image_ids is not None:
            evaluation.params.imgIds = image_ids
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {
        name: (math.nan if value < 0 else float(value))
        for name, value in zip(KEYPOINT_METRICS, evaluation.stats)
    }


FACE_KEYPOINTS = 5
"""COCO's first five keypoints (nose, eyes, ears) are the face's; 5..16 are the body's."""


def evaluate_body_keypoints(
    ground_truth: KeypointGroundTruth | dict | str | Path,
    results: Iterable[PersonPose] | str | Path,
    *,
    image_ids: Iterable[int] | None = None,
) -> dict[str, float]:
    """COCO keypoint AP and AR as :func:`evaluate_keypoints`, over the 12 body keypoints
    only (COCO's 5..16, shoulders to ankles): what a pose estimator keeps where the faces
    were anonymised. It is pycocotools run on the ground truth and ``results`` cut to those
    keypoints, with their sigmas (:data:`COCO_KEYPOINT_SIGMAS` ``[5:]``): each person's
    ``num_keypoints`` counted again on its body keypoints (a person with only face keypoints
    labelled is then one pycocotools ignores), its ``area`` kept; a result's box and area
    are those of its body keypoints' extent, as pycocotools' ``loadRes`` gives them. Needs
    COCO's 17-keypoint layout."""
    dataset, results, label, _, default_image_ids = _inputs(ground_truth, results)
    count = _keypoint_count(dataset, results)
    if count != len(COCO_KEYPOINT_SIGMAS):
        raise VcmError(f"{label}: body-keypoint AP needs COCO's 17 keypoints per person, "
                       f"got {count}")
    _check_results(results, {image["id"] for image in dataset["images"]}, count, label)
    body = FACE_KEYPOINTS * 3
    annotations = []
    for annotation in dataset["annotations"]:
        keypoints = list(annotation["keypoints"][body:])
        annotations.append({**annotation, "keypoints": keypoints,
                            "num_keypoints": sum(flag > 0 for flag in keypoints[2::3])})
    categories = [{key: value for key, value in category.items() if key != "skeleton"}
                  | ({"keypoints": category["keypoints"][FACE_KEYPOINTS:]}
                     if category.get("keypoints") else {})
                  for category in dataset["categories"]]
    cut = {**dataset, "annotations": annotations, "categories": categories}
    cut_results = [replace(pose, keypoints=pose.keypoints[FACE_KEYPOINTS:]) for pose in results]
    return evaluate_keypoints(cut, cut_results, sigmas=COCO_KEYPOINT_SIGMAS[FACE_KEYPOINTS:],
                              image_ids=image_ids if image_ids is not None else default_image_ids)


def _inputs(ground_truth, results) -> tuple[dict, list[PersonPose], str, object, object]:
    """The checked ground-truth dataset (:func:`_complete_ground_truth`), the results as a
    list, the ground truth's label for messages, and its own sigmas and image ids (``None``
    unless it is a :class:`KeypointGroundTruth`)."""
    default_sigmas, default_image_ids, label = None, None, "ground truth"
    if isinstance(ground_truth, KeypointGroundTruth):
        default_sigmas, default_image_ids = ground_truth.sigmas, ground_truth.image_ids
        label = ground_truth.source or label
        dataset = ground_truth.coco
    elif isinstance(ground_truth, dict):
        dataset = ground_truth
    else:
        label = str(ground_truth)
        dataset = load_json(Path(ground_truth))
        if not isinstance(dataset, dict):
            raise VcmError(f"{label}: expected a COCO keypoint JSON object")
    if isinstance(results, (str, os.PathLike)):
        results = read_pose_results(results)
    return (_complete_ground_truth(dataset, label), list(results), label, default_sigmas,
            default_image_ids)


def object_keypoint_similarity(
    predicted: np.ndarray, ground_truth: np.ndarray, *, area: float, sigmas: Sequence[float]
) -> float:
    """OKS in [0, 1] of one predicted pose (K, 3) against one ground-truth pose (K, 3).

    Only ground-truth keypoints with flag > 0 count; ``area`` is the person's area in
    square pixels (the OKS scale squared). NaN when no keypoint is labelled. This is
    pycocotools' formula, for checks and diagnostics; evaluation uses pycocotools itself.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    ground_truth = np.asarray(ground_truth, dtype=np.float64)
    labelled = ground_truth[:, 2] > 0
    if not labelled.any():
        return math.nan
    variances = (2 * np.asarray(sigmas, dtype=np.float64)) ** 2
    squared = ((predicted[:, :2] - ground_truth[:, :2]) ** 2).sum(axis=1)
    # pycocotools adds machine epsilon to the area so a zero area gives OKS 0, not NaN.
    similarity = np.exp(-squared / variances / (area + np.spacing(1)) / 2)
    return float(similarity[labelled].mean())


def _complete_ground_truth(dataset: dict, label: str) -> dict:
    """A checked copy of ``dataset`` with the fields COCOeval needs filled in where missing.

    Raises :class:`VcmError` naming ``label`` and the entry for anything pycocotools could
    trip on: entries that are not objects, ids that are not integers, keypoints that are not
    3K finite numbers with one K for all (the person category's keypoint count if it names
    them), a ``bbox``, ``area`` or ``iscrowd`` of the wrong type.
    """
    images = dataset.get("images", [])
    annotations = dataset.get("annotations", [])
    categories = dataset.get("categories") or [
        {"id": PERSON_CATEGORY_ID, "name": "person", "supercategory": "person"}
    ]
    for key, value in (("images", images), ("annotations", annotations),
                       ("categories", categories)):
        if not isinstance(value, list):
            raise VcmError(f"{label}: '{key}' must be a list, got {type(value).__name__}")
    completed: dict = {"images": [], "annotations": [], "categories": []}
    keypoint_count = None
    try:
        for index, category in enumerate(categories):
            where = f"category {index}"
            _require_object(category)
            whole_number(category.get("id"), "id")
            names = category.get("keypoints", [])
            if not (isinstance(names, list) and all(isinstance(name, str) for name in names)):
                raise ValueError("keypoints must be a list of names")
            if category["id"] == PERSON_CATEGORY_ID and names:
                keypoint_count = len(names)
            completed["categories"].append(copy.deepcopy(category))
        for index, image in enumerate(images):
            where = f"image {index}"
            _require_object(image)
            completed["images"].append({**image, "id": whole_number(image.get("id"), "id")})
        for index, annotation in enumerate(annotations):
            where = f"annotation {index}"
            _require_object(annotation)
            completed["annotations"].append(_complete_annotation(annotation, index))
            count = len(annotation["keypoints"]) // 3
            if keypoint_count is None:
                keypoint_count = count
            elif count != keypoint_count:
                raise ValueError(f"{count} keypoints, but the ground truth has {keypoint_count}")
    except KeyError as error:
        raise VcmError(f"{label}: {where}: missing {error}") from None
    except ValueError as error:
        raise VcmError(f"{label}: {where}: {error}") from None
    return completed


def _require_object(entry: object) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object, got {type(entry).__name__}")


def _complete_annotation(annotation: dict, index: int) -> dict:
    """A checked copy of one ground-truth annotation with COCOeval's fields filled in."""
    annotation = dict(annotation)
    keypoints = keypoints_from_flat(annotation["keypoints"])
    annotation["image_id"] = whole_number(annotation["image_id"], "image_id")
    annotation["id"] = whole_number(annotation.get("id", index + 1), "id")
    annotation["category_id"] = whole_number(
        annotation.get("category_id", PERSON_CATEGORY_ID), "category_id")
    if annotation["category_id"] != PERSON_CATEGORY_ID:
        # Results carry only persons: another category's people could never be matched.
        raise ValueError(f"category_id must be {PERSON_CATEGORY_ID} (person), got "
                         f"{annotation['category_id']}")
    if annotation.get("iscrowd", 0) not in (0, 1):
        raise ValueError(f"iscrowd must be 0 or 1, got {shown(annotation['iscrowd'])}")
    annotation.setdefault("iscrowd", 0)
    annotation["num_keypoints"] = whole_number(
        annotation.get("num_keypoints", int(np.count_nonzero(keypoints[:, 2] > 0))),
        "num_keypoints")
    bbox = box_from_coco_bbox(annotation["bbox"]) if "bbox" in annotation else None
    if "area" in annotation:
        (area,) = finite_numbers([annotation["area"]], "area")
        if area < 0:
            raise ValueError(f"area must be 0 or more, got {area}")
    else:
        annotation["area"] = 0.0 if bbox is None else float(
            (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]))
    return annotation


def _keypoint_count(dataset: dict, results: Sequence[PersonPose]) -> int:
    for category in dataset["categories"]:
        if category.get("id") == PERSON_CATEGORY_ID and category.get("keypoints"):
            return len(category["keypoints"])
    if dataset["annotations"]:
        return len(dataset["annotations"][0]["keypoints"]) // 3
    if results:
        return len(results[0].keypoints)
    return len(COCO_KEYPOINT_SIGMAS)


def _check_results(
    results: Sequence[PersonPose], known_ids: set[int], keypoint_count: int, label: str
) -> None:
    unknown = sorted({pose.image_id for pose in results} - known_ids)
    if unknown:
        raise VcmError(
            f"results name image ids {_shorten(unknown)} that {label} does not have "
            "(a pose file for a different video or image set?)"
        )
    for index, pose in enumerate(results):
        if len(pose.keypoints) != keypoint_count:
            raise VcmError(
                f"result {index} has {len(pose.keypoints)} keypoints but {label} has "
                f"{keypoint_count}"
            )


def _detection_annotation(pose: PersonPose, annotation_id: int) -> dict:
    # As pycocotools' loadRes does for keypoint results: the box and area used to place a
    # prediction in an area range are those of the extent of all its keypoints.
    x, y = pose.keypoints[:, 0], pose.keypoints[:, 1]
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    return {
        "id": annotation_id,
        "image_id": pose.image_id,
        "category_id": PERSON_CATEGORY_ID,
        "keypoints": pose.keypoints.reshape(-1).tolist(),
        "score": pose.score,
        "area": (x1 - x0) * (y1 - y0),
        "bbox": [x0, y0, x1 - x0, y1 - y0],
    }


def _shorten(ids: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(image_id) for image_id in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
