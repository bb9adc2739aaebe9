"""Spatial resampling of the foreground: code it at 1/F of each side, restore it for the tasks.

The pose crop is small anyway (BlazePose reads 256x256), so a person who is large in the frame
loses little when the foreground is coded at half or a quarter of its width and height.
``vcm foreground --downscale F`` writes each frame at :func:`reduced_size` (OpenCV's area
interpolation, which averages the pixels each output pixel covers); ``vcm pose|segment
--downscale F`` read the decoded frames back at the detections' size (:class:`RestoredSource`,
bilinear), so the boxes, the tasks and the evaluation stay in the original frame's pixels.
BPP still divides by the original frame's pixels.

Region-only scaling (``downscale_regions`` F) keeps the frame's size and shrinks only what
the foreground keeps, in place: the kept region of a frame (its boxes grown by the variant's
margins, held and aligned as :mod:`vcm.masking` does) is cut into disjoint rectangles
(:func:`region_rectangles`: the kept rectangles, overlapping ones merged into the rectangle
around them), and each rectangle of ``w`` x ``h`` pixels shows its own content at
``ceil(w / F)`` x ``ceil(h / F)`` in its top-left corner, the fill in the rest of it
(:func:`shrink_regions`). The receiver has the same detections, so it works out the same
rectangles and enlarges each corner back over its rectangle (:func:`restore_regions`,
bilinear). In place rather than packed into a smaller mosaic: each region stays where it is
from frame to frame, so the codec's motion search finds it again (a mosaic reshuffles when a
person comes or goes, and its size would change with the number of people), and the fill
around it costs next to nothing; the rectangles are disjoint, so no region's corner overlaps
another region.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import cv2
import numpy as np

from vcm.boxes import merged_boxes
from vcm.detections import DetectionSequence
from vcm.errors import VcmError
from vcm.masking import ForegroundOptions, held_boxes, kept_rectangles
from vcm.video import VideoInfo, VideoSource

REGION_FILLS = {"black": 0, "grey": 128}
"""Fills a region-scaled foreground accepts, and their RGB value: the part of each rectangle
its shrunk content leaves free shows it (a blurred fill has no value to put there)."""

MAX_DOWNSCALE = 16
"""Largest factor accepted (a 1920-pixel-wide frame becomes 120 pixels wide)."""


def check_downscale(factor: int) -> int:
    """``factor`` if it is a whole number in 1..:data:`MAX_DOWNSCALE`, else :class:`VcmError`."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) \
            or not 1 <= factor <= MAX_DOWNSCALE:
        raise VcmError(f"downscale must be a whole number from 1 to {MAX_DOWNSCALE}, "
                       f"got {factor!r}")
    return int(factor)


def reduced_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """``(width, height)`` in pixels of a ``width`` x ``height`` frame at 1/``factor`` of each
    side: each side divided and rounded up, so no original pixel is left out."""
    factor = check_downscale(factor)
    return -(-width // factor), -(-height // factor)


def downscale_frame(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` (H, W, 3) at :func:`reduced_size` (area interpolation); the same array for 1."""
    if factor == 1:
        return image
    height, width = image.shape[:2]
    return cv2.resize(image, reduced_size(width, height, factor), interpolation=cv2.INTER_AREA)


class RestoredSource(VideoSource):
    """A video coded at 1/``factor`` of each side of a ``width`` x ``height`` original, read
    back at the original size (bilinear): ``info`` has the original width and height."""

    def __init__(self, source: VideoSource, width: int, height: int, factor: int) -> None:
        expected = reduced_size(width, height, factor)
        info = source.info
        if (info.width, info.height) != expected:
            raise VcmError(f"{info.path}: is {info.width}x{info.height}, but a {width}x{height} "
                           f"frame at 1/{factor} of each side is {expected[0]}x{expected[1]}")
        super().__init__(VideoInfo(info.path, width, height, info.fps, info.frames))
        self._source = source

    def __iter__(self) -> Iterator[np.ndarray]:
        size = (self.info.width, self.info.height)
        for image in self._source:
            yield cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def check_region_scaling(factor: int, options: ForegroundOptions, downscale: int = 1) -> int:
    """``factor`` if a foreground of ``options`` can be region-scaled by it (and is not also
    scaled whole by ``downscale``), else :class:`VcmError`."""
    factor = check_downscale(factor)
    if factor == 1:
        return factor
    if check_downscale(downscale) != 1:
        raise VcmError("downscale_regions and downscale scale the same pixels: give one of them")
    if options.fill not in REGION_FILLS:
        raise VcmError(f"downscale_regions needs fill {' or '.join(REGION_FILLS)} (the rest of "
                       f"each shrunk region shows it), got fill {options.fill!r}")
    if options.feather:
        raise VcmError("downscale_regions needs feather 0 (a feathered edge lies outside the "
                       "kept rectangles, which alone are sent)")
    return factor


def disjoint_rectangles(rectangles: np.ndarray) -> np.ndarray:
    """Integer rectangles ``(c0, r0, c1, r1)`` (end exclusive), (N, 4), with every two that
    share a pixel replaced by the rectangle around both until none do; sorted by ``r0, c0,
    r1, c1`` (int64, (M, 4))."""
    merged = [tuple(int(value) for value in row) for row in merged_boxes(rectangles)]
    merged.sort(key=lambda row: (row[1], row[0], row[3], row[2]))
    return np.array(merged, dtype=np.int64).reshape(-1, 4)


def region_rectangles(frames_boxes: Sequence[np.ndarray], width: int, height: int,
                      options: ForegroundOptions) -> list[np.ndarray]:
    """For each frame, the disjoint rectangles (:func:`disjoint_rectangles`) of the pixels
    its boxes (N, 4; with the options' ``hold`` windows, those of its window) keep in a
    ``width`` x ``height`` frame: the same on the sender and on the receiver side."""
    unions = held_boxes(frames_boxes, options.hold) if options.hold > 1 else frames_boxes
    rectangles, previous, current = [], None, None
    for boxes in unions:
        if boxes is not previous:  # held_boxes gives a window's frames the same array
            previous = boxes
            current = disjoint_rectangles(kept_rectangles(boxes, width, height, options))
        rectangles.append(current)
    return rectangles


def shrunk_size(rectangle: np.ndarray, factor: int) -> tuple[int, int]:
    """``(width, height)`` in pixels of ``rectangle`` ``(c0, r0, c1, r1)`` at 1/``factor``
    of each side, rounded up."""
    c0, r0, c1, r1 = (int(value) for value in rectangle)
    return -(-(c1 - c0) // factor), -(-(r1 - r0) // factor)


def shrink_regions(image: np.ndarray, rectangles: np.ndarray, factor: int,
                   fill: int) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) in which each of the disjoint ``rectangles`` shows its
    own content at 1/``factor`` of each side (area interpolation) in its top-left corner and
    the value ``fill`` in the rest of it; pixels outside the rectangles are kept."""
    result = image.copy()
    for rectangle in rectangles:
        c0, r0, c1, r1 = (int(value) for value in rectangle)
        width, height = shrunk_size(rectangle, factor)
        shrunk = cv2.resize(image[r0:r1, c0:c1], (width, height), interpolation=cv2.INTER_AREA)
        result[r0:r1, c0:c1] = fill
        result[r0:r0 + height, c0:c0 + width] = shrunk
    return result


def restore_regions(image: np.ndarray, rectangles: np.ndarray, factor: int) -> np.ndarray:
    """A copy of ``image`` (H, W, 3; as :func:`shrink_regions` wrote it) in which each of the
    disjoint ``rectangles`` shows its top-left corner of :func:`shrunk_size` enlarged back
    over the whole rectangle (bilinear); pixels outside the rectangles are kept."""
    result = image.copy()
    for rectangle in rectangles:
        c0, r0, c1, r1 = (int(value) for value in rectangle)
        width, height = shrunk_size(rectangle, factor)
        result[r0:r1, c0:c1] = cv2.resize(image[r0:r0 + height, c0:c0 + width],
                                          (c1 - c0, r1 - r0), interpolation=cv2.INTER_LINEAR)
    return result


class RegionRestoredSource(VideoSource):
    """A region-scaled foreground (:func:`shrink_regions`, factor ``factor``) read back with
    each region restored (:func:`restore_regions`): the rectangles come from ``detections``
    (the boxes the foreground kept, at the original frame rate) and the foreground
    ``options``; the video holds original frames 1, 1 + ``keep_every``, ..."""

    def __init__(self, source: VideoSource, detections: DetectionSequence,
                 options: ForegroundOptions, factor: int, keep_every: int = 1) -> None:
        info = source.info
        if (info.width, info.height) != (detections.width, detections.height):
            raise VcmError(f"{info.path}: is {info.width}x{info.height}, but its detections "
                           f"are for {detections.width}x{detections.height} frames")
        super().__init__(info)
        self._source = source
        self._factor = check_region_scaling(factor, options)
        rectangles = region_rectangles([frame.boxes for frame in detections.frames],
                                       info.width, info.height, options)
        self._rectangles = rectangles[::keep_every]

    def __iter__(self) -> Iterator[np.ndarray]:
        for index, image in enumerate(self._source):
            if index >= len(self._rectangles):
                raise VcmError(f"{self.info.path}: frame {index + 1} has no detections to "
                               "restore its regions from")
            yield restore_regions(image, self._rectangles[index], self._factor)
