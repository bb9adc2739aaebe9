"""Spatial resampling of the foreground: code it at 1/F of each side, restore it for the tasks.

The pose crop is small anyway (BlazePose reads 256x256), so a person who is large in the frame
loses little when the foreground is coded at half or a quarter of its width and height.
``vcm foreground --downscale F`` writes each frame at :func:`reduced_size` (OpenCV's area
interpolation, which averages the pixels each output pixel covers); ``vcm pose|segment
--downscale F`` read the decoded frames back at the detections' size (:class:`RestoredSource`,
bilinear), so the boxes, the tasks and the evaluation stay in the original frame's pixels.
BPP still divides by the original frame's pixels.
"""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from vcm.errors import VcmError
from vcm.video import VideoInfo, VideoSource

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
