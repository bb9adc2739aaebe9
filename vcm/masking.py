"""Which pixels a foreground frame keeps, and what it puts elsewhere: the foreground variants.

The paper's foreground keeps the pixels of each frame's boxes and makes everything else black.
The variants here change that in measured ways (docs/variants.md, "Foreground variants"):

* ``margin`` / ``margin_px``: each box grows by ``margin`` x its width (left and right) and x
  its height (top and bottom), plus ``margin_px`` pixels on every side, before masking.
* ``hold``: frames are taken in consecutive windows of ``hold`` frames (1-8, 9-16, ... for
  8); every frame of a window keeps the union of the boxes of all frames of the window, so
  the kept region changes once per window (set it to the codec's intra period or GOP).
* ``align``: each kept rectangle snaps outwards to a grid of ``align`` pixels (the codec's
  block or CTU size), clipped to the frame.
* ``feather``: a soft edge of ``feather`` pixels *outside* the kept region: a pixel at
  chessboard distance ``d`` (1..feather) from it gets weight ``1 - d / (feather + 1)``, so the
  kept pixels themselves are never changed.
* ``fill``: what the rest of the frame shows: ``black`` (the paper), ``grey`` (RGB 128),
  ``blur`` (the frame blurred with a Gaussian of sigma ``fill_scale`` pixels) or
  ``downscale`` (the frame shrunk ``fill_scale`` times by area averaging and enlarged again).
* ``mask``: ``none`` keeps whole boxes; ``selfie`` or ``pose`` keeps only the person pixels
  a MediaPipe segmentation model finds in each box (run by :mod:`vcm.foreground` on the
  original frames), grown by ``mask_grow`` pixels (0 by default: growing cost more bytes
  than it saved on PETS09, docs/variants.md, "Foreground variants") to keep more of the edges.
* ``anonymise``: ``none`` (the default) or how the faces MediaPipe finds in each box of the
  original frame are made unrecognisable before the foreground is composed: ``blur``,
  ``pixelate`` or ``fill``, with ``anonymise_blocks`` (the detail left: blocks across the
  face region's long side, or its blur's sigma as a fraction of it), ``anonymise_margin``
  (face boxes grown by this fraction of their size on each side) and ``anonymise_head``
  (where a box shows no face, its top fraction is anonymised; 0: none). See
  :mod:`vcm.anonymise` and docs/anonymise.md.

With ``mask``, the kept region of a frame is worked out in this order (:func:`person_region`,
:func:`held_regions`, :func:`align_region`):

1. each box grows by ``margin`` / ``margin_px``; the segmenter sees each grown box (clipped to
   the frame) and its person mask has pixels only whose centres lie inside it; a box in which
   the segmenter finds no person keeps its whole grown box (:func:`person_pixels`);
2. the union of the frame's person masks grows by ``mask_grow`` pixels (chessboard distance,
   like ``feather``) and is cut to the union of the grown boxes: a mask never keeps a pixel
   that the same options without ``mask`` would not keep;
3. ``hold`` unites these per-frame regions over each window of frames (the region changes
   once per window, as with boxes);
4. ``align`` keeps every ``align`` x ``align`` grid block that holds a kept pixel (for a
   rectangle that is the same as snapping it outwards);
5. ``feather`` and ``fill`` apply to that region as to boxes.

A frame is ``weight x frame + (1 - weight) x fill``, rounded to uint8, with ``weight`` 1 on
the kept region, 0 far from it. Box coordinates are ``x1, y1, x2, y2`` pixels (right/bottom
edges exclusive); a pixel (column c, row r) is kept when it overlaps a grown box:
``floor(x1) <= c < ceil(x2)``, ``floor(y1) <= r < ceil(y2)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from vcm.boxes import box_areas, clip_boxes
from vcm.errors import VcmError, shown

FILLS = ("black", "grey", "blur", "downscale")

ANONYMISE = ("none", "blur", "pixelate", "fill")
"""``none``: faces as they are; otherwise what a face region shows (:mod:`vcm.anonymise`)."""

ANONYMISE_DETAILS = ("anonymise_blocks", "anonymise_margin", "anonymise_head")
"""The options that mean something only with ``anonymise`` other than ``none``."""

MASKS = ("none", "selfie", "pose")
"""``none``: whole boxes; otherwise the MediaPipe segmentation model that finds the person pixels."""


@dataclass(frozen=True)
class ForegroundOptions:
    """The foreground variant; the defaults are the paper's (boxes as they are, black)."""

    margin: float = 0.0
    margin_px: int = 0
    hold: int = 1
    align: int = 1
    feather: int = 0
    fill: str = "black"
    fill_scale: int = 8
    mask: str = "none"
    mask_grow: int = 0
    anonymise: str = "none"
    anonymise_blocks: int = 8
    anonymise_margin: float = 0.25
    anonymise_head: float = 0.2

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            # Annotations are text here (postponed evaluation): "float", "int" or "str".
            number = field.type in ("float", "int")
            if isinstance(value, bool) and number or not isinstance(value, _KINDS[field.type]):
                raise VcmError(f"foreground option: {field.name} must be {_KIND_NAMES[field.type]}, "
                               f"got {shown(value)}")
        checks = [
            (math.isfinite(self.margin) and 0 <= self.margin <= 2, "margin must be in 0..2"),
            (_whole(self.margin_px) and 0 <= self.margin_px <= 4096, "margin_px must be an integer in 0..4096"),
            (_whole(self.hold) and 1 <= self.hold <= 10_000, "hold must be an integer in 1..10000 frames"),
            (_whole(self.align) and 1 <= self.align <= 256, "align must be an integer in 1..256 pixels"),
            (_whole(self.feather) and 0 <= self.feather <= 256, "feather must be an integer in 0..256 pixels"),
            (self.fill in FILLS, f"fill must be one of {', '.join(FILLS)}"),
            (_whole(self.fill_scale) and 1 <= self.fill_scale <= 256, "fill_scale must be an integer in 1..256"),
            (self.mask in MASKS, f"mask must be one of {', '.join(MASKS)}"),
            (_whole(self.mask_grow) and 0 <= self.mask_grow <= 256, "mask_grow must be an integer in 0..256 pixels"),
            (self.anonymise in ANONYMISE, f"anonymise must be one of {', '.join(ANONYMISE)}"),
            (_whole(self.anonymise_blocks) and 2 <= self.anonymise_blocks <= 64,
             "anonymise_blocks must be an integer in 2..64"),
            (math.isfinite(self.anonymise_margin) and 0 <= self.anonymise_margin <= 2,
             "anonymise_margin must be in 0..2"),
            (math.isfinite(self.anonymise_head) and 0 <= self.anonymise_head <= 1,
             "anonymise_head must be in 0..1 (a share of the box's height)"),
        ]
        for ok, problem in checks:
            if not ok:
                raise VcmError(f"foreground option: {problem} (got {self!r})")

    @property
    def is_paper(self) -> bool:
        """True for the paper's foreground: boxes as they are, black elsewhere."""
        return replace(self, fill_scale=ForegroundOptions.fill_scale,
                       mask_grow=ForegroundOptions.mask_grow,
                       **{name: getattr(ForegroundOptions, name) for name in ANONYMISE_DETAILS}
                       ) == ForegroundOptions()

    @classmethod
    def from_options(cls, options: dict | None, *, source: str = "foreground") -> ForegroundOptions:
        """Build from ``{name: value}`` (``-p`` options or a config's ``foreground:``); an
        unknown name is a :class:`VcmError` naming ``source`` and the known ones."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(cls.__dataclass_fields__))
        if unknown:
            raise VcmError(f"{source}: unknown foreground option {unknown[0]!r}; options: "
                           f"{', '.join(cls.__dataclass_fields__)}")
        return cls(**options)

    def describe(self) -> dict:
        """The options as a plain dict, for run records and the manifest; without the
        ``anonymise`` options when it is ``none``, so that the records of every foreground
        without it read as they did before the option existed."""
        described = asdict(self)
        if self.anonymise == "none":
            for name in ("anonymise", *ANONYMISE_DETAILS):
                del described[name]
        return described


_KINDS = {"float": (int, float), "int": int, "str": str}
_KIND_NAMES = {"float": "a number", "int": "a whole number", "str": "a name"}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def grown_boxes(boxes: np.ndarray, options: ForegroundOptions) -> np.ndarray:
    """``boxes`` (N, 4) grown by the options' margins (float pixels, not yet clipped)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    grow_x = options.margin * widths + options.margin_px
    grow_y = options.margin * heights + options.margin_px
    boxes[:, 0] -= grow_x
    boxes[:, 2] += grow_x
    boxes[:, 1] -= grow_y
    boxes[:, 3] += grow_y
    return boxes


def kept_rectangles(boxes: np.ndarray, width: int, height: int, options: ForegroundOptions) -> np.ndarray:
    """Integer pixel rectangles ``(c0, r0, c1, r1)`` (end exclusive, int64, inside the frame)
    that the grown and aligned ``boxes`` keep. Coordinates are clipped in floating point first,
    so boxes of any size (1e308 px included) are handled without integer overflow."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    # Bound coordinates first (no box that lies within this range changes): growth of a huge
    # box then stays finite, and its pixels are the whole frame anyway.
    bound = 4.0 * (width + height)
    boxes = grown_boxes(np.clip(boxes, -bound, bound), options)
    limits = np.array([width, height, width, height], dtype=np.float64)
    boxes = np.clip(boxes, 0.0, limits)
    rectangles = np.empty((len(boxes), 4), dtype=np.int64)
    rectangles[:, :2] = np.floor(boxes[:, :2])
    rectangles[:, 2:] = np.ceil(boxes[:, 2:])
    # A box that covers no pixel (outside the frame, or empty) keeps nothing, aligned or not.
    rectangles = rectangles[(rectangles[:, 2] > rectangles[:, 0])
                            & (rectangles[:, 3] > rectangles[:, 1])]
    if options.align > 1:
        step = options.align
        rectangles[:, :2] = (rectangles[:, :2] // step) * step
        rectangles[:, 2:] = -((-rectangles[:, 2:]) // step) * step
        rectangles[:, [0, 2]] = np.clip(rectangles[:, [0, 2]], 0, width)
        rectangles[:, [1, 3]] = np.clip(rectangles[:, [1, 3]], 0, height)
    return rectangles


def region_mask(boxes: np.ndarray, width: int, height: int, options: ForegroundOptions) -> np.ndarray:
    """Boolean (height, width) mask of the pixels the ``boxes`` keep."""
    mask = np.zeros((height, width), dtype=bool)
    for c0, r0, c1, r1 in kept_rectangles(boxes, width, height, options):
        mask[r0:r1, c0:c1] = True
    return mask


def held_boxes(frames_boxes: Sequence[np.ndarray], hold: int) -> Iterator[np.ndarray]:
    """For each frame, the boxes of every frame of its window of ``hold`` frames (windows
    1..hold, hold+1..2*hold, ...; the last one may be shorter), stacked (M, 4)."""
    for start in range(0, len(frames_boxes), hold):
        window = [np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
                  for boxes in frames_boxes[start:start + hold]]
        union = np.concatenate(window) if window else np.zeros((0, 4))
        for _ in window:
            yield union


def box_regions(frames_boxes: Sequence[np.ndarray], width: int, height: int,
                options: ForegroundOptions) -> Iterator[np.ndarray]:
    """The kept region (boolean (height, width), read-only) of each frame from its boxes,
    with the options' ``hold`` windows: a window's region is worked out once and given to
    each of its frames."""
    if options.hold == 1:
        for boxes in frames_boxes:
            yield region_mask(boxes, width, height, options)
        return
    previous, region = None, None
    for union in held_boxes(frames_boxes, options.hold):
        if union is not previous:  # held_boxes gives a window's frames the same array
            previous, region = union, region_mask(union, width, height, options)
            region.flags.writeable = False
        yield region


def grow_region(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Boolean (H, W) ``mask`` grown by ``pixels``: every pixel at chessboard distance
    <= ``pixels`` from a ``True`` pixel becomes ``True`` (a square of side 2 x pixels + 1
    around each one), cut to the frame."""
    mask = np.asarray(mask, dtype=bool)
    if pixels == 0 or not mask.any() or mask.all():
        return mask.copy()
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_C, 3)
    return distance <= pixels


def person_region(
    person: np.ndarray, boxes: np.ndarray, width: int, height: int, options: ForegroundOptions
) -> np.ndarray:
    """One frame's kept region with ``mask`` (steps 2 of the module docstring): the person
    pixels ``person`` (H, W bool, the union of the segmenter's masks of the grown ``boxes``)
    grown by ``mask_grow`` and cut to the union of the boxes grown by the margins (not yet
    held or aligned)."""
    unaligned = replace(options, align=1)
    return grow_region(person, options.mask_grow) & region_mask(boxes, width, height, unaligned)


def segmentation_boxes(boxes: np.ndarray, width: int, height: int,
                       options: ForegroundOptions) -> np.ndarray:
    """The boxes (M, 4) ``x1, y1, x2, y2`` pixels the segmenter of ``mask`` sees (step 1 of
    the module docstring): the finite ``boxes`` grown by the margins and clipped to the
    frame; those left with no area are dropped."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    bound = 4.0 * (width + height)  # as kept_rectangles: growth of a huge box stays finite
    grown = grown_boxes(np.clip(boxes, -bound, bound), options)
    grown = np.clip(grown, 0.0, np.array([width, height, width, height], dtype=np.float64))
    return grown[(grown[:, 2] > grown[:, 0]) & (grown[:, 3] > grown[:, 1])]


def person_pixels(masks: Sequence[np.ndarray | None], boxes: np.ndarray, width: int,
                  height: int) -> np.ndarray:
    """The union (H, W bool) of a frame's person ``masks``, one per box of ``boxes`` (M, 4,
    as :func:`segmentation_boxes` gives them); where the segmenter found no person
    (``None``) the box's own pixels stand in, so a detected person is never dropped."""
    person = np.zeros((height, width), dtype=bool)
    for mask, box in zip(masks, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), strict=True):
        if mask is None:
            for c0, r0, c1, r1 in kept_rectangles(box, width, height, ForegroundOptions()):
                person[r0:r1, c0:c1] = True
        else:
            person |= mask
    return person


def mask_regions(
    person_masks: Iterable[np.ndarray],
    frames_boxes: Sequence[np.ndarray],
    width: int,
    height: int,
    options: ForegroundOptions,
) -> Iterator[np.ndarray]:
    """Each frame's kept region (H, W bool) with ``mask`` (steps 2-4 of the module docstring),
    from each frame's ``person_masks`` (the union of the segmenter's masks, H, W bool) and its
    boxes. Reads one window of ``hold`` frames ahead."""
    regions = (person_region(person, boxes, width, height, options)
               for person, boxes in zip(person_masks, frames_boxes, strict=True))
    for region in held_regions(regions, options.hold):
        yield align_region(region, options.align)


def held_regions(regions: Iterable[np.ndarray], hold: int) -> Iterator[np.ndarray]:
    """For each frame's region (H, W bool) of ``regions``, the union of the regions of its
    window of ``hold`` frames (windows as :func:`held_boxes`). Reads one window ahead."""
    regions = iter(regions)
    while True:
        window = [region for _, region in zip(range(hold), regions)]
        if not window:
            return
        union = np.logical_or.reduce(window) if len(window) > 1 else window[0]
        for _ in window:
            yield union


def align_region(mask: np.ndarray, step: int) -> np.ndarray:
    """Boolean (H, W) ``mask`` with every ``step`` x ``step`` block of the grid from the
    top-left corner made ``True`` where it holds a ``True`` pixel (blocks cut at the frame's
    edge). For rectangles this is :func:`kept_rectangles`'s outward snap."""
    mask = np.asarray(mask, dtype=bool)
    if step == 1:
        return mask.copy()
    height, width = mask.shape
    rows, columns = -(-height // step), -(-width // step)
    padded = np.zeros((rows * step, columns * step), dtype=bool)
    padded[:height, :width] = mask
    blocks = padded.reshape(rows, step, columns, step).any(axis=(1, 3))
    return np.repeat(np.repeat(blocks, step, axis=0), step, axis=1)[:height, :width]


def window_fill_fractions(windows: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """For each crop window (N, 4) ``x1, y1, x2, y2`` pixels, the fraction of its pixels that
    lie inside the frame but outside the ``kept`` region (H, W bool): fill that a crop reads
    as if it were picture. The window is rounded outwards to whole pixels, as
    :func:`vcm.pose.base.extract_crop` cuts it; its pixels outside the frame are black padding
    that every crop gets, known to be black, and not counted as fill. Float64 (N,)."""
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
    height, width = kept.shape
    fractions = np.zeros(len(windows))
    for index, window in enumerate(windows):
        x1, y1 = math.floor(window[0]), math.floor(window[1])
        x2, y2 = max(math.ceil(window[2]), x1 + 1), max(math.ceil(window[3]), y1 + 1)
        c0, r0 = min(max(x1, 0), width), min(max(y1, 0), height)
        c1, r1 = min(max(x2, 0), width), min(max(y2, 0), height)
        inside = kept[r0:r1, c0:c1]
        fractions[index] = (inside.size - np.count_nonzero(inside)) / ((x2 - x1) * (y2 - y1))
    return fractions


def crop_fill_report(
    frames_boxes: Sequence[np.ndarray],
    width: int,
    height: int,
    options: ForegroundOptions,
    crop_windows_for: Callable[[np.ndarray, int, int], np.ndarray],
) -> dict:
    """How much of the crops a box task reads around ``frames_boxes`` (one (N, 4) array per
    frame, ``x1, y1, x2, y2`` pixels of a ``width`` x ``height`` frame) is the fill of a
    foreground rendered with ``options`` (:func:`window_fill_fractions`).

    ``crop_windows_for(boxes, width, height)`` gives a backend's crop windows. The kept region
    is the variant's boxes (margins, hold, align); for a ``mask`` variant it is that box
    region too, which holds the mask's region, so the fractions are then lower bounds.
    Returns ``crops`` (count), ``mean_fill`` and ``max_fill`` (fractions of a crop's pixels,
    0 with no crop), ``crops_with_fill`` (crops with any fill pixel) and ``kept_region``.
    """
    box_options = replace(options, mask="none")
    boxes_per_frame = (held_boxes(frames_boxes, options.hold) if options.hold > 1
                       else iter(frames_boxes))
    fractions = []
    for boxes, kept_boxes in zip(frames_boxes, boxes_per_frame, strict=True):
        # As vcm.boxtasks hands them: a box with no area inside the frame is never cropped.
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        boxes = boxes[box_areas(clip_boxes(boxes, width, height)) > 0]
        if len(boxes) == 0:
            continue
        kept = region_mask(kept_boxes, width, height, box_options)
        fractions.append(window_fill_fractions(crop_windows_for(boxes, width, height), kept))
    fractions = np.concatenate(fractions) if fractions else np.zeros(0)
    return {
        "crops": int(len(fractions)),
        "mean_fill": round(float(fractions.mean()), 6) if len(fractions) else 0.0,
        "max_fill": round(float(fractions.max()), 6) if len(fractions) else 0.0,
        "crops_with_fill": int((fractions > 0).sum()),
        "kept_region": ("the variant's boxes, which hold its mask: fill fractions are lower "
                        "bounds" if options.mask != "none" else "the variant's boxes"),
    }


def weights(mask: np.ndarray, feather: int) -> np.ndarray:
    """Float32 (H, W) weights: 1 on ``mask``; ``1 - d / (feather + 1)`` at chessboard distance
    ``d`` <= ``feather`` outside it; 0 elsewhere."""
    weight = mask.astype(np.float32)
    if feather == 0 or not mask.any() or mask.all():
        return weight
    # Distance of every pixel to the nearest kept pixel, in the chessboard (L-infinity) metric.
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_C, 3)
    ramp = 1.0 - distance / np.float32(feather + 1)
    return np.where(mask, np.float32(1.0), np.clip(ramp, 0.0, 1.0)).astype(np.float32)


def fill_frame(frame: np.ndarray, options: ForegroundOptions) -> np.ndarray:
    """What the frame shows outside the kept region (uint8, the frame's shape)."""
    if options.fill == "black":
        return np.zeros_like(frame)
    if options.fill == "grey":
        return np.full_like(frame, 128)
    if options.fill == "blur":
        sigma = float(options.fill_scale)
        return cv2.GaussianBlur(frame, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                borderType=cv2.BORDER_REPLICATE)
    height, width = frame.shape[:2]
    small = (max(1, width // options.fill_scale), max(1, height // options.fill_scale))
    shrunk = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
    return cv2.resize(shrunk, (width, height), interpolation=cv2.INTER_LINEAR)


def compose(frame: np.ndarray, mask: np.ndarray, options: ForegroundOptions) -> np.ndarray:
    """``frame`` (H, W, 3) uint8 with the kept ``mask`` and the options' feather and fill."""
    if options.feather == 0:
        if options.fill == "black":
            result = np.zeros_like(frame)
        else:
            result = fill_frame(frame, options)
        # OpenCV's masked copy: about 30x faster than result[mask] = frame[mask] at 768x576
        # (experiments/bench_frontend.py).
        cv2.copyTo(np.ascontiguousarray(frame), np.ascontiguousarray(mask).view(np.uint8), result)
        return result
    weight = weights(mask, options.feather)[..., None]
    background = fill_frame(frame, options).astype(np.float32)
    blended = weight * frame.astype(np.float32) + (1.0 - weight) * background
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def foreground_frames(
    frames: Iterable[np.ndarray],
    frames_boxes: Sequence[np.ndarray],
    options: ForegroundOptions,
) -> Iterator[np.ndarray]:
    """The foreground of each frame: ``frames`` (BGR uint8) with their ``frames_boxes``."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        if len(frames_boxes):
            raise ValueError(f"no frames for {len(frames_boxes)} frames of boxes")
        return
    height, width = first.shape[:2]
    regions = box_regions(frames_boxes, width, height, options)
    for frame, region in zip(itertools.chain([first], frames), regions, strict=True):
        yield compose(frame, region, options)
