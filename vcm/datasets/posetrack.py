"""PoseTrack18 annotation files: one COCO-like JSON per video (``images``, ``annotations``).

Frame numbering: PoseTrack18 image ids are large numbers built from the video and frame
index (``10003420000`` ...). The reader numbers frames 1, 2, ... in the order ``images`` lists
them, which is the video's frame order (PoseTrack18 lists every frame, ``000000.jpg`` first,
labelled or not); an image's ``frame_id``, if present, must increase along the list. Records
and the COCO dict use these 1-based frame numbers as image ids, so they line up with
:class:`vcm.detections.DetectionSequence` frames and pose results of the video.

Keypoints: 17 in COCO's slots, but slots 1 and 2 hold ``head_bottom`` and ``head_top``
instead of the eyes, and the ears (3, 4) are never labelled. Labelled keypoints carry flag 1
(PoseTrack18 does not mark occlusion), unlabelled ones 0. Only frames with ``is_labeled``
true are evaluated (:attr:`KeypointGroundTruth.image_ids`); PoseTrack's ignore regions are not
applied. Without segmentations, a person's OKS area is its box's width x height.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vcm.errors import VcmError
from vcm.keypoints import (
    COCO_KEYPOINT_SIGMAS,
    KeypointGroundTruth,
    PersonPose,
    ground_truth_coco,
    keypoints_from_flat,
    load_json,
)

POSETRACK18_KEYPOINT_NAMES = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
"""PoseTrack18's 17 keypoints, in its (COCO-slot) order."""


def read_posetrack18(path: str | Path) -> KeypointGroundTruth:
    """Read one PoseTrack18 video annotation file into :class:`KeypointGroundTruth`.

    See the module docstring for the frame numbering. ``people`` carry ``track_id``, ``box``
    from ``bbox`` (if any) and ``score`` 1.0; an annotation without ``keypoints`` has none
    labelled. ``sigmas`` are COCO's (as mmpose uses for PoseTrack18). A missing file, invalid
    JSON, duplicate image ids, decreasing ``frame_id`` or a bad annotation raises
    :class:`VcmError` naming the file (and the image or annotation index).
    """
    path = Path(path)
    dataset = load_json(path)
    if not isinstance(dataset, dict):
        raise VcmError(f"{path}: expected a PoseTrack18 JSON object")
    images = dataset.get("images")
    annotations = dataset.get("annotations", [])
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise VcmError(f"{path}: needs an 'images' list (and 'annotations' as a list)")
    frame_of_image: dict[int, int] = {}
    labelled_frames = []
    previous_frame_id = None
    for frame, image in enumerate(images, start=1):
        try:
            image_id = int(image["id"] if "id" in image else image["frame_id"])
            frame_id = int(image["frame_id"]) if "frame_id" in image else None
        except (KeyError, TypeError, ValueError):
            raise VcmError(
                f"{path}: image {frame - 1}: needs an integer 'id' or 'frame_id'"
            ) from None
        if image_id in frame_of_image:
            raise VcmError(f"{path}: image {frame - 1}: id {image_id} appears twice")
        if None not in (frame_id, previous_frame_id) and frame_id <= previous_frame_id:
            raise VcmError(
                f"{path}: image {frame - 1}: frame_id {frame_id} does not follow "
                f"{previous_frame_id}; images must be listed in frame order"
            )
        previous_frame_id = frame_id if frame_id is not None else previous_frame_id
        frame_of_image[image_id] = frame
        if image.get("is_labeled", True):
            labelled_frames.append(frame)
    people = []
    keypoint_count = len(POSETRACK18_KEYPOINT_NAMES)
    for index, annotation in enumerate(annotations):
        try:
            if not isinstance(annotation, dict):
                raise ValueError("not an object")
            image_id = int(annotation["image_id"])
            if image_id not in frame_of_image:
                raise ValueError(f"image_id {image_id} is not in 'images'")
            if annotation.get("keypoints") is None:
                keypoints = np.zeros((keypoint_count, 3))
            else:
                keypoints = keypoints_from_flat(annotation["keypoints"], keypoint_count)
            box = None
            if annotation.get("bbox") is not None:
                x, y, width, height = (float(value) for value in annotation["bbox"])
                box = np.array([x, y, x + width, y + height])
            track_id = int(annotation.get("track_id", -1))
        except KeyError as error:
            raise VcmError(f"{path}: annotation {index}: missing {error}") from None
        except (TypeError, ValueError) as error:
            raise VcmError(f"{path}: annotation {index}: {error}") from None
        people.append(PersonPose(frame_of_image[image_id], keypoints, 1.0, box, track_id))
    frames = range(1, len(images) + 1)
    return KeypointGroundTruth(
        coco=ground_truth_coco(people, image_ids=frames, keypoint_names=POSETRACK18_KEYPOINT_NAMES),
        people=people,
        keypoint_names=POSETRACK18_KEYPOINT_NAMES,
        sigmas=COCO_KEYPOINT_SIGMAS.copy(),
        image_ids=tuple(labelled_frames),
        source=str(path),
    )
