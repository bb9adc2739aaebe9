"""HiEve (Human in Events) ground truth: MOT-style track files and per-frame pose files.

Source: the format page of the HiEve challenge (humaninevents.org/format.html, "All-track
ground truth format"); no HiEve file is available here, so the pose reader follows that
documented structure and is tested on hand-made files. For frame ``n`` (0-based) a video
has an annotation file ``{n:06d}.xml``; the page shows its content in this JSON rendering::

    {"annotation": {"size": {"width": "1920", "height": "1080", "depth": "3"},
      "object": [{"name": "P-1", "action": "standing-alone",
                  "bndbox": {"xmin": "747", "ymin": "103", "xmax": "1044", "ymax": "1079",
                             "Nose": "928,185,0", "Chest": "943,278,0", ...}}, ...]}}

Each body part is ``"x,y,flag"`` with flag 0 = visible, 1 = invisible (occluded), -1 = not
annotated: the reverse of COCO's v (2 visible, 1 labelled but invisible, 0 not labelled).
:func:`read_hieve_poses` reads ``.xml`` files (VOC-like elements, part names as element
tags) or ``.json`` files in the rendering above.

Conventions of the reader:

* frame file ``000000`` is frame 1 (frames are 1-based everywhere in vcm);
* ``xmax``/``ymax`` are read as inclusive pixel indices (the example's ``ymax`` 1079 is the
  last row of a 1080-row frame), so the record's exclusive ``x2, y2`` are ``xmax + 1``,
  ``ymax + 1``;
* ``name`` ``P-<n>`` gives track id ``n``; part names match case-insensitively, with ``-``,
  ``_`` and spaces alike (``Right-shoulder`` = ``right_shoulder``); parts that a person
  lacks are not labelled (flag 0); other ``bndbox`` keys are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from lxml import etree

from vcm.datasets.mot import MAX_FRAME_SIDE, MAX_FRAMES, MAX_ID, MotRows, read_mot_txt
from vcm.errors import VcmError
from vcm.keypoints import KeypointGroundTruth, PersonPose, ground_truth_coco, load_json

HIEVE_KEYPOINT_NAMES = (
    "nose", "chest", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
)
"""HiEve's 14 body parts, in its part-index order 0..13."""

HIEVE_KEYPOINT_SIGMAS = np.array(
    [.026, .079, .079, .072, .062, .079, .072, .062, .107, .087, .089, .107, .087, .089]
)
"""OKS sigmas for :data:`HIEVE_KEYPOINT_NAMES` (HiEve publishes none).

Limbs take COCO's sigmas, which CrowdPose's 14-keypoint layout also uses (shoulders .079,
elbows .072, wrists .062, hips .107, knees .087, ankles .089; mmpose
``configs/_base_/datasets/crowdpose.py``); the nose takes COCO's .026; the chest, a torso
point like CrowdPose's neck, takes CrowdPose's neck sigma .079.
"""

_BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")
_TRACK_NAME = re.compile(r"P-?(\d+)", re.IGNORECASE)
_FRAME_FILE = re.compile(r"[0-9]+")


def hieve_flags_to_coco(flags: np.ndarray) -> np.ndarray:
    """COCO visibility flags (2, 1, 0) for HiEve flags (0 visible, 1 invisible, -1 unlabelled).

    Raises ``ValueError`` for any other value.
    """
    flags = np.asarray(flags, dtype=np.float64)
    unknown = ~np.isin(flags, (-1, 0, 1))
    if unknown.any():
        raise ValueError(f"HiEve visibility flags are -1, 0 or 1, got {flags[unknown][0]:g}")
    return np.select([flags == 0, flags == 1], [2.0, 1.0], default=0.0)


def read_hieve_tracks(path: str | Path) -> MotRows:
    """Read a HiEve track file (``frame, id, bb_left, bb_top, bb_width, bb_height, flag,
    -1, -1, -1``, MOTChallenge-style); ``flag`` 0 (ignore) is kept in ``confidence``."""
    return read_mot_txt(path)


def parse_hieve_frame(document: dict, *, frame: int) -> list[PersonPose]:
    """The people of one frame document (the JSON rendering in the module docstring).

    ``frame`` is the 1-based frame number given to the records. Keypoints are (14, 3) in
    :data:`HIEVE_KEYPOINT_NAMES` order with COCO flags; ``box`` is the ``bndbox`` (see the
    module docstring); ``score`` 1.0. Raises ``ValueError`` naming the object's index.
    """
    annotation = document.get("annotation", document) if isinstance(document, dict) else None
    if not isinstance(annotation, dict):
        raise ValueError("expected an 'annotation' object")
    objects = annotation.get("object", [])
    if isinstance(objects, dict):
        objects = [objects]
    if not isinstance(objects, list):
        raise ValueError(f"'object' must be a list of objects, got {type(objects).__name__}")
    people = []
    for index, person in enumerate(objects):
        try:
            people.append(_person(person, frame))
        except (KeyError, TypeError, ValueError) as error:
            reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
            raise ValueError(f"object {index}: {reason}") from None
    return people


def read_hieve_poses(folder: str | Path, *, frames: int | None = None) -> KeypointGroundTruth:
    """Read a folder of HiEve per-frame pose files (``000000.xml`` or ``.json``, ...).

    ``frames`` is the video's frame count (default: the last file's frame); frames without a
    file have no people. Returns :class:`KeypointGroundTruth` with 1-based frame numbers as
    image ids and :data:`HIEVE_KEYPOINT_SIGMAS`. A missing folder, a file name that is not a
    frame index, a frame past ``frames``, or a malformed file raises :class:`VcmError` naming
    the file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VcmError(f"{folder}: folder does not exist")
    if frames is not None and not 0 < frames <= MAX_FRAMES:
        raise VcmError(f"{folder}: the frame count must be 1..{MAX_FRAMES}, got {frames}")
    last_frame = MAX_FRAMES if frames is None else frames
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".xml", ".json"))
    if not files:
        raise VcmError(f"{folder}: no HiEve frame files (000000.xml or 000000.json, ...)")
    people: list[PersonPose] = []
    sizes: dict[int, tuple[int, int]] = {}
    seen: dict[int, Path] = {}
    for path in files:
        if not _FRAME_FILE.fullmatch(path.stem):
            raise VcmError(f"{path}: file name is not a 0-based frame index like 000000")
        # Checked before any work: the image list grows with the last frame number.
        frame = int(path.stem) + 1
        if frame > last_frame:
            past = f"the video's {frames} frames" if frames is not None else (
                f"{MAX_FRAMES} frames (give the video's frame count)")
            raise VcmError(f"{path}: frame {frame} is past {past}")
        if frame in seen:
            raise VcmError(f"{path}: frame {frame} also comes from {seen[frame].name}")
        seen[frame] = path
        document = _read_xml(path) if path.suffix.lower() == ".xml" else load_json(path)
        try:
            people.extend(parse_hieve_frame(document, frame=frame))
            size = _frame_size(document)
        except ValueError as error:
            raise VcmError(f"{path}: {error}") from None
        if size is not None:
            sizes[frame] = size
    frame_count = frames if frames is not None else max(seen)
    image_ids = tuple(range(1, frame_count + 1))
    coco = ground_truth_coco(
        people, image_ids=image_ids, keypoint_names=HIEVE_KEYPOINT_NAMES, frame_sizes=sizes
    )
    return KeypointGroundTruth(
        coco=coco,
        people=people,
        keypoint_names=HIEVE_KEYPOINT_NAMES,
        sigmas=HIEVE_KEYPOINT_SIGMAS.copy(),
        image_ids=image_ids,
        source=str(folder),
    )


def _person(person: dict, frame: int) -> PersonPose:
    box_parts = person["bndbox"]
    if not isinstance(box_parts, dict):
        raise ValueError("'bndbox' must be an object")
    x_min, y_min, x_max, y_max = (float(box_parts[key]) for key in _BOX_KEYS)
    if not np.isfinite([x_min, y_min, x_max, y_max]).all():
        raise ValueError("bndbox values must be finite numbers")
    if x_max < x_min or y_max < y_min:
        raise ValueError(f"empty box {x_min:g},{y_min:g},{x_max:g},{y_max:g}")
    parts = {_part_name(key): value for key, value in box_parts.items() if key not in _BOX_KEYS}
    keypoints = np.zeros((len(HIEVE_KEYPOINT_NAMES), 3))
    flags = np.full(len(HIEVE_KEYPOINT_NAMES), -1.0)
    for index, name in enumerate(HIEVE_KEYPOINT_NAMES):
        if name not in parts:
            continue
        values = [float(value) for value in str(parts[name]).split(",")]
        if len(values) != 3 or not np.isfinite(values).all():
            raise ValueError(f"{name} must be 'x,y,flag', got {parts[name]!r}")
        keypoints[index, :2] = values[:2]
        flags[index] = values[2]
    keypoints[:, 2] = hieve_flags_to_coco(flags)
    # COCO's convention: an unlabelled keypoint sits at 0, 0.
    keypoints[keypoints[:, 2] == 0, :2] = 0.0
    match = _TRACK_NAME.fullmatch(str(person.get("name", "")).strip())
    track_id = int(match.group(1)) if match else -1
    if track_id > MAX_ID:
        raise ValueError(f"track number in {person['name']!r} is past {MAX_ID}")
    box = np.array([x_min, y_min, x_max + 1, y_max + 1])
    return PersonPose(frame, keypoints, 1.0, box, track_id)


def _part_name(key: str) -> str:
    return re.sub(r"[-\s]+", "_", key.strip().lower())


def _frame_size(document: dict) -> tuple[int, int] | None:
    """The frame ``(width, height)`` in pixels a frame document gives, or ``None``; a size
    that is not a whole number in 1..:data:`~vcm.datasets.mot.MAX_FRAME_SIDE` is a
    ``ValueError``."""
    size = document.get("annotation", document).get("size")
    if not isinstance(size, dict) or "width" not in size or "height" not in size:
        return None
    sides = []
    for key in ("width", "height"):
        text = str(size[key]).strip()
        if not (re.fullmatch(r"[0-9]{1,6}", text) and 0 < int(text) <= MAX_FRAME_SIDE):
            raise ValueError(f"size {key} must be a whole number in 1..{MAX_FRAME_SIDE}, "
                             f"got {size[key]!r}")
        sides.append(int(text))
    return sides[0], sides[1]


def _read_xml(path: Path) -> dict:
    """The JSON rendering (see the module docstring) of a HiEve XML frame file."""
    data = path.read_bytes()
    # As for detection zips: no DOCTYPE, so no entity is ever expanded or fetched.
    if re.search(rb"<!DOCTYPE|<!ENTITY", data, re.IGNORECASE):
        raise VcmError(f"{path}: a DOCTYPE or entity declaration is not allowed")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise VcmError(f"{path}: not well-formed XML ({error})") from None
    if root.tag != "annotation":
        raise VcmError(f"{path}: root element is <{root.tag}>, expected <annotation>")
    document: dict = {"object": []}
    size = root.find("size")
    if size is not None:
        document["size"] = {child.tag: (child.text or "").strip() for child in size}
    for element in root.findall("object"):
        person = {
            child.tag: (child.text or "").strip() for child in element if child.tag != "bndbox"
        }
        bndbox = element.find("bndbox")
        if bndbox is not None:
            person["bndbox"] = {child.tag: (child.text or "").strip() for child in bndbox}
        document["object"].append(person)
    return {"annotation": document}


COCO_TO_HIEVE = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15)
"""For each HiEve keypoint (:data:`HIEVE_KEYPOINT_NAMES` order), the COCO keypoint that gives
it; the chest (``None``) has no COCO counterpart (see :func:`coco_to_hieve_keypoints`)."""


def coco_to_hieve_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """HiEve keypoints (14, 3) from COCO keypoints (17, 3) ``x, y, confidence``.

    Nose, shoulders, elbows, wrists, hips, knees and ankles are the same joints. HiEve's chest
    is not a COCO keypoint: it is taken as the midpoint of the two shoulders, with the lower of
    their confidences (an approximation; HiEve's annotators place it between the shoulders).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (17, 3):
        raise ValueError(f"expected COCO keypoints of shape (17, 3), got {keypoints.shape}")
    hieve = np.empty((len(COCO_TO_HIEVE), 3))
    for index, coco_index in enumerate(COCO_TO_HIEVE):
        if coco_index is None:
            shoulders = keypoints[[5, 6]]
            hieve[index, :2] = shoulders[:, :2].mean(axis=0)
            hieve[index, 2] = shoulders[:, 2].min()
        else:
            hieve[index] = keypoints[coco_index]
    return hieve


def coco_poses_to_hieve(poses: list[PersonPose]) -> list[PersonPose]:
    """:func:`coco_to_hieve_keypoints` applied to each pose; image, score, box and track id
    are kept."""
    return [
        PersonPose(pose.image_id, coco_to_hieve_keypoints(pose.keypoints), pose.score, pose.box,
                   pose.track_id)
        for pose in poses
    ]


def is_hieve_layout(dataset: dict) -> bool:
    """Whether a COCO keypoint ground-truth dict uses HiEve's 14 keypoints (by their names)."""
    categories = dataset.get("categories")
    if not (isinstance(categories, list) and categories and isinstance(categories[0], dict)):
        return False
    names = categories[0].get("keypoints")
    return isinstance(names, list) and tuple(names) == HIEVE_KEYPOINT_NAMES
