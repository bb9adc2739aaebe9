"""A deterministic synthetic MOTChallenge sequence: people walking across a room, with truth.

The scene is a textured wall and a tiled floor seen by a low static camera. Each person is an
articulated 3-D figure (tapered limbs, a trunk of elliptic rings, an ellipsoid head with a
face) that walks with a gait cycle, seen in three-quarter view, projected orthographically and
drawn with OpenCV from back to front. Because the figures are drawn from known joints, the
truth is exact: boxes are the drawn pixels' bounds and keypoints are the joints the limbs hang
on.

Coordinates are continuous pixel coordinates of the frame, 0-based, in which pixel column
``c`` spans ``[c, c + 1)``: a box ``x, y, w, h`` covers columns ``x .. x + w - 1`` and a
keypoint at the centre of pixel ``c`` has ``x = c + 0.5``.

The same seed and arguments give byte-identical files on the same machine: all randomness is
drawn from one ``numpy.random.default_rng(seed)`` while planning the scene.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vcm.datasets.mot import SequenceInfo, write_seqinfo
from vcm.errors import VcmError
from vcm.fileio import atomic_output
from vcm.keypoints import COCO_KEYPOINT_NAMES, COCO_SKELETON
from vcm.masks import encode_mask, mask_area, mask_box

# Scene geometry as fractions of the frame height. A person of height H whose feet touch the
# floor at row y has H = (y - horizon) * _PERSON_OVER_CAMERA_HEIGHT (a camera about 1.3 m
# above the floor), so at 360 rows people are 140 px tall at the back and 260 px in front.
_HORIZON = 0.43
_WALL_BASE = 0.56
_PERSON_OVER_CAMERA_HEIGHT = 1.333
_NEAREST_FEET = 0.97
_FARTHEST_FEET = 0.72

# Body proportions in units of the person's height.
_HIP_HEIGHT = 0.53
# Farther from a person's centre than their reach (stride, arms): people turn round here.
_TURN_MARGIN = 0.6
_SHOE_RADIUS = 0.026
_LEAN = math.radians(4)
_HEAD_HALF_AXES = np.array([0.05, 0.066, 0.058])

# Drawing uses fixed-point coordinates with this many fractional bits (OpenCV's ``shift``).
_SUBPIXEL_BITS = 4
_LIGHT_DIRECTION = np.array([-0.45, -0.6])
_CIRCLE = np.stack(
    [np.cos(np.arange(24) * np.pi / 12), np.sin(np.arange(24) * np.pi / 12)], axis=1
)

# Part ids in a figure's label image (0 is background). They decide keypoint visibility: a
# keypoint is visible where one of the parts it belongs to is on top.
_TORSO, _PELVIS, _NECK, _HEAD = 1, 2, 3, 4
_UPPER_ARM = {"left": 5, "right": 8}
_FOREARM = {"left": 6, "right": 9}
_HAND = {"left": 7, "right": 10}
_THIGH = {"left": 11, "right": 14}
_SHIN = {"left": 12, "right": 15}
_FOOT = {"left": 13, "right": 16}
_EAR = {"left": 17, "right": 18}
_KEYPOINT_PARTS: dict[str, frozenset[int]] = {
    "nose": frozenset({_HEAD}),
    "left_eye": frozenset({_HEAD}),
    "right_eye": frozenset({_HEAD}),
    "left_ear": frozenset({_EAR["left"]}),
    "right_ear": frozenset({_EAR["right"]}),
    **{
        f"{side}_{joint}": frozenset(parts)
        for side in ("left", "right")
        for joint, parts in (
            ("shoulder", {_TORSO, _UPPER_ARM[side]}),
            ("elbow", {_UPPER_ARM[side], _FOREARM[side]}),
            ("wrist", {_FOREARM[side], _HAND[side]}),
            ("hip", {_PELVIS, _TORSO, _THIGH[side]}),
            ("knee", {_THIGH[side], _SHIN[side]}),
            ("ankle", {_SHIN[side], _FOOT[side]}),
        )
    },
}

# BGR palettes.
_SKIN_TONES = ((185, 205, 240), (150, 180, 225), (120, 155, 205), (90, 125, 175), (60, 85, 130))
_HAIR_COLOURS = ((25, 25, 30), (30, 45, 70), (45, 75, 115), (90, 150, 200), (150, 150, 155))
_SHIRT_COLOURS = (
    (40, 40, 200), (200, 90, 30), (40, 150, 40), (30, 170, 230), (150, 50, 140),
    (235, 235, 235), (60, 60, 60), (180, 160, 40), (90, 90, 170),
)
_TROUSER_COLOURS = ((110, 60, 30), (40, 35, 35), (90, 90, 95), (120, 160, 180), (70, 50, 40))
_SHOE_COLOURS = ((25, 25, 25), (35, 50, 80), (220, 220, 220))
_WALL_COLOURS = ((170, 190, 205), (195, 195, 190), (200, 185, 160), (150, 175, 160))
_FLOOR_COLOURS = ((120, 130, 140), (90, 110, 135), (140, 140, 135))


@dataclass(frozen=True)
class PersonTruth:
    """Ground truth of one person in one frame.

    Attributes:
        track_id: 1-based identity, the same in every frame.
        box: ``x, y, w, h`` in pixels: tight bounds of the drawn figure, clipped to the frame.
        visibility: fraction in [0, 1] of the whole figure's pixels that are inside the frame
            and not hidden by figures in front.
        keypoints: float array of shape (17, 3), COCO order: ``x, y, v`` in pixels; ``v`` is
            2 (visible), 1 (hidden by the figure itself or by another one) or 0 (outside the
            frame; then ``x = y = 0``).
        area: number of frame pixels the figure covers, counting those hidden by others.
        mask: COCO RLE (:func:`vcm.masks.encode_mask`) of the figure's frame pixels that are
            not hidden by figures in front: its instance mask (empty when fully hidden).
    """

    track_id: int
    box: tuple[int, int, int, int]
    visibility: float
    keypoints: np.ndarray
    area: int
    mask: dict | None = None


@dataclass(frozen=True)
class Walker:
    """One person's look and path. Lengths are pixels, times seconds, angles radians.

    ``size`` is the person's height in the middle of the frame; ``direction`` is +1 for
    starting towards the right, -1 for the left; ``yaw`` is how far the person faces away
    from the camera towards where they walk; ``build`` scales the shoulders' and trunk's
    width.
    """

    track_id: int
    size: float
    x_start: float
    direction: int
    speed: float
    feet_row_at_left: float
    feet_row_slope: float
    yaw: float
    gait_phase: float
    stride: float
    build: float
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_volume: float
    shirt: tuple[int, int, int]
    long_sleeves: bool
    trousers: tuple[int, int, int]
    shoes: tuple[int, int, int]


@dataclass(frozen=True)
class SyntheticScene:
    """Everything needed to draw any frame: size in pixels, rate in frames per second,
    the static BGR uint8 ``background`` of shape (height, width, 3) and the people."""

    width: int
    height: int
    fps: float
    background: np.ndarray
    walkers: tuple[Walker, ...]


@dataclass(frozen=True)
class _Figure:
    """A walker posed at one instant: 3-D joints (body units) and their frame positions."""

    walker: Walker
    feet_row: float
    size: float
    yaw: float
    centre: float
    rotation: np.ndarray
    joints: dict[str, np.ndarray]
    points: dict[str, np.ndarray]

    @property
    def near_side(self) -> str:
        return "right" if self.yaw > 0 else "left"

    @property
    def far_side(self) -> str:
        return "left" if self.yaw > 0 else "right"

    def project(self, point: np.ndarray) -> np.ndarray:
        """Frame position (column, row) of a body point (x left, y up, z forward)."""
        world = self.rotation @ point
        return np.array([self.centre + self.size * world[0], self.feet_row - self.size * world[1]])


@dataclass(frozen=True)
class _Part:
    """A convex body part: the convex hull of circles ``(column, row, radius)`` in pixels."""

    part_id: int
    circles: np.ndarray
    colour: tuple[int, int, int]


def synthesize_sequence(
    output: str | Path,
    *,
    frames: int = 60,
    width: int = 640,
    height: int = 360,
    fps: float = 10.0,
    people: int = 4,
    seed: int = 0,
    progress: bool = False,
) -> SequenceInfo:
    """Write a synthetic MOTChallenge sequence folder of people walking, with exact truth.

    Args:
        output: the sequence folder to create. An existing folder is replaced only if vcm wrote
            it (see :mod:`vcm.fileio`). It appears only when complete: files go to a
            temporary sibling that is renamed at the end.
        frames: number of frames (``seqLength``).
        width, height: frame size in pixels. People are 0.39 to 0.72 of ``height`` tall
            (140 to 260 px at 360 rows).
        fps: frame rate in frames per second. Motion is set in seconds (people walk at 0.55
            to 0.8 of their height per second), so the rate only changes the sampling.
        people: number of people. Each walks back and forth across the room and turns round
            before reaching the border, so everyone stays in view and paths cross.
        seed: seed of the only random generator; the same seed gives the same bytes.
        progress: show a progress bar on stderr.

    Writes ``img1/000001.png ...`` (lossless PNG), ``seqinfo.ini``, ``gt/gt.txt`` (MOT16
    layout ``frame,id,x,y,w,h,1,1,visibility``, one row per person with pixels in the frame),
    ``gt/keypoints.json`` (COCO keypoints; ``image_id`` is the 1-based frame number and
    ``track_id`` the gt.txt id) and ``gt/instances.json`` (COCO instance masks as RLE, see
    :func:`coco_instances`). Returns the written folder's :class:`SequenceInfo`.
    """
    output = Path(output)
    if frames < 1:
        raise VcmError(f"frames must be at least 1, got {frames}")
    if width < 64 or height < 64:
        raise VcmError(f"the frame must be at least 64x64 pixels, got {width}x{height}")
    if not fps > 0:
        raise VcmError(f"fps must be positive, got {fps}")
    if people < 1:
        raise VcmError(f"people must be at least 1, got {people}")
    scene = plan_scene(width=width, height=height, fps=fps, people=people, seed=seed)
    with atomic_output(output, folder=True) as folder:
        info = _write_truth_sequence(folder, output.name, lambda frame: render_frame(scene, frame),
                                     frames=frames, width=width, height=height, fps=fps,
                                     seed=seed, progress=progress)
    return replace(info, root=output)


def _write_truth_sequence(folder: Path, name: str, render, *, frames: int, width: int,
                          height: int, fps: float, seed: int, progress: bool,
                          description: str = "vcm synthetic walking people") -> SequenceInfo:
    """Write frames 1..``frames`` that ``render(frame) -> (image, truths)`` draws, and
    their truth, as a MOTChallenge sequence in the existing empty ``folder``."""
    info = SequenceInfo(
        root=folder, name=name, image_dir="img1", fps=fps, length=frames,
        width=width, height=height, image_ext=".png",
    )
    (folder / info.image_dir).mkdir(parents=True)
    (folder / "gt").mkdir()
    truth: dict[int, list[PersonTruth]] = {}
    for frame in tqdm(range(1, frames + 1), desc="synth", unit="frame", disable=not progress):
        image, truth[frame] = render(frame)
        write_png(info.image_path(frame), image)
    (folder / "gt" / "gt.txt").write_text(gt_text(truth), encoding="utf-8")
    (folder / "gt" / "keypoints.json").write_text(
        json.dumps(coco_keypoints(truth, info, seed, description), separators=(",", ":")),
        encoding="utf-8",
    )
    (folder / "gt" / "instances.json").write_text(
        json.dumps(coco_instances(truth, info, seed), separators=(",", ":")),
        encoding="utf-8",
    )
    write_seqinfo(info, folder / "seqinfo.ini")
    return info


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a BGR uint8 image as a lossless PNG."""
    # Level 3 compresses within 10% of level 6 at a third of the time.
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise VcmError(f"{path}: could not write PNG")


def plan_scene(*, width: int, height: int, fps: float, people: int, seed: int) -> SyntheticScene:
    """Draw the background and choose every person's look and path (all the randomness)."""
    rng = np.random.default_rng(seed)
    background = _render_background(rng, width, height)
    near, far = _NEAREST_FEET * height, _FARTHEST_FEET * height
    walkers = []
    for index in range(people):
        # Alternate directions and spread each direction's people over the frame. The first
        # two start in the halves they walk away from, so they meet in the middle; the
        # others turn round at other times, so paths keep crossing.
        direction = 1 if index % 2 == 0 else -1
        group = (people + (1 if direction > 0 else 0)) // 2
        start_fraction = (index // 2 + 0.5 + rng.uniform(-0.25, 0.25)) / group
        x_start = width * (start_fraction if direction > 0 else 1 - start_fraction)
        # Lanes from the back to the front of the room, so that sizes differ.
        lane = (index + 0.5) / people
        mid_row = far + (near - far) * (0.15 + 0.7 * lane) + rng.uniform(-0.04, 0.04) * height
        mid_row = float(np.clip(mid_row, far, near))
        # A slight diagonal: the feet row moves by up to 8% of the height across the frame.
        slope = rng.uniform(-0.08, 0.08) * height / width
        left_row = float(np.clip(mid_row - slope * width / 2, far, near))
        right_row = float(np.clip(mid_row + slope * width / 2, far, near))
        person_height = (mid_row - _HORIZON * height) * _PERSON_OVER_CAMERA_HEIGHT
        walkers.append(
            Walker(
                track_id=index + 1,
                size=person_height,
                x_start=x_start,
                direction=direction,
                speed=rng.uniform(0.55, 0.8) * person_height,
                feet_row_at_left=left_row,
                feet_row_slope=(right_row - left_row) / width,
                yaw=math.radians(rng.uniform(25, 42)),
                gait_phase=rng.uniform(0, 2 * math.pi),
                stride=rng.uniform(0.72, 0.85) * person_height,
                build=rng.uniform(0.92, 1.1),
                skin=_pick(rng, _SKIN_TONES),
                hair=_pick(rng, _HAIR_COLOURS),
                hair_volume=rng.uniform(0.0, 1.0),
                shirt=_pick(rng, _SHIRT_COLOURS),
                long_sleeves=bool(rng.uniform() < 0.5),
                trousers=_pick(rng, _TROUSER_COLOURS),
                shoes=_pick(rng, _SHOE_COLOURS),
            )
        )
    return SyntheticScene(width, height, fps, background, tuple(walkers))


def render_frame(scene: SyntheticScene, frame: int) -> tuple[np.ndarray, list[PersonTruth]]:
    """Draw the 1-based ``frame``: a BGR uint8 image and the truth of each person in it,
    sorted by track id."""
    time = (frame - 1) / scene.fps
    figures = [_pose(walker, time, scene) for walker in scene.walkers]
    return _render_figures(scene.background,
                           [figure for figure in figures if figure is not None])


def _render_figures(background: np.ndarray, figures: list[_Figure]
                    ) -> tuple[np.ndarray, list[PersonTruth]]:
    """Draw posed ``figures`` over a copy of ``background``; the image and each person's
    truth, sorted by track id."""
    height, width = background.shape[:2]
    image = background.copy()
    # Painter's order: people farther from the camera (feet higher up) first.
    figures = sorted(figures, key=lambda figure: (figure.feet_row, figure.walker.track_id))
    _draw_shadows(image, figures)
    owner = np.zeros((height, width), np.int16)
    drawn = []
    for index, figure in enumerate(figures, start=1):
        labels, origin = _draw_figure(image, figure)
        region, local = _overlap(origin, labels.shape, owner.shape)
        if region is not None:
            owner[region][labels[local] > 0] = index
        drawn.append((index, figure, labels, origin))
    # A light blur stands in for the camera's optics and softens the flat shading bands.
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    people = [
        truth for index, figure, labels, origin in drawn
        if (truth := _person_truth(figure, labels, origin, index, owner)) is not None
    ]
    return image, sorted(people, key=lambda truth: truth.track_id)


def gt_text(truth: dict[int, list[PersonTruth]]) -> str:
    """MOT16 ground-truth rows ``frame,id,x,y,w,h,1,1,visibility`` sorted by frame and id."""
    return "".join(
        f"{frame},{person.track_id},{x},{y},{w},{h},1,1,{person.visibility:.4f}\n"
        for frame in sorted(truth)
        for person in sorted(truth[frame], key=lambda person: person.track_id)
        for x, y, w, h in [person.box]
    )


def coco_images(truth: dict[int, list[PersonTruth]], info: SequenceInfo) -> list[dict]:
    """COCO ``images`` entries of the sequence, one per frame (``id`` = frame number)."""
    return [
        {
            "id": frame,
            "file_name": f"{info.image_dir}/{frame:06d}{info.image_ext}",
            "width": info.width,
            "height": info.height,
            "frame_id": frame,
        }
        for frame in sorted(truth)
    ]


def coco_keypoints(truth: dict[int, list[PersonTruth]], info: SequenceInfo, seed: int,
                   description: str = "vcm synthetic walking people") -> dict:
    """COCO keypoint annotations of the sequence: one image per frame (``id`` = frame)."""
    images, annotations = coco_images(truth, info), []
    for frame in sorted(truth):
        for person in sorted(truth[frame], key=lambda person: person.track_id):
            keypoints = []
            for x, y, v in person.keypoints:
                keypoints += [round(float(x), 2), round(float(y), 2), int(v)]
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": frame,
                "category_id": 1,
                "track_id": person.track_id,
                "keypoints": keypoints,
                "num_keypoints": int((person.keypoints[:, 2] > 0).sum()),
                "bbox": list(person.box),
                "area": person.area,
                "iscrowd": 0,
            })
    return {
        "info": {"description": description, "seed": seed},
        "images": images,
        "annotations": annotations,
        "categories": [{
            "id": 1,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(COCO_KEYPOINT_NAMES),
            "skeleton": [list(pair) for pair in COCO_SKELETON],
        }],
    }


def coco_instances(truth: dict[int, list[PersonTruth]], info: SequenceInfo, seed: int) -> dict:
    """COCO instance-segmentation ground truth of the sequence: one image per frame (``id`` =
    frame), one annotation per person with visible pixels: its exact visible mask as RLE
    (``segmentation``), ``area`` (visible pixels), ``bbox`` (the visible mask's bounds, which
    can be smaller than gt.txt's box of the whole figure) and ``track_id``. A person hidden
    entirely by others has no annotation."""
    images, annotations = coco_images(truth, info), []
    for frame in sorted(truth):
        for person in sorted(truth[frame], key=lambda person: person.track_id):
            area = mask_area(person.mask)
            if area == 0:
                continue
            x1, y1, x2, y2 = (int(value) for value in mask_box(person.mask))
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": frame,
                "category_id": 1,
                "track_id": person.track_id,
                "segmentation": person.mask,
                "area": area,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "iscrowd": 0,
            })
    return {
        "info": {"description": "vcm synthetic walking people: instance masks", "seed": seed},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }


def _pick(rng: np.random.Generator, palette) -> tuple[int, int, int]:
    """A palette colour with each channel varied by up to 10%."""
    colour = np.asarray(palette[int(rng.integers(len(palette)))], np.float64)
    return tuple(int(value) for value in np.clip(colour * rng.uniform(0.9, 1.1, 3), 0, 255))


def _render_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A panelled wall with windows, a door, a poster, a bench and a plant above a tiled floor."""
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    horizon = _HORIZON * height
    wall_base = round(_WALL_BASE * height)

    wall = np.array(_pick(rng, _WALL_COLOURS), np.float64)
    wall = wall * (1 + 0.05 * _smooth_noise(rng, height, width, 24)[..., None])
    wall *= 1 + 0.02 * rng.standard_normal((height, width, 1))
    wall[:, :: max(8, round(width / 9))] *= 0.85

    # Floor tiles in perspective: a floor row's distance is inversely proportional to its
    # height below the horizon.
    distance = 1.0 / np.maximum(rows - horizon, 1.0)
    ground_x = (columns - width / 2) * distance * 2.0
    ground_z = distance * height * 3.0
    checker = 0.9 + 0.2 * ((np.floor(ground_x) + np.floor(ground_z)) % 2)
    floor = np.array(_pick(rng, _FLOOR_COLOURS), np.float64) * checker[..., None]
    floor *= 1 + 0.06 * _smooth_noise(rng, height, width, 12)[..., None]
    grout = ((np.abs(ground_x - np.round(ground_x)) < 0.04)
             | (np.abs(ground_z - np.round(ground_z)) < 0.04))
    floor[grout] *= 0.6

    image = np.clip(np.where((rows < wall_base)[..., None], wall, floor), 0, 255).astype(np.uint8)
    cv2.rectangle(image, (0, wall_base - max(2, height // 60)), (width - 1, wall_base),
                  (60, 60, 70), -1)

    # Wall furniture in separate quarters of the wall so that nothing overlaps.
    quarter = width / 4
    frame_colour = (235, 235, 235)
    for slot, kind in zip(rng.permutation(4), ("window", "door", "window", "poster")):
        left = int(slot * quarter + rng.uniform(0.15, 0.3) * quarter)
        right = int(left + rng.uniform(0.4, 0.55) * quarter)
        if kind == "door":
            top = int(wall_base - 0.3 * height)
            cv2.rectangle(image, (left - 3, top - 3), (right + 3, wall_base), (50, 55, 60), -1)
            cv2.rectangle(image, (left, top), (right, wall_base), (40, 75, 120), -1)
            cv2.circle(image, (right - 6, (top + wall_base) // 2), 3, (60, 190, 220), -1)
        elif kind == "window":
            top, bottom = int(0.06 * height), int(wall_base - 0.16 * height)
            middle_column, middle_row = (left + right) // 2, (top + bottom) // 2
            cv2.rectangle(image, (left - 4, top - 4), (right + 4, bottom + 4), frame_colour, -1)
            cv2.rectangle(image, (left, top), (right, bottom), (225, 190, 150), -1)
            cv2.line(image, (middle_column, top), (middle_column, bottom), frame_colour, 3)
            cv2.line(image, (left, middle_row), (right, middle_row), frame_colour, 3)
        else:
            top, bottom = int(0.1 * height), int(0.3 * height)
            cv2.rectangle(image, (left, top), (right, bottom), _pick(rng, _SHIRT_COLOURS), -1)
            cv2.rectangle(image, (left + 6, top + 6), (right - 6, (top + bottom) // 2),
                          _pick(rng, _SHIRT_COLOURS), -1)

    bench_left = int(rng.uniform(0.05, 0.6) * width)
    bench_right = bench_left + int(0.22 * width)
    seat = int(wall_base - 0.04 * height)
    cv2.rectangle(image, (bench_left, seat), (bench_right, seat + height // 60), (45, 70, 100), -1)
    for leg in (bench_left + 4, bench_right - 8):
        cv2.rectangle(image, (leg, seat), (leg + 4, wall_base + height // 50), (40, 40, 40), -1)
    pot_column = int(rng.uniform(0.05, 0.95) * width)
    pot_top = int(wall_base - 0.02 * height)
    pot = np.array([[pot_column - 12, pot_top], [pot_column + 12, pot_top],
                    [pot_column + 8, pot_top + 22], [pot_column - 8, pot_top + 22]], np.int32)
    cv2.fillConvexPoly(image, pot, (40, 80, 160), cv2.LINE_AA)
    for _ in range(9):
        leaf = (pot_column + int(rng.integers(-14, 15)), pot_top - int(rng.integers(4, 30)))
        cv2.circle(image, leaf, int(rng.integers(6, 11)), (40, int(rng.integers(110, 160)), 50),
                   -1, cv2.LINE_AA)
    return image


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Noise of shape (height, width) varying over about ``cell`` pixels, std about 1."""
    coarse = rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float64)


def _walker_position(
    walker: Walker, time: float, scene: SyntheticScene
) -> tuple[float, int, float]:
    """Centre column (pixels), walking direction (+1 right, -1 left) and distance walked
    (pixels) at ``time`` seconds.

    People walk back and forth and turn round while still wholly in the frame: an IoU
    tracker cannot follow someone who leaves and comes back (their box shrinks to a sliver
    at the border), so leaving would test the sample's framing, not the tracker. They slow
    down to turn, as people do: the centre follows ``low + span (1 - cos angle) / 2`` with
    the angle growing steadily, so the speed peaks at ``walker.speed`` mid-room and is 0 at
    the turning points (a sudden reversal would defeat any motion model, not just ours).
    """
    margin = _TURN_MARGIN * walker.size
    low, high = margin, scene.width - margin
    span = max(high - low, 1.0)
    start = float(np.clip((walker.x_start - low) / span, 0.0, 1.0))
    start_angle = math.acos(1.0 - 2.0 * start)
    if walker.direction < 0:
        start_angle = 2 * math.pi - start_angle
    angle = start_angle + 2.0 * walker.speed / span * time
    centre = low + span * (1.0 - math.cos(angle)) / 2.0
    direction = 1 if math.sin(angle) >= 0 else -1
    return centre, direction, _path_length(angle, span) - _path_length(start_angle, span)


def _path_length(angle: float, span: float) -> float:
    """Distance covered by the cosine path from angle 0 to ``angle``: ``span`` per half turn."""
    half_turns, rest = divmod(angle, math.pi)
    return span * (half_turns + (1.0 - math.cos(rest)) / 2.0)


def _swing(vector: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a body vector about the body's left axis; positive ``angle`` turns down to forward."""
    cos, sin = math.cos(angle), math.sin(angle)
    x, y, z = vector
    return np.array([x, y * cos + z * sin, -y * sin + z * cos])


def _lean(point: np.ndarray) -> np.ndarray:
    """Tilt an upper-body point forward about the hips, as people lean when walking."""
    return point + np.array([0.0, 0.0, (point[1] - _HIP_HEIGHT) * math.tan(_LEAN)])


def _body_joints(phase: float, build: float) -> dict[str, np.ndarray]:
    """Joints and face points in body units (height 1): x to the person's left, y up, z forward.

    ``phase`` is the gait phase in radians (the left leg is forward at pi/2); the lower foot's
    sole is at y = 0.
    """
    joints: dict[str, np.ndarray] = {}
    down = np.array([0.0, -1.0, 0.0])
    for side, lateral, leg_phase in (("left", 1.0, phase), ("right", -1.0, phase + math.pi)):
        thigh = math.radians(24) * math.sin(leg_phase)
        # The knee bends most early in the swing, when the thigh starts forward.
        knee_flex = math.radians(6 + 55 * max(0.0, math.cos(leg_phase + 0.4)) ** 1.5)
        shin = thigh - knee_flex
        hip = np.array([lateral * 0.06, _HIP_HEIGHT, 0.0])
        knee = hip + _swing(0.245 * down, thigh)
        ankle = knee + _swing(0.245 * down, shin)
        foot = 0.6 * shin
        joints |= {
            f"{side}_hip": hip,
            f"{side}_knee": knee,
            f"{side}_ankle": ankle,
            f"{side}_heel": ankle + _swing(np.array([0.0, -0.03, -0.035]), foot),
            f"{side}_toe": ankle + _swing(np.array([0.0, -0.03, 0.12]), foot),
        }
        # Arms swing against the leg of the same side, a little away from the body.
        arm = -math.radians(20) * math.sin(leg_phase)
        forearm = arm + math.radians(12 + 22 * max(0.0, -math.sin(leg_phase)))
        outward = np.array([lateral * math.sin(math.radians(7)), 0.0, 0.0])
        shoulder = _lean(np.array([lateral * 0.112 * build, 0.812, 0.0]))
        elbow = shoulder + _swing(0.175 * down, arm) + 0.175 * outward
        wrist = elbow + _swing(0.15 * down, forearm) + 0.1 * outward
        joints |= {
            f"{side}_shoulder": shoulder,
            f"{side}_elbow": elbow,
            f"{side}_wrist": wrist,
            f"{side}_fingers": wrist + _swing(0.08 * down, forearm),
        }
    return _with_head_on_floor(joints)


def _with_head_on_floor(joints: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``joints`` (limbs, body units) with the head and face points added, all lifted so
    that the lower foot's sole rests on the floor."""
    head = _lean(np.array([0.0, 0.936, 0.012]))
    joints |= {
        "head": head,
        "neck_base": _lean(np.array([0.0, 0.83, 0.0])),
        "neck_top": _lean(np.array([0.0, 0.885, 0.008])),
        "nose": head + np.array([0.0, -0.02, 0.056]),
        "mouth": head + np.array([0.0, -0.04, 0.047]),
    }
    for side, lateral in (("left", 1.0), ("right", -1.0)):
        joints[f"{side}_eye"] = head + np.array([lateral * 0.021, 0.002, 0.047])
        joints[f"{side}_ear"] = head + np.array([lateral * 0.05, -0.004, -0.006])
    # Standing on the lower foot also gives the hips their up-and-down bob.
    sole = min(joints[f"{side}_{end}"][1] for side in ("left", "right") for end in ("heel", "toe"))
    lift = np.array([0.0, _SHOE_RADIUS - sole, 0.0])
    return {name: point + lift for name, point in joints.items()}


def _pose(walker: Walker, time: float, scene: SyntheticScene) -> _Figure | None:
    """The walker at ``time`` seconds, or None when wholly outside the frame."""
    centre, direction, walked = _walker_position(walker, time, scene)
    feet_row = walker.feet_row_at_left + walker.feet_row_slope * min(max(centre, 0), scene.width)
    size = (feet_row - _HORIZON * scene.height) * _PERSON_OVER_CAMERA_HEIGHT
    if centre + _TURN_MARGIN * size < 0 or centre - _TURN_MARGIN * size > scene.width:
        return None
    phase = walker.gait_phase + 2 * math.pi * walked / walker.stride
    joints = _body_joints(phase, walker.build)
    # Yaw 0 faces the camera; positive yaw turns the person towards the image's right. The
    # columns map body axes (left, up, forward) to the camera's (right, up, towards it).
    yaw = direction * walker.yaw
    rotation = np.array([
        [math.cos(yaw), 0.0, math.sin(yaw)],
        [0.0, 1.0, 0.0],
        [-math.sin(yaw), 0.0, math.cos(yaw)],
    ])
    figure = _Figure(walker, feet_row, size, yaw, centre, rotation, joints, points={})
    return replace(figure, points={name: figure.project(point) for name, point in joints.items()})


def _limb(figure: _Figure, start: str, end: str, radii: tuple[float, float], part_id: int,
          colour: tuple[int, int, int]) -> _Part:
    """A tapered limb between two joints; ``radii`` in body units."""
    circles = [[*figure.points[start], radii[0] * figure.size],
               [*figure.points[end], radii[1] * figure.size]]
    return _Part(part_id, np.array(circles), colour)


def _trunk(figure: _Figure, rings: list[tuple[float, float, float]], part_id: int,
           colour: tuple[int, int, int]) -> _Part:
    """A trunk section spanning horizontal elliptic ``rings`` (height, half width, half depth)."""
    size, yaw, build = figure.size, figure.yaw, figure.walker.build
    # The rings move with the hips' bob.
    lift = figure.joints["left_hip"][1] - _HIP_HEIGHT
    corner = 0.03 * size
    circles = []
    for level, half_width, half_depth in rings:
        column, row = figure.project(_lean(np.array([0.0, level + lift, 0.0])))
        extent = size * math.hypot(half_width * build * math.cos(yaw), half_depth * math.sin(yaw))
        reach = max(extent - corner, 0.0)
        circles += [[column - reach, row, corner], [column + reach, row, corner]]
    return _Part(part_id, np.array(circles), colour)


def _body_parts(figure: _Figure) -> tuple[list[_Part], list[_Part], list[_Part]]:
    """Parts drawn before the head (far limbs, pelvis, near leg, torso, neck) and after it
    (near arm), in drawing order."""
    walker = figure.walker
    forearm_colour = walker.shirt if walker.long_sleeves else walker.skin

    def leg(side: str) -> list[_Part]:
        return [
            _limb(figure, f"{side}_hip", f"{side}_knee", (0.06, 0.043), _THIGH[side],
                  walker.trousers),
            _limb(figure, f"{side}_knee", f"{side}_ankle", (0.043, 0.03), _SHIN[side],
                  walker.trousers),
            _limb(figure, f"{side}_heel", f"{side}_toe", (_SHOE_RADIUS, 0.9 * _SHOE_RADIUS),
                  _FOOT[side], walker.shoes),
        ]

    def arm(side: str) -> list[_Part]:
        return [
            _limb(figure, f"{side}_shoulder", f"{side}_elbow", (0.036, 0.029), _UPPER_ARM[side],
                  walker.shirt),
            _limb(figure, f"{side}_elbow", f"{side}_wrist", (0.029, 0.022), _FOREARM[side],
                  forearm_colour),
            _limb(figure, f"{side}_wrist", f"{side}_fingers", (0.022, 0.018), _HAND[side],
                  walker.skin),
        ]

    pelvis = _trunk(figure, [(0.58, 0.1, 0.06), (0.5, 0.112, 0.065), (0.45, 0.06, 0.05)],
                    _PELVIS, walker.trousers)
    torso = _trunk(
        figure,
        [(0.845, 0.05, 0.04), (0.83, 0.105, 0.055), (0.795, 0.135, 0.06), (0.74, 0.122, 0.07),
         (0.63, 0.1, 0.062), (0.54, 0.112, 0.066)],
        _TORSO, walker.shirt,
    )
    neck = _limb(figure, "neck_base", "neck_top", (0.03, 0.027), _NECK, walker.skin)
    before_head = leg(figure.far_side) + arm(figure.far_side) + [pelvis] + leg(figure.near_side)
    return before_head + [torso, neck], arm(figure.near_side)


def _draw_figure(image: np.ndarray, figure: _Figure) -> tuple[np.ndarray, tuple[int, int]]:
    """Draw the person on ``image``; return its part-label image (uint8, part ids) and that
    image's top-left corner (column, row) in the frame.

    The label image covers the whole figure, also where it lies outside the frame.
    """
    before_head, after_head = _body_parts(figure)
    circles = np.concatenate([part.circles for part in before_head + after_head])
    head = figure.points["head"]
    reach = circles[:, 2].max() + 4
    low = np.minimum(circles[:, :2].min(0) - reach, head - 0.1 * figure.size)
    high = np.maximum(circles[:, :2].max(0) + reach, head + 0.1 * figure.size)
    origin = (int(math.floor(low[0])), int(math.floor(low[1])))
    labels = np.zeros((int(math.ceil(high[1])) - origin[1], int(math.ceil(high[0])) - origin[0]),
                      np.uint8)
    outline = max(0.8, 0.007 * figure.size)
    _draw_ear(image, labels, origin, figure, figure.far_side)
    for part in before_head:
        _draw_part(image, labels, origin, part, outline)
    _draw_head(image, labels, origin, figure, outline)
    _draw_ear(image, labels, origin, figure, figure.near_side)
    for part in after_head:
        _draw_part(image, labels, origin, part, outline)
    return labels, origin


def _fixed(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * (1 << _SUBPIXEL_BITS)).astype(np.int32)


def _hull(circles: np.ndarray) -> np.ndarray:
    points = circles[:, None, :2] + circles[:, None, 2:3] * _CIRCLE[None]
    return cv2.convexHull(points.reshape(-1, 2).astype(np.float32))[:, 0, :].astype(np.float64)


def _fill(image: np.ndarray, polygon: np.ndarray, colour, line_type: int) -> None:
    cv2.fillConvexPoly(image, _fixed(polygon), colour, line_type, _SUBPIXEL_BITS)


def _ellipse(image: np.ndarray, centre, half_axes, colour, line_type: int) -> None:
    cv2.ellipse(image, tuple(int(v) for v in _fixed(centre)),
                tuple(int(v) for v in _fixed(half_axes)), 0, 0, 360, colour, -1, line_type,
                _SUBPIXEL_BITS)


def _line(image: np.ndarray, start, end, colour, thickness: int) -> None:
    cv2.line(image, tuple(int(v) for v in _fixed(start)), tuple(int(v) for v in _fixed(end)),
             colour, thickness, cv2.LINE_AA, _SUBPIXEL_BITS)


def _tint(colour, amount: float) -> tuple[int, int, int]:
    """Lighten (``amount`` > 0, towards white) or darken (< 0, towards black) a colour."""
    colour = np.asarray(colour, np.float64)
    target = 255.0 if amount > 0 else 0.0
    return tuple(int(round(value)) for value in colour + (target - colour) * abs(amount))


def _draw_part(image: np.ndarray, labels: np.ndarray, origin: tuple[int, int], part: _Part,
               outline: float) -> None:
    """Draw a part with a dark outline of ``outline`` pixels and a highlight towards the light."""
    silhouette = _hull(part.circles + np.array([0.0, 0.0, outline]))
    _fill(image, silhouette, _tint(part.colour, -0.55), cv2.LINE_AA)
    _fill(image, _hull(part.circles), part.colour, cv2.LINE_AA)
    # Smaller, lighter copies shifted towards the light give a rounded, lit look.
    radius = part.circles[:, 2].mean()
    for shrink, amount in ((0.72, 0.12), (0.42, 0.25)):
        inner = part.circles.copy()
        inner[:, :2] += _LIGHT_DIRECTION * radius * (1 - shrink) * 0.8
        inner[:, 2] *= shrink
        _fill(image, _hull(inner), _tint(part.colour, amount), cv2.LINE_AA)
    _fill(labels, silhouette - np.asarray(origin, np.float64), part.part_id, cv2.LINE_8)


def _facing(figure: _Figure, point: np.ndarray) -> float:
    """Cosine between the camera's direction and the head's surface normal at a body point."""
    normal = figure.rotation @ ((point - figure.joints["head"]) / _HEAD_HALF_AXES ** 2)
    return float(normal[2] / np.linalg.norm(normal))


def _draw_head(image: np.ndarray, labels: np.ndarray, origin: tuple[int, int], figure: _Figure,
               outline: float) -> None:
    """Hair, face, eyes, brows, nose and mouth; the far ear is drawn before, the near after."""
    walker, size, yaw, points = figure.walker, figure.size, figure.yaw, figure.points
    half_axes = size * np.array([
        math.hypot(_HEAD_HALF_AXES[0] * math.cos(yaw), _HEAD_HALF_AXES[2] * math.sin(yaw)),
        _HEAD_HALF_AXES[1],
    ])
    centre = points["head"]
    hair_axes = half_axes * (1.04 + 0.05 * walker.hair_volume)
    hair_centre = centre + np.array([-0.1 * math.sin(yaw), -0.06]) * half_axes
    _ellipse(image, hair_centre, hair_axes + outline, _tint(walker.hair, -0.5), cv2.LINE_AA)
    _ellipse(image, hair_centre, hair_axes, walker.hair, cv2.LINE_AA)
    _ellipse(labels, hair_centre - np.asarray(origin), hair_axes + outline, _HEAD, cv2.LINE_8)
    # The face is the head's front lower part, shifted towards where the person looks.
    face_centre = centre + np.array([0.22 * math.sin(yaw), 0.13]) * half_axes
    face_axes = half_axes * np.array([0.86, 0.84])
    _ellipse(image, face_centre, face_axes, walker.skin, cv2.LINE_AA)
    _ellipse(image, face_centre + np.array([-0.15, -0.2]) * face_axes, 0.55 * face_axes,
             _tint(walker.skin, 0.12), cv2.LINE_AA)

    stroke = max(1, round(0.006 * size))
    eye_axes = np.array([0.011, 0.006]) * size
    for side in ("left", "right"):
        facing = _facing(figure, figure.joints[f"{side}_eye"])
        if facing <= 0.1:
            continue
        eye = points[f"{side}_eye"]
        squeeze = np.array([max(facing, 0.35), 1.0])
        _ellipse(image, eye, eye_axes * squeeze, (235, 235, 235), cv2.LINE_AA)
        iris = eye + np.array([0.3 * math.sin(yaw) * eye_axes[0], 0.0])
        _ellipse(image, iris, 0.0055 * size * squeeze, (40, 30, 25), cv2.LINE_AA)
        brow = eye + np.array([0.0, -0.014 * size])
        brow_half = np.array([0.012 * size * facing, 0.0])
        _line(image, brow - brow_half, brow + brow_half, _tint(walker.hair, -0.3), stroke)
    nose = points["nose"]
    _ellipse(image, nose + np.array([0.0, 0.004 * size]), np.array([0.008, 0.005]) * size,
             _tint(walker.skin, -0.25), cv2.LINE_AA)
    _ellipse(image, nose, np.array([0.006, 0.009]) * size, _tint(walker.skin, -0.08), cv2.LINE_AA)
    mouth_half = np.array([0.013 * size * max(0.4, math.cos(yaw)), 0.0])
    _line(image, points["mouth"] - mouth_half, points["mouth"] + mouth_half, (60, 60, 150), stroke)


def _draw_ear(image: np.ndarray, labels: np.ndarray, origin: tuple[int, int], figure: _Figure,
              side: str) -> None:
    skin = figure.walker.skin
    ear = figure.points[f"{side}_ear"]
    half_axes = np.array([0.011, 0.018]) * figure.size
    _ellipse(image, ear, half_axes + 0.6, _tint(skin, -0.45), cv2.LINE_AA)
    _ellipse(image, ear, half_axes, _tint(skin, -0.1), cv2.LINE_AA)
    _ellipse(labels, ear - np.asarray(origin), half_axes + 0.6, _EAR[side], cv2.LINE_8)


def _draw_shadows(image: np.ndarray, figures: list[_Figure]) -> None:
    """Darken soft ellipses on the floor under each person's feet, in place."""
    if not figures:
        return
    shade = np.zeros(image.shape[:2], np.float32)
    for figure in figures:
        column = (figure.points["left_ankle"][0] + figure.points["right_ankle"][0]) / 2
        cv2.ellipse(shade, (int(round(column)), int(round(figure.feet_row))),
                    (int(0.16 * figure.size), max(1, int(0.025 * figure.size))),
                    0, 0, 360, 1.0, -1)
    shade = cv2.GaussianBlur(shade, (0, 0), max(1.0, image.shape[0] / 150))
    image[:] = np.clip(image * (1 - 0.45 * shade[..., None]), 0, 255).astype(np.uint8)


def _overlap(origin: tuple[int, int], shape: tuple[int, int], frame_shape: tuple[int, int]):
    """Slices of the frame and of a local image with top-left ``origin`` where they overlap,
    or ``(None, None)``."""
    left, top = origin
    row_start, column_start = max(top, 0), max(left, 0)
    row_stop = min(top + shape[0], frame_shape[0])
    column_stop = min(left + shape[1], frame_shape[1])
    if row_stop <= row_start or column_stop <= column_start:
        return None, None
    frame_slices = (slice(row_start, row_stop), slice(column_start, column_stop))
    local_slices = (slice(row_start - top, row_stop - top),
                    slice(column_start - left, column_stop - left))
    return frame_slices, local_slices


def _person_truth(figure: _Figure, labels: np.ndarray, origin: tuple[int, int], index: int,
                  owner: np.ndarray) -> PersonTruth | None:
    """Box, visibility, keypoints and area of a drawn figure; None if it has no frame pixels.

    ``owner`` holds, per frame pixel, the ``index`` of the figure drawn on top (0 for none).
    """
    region, local = _overlap(origin, labels.shape, owner.shape)
    if region is None:
        return None
    inside = labels[local] > 0
    area = int(inside.sum())
    if area == 0:
        return None
    rows = np.flatnonzero(inside.any(axis=1))
    columns = np.flatnonzero(inside.any(axis=0))
    box = (region[1].start + int(columns[0]), region[0].start + int(rows[0]),
           int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1))
    visible = owner == index
    visibility = int(visible[region].sum()) / int((labels > 0).sum())

    height, width = owner.shape
    keypoints = np.zeros((len(COCO_KEYPOINT_NAMES), 3))
    for number, name in enumerate(COCO_KEYPOINT_NAMES):
        column, row = figure.points[name]
        # Drawing puts pixel centres at whole coordinates; the truth's pixels span [c, c + 1).
        pixel_column, pixel_row = math.floor(column + 0.5), math.floor(row + 0.5)
        if not (0 <= pixel_column < width and 0 <= pixel_row < height):
            continue
        part = labels[pixel_row - origin[1], pixel_column - origin[0]]
        seen = owner[pixel_row, pixel_column] == index and part in _KEYPOINT_PARTS[name]
        keypoints[number] = (column + 0.5, row + 0.5, 2 if seen else 1)
    return PersonTruth(figure.walker.track_id, box, visibility, keypoints, area,
                       encode_mask(visible))


# ------------------------------------------------------------------ people performing motions

MOTIONS = ("squat", "jumping_jack", "arm_raise", "walk_in_place", "standing")
"""The motions :func:`synthesize_motions` renders. One repetition is one full cycle: down and
up (squat), open and closed (jumping jack), up and down (arm raise), a left and a right knee
lift (walking in place); standing has none (it sways a little)."""

# Seconds per repetition (a range to draw from) of each motion.
_MOTION_PERIODS = {"squat": (2.0, 2.6), "jumping_jack": (1.2, 1.6), "arm_raise": (1.8, 2.4),
                   "walk_in_place": (1.0, 1.4), "standing": (2.5, 3.5)}
# Seconds of standing still before the first and after the last repetition.
_REST = 0.5


@dataclass(frozen=True)
class Performer:
    """One person performing a motion in place. Lengths are pixels, times seconds.

    ``walker`` gives the look (and ``track_id``, ``build``); ``centre`` and ``feet_row`` the
    place; ``yaw`` how far the person is turned from the camera (radians, positive towards
    the image's right); the motion starts after ``start`` seconds and lasts ``reps`` cycles of
    ``period`` seconds.
    """

    walker: Walker
    motion: str
    centre: float
    feet_row: float
    size: float
    yaw: float
    start: float
    period: float
    reps: int


def _rotate_out(vector: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a body vector in the frontal plane; positive ``angle`` turns down towards the
    body's left (use ``lateral * angle`` to turn a limb away from the body)."""
    cos, sin = math.cos(angle), math.sin(angle)
    x, y, z = vector
    return np.array([x * cos - y * sin, x * sin + y * cos, z])


def _motion_angles(motion: str, cycles: float) -> dict[str, dict[str, float]]:
    """Per side, the limb angles (radians) of ``motion`` after ``cycles`` repetitions:
    ``thigh`` (forward), ``thigh_out``, ``knee`` (flexion), ``arm`` (forward), ``arm_out``,
    ``elbow`` (flexion)."""
    turn = 2 * math.pi * cycles
    amount = (1 - math.cos(turn)) / 2  # 0 at rest, 1 at the middle of a repetition
    angles = {}
    for side, lateral in (("left", 1.0), ("right", -1.0)):
        pose = {"thigh": 0.0, "thigh_out": math.radians(3), "knee": math.radians(4),
                "arm": 0.0, "arm_out": math.radians(6), "elbow": math.radians(10)}
        if motion == "squat":
            pose |= {"thigh": math.radians(95) * amount, "knee": math.radians(115) * amount,
                     "arm": math.radians(80) * amount}
        elif motion == "jumping_jack":
            pose |= {"arm_out": math.radians(6 + 150 * amount),
                     "thigh_out": math.radians(3 + 17 * amount)}
        elif motion == "arm_raise":
            pose |= {"arm": math.radians(170) * amount}
        elif motion == "walk_in_place":
            lift = max(0.0, lateral * math.sin(turn))
            pose |= {"thigh": math.radians(65) * lift, "knee": math.radians(110) * lift,
                     "arm": -lateral * math.radians(25) * math.sin(turn),
                     "elbow": math.radians(35)}
        elif motion == "standing":
            pose |= {"arm": math.radians(3) * math.sin(turn)}
        else:
            raise VcmError(f"unknown motion {motion!r}; choose one of {', '.join(MOTIONS)}")
        angles[side] = pose
    return angles


def _motion_joints(motion: str, cycles: float, build: float) -> dict[str, np.ndarray]:
    """Joints and face points of ``motion`` after ``cycles`` repetitions, in body units as
    :func:`_body_joints` gives them; the lower foot's sole rests on the floor."""
    joints: dict[str, np.ndarray] = {}
    down = np.array([0.0, -1.0, 0.0])
    for side, lateral in (("left", 1.0), ("right", -1.0)):
        pose = _motion_angles(motion, cycles)[side]
        hip = np.array([lateral * 0.06, _HIP_HEIGHT, 0.0])
        knee = hip + 0.245 * _rotate_out(_swing(down, pose["thigh"]), lateral * pose["thigh_out"])
        ankle = knee + 0.245 * _rotate_out(_swing(down, pose["thigh"] - pose["knee"]),
                                           lateral * pose["thigh_out"])
        shoulder = _lean(np.array([lateral * 0.112 * build, 0.812, 0.0]))
        upper = _rotate_out(_swing(down, pose["arm"]), lateral * pose["arm_out"])
        lower = _rotate_out(_swing(down, pose["arm"] + pose["elbow"]), lateral * pose["arm_out"])
        elbow = shoulder + 0.175 * upper
        wrist = elbow + 0.15 * lower
        joints |= {
            f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle,
            f"{side}_heel": ankle + np.array([0.0, -0.03, -0.035]),
            f"{side}_toe": ankle + np.array([0.0, -0.03, 0.12]),
            f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
            f"{side}_fingers": wrist + 0.08 * lower,
        }
    return _with_head_on_floor(joints)


def motion_cycles(performer: Performer, time: float) -> float:
    """Repetitions ``performer`` has done at ``time`` seconds (fractional; standing sways on)."""
    cycles = (time - performer.start) / performer.period
    if performer.motion == "standing":
        return max(cycles, 0.0)
    return min(max(cycles, 0.0), float(performer.reps))


def performer_figure(performer: Performer, time: float) -> _Figure:
    """``performer`` posed at ``time`` seconds."""
    joints = _motion_joints(performer.motion, motion_cycles(performer, time),
                            performer.walker.build)
    yaw = performer.yaw
    rotation = np.array([
        [math.cos(yaw), 0.0, math.sin(yaw)],
        [0.0, 1.0, 0.0],
        [-math.sin(yaw), 0.0, math.cos(yaw)],
    ])
    figure = _Figure(performer.walker, performer.feet_row, performer.size, yaw,
                     performer.centre, rotation, joints, points={})
    return replace(figure, points={name: figure.project(point) for name, point in joints.items()})


def plan_performer(rng: np.random.Generator, motion: str, *, width: int, height: int,
                   reps: int, track_id: int = 1) -> Performer:
    """A person of random look, place, turn and pace performing ``reps`` of ``motion``
    (standing: none) in a ``width`` x ``height`` frame, about 0.7 of its height tall."""
    size = rng.uniform(0.62, 0.72) * height
    feet_row = rng.uniform(0.9, 0.95) * height
    walker = Walker(
        track_id=track_id, size=size, x_start=0.0, direction=1, speed=0.0,
        feet_row_at_left=feet_row, feet_row_slope=0.0, yaw=0.0, gait_phase=0.0, stride=1.0,
        build=rng.uniform(0.92, 1.1), skin=_pick(rng, _SKIN_TONES), hair=_pick(rng, _HAIR_COLOURS),
        hair_volume=rng.uniform(0.0, 1.0), shirt=_pick(rng, _SHIRT_COLOURS),
        long_sleeves=bool(rng.uniform() < 0.5), trousers=_pick(rng, _TROUSER_COLOURS),
        shoes=_pick(rng, _SHOE_COLOURS),
    )
    low, high = _MOTION_PERIODS[motion]
    return Performer(
        walker=walker, motion=motion, centre=width * rng.uniform(0.4, 0.6), feet_row=feet_row,
        size=size, yaw=math.radians(rng.uniform(30, 50)) * (1 if rng.uniform() < 0.5 else -1),
        start=_REST, period=rng.uniform(low, high), reps=0 if motion == "standing" else reps,
    )


def synthesize_motions(
    output: str | Path,
    *,
    motions: tuple[str, ...] = MOTIONS,
    clips_per_motion: int = 2,
    reps: tuple[int, int] = (2, 4),
    width: int = 320,
    height: int = 240,
    fps: float = 10.0,
    seed: int = 0,
    progress: bool = False,
) -> list[tuple[str, str, int, int, int | None]]:
    """Write clips of one person performing each motion, with exact truth and labels.

    ``output`` becomes a folder (replaced only if vcm wrote it, complete or not at all) of
    MOTChallenge sequences ``MOTION-N`` (as :func:`synthesize_sequence` writes them, people
    drawn the same way; ``gt/keypoints.json`` has ``track_id`` 1) and ``labels.csv``
    (:mod:`vcm.motion.labels`: one row per clip, the whole clip, ``reps`` the repetitions
    done). Each clip rests :data:`_REST` s, performs ``reps[0]`` to ``reps[1]`` repetitions
    (drawn), rests again. Returns the label rows.
    """
    from vcm.motion.labels import write_labels

    output = Path(output)
    unknown = [motion for motion in motions if motion not in MOTIONS]
    if unknown:
        raise VcmError(f"unknown motion {unknown[0]!r}; choose from {', '.join(MOTIONS)}")
    if clips_per_motion < 1 or not 1 <= reps[0] <= reps[1] <= 100:
        raise VcmError("need at least one clip per motion and 1 <= reps low <= high <= 100")
    if width < 64 or height < 64 or not 1 <= fps <= 240:
        raise VcmError("the frame must be at least 64x64 pixels and fps from 1 to 240")
    rng = np.random.default_rng(seed)
    rows = []
    with atomic_output(output, folder=True) as folder:
        for motion in motions:
            for number in range(1, clips_per_motion + 1):
                background = _render_background(rng, width, height)
                performer = plan_performer(rng, motion, width=width, height=height,
                                           reps=int(rng.integers(reps[0], reps[1] + 1)))
                seconds = 2 * _REST + performer.period * max(performer.reps, 2)
                frames = math.ceil(seconds * fps) + 1
                name = f"{motion}-{number}"
                clip = folder / name
                clip.mkdir(parents=True)
                _write_truth_sequence(
                    clip, name,
                    lambda frame, performer=performer, background=background: _render_figures(
                        background, [performer_figure(performer, (frame - 1) / fps)]),
                    frames=frames, width=width, height=height, fps=fps, seed=seed,
                    progress=progress, description=f"vcm synthetic motion: {motion}")
                rows.append((name, motion, 1, frames,
                             performer.reps if motion != "standing" else 0))
        write_labels(rows, folder / "labels.csv")
    return rows
