"""COCO person-keypoint annotation files (``person_keypoints_*.json`` and subsets of them).

Records keep COCO's own image ids (not frame numbers) and the annotation's visibility flags
(2 visible, 1 labelled but not visible, 0 not labelled); the dict is kept as read, so COCOeval
sees COCO's segmentation areas.
"""

from __future__ import annotations

from pathlib import Path


from vcm.errors import VcmError
from vcm.keypoints import (
    COCO_KEYPOINT_NAMES,
    COCO_KEYPOINT_SIGMAS,
    PERSON_CATEGORY_ID,
    KeypointGroundTruth,
    PersonPose,
    box_from_coco_bbox,
    keypoints_from_flat,
    load_json,
    whole_number,
)


def read_coco_keypoints(path: str | Path) -> KeypointGroundTruth:
    """Read a COCO keypoint JSON file into :class:`KeypointGroundTruth`.

    ``people`` holds every person annotation (``box`` from its ``bbox``, ``score`` 1.0);
    ``coco`` is the file's dict unchanged; ``sigmas`` are COCO's. Every annotation needs an
    ``image_id`` listed in ``images`` and 17 keypoints; a missing file, invalid JSON or a bad
    annotation raises :class:`VcmError` naming the file and the annotation's index.
    """
    path = Path(path)
    dataset = load_json(path)
    if not isinstance(dataset, dict):
        raise VcmError(f"{path}: expected a COCO keypoint JSON object")
    images = dataset.get("images")
    annotations = dataset.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise VcmError(f"{path}: needs 'images' and 'annotations' lists")
    image_ids = []
    for index, image in enumerate(images):
        try:
            if not isinstance(image, dict):
                raise ValueError(f"expected an object, got {type(image).__name__}")
            image_ids.append(whole_number(image.get("id"), "id"))
        except ValueError as error:
            raise VcmError(f"{path}: image {index}: {error}") from None
    known = set(image_ids)
    people = []
    for index, annotation in enumerate(annotations):
        try:
            if not isinstance(annotation, dict):
                raise ValueError("not an object")
            if annotation.get("category_id", PERSON_CATEGORY_ID) != PERSON_CATEGORY_ID:
                continue
            image_id = whole_number(annotation["image_id"], "image_id")
            if image_id not in known:
                raise ValueError(f"image_id {image_id!r} is not in 'images'")
            keypoints = keypoints_from_flat(annotation["keypoints"], len(COCO_KEYPOINT_NAMES))
            box = box_from_coco_bbox(annotation["bbox"]) if "bbox" in annotation else None
        except KeyError as error:
            raise VcmError(f"{path}: annotation {index}: missing {error}") from None
        except (TypeError, ValueError) as error:
            raise VcmError(f"{path}: annotation {index}: {error}") from None
        people.append(PersonPose(image_id, keypoints, 1.0, box))
    return KeypointGroundTruth(
        coco=dataset,
        people=people,
        keypoint_names=COCO_KEYPOINT_NAMES,
        sigmas=COCO_KEYPOINT_SIGMAS.copy(),
        image_ids=tuple(image_ids),
        source=str(path),
    )
