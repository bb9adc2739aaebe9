"""Person poses: the pose stage's record, and COCO keypoint JSON (results and ground truth).

A :class:`PersonPose` holds one person: ``keypoints`` is a float64 array (K, 3) of ``x, y, c``
where ``x``/``y`` are pixels of the original frame (0-based, the same frame as the detection
boxes) and ``c`` is a confidence in [0, 1] for predictions or the COCO visibility flag for
ground truth (2 visible, 1 labelled but not visible, 0 not labelled). K is 17 for the COCO
layout (:data:`COCO_KEYPOINT_NAMES`); other datasets have their own layout (HiEve has 14).

COCO keypoint *results* JSON (:func:`write_pose_results`, :func:`read_pose_results`) is the
list that ``pycocotools`` and mmpose exchange::

    [{"image_id": 1, "category_id": 1, "keypoints": [x1, y1, c1, ..., xK, yK, cK],
      "score": 0.93, "bbox": [x, y, w, h], "track_id": 4}, ...]

``bbox`` (COCO ``x, y, width, height``) and ``track_id`` are optional. For a video,
``image_id`` is the 1-based frame number; for a COCO image set it is COCO's image id.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vcm.errors import VcmError, shown
from vcm.fileio import atomic_output
from vcm.jsonio import load_json  # noqa: F401  (callers read keypoint JSON through here)

COCO_KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
"""The 17 COCO person keypoints, in COCO's order."""

COCO_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)
"""The COCO person skeleton: pairs of 1-based indices into :data:`COCO_KEYPOINT_NAMES`."""

COCO_KEYPOINT_SIGMAS = np.array(
    [.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062,
     .107, .107, .087, .087, .089, .089]
)
"""COCO's per-keypoint OKS sigmas, in :data:`COCO_KEYPOINT_NAMES` order (pycocotools'
``Params.kpt_oks_sigmas``)."""

PERSON_CATEGORY_ID = 1
"""COCO's category id for ``person``, the only category results may carry."""

MAX_JSON_INTEGER = 2**53
"""Largest magnitude of an id in keypoint JSON: every integer up to it is exact in a JSON
reader's float64, and pycocotools keeps ids in numpy int64."""

MAX_KEYPOINTS = 1000
"""Most keypoints per person accepted (COCO has 17, HiEve 14, whole-body layouts 133)."""


@dataclass(frozen=True)
class PersonPose:
    """One person's pose in one image or video frame.

    Attributes:
        image_id: the image the person is in; for a video the 1-based frame number.
        keypoints: float64 array (K, 3): ``x, y`` in pixels of the original frame and a
            confidence in [0, 1] (predictions) or COCO visibility flag 0/1/2 (ground truth).
        score: person confidence in [0, 1] (predictions; 1.0 for ground truth).
        box: float64 array (4,) ``x1, y1, x2, y2`` in pixels (right/bottom edges exclusive),
            or ``None`` when unknown.
        track_id: identity across frames, or -1 when there is none.
    """

    image_id: int
    keypoints: np.ndarray
    score: float = 1.0
    box: np.ndarray | None = None
    track_id: int = -1

    def __post_init__(self) -> None:
        keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if keypoints.ndim != 2 or keypoints.shape[1] != 3 or len(keypoints) == 0:
            raise ValueError(f"keypoints must have shape (K, 3), got {keypoints.shape}")
        object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "image_id", int(self.image_id))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "track_id", int(self.track_id))
        if self.box is not None:
            object.__setattr__(self, "box", np.asarray(self.box, dtype=np.float64).reshape(4))


@dataclass(frozen=True)
class KeypointGroundTruth:
    """Ground-truth poses of one image set or video, ready for COCO keypoint evaluation.

    Attributes:
        coco: COCO keypoint dict (``images``, ``annotations``, ``categories``) for COCOeval.
        people: the annotations as :class:`PersonPose` records (keypoint flags 0/1/2).
        keypoint_names: names of the K keypoints, in the order of the keypoint arrays.
        sigmas: float64 (K,): per-keypoint OKS falloff constants (COCO's ``kpt_oks_sigmas``).
        image_ids: the images evaluation counts (all of ``coco['images']`` unless the dataset
            labels only some frames, as PoseTrack does).
        source: the file or folder it was read from.
    """

    coco: dict
    people: list[PersonPose]
    keypoint_names: tuple[str, ...]
    sigmas: np.ndarray
    image_ids: tuple[int, ...]
    source: str = ""


def coco_bbox(box: np.ndarray) -> list[float]:
    """COCO ``[x, y, width, height]`` of an ``x1, y1, x2, y2`` box (pixels)."""
    x1, y1, x2, y2 = (float(value) for value in box)
    return [x1, y1, x2 - x1, y2 - y1]


def person_result(
    image_id: int, score: float, box: np.ndarray | None, track_id: int, **prediction
) -> dict:
    """A COCO results entry of one person: ``image_id``, category, the ``prediction`` fields
    (``keypoints``, ``segmentation``), ``score`` (6 decimals), ``bbox`` (2 decimals) when
    ``box`` is known and ``track_id`` when it is not negative."""
    entry = {"image_id": image_id, "category_id": PERSON_CATEGORY_ID, **prediction,
             "score": round(score, 6)}
    if box is not None:
        entry["bbox"] = [round(value, 2) for value in coco_bbox(box)]
    if track_id >= 0:
        entry["track_id"] = track_id
    return entry


def to_coco_result(pose: PersonPose) -> dict:
    """The COCO results entry of one predicted pose (see the module docstring)."""
    return person_result(
        pose.image_id, pose.score, pose.box, pose.track_id,
        keypoints=[round(float(value), 4) for value in pose.keypoints.reshape(-1)],
    )


def write_pose_results(results: Iterable[PersonPose], path: str | Path) -> None:
    """Write ``results`` as a COCO keypoint results JSON list at ``path``, atomically.

    Coordinates and confidences keep 4 decimals, boxes 2, scores 6. No file appears at
    ``path`` if anything fails.
    """
    entries = [to_coco_result(pose) for pose in results]
    with atomic_output(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, separators=(",", ":"))
            handle.write("\n")


def read_pose_results(path: str | Path) -> list[PersonPose]:
    """Read and validate a COCO keypoint results JSON list.

    Every entry needs an integer ``image_id`` >= 0, ``keypoints`` (3K finite numbers, the
    same K for all entries) and a finite ``score``; ``category_id``, if present, must be 1;
    ``bbox``, if present, 4 finite numbers with non-negative width and height; ``track_id``,
    if present, an integer. A missing or unreadable file, or any invalid entry, raises
    :class:`VcmError` naming ``path`` (and the entry's 0-based index).
    """
    path = Path(path)
    entries = load_json(path)
    if not isinstance(entries, list):
        raise VcmError(f"{path}: expected a JSON list of results, got {type(entries).__name__}")
    poses: list[PersonPose] = []
    keypoint_count = None
    for index, entry in enumerate(entries):
        try:
            pose = _pose_from_entry(entry)
            if keypoint_count is None:
                keypoint_count = len(pose.keypoints)
            elif len(pose.keypoints) != keypoint_count:
                raise ValueError(
                    f"{len(pose.keypoints)} keypoints, but entry 0 has {keypoint_count}"
                )
        except ValueError as error:
            raise VcmError(f"{path}: result entry {index}: {error}") from None
        poses.append(pose)
    return poses


def ground_truth_coco(
    people: Sequence[PersonPose],
    *,
    image_ids: Iterable[int],
    keypoint_names: Sequence[str],
    frame_sizes: dict[int, tuple[int, int]] | None = None,
) -> dict:
    """A COCO keypoint ground-truth dict for ``people`` (keypoint flags 0/1/2).

    ``image_ids`` lists every image (frame) of the set, with or without people, so results on
    a frame without people count as false positives. ``frame_sizes`` maps an image id to its
    ``(width, height)`` in pixels where known. Without segmentations, each annotation's
    ``area`` (the OKS scale s squared) is its box's width x height, or the extent of its
    labelled keypoints when it has no box; ``num_keypoints`` counts flags > 0 and an
    annotation with none is ignored by COCOeval, as in COCO.
    """
    frame_sizes = frame_sizes or {}
    images = []
    for image_id in image_ids:
        image = {"id": int(image_id)}
        if image_id in frame_sizes:
            image["width"], image["height"] = (int(value) for value in frame_sizes[image_id])
        images.append(image)
    annotations = []
    for index, pose in enumerate(people, start=1):
        labelled = pose.keypoints[:, 2] > 0
        if pose.box is not None:
            bbox = coco_bbox(pose.box)
        elif labelled.any():
            corner = pose.keypoints[labelled, :2].min(axis=0)
            extent = pose.keypoints[labelled, :2].max(axis=0) - corner
            bbox = [float(corner[0]), float(corner[1]), float(extent[0]), float(extent[1])]
        else:
            bbox = [0.0, 0.0, 0.0, 0.0]
        annotation = {
            "id": index,
            "image_id": pose.image_id,
            "category_id": PERSON_CATEGORY_ID,
            "keypoints": [float(value) for value in pose.keypoints.reshape(-1)],
            "num_keypoints": int(np.count_nonzero(labelled)),
            "bbox": bbox,
            "area": bbox[2] * bbox[3],
            "iscrowd": 0,
        }
        if pose.track_id >= 0:
            annotation["track_id"] = pose.track_id
        annotations.append(annotation)
    category = {
        "id": PERSON_CATEGORY_ID,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(keypoint_names),
    }
    return {"images": images, "annotations": annotations, "categories": [category]}


def box_from_coco_bbox(values: object) -> np.ndarray:
    """The ``x1, y1, x2, y2`` box (pixels) of a COCO ``bbox`` ``[x, y, width, height]`` of 4
    finite numbers with width and height 0 or more; else ``ValueError``."""
    x, y, width, height = finite_numbers(values, "bbox", length=4)
    if width < 0 or height < 0:
        raise ValueError(f"bbox width and height must be 0 or more, got {width}, {height}")
    return np.array([x, y, x + width, y + height])


def keypoints_from_flat(
    values: object, count: int | None = None, name: str = "keypoints"
) -> np.ndarray:
    """A float64 (K, 3) array from a flat list of ``3 * K`` finite numbers, where K is
    ``count`` if given, else any count from 1 to :data:`MAX_KEYPOINTS`.

    Raises ``ValueError`` (its message starting with ``name``) for anything else.
    """
    numbers = finite_numbers(values, name, length=None if count is None else 3 * count)
    if count is None and (not numbers or len(numbers) % 3 or len(numbers) > 3 * MAX_KEYPOINTS):
        raise ValueError(f"{name} must hold 3K numbers (x, y, score), 0 < K <= "
                         f"{MAX_KEYPOINTS}, got {len(numbers)}")
    return np.array(numbers, dtype=np.float64).reshape(-1, 3)


def person_result_image_id(entry: object, prediction: str) -> int:
    """The ``image_id`` of a COCO results entry of one person (the reading twin of
    :func:`person_result`): ``entry`` must be an object with ``image_id`` (0 or more),
    ``prediction`` (``keypoints``, ``segmentation``) and ``score``, and a ``category_id``, if
    any, of person; else ``ValueError`` saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"expected an object, got {type(entry).__name__}")
    for key in ("image_id", prediction, "score"):
        if key not in entry:
            raise ValueError(f"missing {key!r}")
    image_id = whole_number(entry["image_id"], "image_id")
    if image_id < 0:
        raise ValueError(f"image_id must be 0 or more, got {image_id}")
    if "category_id" in entry and entry["category_id"] != PERSON_CATEGORY_ID:
        raise ValueError(f"category_id must be {PERSON_CATEGORY_ID} (person), got "
                         f"{shown(entry['category_id'])}")
    return image_id


def _pose_from_entry(entry: object) -> PersonPose:
    image_id = person_result_image_id(entry, "keypoints")
    keypoints = keypoints_from_flat(entry["keypoints"])
    score = finite_numbers([entry["score"]], "score")[0]
    box = box_from_coco_bbox(entry["bbox"]) if "bbox" in entry else None
    track_id = whole_number(entry["track_id"], "track_id") if "track_id" in entry else -1
    return PersonPose(image_id, keypoints, score, box, track_id)


def whole_number(value: object, name: str) -> int:
    """``value`` as an int if it is a JSON integer (7 or 7.0, never a boolean) of magnitude at
    most :data:`MAX_JSON_INTEGER`; else ``ValueError`` starting with ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be an integer, got {shown(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if abs(value) > MAX_JSON_INTEGER:
        raise ValueError(f"{name} must be at most {MAX_JSON_INTEGER} in magnitude, got {value!r}")
    return int(value)


def finite_numbers(values: object, name: str, *, length: int | None = None) -> list[float]:
    """``values`` as floats if it is a JSON list of finite numbers (of ``length`` items if
    given); else ``ValueError`` starting with ``name``."""
    if not isinstance(values, list):
        raise ValueError(f"{name} must be a list of numbers, got {type(values).__name__}")
    if length is not None and len(values) != length:
        raise ValueError(f"{name} must hold {length} numbers, got {len(values)}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must hold numbers, got {shown(value)}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must hold finite numbers, got {value!r}")
    return [float(value) for value in values]
