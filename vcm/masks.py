"""Person instance masks: the segmentation stage's record, and COCO instance JSON with RLE masks.

A :class:`PersonMask` holds one person's mask in one image or video frame as COCO run-length
encoding (RLE), the form ``pycocotools.mask`` encodes and COCOeval reads: ``{"size": [height,
width], "counts": "..."}``, where ``size`` is the frame's size in pixels and ``counts`` the
compressed string of alternating background/foreground run lengths in column-major order,
starting with background. Mask pixels are those of the frame itself (the same coordinates as
the detection boxes), never of a crop.

COCO instance *results* JSON (:func:`write_mask_results`, :func:`read_mask_results`) is the
list COCO's segmentation challenge and ``pycocotools`` exchange::

    [{"image_id": 1, "category_id": 1, "segmentation": {"size": [360, 640], "counts": "..."},
      "score": 0.93, "bbox": [x, y, w, h], "track_id": 4}, ...]

``bbox`` (COCO ``x, y, width, height``, optional) is the box the mask was made from, inside the
frame; ``track_id`` is optional. For a video ``image_id`` is the 1-based frame number.

Ground truth (:func:`read_instance_ground_truth`) is a COCO instances dict (``images`` with
``width`` and ``height``, ``annotations`` with a polygon or RLE ``segmentation``), the form of
COCO's ``instances_*.json`` and of the synthetic sample's ``gt/instances.json``.

Readers check what they read and raise :class:`VcmError` naming the file and the entry: an RLE
whose runs do not add up to its size (a corrupt or truncated string), a mask whose size is not
its image's, a box outside the frame.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from vcm.errors import VcmError, shown
from vcm.fileio import atomic_output
from vcm.jsonio import load_json
from vcm.keypoints import (
    PERSON_CATEGORY_ID,
    box_from_coco_bbox,
    finite_numbers,
    person_result,
    person_result_image_id,
    whole_number,
)

MAX_MASK_SIDE = 32768
"""Largest mask width or height accepted (pixels): bounds what one entry may make us decode."""

BOX_TOLERANCE = 0.01
"""How far (pixels) a results ``bbox`` may reach past the frame: boxes are written with 2
decimals, so a box on the frame's edge may round up by up to 0.005."""


@dataclass(frozen=True)
class PersonMask:
    """One person's mask in one image or video frame.

    Attributes:
        image_id: the image the person is in; for a video the 1-based frame number.
        mask: COCO compressed RLE ``{"size": [height, width], "counts": str}`` over the whole
            frame (see the module docstring).
        score: confidence in [0, 1] that this is a person (predictions; 1.0 for ground truth).
        box: float64 (4,) ``x1, y1, x2, y2`` in pixels (right/bottom exclusive): the box the
            mask was made from, or ``None``.
        track_id: identity across frames, or -1 when there is none.
    """

    image_id: int
    mask: dict
    score: float = 1.0
    box: np.ndarray | None = None
    track_id: int = -1

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_id", int(self.image_id))
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "track_id", int(self.track_id))
        if self.box is not None:
            object.__setattr__(self, "box", np.asarray(self.box, dtype=np.float64).reshape(4))

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the frame the mask covers, in pixels."""
        height, width = self.mask["size"]
        return int(height), int(width)

    @property
    def area(self) -> int:
        """Number of mask pixels."""
        return mask_area(self.mask)


# ---------------------------------------------------------------------------- RLE helpers


def encode_mask(binary: np.ndarray) -> dict:
    """COCO compressed RLE of a (H, W) mask (nonzero = person), with ``counts`` as text."""
    from pycocotools import mask as mask_utils

    binary = np.asarray(binary)
    if binary.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {binary.shape}")
    rle = mask_utils.encode(np.asfortranarray(binary != 0, dtype=np.uint8))
    return {"size": [int(value) for value in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: Mapping) -> np.ndarray:
    """The (H, W) bool mask of a COCO RLE (compressed text or bytes, or a list of runs)."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode(pycocotools_rle(rle)).astype(bool)


def mask_area(rle: Mapping) -> int:
    """Number of foreground pixels of a COCO RLE."""
    from pycocotools import mask as mask_utils

    return int(mask_utils.area(pycocotools_rle(rle)))


def mask_box(rle: Mapping) -> np.ndarray:
    """Tight ``x1, y1, x2, y2`` box (pixels, right/bottom exclusive) of a mask; zeros if empty."""
    from pycocotools import mask as mask_utils

    x, y, width, height = (float(value) for value in mask_utils.toBbox(pycocotools_rle(rle)))
    return np.array([x, y, x + width, y + height])


def paste_window_mask(window_mask: np.ndarray, origin: tuple[int, int],
                      frame_size: tuple[int, int]) -> np.ndarray:
    """A (H, W) bool frame mask holding ``window_mask`` with its top-left pixel at ``origin``.

    ``origin`` is the frame column and row ``(x, y)`` of the window's top-left pixel (it may be
    outside the frame); ``frame_size`` is ``(height, width)``. The part of the window outside
    the frame is dropped.
    """
    height, width = frame_size
    window_mask = np.asarray(window_mask, dtype=bool)
    x, y = int(origin[0]), int(origin[1])
    frame_mask = np.zeros((height, width), dtype=bool)
    x1, y1 = max(x, 0), max(y, 0)
    x2, y2 = min(x + window_mask.shape[1], width), min(y + window_mask.shape[0], height)
    if x2 > x1 and y2 > y1:
        frame_mask[y1:y2, x1:x2] = window_mask[y1 - y:y2 - y, x1 - x:x2 - x]
    return frame_mask


def box_pixel_mask(box: np.ndarray, shape: tuple[int, int],
                   origin: tuple[float, float] = (0, 0)) -> np.ndarray:
    """(h, w) bool mask of a window's pixels whose centres lie inside ``box`` (``x1, y1, x2,
    y2`` frame pixels; pixel c spans [c, c + 1)); the window's top-left pixel is at frame
    position ``origin`` = ``(x, y)``, so the default window is the frame itself."""
    columns = np.arange(shape[1]) + origin[0] + 0.5
    rows = np.arange(shape[0]) + origin[1] + 0.5
    inside_columns = (columns >= box[0]) & (columns < box[2])
    inside_rows = (rows >= box[1]) & (rows < box[3])
    return inside_rows[:, None] & inside_columns[None, :]


def rle_problem(rle: object, size: tuple[int, int] | None = None) -> str | None:
    """Why ``rle`` is not a valid COCO RLE (of ``size`` = ``(height, width)`` if given), or None.

    Checks what pycocotools does not: ``size`` two whole numbers in 1..:data:`MAX_MASK_SIDE`;
    ``counts`` either a list of whole numbers >= 0 or COCO's compressed text (characters
    ``0``..``o``, no run cut off at the end, no negative run), and the runs add up to
    height x width. pycocotools decodes a corrupt string into a wrong mask without a word.
    """
    if not isinstance(rle, dict):
        return f"segmentation must be an RLE object {{size, counts}}, got {type(rle).__name__}"
    if set(rle) != {"size", "counts"}:
        return f"segmentation must have exactly 'size' and 'counts', got {sorted(map(str, rle))}"
    rle_size = rle["size"]
    if (not isinstance(rle_size, list) or len(rle_size) != 2
            or not all(_is_whole(value) and 1 <= value <= MAX_MASK_SIDE for value in rle_size)):
        return (f"segmentation size must be [height, width] in 1..{MAX_MASK_SIDE}, "
                f"got {shown(rle_size)}")
    height, width = (int(value) for value in rle_size)
    if size is not None and (height, width) != tuple(size):
        return (f"mask is {width}x{height} but the image is {size[1]}x{size[0]} "
                "(width x height)")
    counts = rle["counts"]
    if isinstance(counts, str):
        runs = _compressed_runs(counts, height * width)
        if isinstance(runs, str):
            return runs
    elif isinstance(counts, list):
        if not all(_is_whole(value) and value >= 0 for value in counts):
            return "segmentation counts must be whole numbers >= 0"
        runs = [int(value) for value in counts]
    else:
        return f"segmentation counts must be RLE text or a list, got {type(counts).__name__}"
    total = sum(runs)
    if total != height * width:
        return (f"corrupt RLE: its runs cover {total} pixels but the mask has "
                f"{height} x {width} = {height * width}")
    return None


def _compressed_runs(text: str, pixels: int) -> list[int] | str:
    """The runs of COCO's compressed RLE text (pycocotools' ``rleFrString``), or a problem.

    Each run is written in 5-bit groups, least significant first, one character (value + 48)
    per group; 0x20 marks "more groups follow", 0x10 in the last group the sign. From the
    fourth run on, a run is stored as the difference from the run two before it.
    """
    # A valid string never needs more than 7 characters per run, and there are at most
    # pixels + 1 runs; refuse anything longer before looping over it.
    if len(text) > 7 * (pixels + 1):
        return f"corrupt RLE: {len(text)} characters for {pixels} pixels"
    runs: list[int] = []
    total = 0
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text):
                return "corrupt RLE: the text ends inside a run"
            code = ord(text[position]) - 48
            if not 0 <= code < 64:
                return f"corrupt RLE: character {text[position]!r} at {position}"
            value |= (code & 0x1F) << shift
            more = bool(code & 0x20)
            position += 1
            shift += 5
            if not more and code & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if value < 0:
            return f"corrupt RLE: run {len(runs)} is negative ({value})"
        runs.append(value)
        total += value
        if total > pixels:
            break  # already too long; the caller reports the total
    return runs


def pycocotools_rle(rle: Mapping) -> dict:
    """``rle`` as pycocotools' C functions take it: bytes counts, or a list converted."""
    from pycocotools import mask as mask_utils

    height, width = (int(value) for value in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        return mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [height, width], "counts": counts}


# ---------------------------------------------------------------------------- results JSON


def to_coco_result(person: PersonMask) -> dict:
    """The COCO results entry of one predicted mask (see the module docstring)."""
    return person_result(
        person.image_id, person.score, person.box, person.track_id,
        segmentation={"size": list(person.size), "counts": _text_counts(person.mask)},
    )


def write_mask_results(results: Iterable[PersonMask], path: str | Path) -> None:
    """Write ``results`` as a COCO instance results JSON list at ``path``, atomically.

    Scores keep 6 decimals, boxes 2. No file appears at ``path`` if anything fails.
    """
    entries = [to_coco_result(person) for person in results]
    with atomic_output(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, separators=(",", ":"))
            handle.write("\n")


def read_mask_results(
    path: str | Path, *, image_sizes: Mapping[int, tuple[int, int]] | None = None
) -> list[PersonMask]:
    """Read and validate a COCO instance results JSON list (RLE masks).

    Every entry needs an integer ``image_id`` >= 0, a valid RLE ``segmentation`` (see
    :func:`rle_problem`) and a finite ``score`` in [0, 1]; ``category_id``, if present, must
    be 1; ``bbox``, if present, 4 finite numbers with non-negative width and height inside
    the mask's frame; ``track_id``, if present, an integer. ``image_sizes`` maps image ids to
    ``(height, width)``: an entry for another image, or with a mask of another size, is an
    error. Any problem raises :class:`VcmError` naming ``path`` and the entry's 0-based index.
    """
    path = Path(path)
    entries = load_json(path)
    if not isinstance(entries, list):
        raise VcmError(f"{path}: expected a JSON list of results, got {type(entries).__name__}")
    masks = []
    for index, entry in enumerate(entries):
        try:
            masks.append(_mask_from_entry(entry, image_sizes))
        except ValueError as error:
            raise VcmError(f"{path}: result entry {index}: {error}") from None
    return masks


def _mask_from_entry(entry: object, image_sizes: Mapping[int, tuple[int, int]] | None):
    image_id = person_result_image_id(entry, "segmentation")
    size = None
    if image_sizes is not None:
        if image_id not in image_sizes:
            raise ValueError(f"image_id {image_id} is not an image of the ground truth")
        size = image_sizes[image_id]
    problem = rle_problem(entry["segmentation"], size)
    if problem:
        raise ValueError(problem)
    rle = entry["segmentation"]
    height, width = (int(value) for value in rle["size"])
    [score] = finite_numbers([entry["score"]], "score")
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score!r}")
    box = None
    if "bbox" in entry:
        box = box_from_coco_bbox(entry["bbox"])
        if (box[:2] < -BOX_TOLERANCE).any() or box[2] > width + BOX_TOLERANCE \
                or box[3] > height + BOX_TOLERANCE:
            raise ValueError(f"bbox {shown(entry['bbox'])} is outside the {width}x{height} frame")
    track_id = whole_number(entry["track_id"], "track_id") if "track_id" in entry else -1
    mask = {"size": [height, width], "counts": rle["counts"]}
    return PersonMask(image_id, mask, score, box, track_id)


def _text_counts(rle: Mapping) -> str:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        return counts.decode("ascii")
    if isinstance(counts, list):
        return pycocotools_rle(rle)["counts"].decode("ascii")
    return counts


# ---------------------------------------------------------------------------- ground truth


def read_instance_ground_truth(ground_truth: str | Path | dict, label: str = "") -> dict:
    """A checked copy of a COCO instances ground-truth dict (or JSON file), ready for COCOeval.

    Every image needs an integer ``id`` and its ``width`` and ``height`` (whole numbers in
    1..:data:`MAX_MASK_SIDE`); every person annotation (``category_id`` 1 or absent; others
    are dropped) an ``image_id`` of a listed image and a ``segmentation``: polygons (a list of
    lists of x, y pixel coordinates, at least 3 points each) or an RLE of its image's size.
    Missing ``id``, ``iscrowd`` (0), ``category_id``, ``area`` (the mask's pixel count) and
    ``bbox`` (the mask's bounds) are filled in. Problems raise :class:`VcmError` naming the
    file (``label`` for a dict) and the annotation's index.
    """
    if isinstance(ground_truth, dict):
        dataset, label = ground_truth, label or "ground truth"
    else:
        label = str(ground_truth)
        dataset = load_json(Path(ground_truth))
    if not isinstance(dataset, dict):
        raise VcmError(f"{label}: expected a COCO instances JSON object")
    images, annotations = dataset.get("images"), dataset.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise VcmError(f"{label}: needs 'images' and 'annotations' lists")
    sizes: dict[int, tuple[int, int]] = {}
    checked_images = []
    for index, image in enumerate(images):
        if not isinstance(image, dict) or "id" not in image:
            raise VcmError(f"{label}: image {index} has no integer 'id'")
        try:
            whole_number(image["id"], "id")
        except ValueError as error:
            raise VcmError(f"{label}: image {index}: {error}") from None
        if not all(_is_whole(image.get(key)) and 1 <= image[key] <= MAX_MASK_SIDE
                   for key in ("width", "height")):
            raise VcmError(f"{label}: image {index} needs whole 'width' and 'height' in "
                           f"1..{MAX_MASK_SIDE} (masks are checked against them)")
        image_id = int(image["id"])
        if image_id in sizes:
            raise VcmError(f"{label}: image id {image_id} is listed twice")
        sizes[image_id] = (int(image["height"]), int(image["width"]))
        checked_images.append(dict(image))
    checked = []
    for index, annotation in enumerate(annotations):
        try:
            completed = _ground_truth_annotation(annotation, sizes, index)
        except ValueError as error:
            raise VcmError(f"{label}: annotation {index}: {error}") from None
        if completed is not None:
            checked.append(completed)
    return {
        "images": checked_images,
        "annotations": checked,
        "categories": [{"id": PERSON_CATEGORY_ID, "name": "person", "supercategory": "person"}],
    }


def image_sizes(dataset: dict) -> dict[int, tuple[int, int]]:
    """``{image id: (height, width)}`` of a checked ground-truth dict."""
    return {int(image["id"]): (int(image["height"]), int(image["width"]))
            for image in dataset["images"]}


def _ground_truth_annotation(annotation: object, sizes: dict[int, tuple[int, int]],
                             index: int) -> dict | None:
    from pycocotools import mask as mask_utils

    if not isinstance(annotation, dict):
        raise ValueError(f"expected an object, got {type(annotation).__name__}")
    if annotation.get("category_id", PERSON_CATEGORY_ID) != PERSON_CATEGORY_ID:
        return None
    image_id = whole_number(annotation.get("image_id"), "image_id")
    if image_id not in sizes:
        raise ValueError(f"image_id {image_id} is not in 'images'")
    height, width = sizes[image_id]
    if "segmentation" not in annotation:
        raise ValueError("missing 'segmentation'")
    segmentation = annotation["segmentation"]
    if isinstance(segmentation, list):
        if not segmentation:
            raise ValueError("segmentation has no polygon")
        for polygon in segmentation:
            coordinates = finite_numbers(polygon, "polygon")
            if len(coordinates) < 6 or len(coordinates) % 2:
                raise ValueError(f"a polygon needs x, y pairs of at least 3 points, got "
                                 f"{len(coordinates)} numbers")
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    else:
        problem = rle_problem(segmentation, (height, width))
        if problem:
            raise ValueError(problem)
        rle = pycocotools_rle(segmentation)
    completed = copy.deepcopy(annotation)
    completed["image_id"] = image_id
    completed.setdefault("id", index + 1)
    completed["category_id"] = PERSON_CATEGORY_ID
    iscrowd = completed.setdefault("iscrowd", 0)
    if iscrowd not in (0, 1) or isinstance(iscrowd, bool):
        raise ValueError(f"iscrowd must be 0 or 1, got {shown(iscrowd)}")
    if "area" in completed:
        finite_numbers([completed["area"]], "area")
    else:
        completed["area"] = float(mask_utils.area(rle))
    if "bbox" in completed:
        box_from_coco_bbox(completed["bbox"])
    else:
        completed["bbox"] = [float(value) for value in mask_utils.toBbox(rle)]
    return completed


# ---------------------------------------------------------------------------- value checks


def _is_whole(value: object) -> bool:
    # JSON has one number type; accept 7.0 but not 7.5, and never a boolean.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or (math.isfinite(value) and value.is_integer())
